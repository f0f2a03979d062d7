#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything that can go wrong while moving bytes through this module's sources and sinks.
/// Each message says what happened and, where it helps, what the user can do about it.
public enum CompressionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// zlib rejected the data; the payload is zlib's own explanation.
    case corruptGzip(String)
    /// The input ended before the gzip stream did.
    case truncatedGzip
    /// libzstd rejected the data; the payload is libzstd's own explanation.
    case corruptZstd(String)
    /// The input ended before the zstd frame did.
    case truncatedZstd
    /// A compression library could not even start or failed internally (usually out of memory).
    case libraryFailure(library: String, detail: String)
    /// `pread` failed; the payload is `errno`.
    case readFailed(errno: Int32)
    /// A file was shorter than the byte range we were told to read from it.
    case fileEndedEarly(missingBytes: Int64)
    /// `write` failed; the payload is `errno`.
    case writeFailed(errno: Int32)
    /// The encoder was used after `finish()` or after an earlier error.
    case encoderClosed

    public var description: String {
        switch self {
        case .corruptGzip(let detail):
            return "corrupt gzip data: \(detail)"
        case .truncatedGzip:
            return "gzip stream is truncated: the data ended before the end of the compressed stream"
                + " (the file may be incompletely downloaded or copied)"
        case .corruptZstd(let detail):
            return "corrupt zstd data: \(detail)"
        case .truncatedZstd:
            return "zstd stream is truncated: the data ended before the end of the compressed frame"
                + " (the file may be incompletely downloaded or copied)"
        case .libraryFailure(let library, let detail):
            return "\(library) failed: \(detail) (the machine may be out of memory)"
        case .readFailed(let code):
            return "reading failed: \(Self.systemMessage(code))"
        case .fileEndedEarly(let missingBytes):
            return "file ended \(missingBytes) bytes before the expected end"
                + " (the file may be truncated or changed while being read)"
        case .writeFailed(let code):
            return "writing failed: \(Self.systemMessage(code))"
        case .encoderClosed:
            return "gzip encoder used after it was finished or had failed"
        }
    }

    private static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
