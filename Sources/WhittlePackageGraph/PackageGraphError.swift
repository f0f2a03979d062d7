/// Failures of package specs and removal plans. Each message names the spec or package at
/// fault and says what to do.
public enum PackageGraphError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A `kind:` prefix other than deb, apk and pypi.
    case unknownKind(spec: String, kind: String)
    /// A spec that is not a package name or glob.
    case invalidSpec(spec: String, reason: String)
    /// Command-line specs that match no installed package, with similar names found.
    case noMatch(specs: [String], similar: [String])
    /// Kept packages that need removed ones: each dependent with what it requires.
    case dependents(removing: [String], dependents: [RemovalPlan.Dependent], suggestion: [String])
    /// Essential packages named on the command line without `--force`.
    case essential([String])

    public var description: String {
        switch self {
        case let .unknownKind(spec, kind):
            let hint =
                ["python", "pip", "py"].contains(kind.lowercased()) ? " (Python distributions are pypi:NAME)" : ""
            return "unknown package kind '\(kind)' in '\(spec)'\(hint); write deb:NAME, apk:NAME or pypi:NAME, "
                + "or a bare NAME for any kind"
        case let .invalidSpec(spec, reason):
            return "invalid package spec '\(spec)': \(reason)"
        case let .noMatch(specs, similar):
            let names = specs.map { "'\($0)'" }.joined(separator: ", ")
            let hint =
                similar.isEmpty ? "" : "; installed packages with similar names: \(similar.joined(separator: ", "))"
            return "no installed package matches \(names)\(hint)"
        case let .dependents(removing, dependents, suggestion):
            let lines = dependents.map { "  \($0.package) requires \($0.requirement)" }
            let pronoun = removing.count == 1 ? "it" : "them"
            return "cannot remove \(removing.joined(separator: ", ")): packages that stay depend on \(pronoun):\n"
                + lines.joined(separator: "\n")
                + "\nremove them as well (--remove-package \(suggestion.joined(separator: ","))) "
                + "or pass --force to remove anyway"
        case let .essential(names):
            return "\(names.joined(separator: ", ")) \(names.count == 1 ? "is" : "are") Essential: every Debian "
                + "package may use \(names.count == 1 ? "it" : "them") without declaring a dependency, so whittle "
                + "cannot tell what breaks; pass --force to remove anyway"
        }
    }
}
