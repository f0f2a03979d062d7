import WhittleArchive
import WhittleFiles

/// Owner, permissions, time and xattrs: what `docker export` shows of any entry.
public struct Attributes: Sendable, Equatable {
    public var permissions: UInt32
    public var uid: Int64
    public var gid: Int64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: Int64
    public var xattrs: [ExtendedAttribute]

    init(_ entry: TarEntry) {
        permissions = entry.permissions
        uid = entry.uid
        gid = entry.gid
        mtimeSeconds = entry.mtimeSeconds
        mtimeNanoseconds = entry.mtimeNanoseconds
        // overlayfs bookkeeping must never reach an output layer.
        xattrs = entry.xattrs.filter { !$0.name.hasPrefix("trusted.overlay.") }
    }

    /// A directory Docker had to create for an entry whose parent the layer did not list.
    static let implicitDirectory = Attributes(permissions: 0o755)

    init(permissions: UInt32) {
        self.permissions = permissions
        uid = 0
        gid = 0
        mtimeSeconds = 0
        mtimeNanoseconds = 0
        xattrs = []
    }

    /// Applies an upper entry's attributes over these, as Docker's applier does: owner,
    /// mode and time are replaced, xattrs are set one by one over the existing ones.
    mutating func overlay(_ upper: Attributes, keepModeAndTime: Bool = false) {
        uid = upper.uid
        gid = upper.gid
        if !keepModeAndTime {
            permissions = upper.permissions
            mtimeSeconds = upper.mtimeSeconds
            mtimeNanoseconds = upper.mtimeNanoseconds
        }
        for xattr in upper.xattrs {
            if let index = xattrs.firstIndex(where: { $0.name == xattr.name }) {
                xattrs[index] = xattr
            } else {
                xattrs.append(xattr)
            }
        }
    }
}

/// A non-directory file object. Hardlinked names share one inode, so replacing or deleting
/// one name leaves the others with the old content, as on a real filesystem.
public final class Inode {
    public let kind: TarEntryKind
    public var attributes: Attributes
    public private(set) var size: Int64
    public let linkTarget: String
    public let deviceMajor: UInt32
    public let deviceMinor: UInt32
    /// Where the bytes are: in the input, a layer spool, or (for content whittle generates,
    /// see `FileTree.replaceContents`) the generated-content spool.
    public private(set) var content: FileSlice?
    /// Whether a hardlink has ever named this inode. Only then can two names share it and
    /// must counting see it once; the many single-name inodes skip that bookkeeping.
    public internal(set) var isShared = false

    init(entry: TarEntry, content: FileSlice?) {
        kind = entry.kind
        attributes = Attributes(entry)
        size = entry.kind == .regular ? entry.size : 0
        linkTarget = entry.kind == .symlink ? entry.linkTarget : ""
        deviceMajor = entry.deviceMajor
        deviceMinor = entry.deviceMinor
        self.content = content
    }

    /// Gives a regular file new bytes, already written at `slice`.
    func replaceContent(with slice: FileSlice) {
        content = slice
        size = slice.length
    }

    /// A regular file's bytes, or nil when it is longer than `limit`: for the small text
    /// files other stages read (package databases, `/etc/passwd`, `ld.so.cache`).
    public func contents(limit: Int64) throws -> [UInt8]? {
        guard let content else { return [] }
        return try content.bytes(limit: limit)
    }
}

/// One name in the flattened tree.
public final class Node {
    public let name: String
    /// Children by name; non-nil exactly for directories.
    public internal(set) var children: [String: Node]? {
        didSet { sortedCache = nil }
    }
    /// The sorted children, kept between walks: a slim walks the finished tree several times
    /// (selection, sizes, report, writing), and sorting each directory every time adds up.
    private var sortedCache: [Node]?
    /// Directory attributes (non-directories keep theirs in `inode`).
    public internal(set) var directoryAttributes: Attributes
    public let inode: Inode?
    /// The layer (1-based; 0 for the root) that last wrote this name. Whiteouts and opaque
    /// markers only hide names from lower layers.
    var layer: Int

