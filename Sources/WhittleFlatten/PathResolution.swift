import Glibc
import WhittleFiles

/// Where a path leads inside the image, and every symlink followed to get there. Keeping a
/// file means keeping those links too, or the path that names it stops working. Recording a
/// trace, keeping what it names, and finding ELF dependencies all resolve through this one
/// walk, so they can never disagree about which file a path means.
public struct PathResolution {
    public enum Outcome: Sendable, Equatable {
        case found
        /// A component is missing, or a non-directory is used as a directory.
        case missing
        /// More than 40 symlinks were followed, as Linux's limit: a loop.
        case symlinkLoop
        /// A directory would have to be made deeper than `FileTree.maxDepth` (only when making them).
        case tooDeep
    }

    public let outcome: Outcome
    /// The tree path (no leading slash, no symlinks in it) of what was reached; nil unless found.
    public let path: String?
    public let node: Node?
    /// The tree paths of every symlink followed, in order, each at its real location.
    public let symlinks: [String]
    /// The deepest existing directory the walk stood in when it stopped (the root is ""). For
    /// a missing path this is where an app creating it would create it.
    public let existingDirectory: String
    /// The path as the kernel would reach it: for a missing path, `existingDirectory` with the
    /// components not found folded lexically onto it.
    public let reachedPath: String
    /// What stopped the walk: the name of a non-directory used as a directory, or the
    /// target of the link that made a loop; nil otherwise.
    public let blocker: String?
}

extension FileTree {
    /// Resolves `path` the way a process chrooted into the image would: absolute targets
    /// restart at the image root, `..` never climbs above it, and loops end after 40 links.
    /// With `followFinal` false a final symlink is the answer itself, as `lstat` sees it.
    public func resolve(_ path: String, followFinal: Bool = true) -> PathResolution {
        var start: WalkStart?
        return resolve(path, followFinal: followFinal, start: &start)
    }

    /// `resolve`, with the plain walk starting from `start` when the path lies below it, and
    /// `start` moved to the directory of what it finds (see `PathWalker`).
    func resolve(_ path: String, followFinal: Bool, start: inout WalkStart?) -> PathResolution {
        if case let .found(node, treePath) = plainWalk(path, followFinal: followFinal, start: &start) {
            let parent = treePath.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(treePath[..<$0]) } ?? ""
            return PathResolution(
                outcome: .found, path: treePath, node: node, symlinks: [],
                existingDirectory: node.isDirectory ? treePath : parent, reachedPath: treePath, blocker: nil)
        }
        return resolveByFullWalk(path, followFinal: followFinal)
    }

    /// `resolve` without the plain walk's shortcut: what the shortcut must always agree with.
    func resolveByFullWalk(_ path: String, followFinal: Bool) -> PathResolution {
        let walk = walk(components: pathComponents(path), followFinal: followFinal, creatingMissingIn: nil)
        let directory = walk.stack.map(\.name).joined(separator: "/")
        guard walk.outcome == .found else {
            return PathResolution(
                outcome: walk.outcome, path: nil, node: nil, symlinks: walk.symlinks,
                existingDirectory: directory, reachedPath: foldLexically(directory, walk.rest),
                blocker: walk.blocker)
        }
        let isFile = walk.stack.last?.node.isDirectory == false
        return PathResolution(
            outcome: .found, path: directory, node: walk.stack.last?.node ?? root,
            symlinks: walk.symlinks,
            existingDirectory: isFile ? walk.stack.dropLast().map(\.name).joined(separator: "/") : directory,
            reachedPath: directory, blocker: nil)
    }

    /// Where a walk stopped: the directories it stands in (the last is what it reached when
    /// found), and for a missing path the components not found. No strings are built here:
    /// the flattener walks once per entry.
    struct Walk {
        var outcome: PathResolution.Outcome
        var stack: [(name: String, node: Node)]
        var rest: [String]
        var symlinks: [String]
        var blocker: String?
        /// When creating: the symlink (its tree path and target) whose target is missing.
        /// Docker's applier makes missing directories below real ones, never inside a
        /// link's target, so the walk stops there rather than invent what the link names.
        var danglingLink: (path: String, target: String)?
    }

    /// The one walk behind every lookup. With `layer`, a missing directory is made on the
    /// way (as Docker's applier does for an entry whose parents a layer did not list).
    func walk(components: [String], followFinal: Bool, creatingMissingIn layer: Int?) -> Walk {
        var result = Walk(outcome: .found, stack: [], rest: [], symlinks: [], blocker: nil)
        // Each pending component knows the symlink whose target it came from (an index into
        // `result.symlinks` and `targets`), or nil when it is the path's own.
        var pending: [(name: String, link: Int?)] = components.reversed().map { ($0, nil) }
        var targets: [String] = []
        var hops = 0
        func stop(_ outcome: PathResolution.Outcome, rest: [String], blocker: String? = nil) -> Walk {
            result.outcome = outcome
            result.rest = rest
            result.blocker = blocker
            return result
        }
        while let (component, link) = pending.popLast() {
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                if !result.stack.isEmpty { result.stack.removeLast() }
                continue
            }
            let directory = result.stack.last?.node ?? root
            guard let child = directory.child(named: component) else {
                if let layer, directory.isDirectory {
                    if let link {
                        result.danglingLink = (result.symlinks[link], targets[link])
                        return stop(.missing, rest: [component] + pending.reversed().map(\.name))
                    }
                    guard result.stack.count < FileTree.maxDepth else {
                        return stop(.tooDeep, rest: [component] + pending.reversed().map(\.name))
                    }
                    let made = Node(directory: component, attributes: .implicitDirectory, layer: layer)
                    directory.setChild(made)
                    result.stack.append((component, made))
                    continue
                }
                return stop(.missing, rest: [component] + pending.reversed().map(\.name))
            }
            if let inode = child.inode, inode.kind == .symlink, followFinal || !pending.isEmpty {
                hops += 1
                result.symlinks.append((result.stack.map(\.name) + [component]).joined(separator: "/"))
                targets.append(inode.linkTarget)
                guard hops <= 40 else { return stop(.symlinkLoop, rest: [component], blocker: inode.linkTarget) }
                // Linux refuses an empty target rather than treating it as ".".
                guard !inode.linkTarget.isEmpty else { return stop(.missing, rest: [component]) }
                if inode.linkTarget.hasPrefix("/") { result.stack.removeAll() }
                let index = result.symlinks.count - 1
                pending += pathComponents(inode.linkTarget).reversed().map { ($0, index) }
                continue
            }
            if !pending.isEmpty, !child.isDirectory {
                // Only "." or ".." may follow a non-directory, and the kernel refuses both.
                return stop(.missing, rest: [component] + pending.reversed().map(\.name), blocker: component)
            }
            result.stack.append((component, child))
        }
        return result
    }
}

