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
}

extension FileTree {
    /// Resolves `path` the way a process chrooted into the image would: absolute targets
    /// restart at the image root, `..` never climbs above it, and loops end after 40 links.
    /// With `followFinal` false a final symlink is the answer itself, as `lstat` sees it.
    public func resolve(_ path: String, followFinal: Bool = true) -> PathResolution {
        var stack: [(name: String, node: Node)] = []
        var pending = path.split(separator: "/", omittingEmptySubsequences: true).reversed().map(String.init)
        var symlinks: [String] = []
        var hops = 0
        func joined(_ extra: [String] = []) -> String {
            (stack.map(\.name) + extra).joined(separator: "/")
        }
        func stopped(_ outcome: PathResolution.Outcome, at rest: [String]) -> PathResolution {
            let directory = joined()
            let reached = foldLexically(directory, rest)
            return PathResolution(outcome: outcome, path: nil, node: nil, symlinks: symlinks,
                                  existingDirectory: directory, reachedPath: reached)
        }
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let directory = stack.last?.node ?? root
            guard let child = directory.children?[component] else {
                return stopped(.missing, at: [component] + pending.reversed())
            }
            if let inode = child.inode, inode.kind == .symlink, followFinal || !pending.isEmpty {
                hops += 1
                symlinks.append(joined([component]))
                guard hops <= 40 else { return stopped(.symlinkLoop, at: [component]) }
                // Linux refuses an empty target rather than treating it as ".".
                guard !inode.linkTarget.isEmpty else { return stopped(.missing, at: [component]) }
                if inode.linkTarget.hasPrefix("/") { stack.removeAll() }
                pending += inode.linkTarget.split(separator: "/", omittingEmptySubsequences: true)
                    .reversed().map(String.init)
                continue
            }
            if !pending.isEmpty, !child.isDirectory {
                // Only "." or ".." may follow a non-directory, and the kernel refuses both.
                return stopped(.missing, at: [component] + pending.reversed())
            }
            stack.append((component, child))
        }
        let found = joined()
        return PathResolution(outcome: .found, path: found, node: stack.last?.node ?? root, symlinks: symlinks,
                              existingDirectory: stack.last?.node.isDirectory == false
                                  ? stack.dropLast().map(\.name).joined(separator: "/") : found,
                              reachedPath: found)
    }
}

/// `base` with `components` appended, `.` dropped and `..` folded, never above the root.
/// The one lexical normaliser: tree paths have no leading slash.
public func foldLexically(_ base: String, _ components: [String]) -> String {
    var parts = base.split(separator: "/").map(String.init)
    for part in components.flatMap({ $0.split(separator: "/").map(String.init) }) {
        if part == "." { continue }
        if part == ".." {
            if !parts.isEmpty { parts.removeLast() }
            continue
        }
        parts.append(part)
    }
    return parts.joined(separator: "/")
}
