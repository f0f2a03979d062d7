import Foundation
import WhittleCompression
import WhittleFiles
import WhittleOutput
import WhittleTrace

/// `--verify`: the written image replayed against each trace before it takes the output's name.
extension Slim {
    /// Beside the output, hidden, so that only a verified image ever has the output's name.
    static func stagingPath(for output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).verifying-\(getpid())"
        ).path
    }

    /// Replays each trace on the written image; renames it into place when every one
    /// answers as the original did, and removes it otherwise.
    /// With no `output`, the staged file stays where it is for the caller to send on.
    static func verify(
        _ staged: String, against traces: [LoadedTrace], thenMoveTo output: String?,
        progress: any StageProgress
    ) throws -> [String] {
        var lines: [String] = []
        do {
            for trace in traces {
                progress.begin("verifying the output against \(trace.path)")
                let outcome = try Verifier(imagePath: staged, trace: trace.document).run()
                guard outcome.passed else { throw VerificationFailure(trace: trace.path, outcome: outcome) }
                lines.append(VerificationFailure.summary(of: outcome, trace: trace.path))
            }
            guard let output else { return lines }
            try Interruption.settle(staged) {
                guard rename(staged, output) == 0 else {
                    throw OutputError.writeFailed(path: output, reason: String(cString: strerror(errno)))
                }
            }
        } catch {
            Interruption.settle(staged) { _ = unlink(staged) }
            throw error
        }
        return lines
    }

    /// The layer being read, once layer `finished` (0-based) is done: `2/4`.
    static func layerNote(finished: Int, of count: Int) -> String {
        "\(min(finished + 2, count))/\(count)"
    }
}
