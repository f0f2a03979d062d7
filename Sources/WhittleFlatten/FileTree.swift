import Glibc
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
    /// see `GeneratedContent`) the generated-content spool.
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

/// One name in the flattened tree: a directory, or a name for an inode.
///
/// Kept small on purpose, since an image has hundreds of thousands of them: the name, one
/// reference (to the directory's contents or to the inode) and the layer. A directory's
/// children are one array sorted by the bytes of their names, which is also the order the
/// writer and every walk want, so no per-directory dictionary or sorted copy is kept.
public final class Node {
    public let name: String
    private var body: Body
    /// The layer (1-based; 0 for the root) that last wrote this name. Whiteouts and opaque
    /// markers only hide names from lower layers.
    private var layerNumber: Int32

    private enum Body {
        case directory(DirectoryContents)
        case file(Inode)
    }

    init(directory name: String, attributes: Attributes, layer: Int) {
        self.name = name
        body = .directory(DirectoryContents(attributes: attributes))
        layerNumber = Int32(clamping: layer)
    }

    init(name: String, inode: Inode, layer: Int) {
        self.name = name
        body = .file(inode)
        layerNumber = Int32(clamping: layer)
    }

    var layer: Int {
        get { Int(layerNumber) }
        set { layerNumber = Int32(clamping: newValue) }
    }

    public var inode: Inode? {
        if case .file(let inode) = body { return inode }
        return nil
    }

    private var contents: DirectoryContents? {
        if case .directory(let contents) = body { return contents }
        return nil
    }

    public var isDirectory: Bool { contents != nil }

    public var attributes: Attributes { inode?.attributes ?? contents?.attributes ?? Attributes(permissions: 0) }

    /// A directory's own attributes; setting them on a file does nothing.
    var directoryAttributes: Attributes {
        get { contents?.attributes ?? Attributes(permissions: 0) }
        set { contents?.attributes = newValue }
    }

    /// Children in byte order of their names, the order entries are written in.
    public var sortedChildren: [Node] { contents?.children ?? [] }

    /// The child with exactly these name bytes.
    public func child(named name: String) -> Node? {
        guard let contents, case .found(let index) = contents.position(of: name) else { return nil }
        return contents.children[index]
    }

    /// The same, for a name given as bytes (a slice of a longer path), so a walk need not
    /// make a string of each component.
    func child(nameBytes: UnsafeBufferPointer<UInt8>) -> Node? {
        guard let contents, case .found(let index) = contents.position(ofBytes: nameBytes) else { return nil }
        return contents.children[index]
    }

    /// Puts `child` in this directory, replacing a child of the same name.
    func setChild(_ child: Node) {
        guard let contents else { return }
        switch contents.position(of: child.name) {
        case .found(let index): contents.children[index] = child
        case .insert(let index): contents.children.insert(child, at: index)
        }
    }

    func removeChild(named name: String) {
        guard let contents, case .found(let index) = contents.position(of: name) else { return }
        contents.children.remove(at: index)
    }

    /// Removes the children `shouldRemove` picks, keeping the others in order.
    func removeChildren(where shouldRemove: (Node) -> Bool) {
        contents?.children.removeAll(where: shouldRemove)
    }
}

/// What a directory holds: its attributes and its children, sorted by name bytes.
private final class DirectoryContents {
    var attributes: Attributes
    var children: [Node] = []

    init(attributes: Attributes) {
        self.attributes = attributes
    }

    enum Position {
        case found(Int)
        case insert(Int)
    }

    /// Where `name` is, or where it would go. Layers list a directory's entries in order, so
    /// a new name usually goes last, which is checked first.
    func position(of name: String) -> Position {
        var name = name
        return name.withUTF8 { position(ofBytes: $0) }
    }

    func position(ofBytes name: UnsafeBufferPointer<UInt8>) -> Position {
        guard let last = children.last else { return .insert(0) }
        let order = compareNameBytes(last.name, name)
        if order < 0 { return .insert(children.count) }
        if order == 0 { return .found(children.count - 1) }
        var low = 0
        var high = children.count - 1
        while low < high {
            let middle = (low + high) / 2
            let order = compareNameBytes(children[middle].name, name)
            if order == 0 { return .found(middle) }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return .insert(low)
    }
}

/// Orders two names by their bytes, as the kernel tells names apart: two spellings Swift
/// calls equal (composed and decomposed accents) are two names.
public func compareNameBytes(_ left: String, _ right: String) -> Int {
    var right = right
    return right.withUTF8 { compareNameBytes(left, $0) }
}

func compareNameBytes(_ left: String, _ rightBytes: UnsafeBufferPointer<UInt8>) -> Int {
    var left = left
    return left.withUTF8 { leftBytes in
        let common = min(leftBytes.count, rightBytes.count)
        if common > 0, let a = leftBytes.baseAddress, let b = rightBytes.baseAddress {
            let order = memcmp(a, b, common)
            if order != 0 { return Int(order) }
        }
        return leftBytes.count - rightBytes.count
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
        switch plainWalk(path, followFinal: false) {
        case let .found(node, _): return node
        case .missing: return nil
        case .notPlain: break
        }
        let walk = walk(
            components: pathComponents(path), followFinal: false,
            creatingMissingIn: nil)
        return walk.outcome == .found ? walk.stack.last?.node ?? root : nil
    }

    /// The directory named by `components`, as the flattener applies an entry: with
    /// `createMissingIn`, missing directories are made (as Docker does); otherwise a missing
    /// one gives nil. A file in the way, a symlink loop, or (when creating) a symlink whose
    /// target is missing is a `DirectoryProblem`, which the flattener reports for its entry.
    /// With `followFinal` false, a symlink named last is the answer, and gives nil.
    func resolveDirectory<C: Collection>(
        _ components: C, createMissingIn layer: Int?,
        followFinal: Bool = true
    ) throws -> Node?
    where C.Element == String {
        let walk = walk(components: Array(components), followFinal: followFinal, creatingMissingIn: layer)
        switch walk.outcome {
        case .found:
            let node = walk.stack.last?.node ?? root
            if !followFinal, node.inode?.kind == .symlink { return nil }
            guard node.isDirectory else { throw DirectoryProblem.notADirectory(Array(components).last ?? "") }
            return node
        case .missing:
            if let link = walk.danglingLink {
                throw DirectoryProblem.danglingLink(path: link.path, target: link.target)
            }
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
