import Foundation
import WhittleCompression
import WhittleFiles
import WhittleImage
import WhittleOutput
import WhittleRegistry
#if canImport(Glibc)
    import Glibc
#endif

/// Where `-o` sends the image: the one reading of its argument.
enum Destination {
    /// A tarball, with the name `docker-archive:PATH:NAME:TAG` gives it.
    case file(String, name: String?)
    case standardOutput
    case registry(RegistryReference)
    case daemon(String)
    /// An OCI image layout directory, with the reference `oci:DIR:REF` gives the image.
    case layout(String, reference: String?)

    init(_ argument: String) throws {
        guard argument != Slim.standardOutput else {
            self = .standardOutput
            return
        }
        switch try ImageLocation(parsing: argument) {
        case let .path(path):
            self = .file(path, name: nil)
        case let .local(.dockerArchive, path, name), let .local(.ociArchive, path, name):
            self = .file(path, name: name)
        case let .registry(reference):
            self = .registry(reference)
        case let .daemon(name):
            self = .daemon(name)
        case let .local(.ociLayout, path, reference):
            self = .layout(path, reference: reference)
        }
    }

    /// The output file, when the image is written to one.
    var filePath: String? {
        guard case let .file(path, _) = self else { return nil }
        return path
    }

    /// Refuses, before the long work, a place that cannot take the image.
    func check() throws {
        switch self {
        case let .file(path, _): try ImageWriter.checkDestination(path)
        case let .layout(directory, _): try LayoutOutput.checkDestination(directory)
        default: break
        }
    }

    /// The name the written image carries when `--tag` gives none: the destination's. The
    /// engine files the image under the tarball's tag, and a layout under its reference, so
    /// their names win there. A bare layout reference (`oci:DIR:slim`) is a tag, of the
    /// repository `--tag` or the input names.
    func tag(given: String?, inputTags: [String]) -> String? {
        switch self {
        case let .daemon(name): return name
        case let .file(_, name?): return given ?? name
        case let .registry(reference) where reference.tag != nil: return given ?? reference.name
        case let .layout(_, reference?) where reference.contains(":"): return reference
        case let .layout(_, reference?):
            let named = ImageName.familiar(given ?? inputTags.first ?? "whittled")
            return named[..<(named.lastIndex(of: ":") ?? named.endIndex)] + ":" + reference
        default: return given
        }
    }

    /// Sends a finished tarball on where it is not a file: standard output, a registry, the engine.
    func deliver(
        _ path: String, size: Int64, access: RegistryAccess, progress: any StageProgress
    ) throws -> Delivery? {
        switch self {
        case .file:
            return nil
        case let .layout(directory, _):
            let meter = ByteMeter(total: size)
            progress.begin("writing the OCI layout \(directory)", meter: meter)
            try LayoutOutput.unpack(path, into: directory, meter: meter)
            return .unpacked(directory: directory)
        case .standardOutput:
            try Self.send(path, size: size, progress: progress)
            return nil
        case let .registry(reference):
            let meter = ByteMeter()
            progress.begin("pushing to \(reference)", meter: meter)
            let digest = try RegistryPush.push(archive: path, to: reference, access: access, meter: meter)
            return .pushed(reference, digest: digest)
        case .daemon:
            let engine = try DockerEngine()
            let meter = ByteMeter(total: size)
            progress.begin("loading into the Docker engine", meter: meter)
            return .loaded(engine: engine.host, message: try engine.load(archive: path, meter: meter))
        }
    }

    /// Copies the finished tarball to standard output: with sendfile(2), which spares a copy
    /// through user space, or by reads and writes where the kernel cannot.
    private static func send(_ path: String, size: Int64, progress: any StageProgress) throws {
        let file = try OpenFile(path: path)
        let meter = ByteMeter(total: size)
        progress.begin("sending to standard output", meter: meter)
        try sendingToStandardOutput {
            var sent: Int64 = 0
            while sent < size {
                let count = sendfile(STDOUT_FILENO, file.descriptor, nil, Int(min(size - sent, 1 << 24)))
                if count < 0, errno == EINTR { continue }
                if count < 0, sent == 0, errno == EINVAL || errno == ENOSYS { break }
                guard count > 0 else {
                    throw SlimError.cannotSend(reason: count == 0 ? "\(path) ended early" : Self.sendFailure(errno))
                }
                sent += Int64(count)
                meter.add(count)
            }
            guard sent < size else { return }
            let sink = MeteredSink(downstream: FileSink(fileDescriptor: STDOUT_FILENO), meter: meter)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            try FileSlice(file: file, offset: 0, length: size).forEachChunk(through: buffer) { try sink.write($0) }
        }
    }

    /// Runs `body`, which writes to standard output, as every send does: a reader that goes
    /// away (SIGPIPE) is an error like any other, named as a failed send, so the scratch
    /// directory is still removed; and the pipe is enlarged first.
    static func sendingToStandardOutput<Result>(_ body: () throws -> Result) throws -> Result {
        signal(SIGPIPE, SIG_IGN)
        enlargePipe(STDOUT_FILENO)
        do {
            return try body()
        } catch CompressionError.writeFailed(let code) {
            throw SlimError.cannotSend(reason: Self.sendFailure(code))
        }
    }

    private static func sendFailure(_ code: Int32) -> String {
        String(cString: strerror(code)) + (code == EPIPE ? " (the command reading the pipe stopped)" : "")
    }
}

extension Slim {
    /// Refuses an `-o` argument that names no place an image can go, before any work.
    public static func checkOutput(_ argument: String) throws {
        _ = try Destination(argument)
    }
}
