import WhittleFlatten
import WhittleImage
import WhittleProfiles

/// One removal decision. A removed directory stands for its whole subtree.
public struct Removal: Sendable, Equatable {
    public let path: String
    public let isDirectory: Bool
    /// Non-directory entries removed (the directory's whole subtree for a directory).
    public let entries: Int
    /// Bytes of file content the removal saves. A hardlinked file whose other name is kept
    /// saves nothing; each inode counts once.
    public let bytes: Int64
    /// `profile:pattern`, the rule that chose it.
    public let rule: String
    /// Where that rule came from.
    public let origin: Rule.Origin
}

/// A file a trace selection kept, and why.
public struct KeptPath: Sendable, Equatable {
    public let path: String
    /// File content kept under this path (a kept directory tree counts whole).
    public let bytes: Int64
    public let reason: KeepReason
}

/// The outcome of applying a policy to a tree: what goes, why, and what it costs. Every
/// figure the writer and the report use comes from here, computed in one pass.
public struct Selection: Sendable {
    public let removals: [Removal]
    /// With a trace: every kept non-directory and why it stayed. Empty otherwise.
    public let kept: [KeptPath]
    /// Kept symlinks whose target was removed.
    public let danglingSymlinks: [String]
    /// The whole tree, and what stays of it.
    public let before: Tally
    public let after: Tally
    /// When asked for: every removed non-directory path with its size, per name (a hardlinked
    /// inode under each removed name, even when a kept name still holds it). Package losses
    /// are measured with it: a package loses a path it lists whichever name keeps the content.
    public let removedFiles: [String: Int64]
    private let removedNodes: Set<ObjectIdentifier>
    private let removedPaths: PathPrefixSet

    init(
        removals: [Removal], kept: [KeptPath], danglingSymlinks: [String], before: Tally, after: Tally,
        removedFiles: [String: Int64], removedNodes: Set<ObjectIdentifier>
    ) {
        self.removals = removals
        self.kept = kept
        self.danglingSymlinks = danglingSymlinks
        self.before = before
        self.after = after
        self.removedFiles = removedFiles
        self.removedNodes = removedNodes
        removedPaths = PathPrefixSet(removals.map(\.path))
    }

    /// Whether the tree path (no leading slash) stays: neither it nor a directory above it
    /// is removed. The root ("") always stays.
    public func keeps(path: String) -> Bool {
        !removedPaths.containsPathOrParent(of: path)
    }

    /// Whether the writer keeps this node; false for a directory skips its subtree.
    public func keeps(_ node: Node) -> Bool {
        !removedNodes.contains(ObjectIdentifier(node))
    }

    public var removedBytes: Int64 { removals.reduce(0) { $0 + $1.bytes } }
    public var removedEntries: Int { removals.reduce(0) { $0 + $1.entries } }

    /// Kept bytes per reason, most first (trace selections only).
    public var keptByReason: [(reason: KeepReason, entries: Int, bytes: Int64)] {
        var totals: [KeepReason: (Int, Int64)] = [:]
        for item in kept {
            let total = totals[item.reason] ?? (0, 0)
            totals[item.reason] = (total.0 + 1, total.1 + item.bytes)
        }
        return totals.map { (reason: $0.key, entries: $0.value.0, bytes: $0.value.1) }
            .sorted { ($0.bytes, $1.reason.description) > ($1.bytes, $0.reason.description) }
    }
}

/// Applies a `SelectionPolicy` to a flattened tree.
///
/// Order of precedence, per path: a keep rule beats any remove rule; a protected path
/// survives every profile and yields only to an explicit `--remove`; otherwise the first
/// matching remove rule (explicit ones first) removes the path and its subtree. When a
/// keep rule or a protected path may lie inside a directory that is being removed, the
/// walk goes into it and removes around what must stay.
///
/// A directory that had contents and lost them all goes too: an empty skeleton is not
/// nothing (Python imports an empty `pytest/` as a namespace package). See `leftEmpty`.
public struct Selector {
    private let policy: SelectionPolicy
    private let keepRules: [Rule]
    private let removeRules: [Rule]
    /// The rules' patterns, in the same order, matched together.
    private let keepPatterns: PatternSet
    private let removePatterns: PatternSet
    /// Every directory that holds a protected path, so removal can step around it.
    private let protectedAncestors: Set<String>
    /// `DIR` of each remove rule written `DIR/**`: such a rule takes what is below `DIR`
    /// and means `DIR` to stay (docs empties the man sections update-alternatives needs).
    private let emptiedOnPurpose: PatternSet

