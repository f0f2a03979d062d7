/// Why layers could not be applied. Layer numbers are 1-based, as `docker history` counts.
/// Where whittle refuses what Docker's applier also fails on, the message says so.
public enum FlattenError: Error, CustomStringConvertible, Sendable {
    case escapesRoot(layer: Int, path: String)
    case linkEscapesRoot(layer: Int, path: String, target: String)
    case missingLinkTarget(layer: Int, path: String, target: String)
    case linkReplacesTarget(layer: Int, path: String, target: String)
    case linkToDirectory(layer: Int, path: String, target: String)
    case parentNotDirectory(layer: Int, path: String, blocker: String)
    case parentInSymlinkLoop(layer: Int, path: String)
    case throughDanglingSymlink(layer: Int, path: String, link: String, target: String)
    case invalidWhiteout(layer: Int, path: String)
    case duplicateEntry(layer: Int, path: String)
    case pathTooLong(layer: Int, path: String, bytes: Int)
    case nameTooLong(layer: Int, path: String, bytes: Int)
    case tooDeep(layer: Int, path: String)
    case spool(String)
    case notARegularFile(path: String)

    /// The longest entry path Docker can write: "/" and the name within PATH_MAX (4096,
    /// its NUL included), as the applier opens it inside a chroot.
    public static let maximumPathBytes = 4094
    /// NAME_MAX: the longest name of one file.
    public static let maximumNameBytes = 255

    public var description: String {
        switch self {
        case let .escapesRoot(layer, path):
            return "layer \(layer) has an entry '\(path)' that climbs out of the image root through '..'; refusing it"
        case let .linkEscapesRoot(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to '\(target)', outside the image root; refusing it"
        case let .missingLinkTarget(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to '\(target)', which does not exist"
        case let .linkReplacesTarget(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to '\(target)', which the link replaces before it "
                + "is made (as Docker applies it, the target then does not exist); refusing it"
        case let .linkToDirectory(layer, path, target):
            return "layer \(layer) has a hardlink '\(path)' to the directory '\(target)'"
        case let .parentNotDirectory(layer, path, blocker):
            return
                "layer \(layer) has an entry '\(path)' whose parent is not a directory ('\(blocker)' is not a directory); refusing it"
        case let .parentInSymlinkLoop(layer, path):
            return "layer \(layer) has an entry '\(path)' whose parent leads into a symlink loop "
                + "(too many levels of symbolic links); refusing it"
        case let .throughDanglingSymlink(layer, path, link, target):
            return "layer \(layer) has an entry '\(path)' that goes through the symlink '\(link)' -> '\(target)', "
                + "whose target does not exist in the image; Docker cannot write there either; refusing it"
        case let .invalidWhiteout(layer, path):
            return
                "layer \(layer) has a whiteout '\(path)' that names no single file ('.', '..' or nothing); refusing it"
        case let .duplicateEntry(layer, path):
            return "layer \(layer) lists '\(path)' twice; Docker refuses such a layer "
                + "(duplicates of file paths not supported); refusing it"
        case let .pathTooLong(layer, path, bytes):
            return
                "layer \(layer) has an entry '\(abbreviated(path))' whose path is \(bytes) bytes long; Docker writes "
                + "paths of at most \(Self.maximumPathBytes) bytes (PATH_MAX); refusing it"
        case let .nameTooLong(layer, path, bytes):
            return
                "layer \(layer) has an entry '\(abbreviated(path))' with a name of \(bytes) bytes; names are at most "
                + "\(Self.maximumNameBytes) bytes (NAME_MAX); refusing it"
        case let .tooDeep(layer, path):
            return "layer \(layer) has an entry '\(abbreviated(path))' that lies more than \(FileTree.maxDepth) "
                + "directories deep; refusing it"
        case let .notARegularFile(path):
            return "'\(path)' was to get new content but is not a regular file"
        case let .spool(reason):
            return "cannot spool layer data to the temporary directory: \(reason)"
        }
    }
}

/// A long path shown by its two ends.
private func abbreviated(_ path: String) -> String {
    let bytes = Array(path.utf8)
    guard bytes.count > 160 else { return path }
    return String(decoding: bytes.prefix(60), as: UTF8.self) + "…" + String(decoding: bytes.suffix(60), as: UTF8.self)
}
