import Foundation

/// Packages to remove, from one source: `--remove-package` or one profile's `packages`.
public struct PackageRemovalRequest: Sendable, Hashable {
    public enum Origin: Sendable, Hashable, CustomStringConvertible {
        /// `--remove-package`: every spec must match, and a dependent that stays is an error.
        case commandLine
        /// A profile's `packages`: a spec may match nothing, and a package that something
        /// staying needs is spared rather than an error.
        case profile(String)

        public var description: String {
            switch self {
            case .commandLine: return "--remove-package"
            case let .profile(name): return "profile \(name)"
            }
        }
    }

    public var specs: [PackageSpec]
    public var origin: Origin
    /// Also remove what only these packages needed.
    public var autoremove: Bool

    public init(specs: [PackageSpec], origin: Origin, autoremove: Bool = false) {
        self.specs = specs
        self.origin = origin
        self.autoremove = autoremove
    }
}

/// Which packages go, and why: the packages named, those `--autoremove` takes because only
/// removed packages needed them, and, for profiles, those spared because something that
/// stays needs them.
///
/// Dependencies count as apt, apk and pip count them: dpkg's Depends and Pre-Depends, apk's
/// `D:` and applicable `Requires-Dist` lines are hard (a package that stays must keep one
/// provider of each); for autoremove, dpkg's Recommends count too, as apt's default
/// `APT::AutoRemove::RecommendsImportant` has it. Autoremove takes only what the removed
/// packages needed: an auto-installed package that was already unneeded stays, unlike with
/// `apt-get autoremove`.
public struct RemovalPlan: Sendable {
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// A spec named it.
        case named(spec: String, origin: PackageRemovalRequest.Origin)
        /// Only removed packages needed it: `because` is the named package it was installed
        /// for, `neededBy` the removed package that needed it directly.
        case autoremoved(because: String, neededBy: String)

        public var description: String {
            switch self {
            case let .named(spec, origin): return "named (\(spec), \(origin))"
            case let .autoremoved(because, neededBy):
                return neededBy == because
                    ? "autoremoved because of \(because)"
                    : "autoremoved because of \(because) (needed by \(neededBy))"
            }
        }
    }

    public struct Removal: Sendable, Hashable {
        public var record: PackageRecord
        public var reason: Reason
    }

    /// A package a profile named that stays, and why.
    public struct Spared: Sendable, Hashable {
        public var record: PackageRecord
        public var profile: String
        public var reason: String
    }

    /// A package that stays although it needs a removed one.
    public struct Dependent: Sendable, Hashable, CustomStringConvertible {
        /// `kind:name` of the package that stays.
        public var package: String
        /// The dependency as written (`libssl3 (>= 3.0.0)`, `pytest>=7; extra == "x"`).
        public var requirement: String
        public var description: String { "\(package) requires \(requirement)" }

        public init(package: String, requirement: String) {
            self.package = package
            self.requirement = requirement
        }
    }

    public let removals: [Removal]
    public let spared: [Spared]
    /// With `force`, the packages left with a missing dependency; otherwise empty.
    public let brokenDependents: [Dependent]
    /// Relationship fields that could not be read; those dependencies were not followed.
    public let warnings: [String]

    /// Plans the removal. Throws `PackageGraphError.noMatch` for a command-line spec that
    /// matches nothing, `.essential` for a command-line Essential package, and
    /// `.dependents` when packages that stay depend on removed ones; `force` turns the last
    /// two into a plan that lists the broken dependents.
    public init(
        records: [PackageRecord], requests: [PackageRemovalRequest], environment: PackageEnvironment,
        autoremove: Bool = false, force: Bool = false
    ) throws {
        var planner = Planner(graph: PackageGraph(records: records, environment: environment), autoremove: autoremove)
        try planner.name(requests, force: force)
        var removed = planner.removal()
        while planner.spare(planner.directBreaks(removed)) {
            removed = planner.removal()
        }
        let dependents = planner.dependents(removed)
        if !dependents.isEmpty && !force {
            let named = planner.commandLineNames(removed)
            throw PackageGraphError.dependents(
                removing: named, dependents: dependents,
                suggestion: named + unique(dependents.map(\.package)))
        }
        removals = removed.enumerated().compactMap { index, reason in
            reason.map { Removal(record: records[index], reason: $0) }
        }.sorted(by: Self.order)
        spared = planner.spared
        brokenDependents = dependents
        warnings = planner.graph.warnings
    }

    /// Named before autoremoved, then by kind and name.
    private static func order(_ a: Removal, _ b: Removal) -> Bool {
        let rank: (Reason) -> Int = { if case .named = $0 { return 0 } else { return 1 } }
        return (rank(a.reason), a.record.kind, a.record.name) < (rank(b.reason), b.record.kind, b.record.name)
    }
}

private func unique(_ items: [String]) -> [String] {
    var seen = Set<String>()
    return items.filter { seen.insert($0).inserted }
}
