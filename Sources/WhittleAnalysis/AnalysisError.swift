/// Why an image could not be analysed.
public enum AnalysisError: Error, CustomStringConvertible, Sendable {
    case unreadablePackageDatabase(path: String, reason: String)
    case packageDatabaseTooLarge(path: String, bytes: Int64)

    public var description: String {
        switch self {
        case let .unreadablePackageDatabase(path, reason):
            return "cannot read the package database file '\(path)' in the image: \(reason)"
        case let .packageDatabaseTooLarge(path, bytes):
            return "the package database file '\(path)' in the image is implausibly large (\(bytes) bytes); "
                + "is the image damaged?"
        }
    }
}
