import WhittleFlatten

/// Where a path leads inside the image, and every symlink followed to get there. Keeping a
/// file means keeping those links too, or the path that names it stops working.
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
        func currentPath(appending name: String) -> String {
            (stack.map(\.name) + [name]).joined(separator: "/")
        }
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let directory = stack.last?.node ?? root
            guard let child = directory.children?[component] else {
                return PathResolution(outcome: .missing, path: nil, node: nil, symlinks: symlinks)
            }
            if let inode = child.inode, inode.kind == .symlink, followFinal || !pending.isEmpty {
                hops += 1
                symlinks.append(currentPath(appending: component))
                guard hops <= 40 else {
                    return PathResolution(outcome: .symlinkLoop, path: nil, node: nil, symlinks: symlinks)
                }
                // Linux refuses an empty target rather than treating it as ".".
                guard !inode.linkTarget.isEmpty else {
                    return PathResolution(outcome: .missing, path: nil, node: nil, symlinks: symlinks)
                }
                if inode.linkTarget.hasPrefix("/") { stack.removeAll() }
                pending += inode.linkTarget.split(separator: "/", omittingEmptySubsequences: true)
                    .reversed().map(String.init)
                continue
            }
            if !pending.isEmpty, !child.isDirectory {
                // Only "." or ".." may follow a non-directory, and the kernel refuses both.
                return PathResolution(outcome: .missing, path: nil, node: nil, symlinks: symlinks)
            }
            stack.append((component, child))
        }
        return PathResolution(outcome: .found, path: stack.map(\.name).joined(separator: "/"),
                              node: stack.last?.node ?? root, symlinks: symlinks)
    }
}
