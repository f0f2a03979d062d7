import Foundation
import WhittleImage
#if canImport(Glibc)
    import Glibc
    import WhittleTraceFormat
    import WhittleFiles
#endif

/// Runs a slimmed image the way a trace ran its original (same command, `-e` settings,
/// network and timeout, in the same sandbox), asks it the trace's probes again, and
/// compares the answers with those the original gave.
public struct Verifier {
    public var imagePath: String
    public var selection: ImageSelection
    public var trace: TraceDocument

    public init(imagePath: String, selection: ImageSelection = ImageSelection(), trace: TraceDocument) {
        self.imagePath = imagePath
        self.selection = selection
        self.trace = trace
    }

    public struct Outcome: Sendable {
        /// What differed, one line each; empty when the slimmed image answered as the original.
        public var differences: [String]
        /// The app's last lines of standard error in the slimmed run.
        public var stderrTail: [String]
        /// Paths the slimmed run looked for and did not find, that the original found: the
        /// likely missing keeps.
        public var missingPaths: [String]
        public var stop: TraceStop
        public var probes: [ProbeRecord]

        public var passed: Bool { differences.isEmpty }
    }

    public func run(log: (String) -> Void = { _ in }) throws -> Outcome {
        // A probe the original never passed says nothing about the slimmed image.
        if let failed = trace.probes?.first(where: { !$0.succeeded }) {
            throw TraceError.unansweredProbe(kind: failed.kind.rawValue, target: failed.target)
        }
        var options = TraceOptions(
            imagePath: imagePath, selection: selection, command: trace.command,
            probes: try (trace.probes ?? []).map { try Probe(kind: $0.kind, target: $0.target) },
            timeoutSeconds: trace.timeout ?? 60, network: trace.network ?? .host)
        options.environment = trace.environment ?? []
        let stderrLog = try TemporaryLog()
        defer { stderrLog.remove() }
        options.stderrFD = stderrLog.fd
        let result = try Tracer(options: options).run(log: log)
        let differences = Self.compare(original: trace, slimmed: result)
        let found = Set(trace.entries.filter(\.existed).map(\.path))
        let missing = result.document.entries.filter { !$0.existed && found.contains($0.path) }.map(\.path)
        return Outcome(
            differences: differences, stderrTail: differences.isEmpty ? [] : stderrLog.lastLines(20),
            missingPaths: missing, stop: result.stop, probes: result.document.probes ?? [])
    }

    /// Statuses and exit codes always; bodies and output where the original gave the same
    /// bytes twice (a command that ran to its end is taken at its word).
    static func compare(original: TraceDocument, slimmed: TraceResult) -> [String] {
        var differences: [String] = []
        let answers = slimmed.document.probes ?? []
        for (index, expected) in (original.probes ?? []).enumerated() {
            let got = index < answers.count ? answers[index] : nil
            let name = "\(expected.kind.rawValue) probe \(expected.target)"
            if got?.status != expected.status {
                differences.append(
                    "\(name): the original gave \(expected.summary), the slimmed image \(got?.summary ?? "no answer")")
            } else if let digest = expected.digest, got?.digest != digest {
                differences.append(
                    "\(name): same status, but the \(expected.kind == .http ? "body" : "output") differs")
            }
        }
        switch (original.commandResult, slimmed.document.commandResult) {
        case let (expected?, got?):
            if got.exitCode != expected.exitCode {
                differences.append(
                    "the command exited with \(got.exitCode); the original exited with \(expected.exitCode)")
            } else if got.stdoutDigest != expected.stdoutDigest {
                differences.append("the command printed something else than the original did")
            }
        case let (expected?, nil):
            differences.append(
                "the command did not exit as the original did (code \(expected.exitCode)): \(slimmed.stop.description)")
        case (nil, _):
            // The original ran until its probes were done or the timeout: the slimmed app
            // must not have exited before that.
            if case let .commandExited(code) = slimmed.stop {
                differences.append("the command exited with \(code), where the original kept running")
            }
        }
        return differences
    }
}

/// A file in a scratch directory that the app's standard error goes to.
final class TemporaryLog {
    private let directory: ScratchDirectory
    let path: String
    let fd: Int32

    init() throws {
        directory = try ScratchDirectory()
        path = directory.path + "/stderr.log"
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            directory.remove()
            throw TraceError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }

    func lastLines(_ count: Int) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return Array(
            text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                .reversed().drop { $0.isEmpty }.prefix(count).reversed())
    }

    func remove() {
        close(fd)
        directory.remove()
    }
}
