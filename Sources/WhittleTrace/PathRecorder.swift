import Foundation
import WhittleFlatten

/// Collects (path, operation) pairs from the supervisor thread, and turns them into trace
/// entries checked against the image tree.
final class PathRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var operations: [String: Set<String>] = [:]

    func record(_ path: String, _ operation: String) {
        lock.lock()
        operations[path, default: []].insert(operation)
        lock.unlock()
    }

    var snapshot: [String: Set<String>] {
        lock.lock()
        defer { lock.unlock() }
        return operations
    }

    /// Calls that act on the final symlink itself rather than what it points at.
    static let symlinkItself: Set<String> = [
        "lstat", "readlink", "readlinkat", "lgetxattr", "llistxattr", "lsetxattr", "lremovexattr", "lchown",
        "unlink", "unlinkat", "rename", "renameat", "renameat2", "symlink", "symlinkat", "link", "linkat",
    ]

    /// Trace entries for everything recorded: each path as named (made absolute, folded
    /// lexically), plus its resolved form and every image symlink on the way.
    func entries(tree: FileTree) -> [TraceDocument.Entry] {
        var result: [TraceDocument.Entry] = []
        for (raw, operations) in snapshot {
            guard raw.hasPrefix("/") else { continue }
            let lexical = Self.lexical(raw)
            let named = PathResolver.resolve(raw, in: tree, followFinal: false)
            result.append(TraceDocument.Entry(path: lexical, operations: Array(operations), existed: named.node != nil))
            let follows = !operations.isSubset(of: Self.symlinkItself)
            var resolutions = [named]
            if follows { resolutions.append(PathResolver.resolve(raw, in: tree, followFinal: true)) }
            for resolution in resolutions {
                if resolution.path != lexical {
                    result.append(TraceDocument.Entry(
                        path: resolution.path, operations: ["resolved"], existed: resolution.node != nil))
                }
                for link in resolution.symlinks {
                    result.append(TraceDocument.Entry(path: link, operations: ["symlink"], existed: true))
                }
            }
        }
        return result
    }

    /// `/a/./b//c/../d` → `/a/b/d`; `..` never climbs above `/`.
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// Resolves a path inside the image tree the way the kernel would inside the traced root:
/// symlinks are followed (absolute targets restart at the image root), `..` is physical
/// and never climbs above the root.
enum PathResolver {
    struct Resolution {
        var path: String
        var node: Node?
        var symlinks: [String]
    }

    static func resolve(_ path: String, in tree: FileTree, followFinal: Bool) -> Resolution {
        var stack: [(name: String, node: Node)] = []
        var pending = path.split(separator: "/").map(String.init).reversed().map { $0 }
        var symlinks: [String] = []
        var hops = 0
        func joined(_ extra: [String] = []) -> String {
            "/" + (stack.map(\.name) + extra).joined(separator: "/")
        }
        while let component = pending.popLast() {
            if component.isEmpty || component == "." { continue }
            if component == ".." {
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let current = stack.last?.node ?? tree.root
            guard let child = current.children?[component] else {
                let rest = PathRecorder.lexical("/" + ([component] + pending.reversed()).joined(separator: "/"))
                return Resolution(path: joined() + (stack.isEmpty ? String(rest.dropFirst()) : rest),
                                  node: nil, symlinks: symlinks)
            }
            if let inode = child.inode, inode.kind == .symlink, !pending.isEmpty || followFinal {
                hops += 1
                symlinks.append(joined([component]))
                guard hops <= 40 else { return Resolution(path: joined([component]), node: nil, symlinks: symlinks) }
                if inode.linkTarget.hasPrefix("/") { stack.removeAll() }
                pending.append(contentsOf: inode.linkTarget.split(separator: "/").map(String.init).reversed())
                continue
            }
            if !child.isDirectory && !pending.isEmpty {
                // A file used as a directory: the lookup fails with ENOTDIR.
                return Resolution(path: PathRecorder.lexical(joined([component] + pending.reversed())),
                                  node: nil, symlinks: symlinks)
            }
            stack.append((component, child))
        }
        return Resolution(path: joined(), node: stack.last?.node ?? tree.root, symlinks: symlinks)
    }
}
