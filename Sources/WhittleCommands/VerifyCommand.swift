import ArgumentParser
import Foundation
import WhittlePipeline
import WhittleTrace
import WhittleTraceFormat

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check that a slimmed image answers as the traced original did (in the trace sandbox, with or without root).",
        discussion: """
            Runs the image the way each trace ran its original (the same command, -e settings, \
            network and timeout, in the same sandbox as `whittle trace`), asks it the trace's \
            probes again, and compares: statuses and exit codes always, bodies and output \
            where the original gave the same bytes twice, and for a command that ran to its \
            end, its exit code and what it printed. On any difference it says what differed, \
            shows the app's last lines of standard error and the paths the slimmed run looked \
            for and did not find, and exits non-zero.

            `whittle slim --trace T --verify` does the same before it puts its output in place.

            Examples:
              whittle verify web-slim.tar --trace web.json
              whittle verify job-slim.tar --trace job.json --trace job-edge.json
              docker save app:slim | whittle verify - --trace app.json
            """)

    @OptionGroup var input: InputOptions

    @Option(
        name: .customLong("trace"), parsing: .singleValue,
        help: ArgumentHelp(
            "A trace of the original, from `whittle trace` (repeatable; each is replayed on its own).",
            valueName: "trace.json"))
    var traces: [String] = []

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("give the original's trace with --trace TRACE.json") }
    }

    func run() throws {
        try UserNamespace.reenterUnlessRoot()
        let documents = try traces.map { ($0, try TraceDocument.load(path: $0)) }
        let selection = try input.selection()
        let source = try input.open(progress: .silent)
        defer { source.remove() }
        for (path, document) in documents {
            let outcome = try source.reading {
                try Verifier(imagePath: $0, selection: selection, trace: document).run()
            }
            guard outcome.passed else { throw VerificationFailure(trace: path, outcome: outcome) }
            say(VerificationFailure.summary(of: outcome, trace: path))
        }
    }
}