    init(directory name: String, attributes: Attributes, layer: Int) {
        self.name = name
        children = [:]
        directoryAttributes = attributes
        inode = nil
        self.layer = layer
    }

    init(name: String, inode: Inode, layer: Int) {
        self.name = name
        children = nil
        directoryAttributes = Attributes(permissions: 0)
        self.inode = inode
        self.layer = layer
    }

    public var isDirectory: Bool { children != nil }

    public var attributes: Attributes { inode?.attributes ?? directoryAttributes }

    /// Children in byte order of their names, the order entries are written in.
    public var sortedChildren: [Node] {
        if let sortedCache { return sortedCache }
        let sorted = (children ?? [:]).values.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        sortedCache = sorted
        return sorted
    }
}

/// The flattened image: one node per path.
public final class FileTree {
    public let root = Node(directory: "", attributes: Attributes(permissions: 0o755), layer: 0)
    /// The deepest a layer may make the tree (twice what a PATH_MAX path can name): every
    /// walk of the tree recurses once per level, and symlinks let names reach far deeper.
    public static let maxDepth = 4096

    public init() {}

    /// Visits every node below the root, parents before children, siblings in byte order.
    /// `path` has no leading slash.
    public func walk(_ visit: (_ path: String, _ node: Node) throws -> Void) rethrows {
        func descend(_ node: Node, prefix: String) throws {
            for child in node.sortedChildren {
                let path = prefix.isEmpty ? child.name : prefix + "/" + child.name
                try visit(path, child)
                if child.isDirectory { try descend(child, prefix: path) }
            }
        }
        try descend(root, prefix: "")
    }

    /// The node at a path, following symlinks on the way but not a final one.
    public func lookup(_ path: String) -> Node? {
        let walk = walk(components: path.split(separator: "/").map(String.init), followFinal: false,
                        creatingMissingIn: nil)
        return walk.outcome == .found ? walk.stack.last?.node ?? root : nil
    }

    /// The directory named by `components`, as the flattener applies an entry: with
    /// `createMissingIn`, missing directories are made (as Docker does); otherwise a missing
    /// one gives nil. A file in the way, a symlink loop, or (when creating) a symlink whose
    /// target is missing is a `DirectoryProblem`, which the flattener reports for its entry.
    /// With `followFinal` false, a symlink named last is the answer, and gives nil.
    func resolveDirectory<C: Collection>(_ components: C, createMissingIn layer: Int?,
                                         followFinal: Bool = true) throws -> Node?
    where C.Element == String {
        let walk = walk(components: Array(components), followFinal: followFinal, creatingMissingIn: layer)
        switch walk.outcome {
        case .found:
            let node = walk.stack.last?.node ?? root
            if !followFinal, node.inode?.kind == .symlink { return nil }
            guard node.isDirectory else { throw DirectoryProblem.notADirectory(Array(components).last ?? "") }
            return node
        case .missing:
            if let link = walk.danglingLink { throw DirectoryProblem.danglingLink(path: link.path, target: link.target) }
            if let blocker = walk.blocker { throw DirectoryProblem.notADirectory(blocker) }
            return nil
        case .symlinkLoop:
            throw DirectoryProblem.symlinkLoop(walk.blocker ?? "")
        case .tooDeep:
            throw DirectoryProblem.tooDeep
        }
    }
}

/// Why an entry's directory could not be reached; the flattener names the entry.
enum DirectoryProblem: Error {
    case notADirectory(String)
    case symlinkLoop(String)
    /// A symlink on the way names something missing, and Docker makes no directory there.
    case danglingLink(path: String, target: String)
    /// Deeper than `FileTree.maxDepth` directories.
    case tooDeep
}

/// Cleans an entry name lexically, as Docker joins it onto the root: a leading `/` or `./`
/// is dropped, `.` and `..` are folded. A name that climbs out of the root is refused.
func cleanPath(_ path: String, layer: Int) throws -> [String] {
    guard let parts = lexicalComponents(path) else { throw FlattenError.escapesRoot(layer: layer, path: path) }
    return parts
}
