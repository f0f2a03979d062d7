import Foundation

/// The steps of a `RemovalPlan`, over record indices.
struct Planner {
    typealias Reason = RemovalPlan.Reason

    /// A kept package whose dependency lost every provider.
    struct Break {
        var dependent: Int
        var group: PackageGraph.Group
    }

    let graph: PackageGraph
    let autoremoveAll: Bool
    /// Per record: the spec and request that named it.
    private var named: [(spec: String, request: PackageRemovalRequest)?]
    private(set) var spared: [RemovalPlan.Spared] = []
    /// Python extras asked of each distribution before anything is removed.
    private let originalExtras: [Set<String>]

    init(graph: PackageGraph, autoremove: Bool) {
        self.graph = graph
        autoremoveAll = autoremove
        named = Array(repeating: nil, count: graph.records.count)
        originalExtras =
            Self.mark(
                graph, roots: Array(graph.records.indices),
                allowed: Array(repeating: true, count: graph.records.count), hardOnly: false
            ).extras
    }

    private var records: [PackageRecord] { graph.records }

    /// Matches every spec; command-line requests come first, so that their stricter rules
    /// win over a profile naming the same package.
    mutating func name(_ requests: [PackageRemovalRequest], force: Bool) throws {
        let ordered = requests.filter { $0.origin == .commandLine } + requests.filter { $0.origin != .commandLine }
        var unmatched: [PackageSpec] = []
        var essential: [String] = []
        for request in ordered {
            for spec in request.specs {
                let matches = records.indices.filter { spec.matches(records[$0]) }
                if matches.isEmpty && request.origin == .commandLine { unmatched.append(spec) }
                for index in matches where named[index] == nil {
                    if records[index].essential && !force {
                        if case let .profile(profile) = request.origin {
                            spared.append(
                                .init(
                                    record: records[index], profile: profile,
                                    reason: """
                                        it is Essential: other packages use it without declaring it
                                        """))
                            continue
                        }
                        essential.append(records[index].spec)
                    }
                    named[index] = (spec.description, request)
                }
            }
        }
        if !unmatched.isEmpty {
            throw PackageGraphError.noMatch(specs: unmatched.map(\.description), similar: similarNames(unmatched))
        }
        if !essential.isEmpty { throw PackageGraphError.essential(essential) }
    }

    /// Installed names that hold the longest run of letters of a spec that matched nothing
    /// (`curl` for `deb:curl-13`).
    private func similarNames(_ specs: [PackageSpec]) -> [String] {
        let fragments = specs.compactMap { spec -> (PackageKind?, String)? in
            let runs = spec.pattern.lowercased().split(whereSeparator: { !$0.isLetter })
            guard let longest = runs.max(by: { $0.count < $1.count }), longest.count >= 3 else { return nil }
            return (spec.kind, String(longest))
        }
        let found = records.filter { record in
            fragments.contains { kind, fragment in
                (kind == nil || kind == record.kind) && record.name.lowercased().contains(fragment)
            }
        }
        return Array(Set(found.map(\.spec))).sorted().prefix(8).map { $0 }
    }

    /// The named packages, plus what autoremove takes with them.
    func removal() -> [Reason?] {
        var removed: [Reason?] = named.map { entry in
            entry.map { .named(spec: $0.spec, origin: $0.request.origin) }
        }
        let sources = records.indices.filter { index in
            guard let entry = named[index] else { return false }
            return autoremoveAll || entry.request.autoremove
        }
        if !sources.isEmpty { autoremove(from: sources, into: &removed) }
        return removed
    }