/// What `plainWalk` found.
enum PlainWalk {
    /// The node, and its tree path (a slice of the path asked for, copied once).
    case found(Node, String)
    /// A name the tree does not have, with no symlink or non-directory on the way.
    case missing
    /// Anything the full walk must handle: a symlink to follow, `.` or `..` past the
    /// start, doubled slashes, a non-directory used as a directory.
    case notPlain
}

extension FileTree {
    /// The walk most lookups need, on the path's bytes without a string per name: names
    /// looked up one after the other, no symlink followed. Package databases and traces
    /// resolve hundreds of thousands of such paths; whatever this cannot answer exactly as
    /// `walk` does goes to `walk`.
    func plainWalk(_ path: String, followFinal: Bool) -> PlainWalk {
        var start: WalkStart?
        return plainWalk(path, followFinal: followFinal, start: &start)
    }

    /// The plain walk, from `start`'s directory when the path names something below it
    /// (its text begins with `start`'s path and a slash). On success `start` becomes the
    /// directory the found node is in.
    func plainWalk(_ path: String, followFinal: Bool, start remembered: inout WalkStart?) -> PlainWalk {
        var path = path
        return path.withUTF8 { bytes in
            let slash = UInt8(ascii: "/")
            let dot = UInt8(ascii: ".")
            var end = bytes.count
            while end > 0, bytes[end - 1] == slash { end -= 1 }
            // Leading slashes and `./` name the root, as a tree path has no prefix.
            var start = 0
            while start < end {
                if bytes[start] == slash {
                    start += 1
                } else if bytes[start] == dot, start + 1 == end || bytes[start + 1] == slash {
                    start += 1
                } else {
                    break
                }
            }
            var node = root
            var index = start
            if let remembered, let skip = remembered.prefixLength(in: UnsafeBufferPointer(rebasing: bytes[start..<end]))
            {
                node = remembered.directory
                index = start + skip
            }
            // The directory the last name is looked up in, and where that name begins.
            var parent = node
            var lastName = index
            while index < end {
                var next = index
                while next < end, bytes[next] != slash { next += 1 }
                let name = UnsafeBufferPointer(rebasing: bytes[index..<next])
                // `.`, `..` and an empty name (doubled slash) would make the tree path differ from the text.
                if name.isEmpty || (name.first == dot && (name.count == 1 || (name.count == 2 && name[1] == dot))) {
                    return .notPlain
                }
                guard node.isDirectory else { return .notPlain }
                guard let child = node.child(nameBytes: name) else { return .missing }
                if child.inode?.kind == .symlink, followFinal || next < end { return .notPlain }
                parent = node
                lastName = index
                node = child
                index = next + 1
            }
            if lastName > start + 1 {
                WalkStart.remember(
                    UnsafeBufferPointer(rebasing: bytes[start..<(lastName - 1)]), parent, in: &remembered)
            }
            let treePath =
                start < end ? String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) : ""
            return .found(node, treePath)
        }
    }
}

/// A directory a plain walk may start from instead of the root: its tree path and its node.
/// Only valid while the tree does not change.
struct WalkStart {
    let path: [UInt8]
    let directory: Node

    /// How many bytes of `path` (a tree path) this directory and the slash after it cover,
    /// or nil when `path` does not lie below it.
    func prefixLength(in path: UnsafeBufferPointer<UInt8>) -> Int? {
        guard path.count > self.path.count, path[self.path.count] == UInt8(ascii: "/") else { return nil }
        let same = self.path.withUnsafeBufferPointer { own in
            memcmp(own.baseAddress!, path.baseAddress!, own.count) == 0
        }
        return same ? self.path.count + 1 : nil
    }

    /// Makes `start` the directory at `path`, copying the path only when it changes.
    static func remember(_ path: UnsafeBufferPointer<UInt8>, _ directory: Node, in start: inout WalkStart?) {
        if let start, start.directory === directory { return }
        start = WalkStart(path: Array(path), directory: directory)
    }
}

/// Resolves paths one after another, each plain walk starting from the directory the one
/// before found its answer in when the path lies below it: a package database lists files
/// directory by directory, so most names are looked up once instead of once per file. Only
/// for a tree that does not change meanwhile, and for one thread.
public final class PathWalker {
    public let tree: FileTree
    private var start: WalkStart?

    public init(_ tree: FileTree) {
        self.tree = tree
    }

    /// As `FileTree.resolve`.
    public func resolve(_ path: String, followFinal: Bool = true) -> PathResolution {
        tree.resolve(path, followFinal: followFinal, start: &start)
    }
}
