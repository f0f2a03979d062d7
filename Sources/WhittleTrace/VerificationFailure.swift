/// A slimmed image that did not answer as its original did, told so a user can act:
/// what differed, the app's last words, and the paths it missed.
public struct VerificationFailure: Error, CustomStringConvertible {
    public let trace: String
    public let outcome: Verifier.Outcome

    public init(trace: String, outcome: Verifier.Outcome) {
        self.trace = trace
        self.outcome = outcome
    }

    public var description: String {
        var lines = ["the slimmed image does not answer as the original did (\(trace)):"]
        lines += outcome.differences.map { "  - " + $0 }
        if !outcome.missingPaths.isEmpty {
            lines.append(
                "paths the slimmed run looked for and did not find (the original had them; keep them "
                    + "with --keep or trace the app further):")
            lines += outcome.missingPaths.prefix(30).map { "  " + $0 }
            if outcome.missingPaths.count > 30 { lines.append("  … and \(outcome.missingPaths.count - 30) more") }
        }
        if !outcome.stderrTail.isEmpty {
            lines.append("the app's last lines of standard error:")
            lines += outcome.stderrTail.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    public static func summary(of outcome: Verifier.Outcome, trace: String) -> String {
        let probes = outcome.probes.map { "\($0.kind.rawValue) \($0.target): \($0.summary)" }
        let asked = probes.isEmpty ? outcome.stop.description : probes.joined(separator: "; ")
        return "verified against \(trace): the slimmed image answers as the original did (\(asked))"
    }
}
