import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleOutput
import WhittleReport
@testable import WhittleTestSupport

@Suite("The demo the README starts with", .serialized)
struct DemoTests {
    private func slim(output: String?) throws -> Slim.Result {
        try Slim(
            input: fixture(DemoImage.file), output: output, options: WriteOptions(tag: "demo-app:slim"),
            removal: RemovalRequest(profiles: [DemoImage.profile])
        ).run()
    }

    @Test("the demo's report removes every kind of waste the fixture carries, and most of the image")
    func reportShowsTheWaste() throws {
        let report = try slim(output: nil).report
        let byProfile = Dictionary(uniqueKeysWithValues: report.byProfile.map { ($0.name, $0) })
        for (profile, least) in DemoImage.leastRemoved.sorted(by: { $0.key < $1.key }) {
            let saving = byProfile[profile]
            #expect((saving?.entries ?? 0) >= least.entries, "\(profile): \(String(describing: saving))")
            #expect((saving?.bytes ?? 0) >= least.bytes, "\(profile): \(String(describing: saving))")
        }
        #expect(
            report.removedBytes * 10 >= report.before.bytes * 7,
            "removed \(report.removedBytes) of \(report.before.bytes)")
        // What the app needs stays: the removals never touch busybox, its links or the app.
        #expect(report.after.bytes >= 1_900_000)
        // The OS packages that lost files are named, from the fixture's dpkg database.
        #expect(report.packages.contains { $0.package == "cpp-12" && $0.bytesLost >= 2_500_000 })
        #expect(report.text().contains("gcc-12"))
    }

    @Test("scripts/demo.sh slims the demo fixture with the profile the tests check, and the README starts with it")
    func scriptAndReadmeAgree() throws {
        let script = try String(
            contentsOfFile: repositoryRoot.appendingPathComponent("scripts/demo.sh").path,
            encoding: .utf8)
        #expect(script.contains("Fixtures/\(DemoImage.file)"))
        #expect(script.contains("--profile \(DemoImage.profile)"))
        let readme = try String(
            contentsOfFile: repositoryRoot.appendingPathComponent("README.md").path,
            encoding: .utf8)
        let firstBlock = readme.components(separatedBy: "```sh\n").dropFirst().first ?? ""
        #expect(firstBlock.hasPrefix("scripts/demo.sh"))
    }

    @Test(
        "the slimmed demo loads in Docker and prints what the original prints",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func slimmedDemoRunsInDocker() throws {
        let work = try TestDirectory()
        let output = work.path("demo-slim.tar")
        _ = try slim(output: output)
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        try engine.docker("load", "-q", "-i", fixture(DemoImage.file))
        try engine.docker("load", "-q", "-i", output)
        #expect(try engine.docker("run", "--rm", "--network", "none", DemoImage.tag) == DemoImage.output)
        #expect(try engine.docker("run", "--rm", "--network", "none", "demo-app:slim") == DemoImage.output)
    }

    @Test(
        "without Docker, whittle's sandbox shows the same: trace the original, verify the slimmed demo",
        .enabled(if: canTrace, "needs root (runs under CI=true)"))
    func slimmedDemoVerifiesInTheSandbox() throws {
        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let output = work.path("demo-slim.tar")
        _ = try slim(output: output)
        let trace = work.path("demo.json")
        try run(whittle, ["trace", fixture(DemoImage.file), "-o", trace, "--network", "none", "--timeout", "30"])
        let log = try String(contentsOfFile: work.path("demo.log"), encoding: .utf8)
        #expect(log == DemoImage.output)
        let verified = try shell("\(quoted(whittle)) verify \(quoted(output)) --trace \(quoted(trace))")
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stderr.contains("answers as the original did"))
    }
}
