import WhittleProfiles

/// One keep or remove rule, and where it came from.
public struct Rule: Sendable {
    public enum Action: String, Sendable { case keep, remove }

    public let action: Action
    public let pattern: PathPattern
    /// The profile's name, or `cli` for `--keep`/`--remove`.
    public let source: String

    /// How decisions name this rule: `profile:pattern`.
    public let label: String

    public init(action: Action, pattern: PathPattern, source: String, label: String? = nil) {
        self.action = action
        self.pattern = pattern
        self.source = source
        self.label = label ?? "\(source):\(pattern.text)"
    }

    public var isExplicit: Bool { source == Rule.commandLine }

    public static let commandLine = "cli"
}

/// Everything that decides what stays: rules, and paths that must survive any profile.
public struct SelectionPolicy: Sendable {
    public var rules: [Rule]
    /// Paths no profile may remove (only an explicit `--remove` can), with the reason,
    /// e.g. `protected:entrypoint`.
    public var protected: [String: String]
    /// With a runtime trace, everything outside its keep set goes (rules still apply on top).
    public var traceKeep: TraceKeepSet?

    public init(rules: [Rule] = [], protected: [String: String] = [:], traceKeep: TraceKeepSet? = nil) {
        self.rules = rules
        self.protected = protected
        self.traceKeep = traceKeep
    }

    /// Rules from profiles in order, then `--keep`/`--remove` from the command line.
    /// Explicit rules are consulted first within each action.
    public init(profiles: [Profile], keep: [PathPattern], remove: [PathPattern], protected: [String: String],
                traceKeep: TraceKeepSet? = nil) {
        var rules: [Rule] = keep.map { Rule(action: .keep, pattern: $0, source: Rule.commandLine) }
        rules += remove.map { Rule(action: .remove, pattern: $0, source: Rule.commandLine) }
        for profile in profiles {
            rules += profile.keep.map { Rule(action: .keep, pattern: $0, source: profile.name) }
            rules += profile.remove.map { Rule(action: .remove, pattern: $0, source: profile.name) }
        }
        self.init(rules: rules, protected: protected, traceKeep: traceKeep)
    }

    public var isEmpty: Bool { rules.isEmpty && traceKeep == nil }
}
