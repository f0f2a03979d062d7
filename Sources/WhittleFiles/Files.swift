import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Files and scratch space: the low-level pieces every stage shares.

/// An open file descriptor, closed when the last owner lets go.
public final class OpenFile: @unchecked Sendable {
    public let descriptor: Int32
    public let path: String

    public init(path: String, flags: Int32 = O_RDONLY, mode: mode_t = 0o600) throws {
        let descriptor = open(path, flags | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
    }

    public var size: Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }

    /// Reads exactly `count` bytes at `offset`, or fewer only at end of file.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0 {
                if errno == EINTR { continue }
                throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            if got == 0 { break }
            done += got
        }
        return done
    }
}

/// A run of bytes inside an open file: a blob inside an outer tar, or a whole blob file.
public struct FileSlice: Sendable {
    public let file: OpenFile
    public let offset: Int64
    public let length: Int64

    public init(file: OpenFile, offset: Int64, length: Int64) {
        self.file = file
        self.offset = offset
        self.length = length
    }

    /// Streams the slice through `buffer`, one chunk at a time, so a file of any size costs
    /// only the buffer. Throws `FileError.truncated` when the file ends early.
    public func forEachChunk(through buffer: UnsafeMutableRawBufferPointer,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(buffer.count), length - done))
            let window = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])
            guard try file.read(at: offset + done, into: window) == want else {
                throw FileError.truncated(path: file.path)
            }
            try body(UnsafeRawBufferPointer(window))
            done += Int64(want)
        }
    }

    /// The whole slice, or nil when it is longer than `limit`: small documents (JSON, package
    /// databases, `/etc/passwd`) only; layers and large files are always streamed.
    public func bytes(limit: Int64) throws -> [UInt8]? {
        guard length <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let got = try bytes.withUnsafeMutableBytes { try file.read(at: offset, into: $0) }
        guard got == Int(length) else { throw FileError.truncated(path: file.path) }
        return bytes
    }
}

/// A private temporary directory for spooled data, removed when whittle is done with it.
/// This and the output path are the only places whittle writes.
public final class ScratchDirectory: @unchecked Sendable {
    public let path: String

    public init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/whittle.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> UnsafeMutablePointer<CChar>? in
            guard let base = buffer.baseAddress else { return nil }
            return mkdtemp(base)
        }
        guard made != nil else {
            throw FileError.cannotOpen(path: base, reason: "cannot create a temporary directory: "
                + String(cString: strerror(errno)))
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        remove()
    }

    /// Creates a new file inside the scratch directory.
    public func createFile(named name: String) throws -> OpenFile {
        try OpenFile(path: "\(path)/\(name)", flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Why a file could not be opened or read.
public enum FileError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotOpen(path: String, reason: String)
    /// A slice runs past the end of its file (the file changed or was cut short).
    case truncated(path: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open \(path): \(reason)"
        case let .truncated(path):
            return "\(path) ends before the data it should hold"
        }
    }
}
