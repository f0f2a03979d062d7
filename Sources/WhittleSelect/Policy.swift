import WhittleProfiles

/// One keep or remove rule, and where it came from.
public struct Rule: Sendable, Equatable {
    public enum Action: String, Sendable { case keep, remove }

    /// Where a rule came from. Only the command line outranks protected paths, so this is a
    /// type, not a name a profile could also take.
    public enum Origin: Sendable, Equatable {
        /// `--keep` or `--remove`.
        case commandLine
        /// A named profile or a user's profile file.
        case profile(String)
        /// A runtime trace: what the app never touched.
        case trace
        /// A package whose files all went: its database record goes with it.
        case packages
        /// Directories that removals by rules of several origins left empty.
        case emptied

        /// The name savings are grouped under: `cli`, the profile's name, `trace`,
        /// `packages`, or `empty`.
        public var name: String {
            switch self {
            case .commandLine: return "cli"
            case let .profile(name): return name
            case .trace: return "trace"
            case .packages: return "packages"
            case .emptied: return "empty"
            }
        }
    }

    public let action: Action
    public let pattern: PathPattern
    public let origin: Origin

    /// How decisions name this rule: `profile:pattern`, `cli:pattern`, or `trace:unused`.
    public let label: String

    public init(action: Action, pattern: PathPattern, origin: Origin) {
        self.action = action
        self.pattern = pattern
        self.origin = origin
        label = origin == .trace ? "trace:unused" : "\(origin.name):\(pattern.text)"
    }

    /// The removal of a gone package's record (`packages:deb:gcc-12`). Its pattern is never
    /// matched: the policy names the record's paths exactly.
    init(removingRecordOf package: String, pattern: PathPattern) {
        action = .remove
        self.pattern = pattern
        origin = .packages
        label = "packages:" + package
    }

    /// The removal of a directory that lost all its contents to rules that differ
    /// (`empty:left by removals`). It keeps their origin when they share one, so each
    /// profile's savings stay its own. Its pattern is never matched: `Selector` applies it.
    init?(leftEmptyFrom origin: Origin) {
        guard let pattern = try? PathPattern("**") else { return nil }
        action = .remove
        self.pattern = pattern
        self.origin = origin
        label = Self.leftEmptyLabel
    }

    /// How the dry run names a directory left empty by removals whose rules differ.
    public static let leftEmptyLabel = "empty:left by removals"

    public var isExplicit: Bool { origin == .commandLine }
}

/// Everything that decides what stays: rules, and paths that must survive any profile.
public struct SelectionPolicy: Sendable {
    public var rules: [Rule]
    /// Paths no profile may remove (only an explicit `--remove` can), with the reason,
    /// e.g. `protected:entrypoint`.
    public var protected: [String: KeepReason]
    /// With a runtime trace, everything outside its keep set goes (rules still apply on top).
    public var traceKeep: TraceKeepSet?
    /// Exact paths of package records that go because their package went, with the rule
    /// naming the package. Consulted after the remove rules.
    public var packageRecords: [String: Rule] = [:]
    /// Directories that stay even when everything in them goes, unlike others `Selector`
    /// finds left empty: a package database's own, which its tools open whether or not it
    /// lists anything, and those that packages which stay list.
    public var lastingDirectories: Set<String> = []

    public init(rules: [Rule] = [], protected: [String: KeepReason] = [:], traceKeep: TraceKeepSet? = nil) {
        self.rules = rules
        self.protected = protected
        self.traceKeep = traceKeep
    }

    /// Rules from profiles in order, then `--keep`/`--remove` from the command line.
    /// Explicit rules are consulted first within each action.
    public init(
        profiles: [Profile], keep: [PathPattern], remove: [PathPattern], protected: [String: KeepReason],
        traceKeep: TraceKeepSet? = nil
    ) {
        var rules: [Rule] = keep.map { Rule(action: .keep, pattern: $0, origin: .commandLine) }
        rules += remove.map { Rule(action: .remove, pattern: $0, origin: .commandLine) }
        for profile in profiles {
            rules += profile.keep.map { Rule(action: .keep, pattern: $0, origin: .profile(profile.name)) }
            rules += profile.remove.map { Rule(action: .remove, pattern: $0, origin: .profile(profile.name)) }
        }
        self.init(rules: rules, protected: protected, traceKeep: traceKeep)
    }

    public var isEmpty: Bool { rules.isEmpty && traceKeep == nil && packageRecords.isEmpty }
}
