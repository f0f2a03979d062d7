/// Why layers could not be applied. Layer numbers are 1-based, as `docker history` counts.
public enum FlattenError: Error, CustomStringConvertible, Sendable {
    case escapesRoot(layer: Int, path: String)
    case linkEscapesRoot(layer: Int, path: String, target: String)
    case missingLinkTarget(layer: Int, path: String, target: String)
    case linkToDirectory(layer: Int, path: String, target: String)
    case notADirectory(path: String)
    case symlinkLoop(path: String)
    case parentNotDirectory(layer: Int, path: String)
    case invalidWhiteout(layer: Int, path: String)
    case spool(String)
    case notARegularFile(path: String)

    public var description: String {
        switch self {
        case let .escapesRoot(layer, path):
            return "layer \(layer) has an entry '\(path)' that climbs out of the image root through '..'; refusing it"
        case let .linkEscapesRoot(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to '\(target)', outside the image root; refusing it"
        case let .missingLinkTarget(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to '\(target)', which does not exist"
        case let .linkToDirectory(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to the directory '\(target)'"
        case let .notADirectory(path):
            return "'\(path)' is used as a directory but is not one"
        case let .symlinkLoop(path):
            return "too many levels of symbolic links resolving '\(path)'"
        case let .parentNotDirectory(layer, path):
            return "layer \(layer) has an entry '\(path)' whose parent is not a directory"
        case let .invalidWhiteout(layer, path):
            return "layer \(layer) has a whiteout '\(path)' that names no single file ('.', '..' or nothing); refusing it"
        case let .notARegularFile(path):
            return "'\(path)' was to get new content but is not a regular file"
        case let .spool(reason):
            return "cannot spool layer data to the temporary directory: \(reason)"
        }
    }
}
