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
    public func forEachChunk(
        through buffer: UnsafeMutableRawBufferPointer,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
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
///
/// A run killed outright (SIGKILL, a crash) cannot remove it, so each one is marked as
/// whittle's and locked by its owner: it is named `whittle.XXXXXX`, holds an `owner` file
/// with the pid, and the directory itself is `flock`ed for as long as the run lives. The
/// first scratch directory of a later run removes the marked ones whose lock is free
/// (`StaleScratch`). Ctrl-C and SIGTERM remove it through `Interruption`.
public final class ScratchDirectory: @unchecked Sendable {
    public let path: String
    /// Open on the directory and locked until it is removed.
    private let lockDescriptor: Int32
    private var removed = false

    public init() throws {
        let base = Self.base
        StaleScratch.sweepOnce(in: base)
        var template = Array("\(base)/\(Self.prefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> UnsafeMutablePointer<CChar>? in
            guard let base = buffer.baseAddress else { return nil }
            return mkdtemp(base)
        }
        guard made != nil else {
            throw FileError.cannotOpen(
                path: base,
                reason: "cannot create a temporary directory: "
                    + String(cString: strerror(errno)))
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        Interruption.removeOnInterrupt(path)
        // Locked before the owner file exists: a directory with an owner file and a free
        // lock can only be one whose run is gone.
        lockDescriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lockDescriptor >= 0, flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0,
            FileManager.default.createFile(atPath: "\(path)/\(Self.ownerFile)", contents: Data("\(getpid())\n".utf8))
        else {
            // Fully initialised by now, so deinit removes the directory and closes the descriptor.
            let reason = String(cString: strerror(errno))
            throw FileError.cannotOpen(path: path, reason: "cannot mark a temporary directory as in use: \(reason)")
        }
    }

    deinit {
        remove()
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    /// `$TMPDIR`, or /tmp.
    static var base: String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    static let prefix = "whittle."
    static let ownerFile = "owner"

    /// Creates a new file inside the scratch directory.
    public func createFile(named name: String) throws -> OpenFile {
        try OpenFile(path: "\(path)/\(name)", flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
    }

    /// Removes the directory; it stays locked until it is gone.
    public func remove() {
        guard !removed else { return }
        removed = true
        Interruption.settle(path) { removeTree(path) }
    }
}

/// What an input file looked like when whittle began to read it, so that a file cut short
/// or rewritten during the run is reported as that, not as a corrupt image.
public struct FileSnapshot: Equatable, Sendable {
    public let size: Int64
    let modified: timespec
    let inode: UInt64

    /// Nil for anything but a regular file (an OCI layout directory, a pipe).
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        size = Int64(info.st_size)
        modified = info.st_mtim
        inode = UInt64(info.st_ino)
    }

    public static func == (a: FileSnapshot, b: FileSnapshot) -> Bool {
        a.size == b.size && a.inode == b.inode
            && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
    }

    /// The error to report for `error`: `changedWhileRead` when the file at `path` is no
    /// longer what it was, else `error` itself.
    public func explaining(_ error: any Error, path: String) -> any Error {
        guard let now = FileSnapshot(path: path) else {
            return FileError.changedWhileRead(path: path, detail: "it is gone")
        }
        guard now != self else { return error }
        let detail = now.size < size ? "it was cut from \(size) to \(now.size) bytes" : "it was rewritten"
        return FileError.changedWhileRead(path: path, detail: detail)
    }
}

/// Why a file could not be opened or read.
public enum FileError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotOpen(path: String, reason: String)
    /// A slice runs past the end of its file (the file changed or was cut short).
    case truncated(path: String)
    /// The input changed under a run, which then stopped and wrote nothing.
    case changedWhileRead(path: String, detail: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open \(path): \(reason)"
        case let .truncated(path):
            return "\(path) ends before the data it should hold"
        case let .changedWhileRead(path, detail):
            return "\(path) changed while whittle was reading it (\(detail)); nothing was written"
        }
    }
}
