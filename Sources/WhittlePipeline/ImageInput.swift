import CSplice
import Foundation
import WhittleCompression
import WhittleFiles
import WhittleImage
import WhittleRegistry
#if canImport(Glibc)
    import Glibc
#endif

/// The image argument as a path whittle can read at any offset. `-` is standard input: used
/// in place when it is a regular file (`< app.tar`), otherwise copied to a spool file in a
/// private directory of $TMPDIR that `remove()` (or the end of the process's use of this
/// object) deletes. Only the outer tar is spooled: layers are then read from the spool in
/// place, as from any file. Asked to, the spool's members are hashed as it is written
/// (`recordedDigests`), so that the flatten need not read its layers again to check them.
public final class ImageInput {
    public static let standardInput = "-"

    /// Where to read the image.
    public let path: String
    /// How reports name it: the argument, `-` for standard input.
    public let name: String
    /// The spooled members' digests, when standard input was spooled with `hashingMembers`.
    public let recordedDigests: MemberDigests?
    private let scratch: ScratchDirectory?

    /// - Parameter hashingMembers: hash the members of a spooled standard input as they come
    ///   (for a run that checks every layer's digest).
    public init(
        argument: String, progress: any StageProgress, access: RegistryAccess = RegistryAccess(),
        platform: Platform = .host, hashingMembers: Bool = false
    ) throws {
        name = argument
        guard argument == Self.standardInput else {
            recordedDigests = nil
            let location = try ImageLocation(parsing: argument)
            if let local = location.localPath {
                path = local
                scratch = nil
                return
            }
            let scratch = try ScratchDirectory()
            self.scratch = scratch
            do {
                path = try Self.fetch(location, into: scratch, progress: progress, access: access, platform: platform)
            } catch {
                scratch.remove()
                throw error
            }
            return
        }
        guard isatty(STDIN_FILENO) != 1 else { throw InputError.standardInputIsTerminal }
        var info = stat()
        if fstat(STDIN_FILENO, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            path = "/dev/stdin"
            scratch = nil
            recordedDigests = nil
            return
        }
        let scratch = try ScratchDirectory()
        self.scratch = scratch
        path = scratch.path + "/stdin.tar"
        let file: OpenFile
        do {
            file = try scratch.createFile(named: "stdin.tar")
        } catch {
            scratch.remove()
            throw error
        }
        let recorded = hashingMembers ? MemberDigests(file: file) : nil
        recordedDigests = recorded
        do {
            try Self.spool(to: file, recording: recorded, progress: progress)
        } catch {
            recorded?.cancel()
            scratch.remove()
            throw error
        }
    }

    deinit {
        remove()
    }

    public func remove() {
        scratch?.remove()
    }

    /// Runs `body` on the path; an error that names the spool file names standard input (or
    /// the image fetched into it) instead.
    public func reading<T>(_ body: (String) throws -> T) throws -> T {
        do {
            return try body(path)
        } catch {
            guard scratch != nil else { throw error }
            let message = "\(error)"
            guard message.contains(path) else { throw error }
            let named = name == Self.standardInput ? "standard input" : name
            throw InputError.naming(message.replacingOccurrences(of: path, with: named))
        }
    }