    public init(policy: SelectionPolicy) {
        self.policy = policy
        keepRules = policy.rules.filter { $0.action == .keep }.sorted { $0.isExplicit && !$1.isExplicit }
        removeRules = policy.rules.filter { $0.action == .remove }.sorted { $0.isExplicit && !$1.isExplicit }
        keepPatterns = PatternSet(keepRules.map(\.pattern))
        removePatterns = PatternSet(removeRules.map(\.pattern))
        var ancestors = Set<String>()
        for path in policy.protected.keys {
            var parts = path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                ancestors.insert(parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        protectedAncestors = ancestors
        emptiedOnPurpose = PatternSet(
            removeRules.compactMap { rule in
                guard rule.pattern.text.hasSuffix("/**") else { return nil }
                return try? PathPattern(String(rule.pattern.text.dropLast("/**".count)))
            })
    }

    /// Decides, then measures everything in one pass over the tree.
    /// - Parameters:
    ///   - listingRemovedFiles: also list every removed file (for package losses).
    ///   - findingDanglingSymlinks: false leaves `danglingSymlinks` empty, for callers that
    ///     only want the figures (inspect's estimate of each profile).
    public func select(
        _ tree: FileTree, listingRemovedFiles: Bool = false,
        findingDanglingSymlinks: Bool = true
    ) -> Selection {
        var state = WalkState()
        if !policy.isEmpty {
            for child in tree.root.sortedChildren {
                _ = visit(child, path: child.name, inherited: nil, state: &state)
            }
        }
        var pass = SelectionPass(
            decisions: state.decisions.map { ($0.path, $0.node, $0.rule) }, traceKeep: policy.traceKeep,
            protected: policy.protected, keepPatterns: keepPatterns, listingRemovedFiles: listingRemovedFiles,
            findingDanglingSymlinks: findingDanglingSymlinks)
        pass.walk(tree.root, path: "")
        return pass.finish()
    }

    private struct Decision {
        let path: String
        let node: Node
        let rule: Rule
    }

    private struct WalkState {
        var decisions: [Decision] = []
    }

    /// What the walk decided about a node: something of it stays, or one decision removes it
    /// whole, by this rule.
    private enum Outcome {
        case stays
        case removed(Rule)
    }

    /// Decides `node` and what is inside it.
    private func visit(_ node: Node, path: String, inherited: Rule?, state: inout WalkState) -> Outcome {
        if keepPatterns.matchesAny(path) { return .stays }
        let rule = removePatterns.firstMatch(path).map { removeRules[$0] } ?? policy.packageRecords[path] ?? inherited
        if policy.protected[path] != nil, !(rule?.isExplicit ?? false) {
            // A protected directory keeps its subtree as it is.
            return .stays
        }
        guard let rule = rule ?? traceRule(for: path) else {
            let mark = state.decisions.count
            var contents = RemovedContents()
            for child in node.sortedChildren {
                contents.add(visit(child, path: path + "/" + child.name, inherited: nil, state: &state))
            }
            guard let rule = contents.rule, leftEmpty(node, path: path) else { return .stays }
            return removeWhole(node, path: path, by: rule, replacingFrom: mark, state: &state)
        }
        let mustLookInside =
            node.isDirectory
            && (keepPatterns.mayMatchBelow(path)
                || (protectedAncestors.contains(path) && !rule.isExplicit)
                || (policy.traceKeep?.ancestors.contains(path) ?? false))
        if mustLookInside {
            let mark = state.decisions.count
            var anythingKept = false
            for child in node.sortedChildren {
                if case .stays = visit(child, path: path + "/" + child.name, inherited: rule, state: &state) {
                    anythingKept = true
                }
            }
            if anythingKept { return .stays }
            // Nothing inside stays: one decision for the whole directory reads better.
            return removeWhole(node, path: path, by: rule, replacingFrom: mark, state: &state)
        }
        return removeWhole(node, path: path, by: rule, replacingFrom: state.decisions.count, state: &state)
    }

    /// One decision removes `node` whole, in place of those made inside it from `mark` on.
    private func removeWhole(
        _ node: Node, path: String, by rule: Rule, replacingFrom mark: Int,
        state: inout WalkState
    ) -> Outcome {
        state.decisions.removeSubrange(mark...)
        state.decisions.append(Decision(path: path, node: node, rule: rule))
        return .removed(rule)
    }

    /// What a directory's children came to, as far as it tells whether the directory is left
    /// empty, and by which rule.
    private struct RemovedContents {
        private var anythingStays = false
        private var first: Rule?
        private var sameRule = true
        private var sameOrigin = true

        mutating func add(_ outcome: Outcome) {
            guard case let .removed(rule) = outcome else {
                anythingStays = true
                return
            }
            guard let first else {
                first = rule
                return
            }
            sameRule = sameRule && rule == first
            sameOrigin = sameOrigin && rule.origin == first.origin
        }

        /// Nil when something stays, or there was nothing; else the rule that removes the
        /// directory with its contents: theirs when they share one.
        var rule: Rule? {
            guard !anythingStays, let first else { return nil }
            return sameRule ? first : Rule(leftEmptyFrom: sameOrigin ? first.origin : .emptied)
        }
    }

    /// Whether a directory whose contents all go, goes too. It stays when the trace names it
    /// (the app opened it), or a `DIR/**` rule empties it on purpose, or it is sticky (a
    /// `/tmp` that held only caches is still where apps write), or the policy says it lasts
    /// (dpkg's `info/`, one a package that stays lists). A keep rule or protection never
    /// gets here: they keep the directory before its contents are looked at. One empty in
    /// the input has no contents to lose, and stays.
    private func leftEmpty(_ node: Node, path: String) -> Bool {
        policy.traceKeep?.reasons[path] == nil && !emptiedOnPurpose.matchesAny(path)
            && node.attributes.permissions & 0o1000 == 0 && !policy.lastingDirectories.contains(path)
    }

    /// With a trace, what no rule decides goes unless the trace (or its closure) needs it.
    /// Nil means keep: a kept path, a kept directory tree, or a directory above one.
    private func traceRule(for path: String) -> Rule? {
        guard let keep = policy.traceKeep else { return nil }
        if keep.reasons[path] != nil || keep.ancestors.contains(path) || protectedAncestors.contains(path) {
            return nil
        }
        return Self.unused
    }

    /// The decision a trace makes about what the app never touched. Its pattern is never
    /// matched; `traceRule` applies it.
    private static let unused: Rule? = (try? PathPattern("**")).map {
        Rule(action: .remove, pattern: $0, origin: .trace)
    }
}
