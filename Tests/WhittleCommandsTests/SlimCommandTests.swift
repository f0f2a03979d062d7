import ArgumentParser
import Foundation
import Testing
import WhittleCommands
@testable import WhittleTestSupport

@Suite("The slim command's own failures")
struct SlimCommandTests {
    @Test("a report that cannot be written fails with its path and reason, exit 1, no usage text")
    func unwritableReport() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let report = directory.path("missing-directory/report.json")
        var command = try WhittleCommand.parseAsRoot(["slim", input, "--dry-run", "--report", report])
        do {
            try command.run()
            Issue.record("writing \(report) should fail")
        } catch {
            let message = WhittleCommand.fullMessage(for: error)
            #expect(WhittleCommand.exitCode(for: error) == .failure)
            #expect(message.contains(report), "\(message)")
            #expect(message.lowercased().contains("no such file or directory"), "\(message)")
            #expect(!message.contains("Usage:"), "\(message)")
        }
    }
}
