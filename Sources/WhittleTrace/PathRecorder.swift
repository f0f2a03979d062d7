import Foundation
import WhittleFlatten
import WhittleTraceFormat
import WhittleFiles

/// Collects (path, operation) pairs from the supervisor thread, and turns them into trace
/// entries checked against the image tree.
final class PathRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var operations: [String: Set<String>] = [:]
    private var calls = 0

    func record(_ path: String, _ operation: String) {
        lock.lock()
        operations[path, default: []].insert(operation)
        lock.unlock()
    }

    /// Counts one notified syscall, for progress.
    func countCall() {
        lock.lock()
        calls += 1
        lock.unlock()
    }

    /// Syscalls counted and distinct paths so far.
    var counts: (syscalls: Int, paths: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (calls, operations.count)
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
    /// lexically), plus its resolved form and every image symlink on the way, all through
    /// the tree's one resolver, the same that `slim` keeps paths with.
    func entries(tree: FileTree) -> [TraceDocument.Entry] {
        var result: [TraceDocument.Entry] = []
        for (raw, operations) in snapshot {
            guard raw.hasPrefix("/") else { continue }
            let lexical = "/" + foldLexically("", [raw])
            let named = tree.resolve(raw, followFinal: false)
            result.append(TraceDocument.Entry(path: lexical, operations: Array(operations), existed: named.node != nil))
            let follows = !operations.isSubset(of: Self.symlinkItself)
            var resolutions = [named]
            if follows { resolutions.append(tree.resolve(raw, followFinal: true)) }
            for resolution in resolutions {
                if "/" + resolution.reachedPath != lexical {
                    result.append(
                        TraceDocument.Entry(
                            path: "/" + resolution.reachedPath, operations: ["resolved"],
                            existed: resolution.node != nil))
                }
                for link in resolution.symlinks {
                    result.append(TraceDocument.Entry(path: "/" + link, operations: ["symlink"], existed: true))
                }
            }
        }
        return result
    }
}
