#if canImport(Glibc)
    import Glibc
#endif

/// Why the output image could not be written. No partial output is left behind.
public enum OutputError: Error, CustomStringConvertible, Sendable {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case inputChanged(path: String)
    case invalidTag(String)

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason):
            return "cannot create the output \(path): \(reason)"
        case let .writeFailed(path, reason):
            return "cannot write the output \(path): \(reason)"
        case let .inputChanged(path):
            return "\(path) changed while whittle was reading it"
        case let .invalidTag(tag):
            return "'\(tag)' is not a valid image name: use name:tag, lower case, e.g. myapp:slim"
        }
    }
}

extension OutputError {
    /// The system's words for `code`, and for a full disk what it means for the output.
    static func reason(_ code: Int32) -> String {
        let words = String(cString: strerror(code))
        switch code {
        case ENOSPC: return "\(words) (ENOSPC): the disk holding it is full; nothing was left behind"
        case EDQUOT: return "\(words) (EDQUOT): the disk quota is used up; nothing was left behind"
        default: return words
        }
    }
}