    /// An image that lives in a registry or the engine, brought into `scratch`: a pull as an
    /// OCI layout directory, an export as a `docker save` tarball.
    private static func fetch(
        _ location: ImageLocation, into scratch: ScratchDirectory, progress: any StageProgress,
        access: RegistryAccess, platform: Platform
    ) throws -> String {
        let meter = ByteMeter()
        switch location {
        case let .registry(reference):
            progress.begin("pulling \(reference)", meter: meter)
            let layout = scratch.path + "/pulled"
            try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: false)
            try RegistryPull.pull(reference, platform: platform, access: access, into: layout, meter: meter)
            return layout
        case let .daemon(name):
            progress.begin("exporting \(name) from the Docker engine", meter: meter)
            let file = try scratch.createFile(named: "daemon.tar")
            try DockerEngine().export(name, to: file, meter: meter)
            return file.path
        case .path, .local:
            return location.localPath ?? location.description
        }
    }

    /// Copies standard input to `file`, inflating a gzip stream (`docker save | gzip`) on the way
    /// so that the reader need not make a second copy. A plain tar coming through a pipe is
    /// moved with splice(2), which spares its two copies through user space; the kernel may
    /// refuse that (standard input a socket, a file system without splice), and then it is
    /// read and written like the gzip stream. Memory: one buffer.
    private static func spool(to file: OpenFile, recording digests: MemberDigests?, progress: any StageProgress) throws
    {
        let meter = ByteMeter()
        progress.begin("reading standard input", meter: meter)
        let input = StandardInputSource(meter: meter)
        let compressed = try input.peek(2) == [0x1f, 0x8b]
        let sink = FileSink(fileDescriptor: file.descriptor)
        var total: Int64 = 0
        do {
            if !compressed {
                enlargePipe(STDIN_FILENO)
                let head = input.takePending()
                try head.withUnsafeBytes { try sink.write($0) }
                total += Int64(head.count)
                digests?.extend(to: total)
                while let count = try input.splice(to: file.descriptor), count > 0 {
                    total += Int64(count)
                    digests?.extend(to: total)
                }
            }
            let source: ByteSource = compressed ? GzipDecodingSource(upstream: input) : input
            total = try copy(source, to: sink, after: total, recording: digests)
            digests?.close()
        } catch let error as CompressionError {
            switch error {
            case .writeFailed: throw InputError.cannotSpool(file: file.path, reason: "\(error)")
            default: throw InputError.unreadable(reason: "\(error)")
            }
        }
        guard total > 0 else { throw InputError.standardInputEmpty }
    }

    /// Copies what is left of `source` to `sink`, which holds `start` bytes already; how many
    /// it holds then.
    private static func copy(
        _ source: ByteSource, to sink: FileSink, after start: Int64, recording digests: MemberDigests?
    ) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total = start
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { return total }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            total += Int64(count)
            digests?.extend(to: total)
        }
    }
}

/// Standard input as a byte source, counting what it reads, with a look at the first bytes
/// before they are consumed.
final class StandardInputSource: ByteSource {
    private let meter: ByteMeter
    private var pending: [UInt8] = []

    init(meter: ByteMeter) {
        self.meter = meter
    }

    /// The first `count` bytes (fewer at the end of input), left to be read again.
    func peek(_ count: Int) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: count)
        while pending.count < count {
            let got = try chunk.withUnsafeMutableBytes { try readInput(into: $0, limit: count - pending.count) }
            if got == 0 { break }
            pending += chunk.prefix(got)
        }
        return pending
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard pending.isEmpty else {
            let count = min(pending.count, buffer.count)
            buffer.copyBytes(from: pending.prefix(count))
            pending.removeFirst(count)
            return count
        }
        return try readInput(into: buffer, limit: buffer.count)
    }

    /// The bytes `peek` looked at and nobody has read yet, now taken out.
    func takePending() -> [UInt8] {
        defer { pending = [] }
        return pending
    }

    /// Moves the next bytes of standard input to `descriptor` at its offset with splice(2):
    /// their count, 0 at the end of input, nil when the kernel will not splice these two.
    func splice(to descriptor: Int32) throws -> Int? {
        while true {
            let moved = whittle_splice(STDIN_FILENO, descriptor, 1 << 24)
            if moved >= 0 {
                meter.add(moved)
                return moved
            }
            switch errno {
            case EINTR: continue
            case EINVAL, ENOSYS, EBADF, EOPNOTSUPP: return nil
            // Failures of the file being written, not of the pipe.
            case ENOSPC, EDQUOT, EFBIG, EIO, EROFS: throw CompressionError.writeFailed(errno: errno)
            default: throw CompressionError.readFailed(errno: errno)
            }
        }
    }

    private func readInput(into buffer: UnsafeMutableRawBufferPointer, limit: Int) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        while true {
            let got = Glibc.read(STDIN_FILENO, base, min(limit, buffer.count))
            if got < 0 {
                if errno == EINTR { continue }
                throw CompressionError.readFailed(errno: errno)
            }
            meter.add(got)
            return got
        }
    }
}

public enum InputError: Error, CustomStringConvertible {
    case standardInputIsTerminal
    case standardInputEmpty
    case unreadable(reason: String)
    case cannotSpool(file: String, reason: String)
    /// Another error, its spool path replaced by what the user named (standard input, a reference).
    case naming(String)

    public var description: String {
        switch self {
        case .standardInputIsTerminal:
            return "the image '-' is standard input, which is a terminal: pipe an image in, "
                + "e.g. docker save app:1 | whittle slim - -o app-slim.tar"
        case .standardInputEmpty:
            return "standard input was empty: the command before the pipe wrote no image (did docker save fail?)"
        case let .unreadable(reason):
            return "cannot read the image from standard input: \(reason)"
        case let .cannotSpool(file, reason):
            return "cannot copy standard input to \(file) (set TMPDIR to a disk with room): \(reason)"
        case let .naming(message):
            return message
        }
    }
}