    /// Mark and sweep, as apt does it: every package that stays and is not an autoremove
    /// candidate reached from the removed ones is a root; what the roots need (through
    /// Depends, Pre-Depends, Recommends, apk `D:`, Requires-Dist) stays; the candidates left
    /// unmarked go. Marking rather than counting dependents handles cycles among candidates.
    private func autoremove(from sources: [Int], into removed: inout [Reason?]) {
        var related: [Int: (because: String, neededBy: String)] = [:]
        var queue = sources.map { ($0, records[$0].spec) }
        var position = 0
        while position < queue.count {
            let (index, root) = queue[position]
            position += 1
            for group in graph.applicableGroups(index, extras: originalExtras[index]) {
                for target in group.targets
                where related[target.index] == nil && removed[target.index] == nil
                    && records[target.index].isAutoremovable
                {
                    related[target.index] = (root, records[index].spec)
                    queue.append((target.index, root))
                }
            }
        }
        guard !related.isEmpty else { return }
        let kept = removed.map { $0 == nil }
        let roots = records.indices.filter { kept[$0] && related[$0] == nil }
        let marked = Self.mark(graph, roots: roots, allowed: kept, hardOnly: false).marked
        for (index, cause) in related where !marked[index] {
            removed[index] = .autoremoved(because: cause.because, neededBy: cause.neededBy)
        }
    }

    /// Everything `roots` need, transitively, among `allowed` packages, with the Python
    /// extras asked of each. A package is visited again when it is asked for more extras.
    static func mark(
        _ graph: PackageGraph, roots: [Int], allowed: [Bool], hardOnly: Bool
    )
        -> (marked: [Bool], extras: [Set<String>])
    {
        var marked = Array(repeating: false, count: graph.records.count)
        var extras = Array(repeating: Set<String>(), count: graph.records.count)
        var stack = roots
        for root in roots { marked[root] = true }
        while let index = stack.popLast() {
            for group in graph.applicableGroups(index, extras: extras[index]) where group.isHard || !hardOnly {
                for target in group.targets where allowed[target.index] {
                    let grows = !marked[target.index] || !target.extras.isSubset(of: extras[target.index])
                    guard grows else { continue }
                    marked[target.index] = true
                    extras[target.index].formUnion(target.extras)
                    stack.append(target.index)
                }
            }
        }
        return (marked, extras)
    }

    /// Hard dependencies of packages that stay whose every provider is in `gone`.
    func breaks(gone: [Bool], among candidates: [Int]) -> [Break] {
        let kept = gone.map { !$0 }
        let extras = Self.mark(graph, roots: records.indices.filter { kept[$0] }, allowed: kept, hardOnly: true).extras
        return candidates.flatMap { index in
            graph.applicableGroups(index, extras: extras[index]).filter { group in
                group.isHard && !group.targets.isEmpty && group.targets.allSatisfy { gone[$0.index] }
            }.map { Break(dependent: index, group: $0) }
        }
    }

    func directBreaks(_ removed: [Reason?]) -> [Break] {
        let gone = removed.map { $0 != nil }
        return breaks(gone: gone, among: records.indices.filter { !gone[$0] })
    }

    /// Un-names the profile-named packages that a package staying needs. Returns whether
    /// anything changed.
    mutating func spare(_ breaks: [Break]) -> Bool {
        var changed = false
        for item in breaks {
            for target in item.group.targets {
                guard let entry = named[target.index], case let .profile(profile) = entry.request.origin else {
                    continue
                }
                named[target.index] = nil
                spared.append(
                    .init(
                        record: records[target.index], profile: profile,
                        reason: """
                            \(records[item.dependent].spec) requires \(item.group.text)
                            """))
                changed = true
            }
        }
        return changed
    }

    /// Packages that stay but would lose a dependency, directly or through another such
    /// package, each with the first dependency it loses.
    func dependents(_ removed: [Reason?]) -> [RemovalPlan.Dependent] {
        var gone = removed.map { $0 != nil }
        var result: [RemovalPlan.Dependent] = []
        var candidates = records.indices.filter { !gone[$0] }
        while true {
            let found = breaks(gone: gone, among: candidates)
            var added = Set<Int>()
            for item in found where added.insert(item.dependent).inserted {
                result.append(.init(package: records[item.dependent].spec, requirement: item.group.text))
            }
            guard !added.isEmpty else { return result }
            for index in added { gone[index] = true }
            candidates.removeAll { added.contains($0) }
        }
    }

    /// The command-line named packages among `removed`, for messages.
    func commandLineNames(_ removed: [Reason?]) -> [String] {
        removed.enumerated().compactMap { index, reason in
            guard case let .named(_, origin) = reason, origin == .commandLine else { return nil }
            return records[index].spec
        }
    }
}
