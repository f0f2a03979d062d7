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
