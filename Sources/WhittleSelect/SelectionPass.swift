import WhittleFlatten
import WhittleFiles
import WhittleProfiles

/// The one pass over the tree after the decisions: every node is visited once, knowing
/// whether it stays or which decision removes it, and every figure comes out of it: the
/// before and after counts, each removal's entries and bytes, why each kept file stayed,
/// the kept symlinks left dangling, and (when asked) the list of removed files.
struct SelectionPass {
    private let decisions: [(path: String, node: Node, rule: Rule)]
    private let decisionOfNode: [ObjectIdentifier: Int]
    private let traceKeep: TraceKeepSet?
    private let protected: [String: KeepReason]
    private let keepPatterns: PatternSet
    private var before = TallyCounter()
    private var after = TallyCounter()
    private var entries: [Int]
    /// Bytes each decision saves through inodes with one name.
    private var bytes: [Int64]
    /// Hardlinked inodes that a kept name holds.
    private var keptInodes = Set<ObjectIdentifier>()
    /// Each removed hardlinked inode, its size and the first decision (in walk order) that
    /// removed it: that decision saves its bytes, unless a kept name still holds it.
    private var removedInodes: [ObjectIdentifier: (decision: Int, size: Int64)] = [:]
    private var kept: [KeptPath] = []
    private var keptSymlinks: [(path: String, target: String)] = []
    private var removedFiles: [String: Int64]?
    /// Whether kept symlinks are collected to find the dangling ones.
    private let findingDanglingSymlinks: Bool
    /// Whether any figure needs the nodes' paths (kept reasons, removed files, symlinks):
    /// building a path for every node is most of a walk's cost when none does.
    private let needsPaths: Bool

    init(
        decisions: [(path: String, node: Node, rule: Rule)], traceKeep: TraceKeepSet?, protected: [String: KeepReason],
        keepPatterns: PatternSet, listingRemovedFiles: Bool, findingDanglingSymlinks: Bool = true
    ) {
        self.decisions = decisions
        var byNode: [ObjectIdentifier: Int] = [:]
        for (index, decision) in decisions.enumerated() { byNode[ObjectIdentifier(decision.node)] = index }
        decisionOfNode = byNode
        self.traceKeep = traceKeep
        self.protected = protected
        self.keepPatterns = keepPatterns
        entries = Array(repeating: 0, count: decisions.count)
        bytes = Array(repeating: 0, count: decisions.count)
        removedFiles = listingRemovedFiles ? [:] : nil
        // Without removals no kept symlink can dangle into one, so a flatten builds no paths.
        self.findingDanglingSymlinks = findingDanglingSymlinks && !decisions.isEmpty
        needsPaths = traceKeep != nil || listingRemovedFiles || self.findingDanglingSymlinks
    }

    /// Visits `node`'s children; `removedBy` is the decision removing this subtree, and
    /// `reason` the kept reason its files inherit (a protected directory's, such as a
    /// package's metadata kept whole).
    mutating func walk(_ node: Node, path: String, removedBy: Int? = nil, reason: KeepReason? = nil) {
        for child in node.sortedChildren {
            let childPath = needsPaths ? (path.isEmpty ? child.name : path + "/" + child.name) : ""
            let decision = removedBy ?? decisionOfNode[ObjectIdentifier(child)]
            if let inode = child.inode {
                count(inode, at: childPath, removedBy: decision, inherited: reason)
            } else if let decision {
                walk(child, path: childPath, removedBy: decision)
            } else if !needsPaths {
                walk(child, path: childPath)
            } else {
                let own = traceKeep?.reasons[childPath] ?? protected[childPath] ?? reason
                let passed = protected[childPath] != nil ? own : reason
                walk(child, path: childPath, reason: passed)
            }
        }
    }

    private mutating func count(_ inode: Inode, at path: String, removedBy decision: Int?, inherited: KeepReason?) {
        let identity = ObjectIdentifier(inode)
        before.count(inode)
        if let decision {
            entries[decision] += 1
            if !inode.isShared {
                bytes[decision] += inode.size
            } else if removedInodes[identity] == nil {
                removedInodes[identity] = (decision, inode.size)
            }
            removedFiles?[path] = inode.size
            return
        }
        after.count(inode)
        if inode.isShared { keptInodes.insert(identity) }
        if findingDanglingSymlinks, inode.kind == .symlink { keptSymlinks.append((path, inode.linkTarget)) }
        if traceKeep != nil {
            let why =
                traceKeep?.reasons[path] ?? protected[path] ?? inherited
                ?? (keepPatterns.matchesAny(path) ? .keepRule : .closure(.parent))
            kept.append(KeptPath(path: path, bytes: inode.size, reason: why))
        }
    }

    func finish() -> Selection {
        var bytes = bytes
        for (identity, removed) in removedInodes where !keptInodes.contains(identity) {
            bytes[removed.decision] += removed.size
        }
        let removals = decisions.enumerated().map { index, decision in
            Removal(
                path: decision.path, isDirectory: decision.node.isDirectory, entries: entries[index],
                bytes: bytes[index], rule: decision.rule.label, origin: decision.rule.origin)
        }
        return Selection(
            removals: removals, kept: kept, danglingSymlinks: danglingSymlinks(), before: before.tally,
            after: after.tally,
            removedFiles: removedFiles ?? [:], removedNodes: Set(decisions.map { ObjectIdentifier($0.node) }))
    }

    /// Kept symlinks whose target lies in something removed (read lexically, as a user would).
    private func danglingSymlinks() -> [String] {
        guard !decisions.isEmpty else { return [] }
        let removedPaths = PathPrefixSet(decisions.map(\.path))
        return keptSymlinks.compactMap { link in
            let parent = link.path.lastIndex(of: "/").map { String(link.path[..<$0]) } ?? ""
            let target = foldLexically(link.target.hasPrefix("/") ? "" : parent, [link.target])
            return removedPaths.containsPathOrParent(of: target) ? link.path : nil
        }
    }
}
