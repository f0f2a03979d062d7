import Foundation
import Testing
import WhittleImage
import WhittleTraceFormat
@testable import WhittleTestSupport

/// Dogfood: the repository's Dockerfile builds whittle's own image around the whittle these
/// tests drive, on the Debian 12 root the acceptance images start from (`bookworm-base.tar`,
/// which `bench/build-image.sh` makes first), and whittle slims that image: by the `safe`
/// profile, and by a trace of the image slimming a shipped fixture. The image, and the one
/// slimmed by its trace, must slim the fixture into the very bytes whittle itself writes.
@Suite(
    "whittle's own image, built from the Dockerfile and slimmed by whittle", .serialized,
    .enabled(
        if: (TestEnvironment.acceptanceImages != nil && PrivateDockerEngine.available) || TestEnvironment.isCI,
        "needs root, dockerd and WHITTLE_ACCEPTANCE_IMAGES with bookworm-base.tar (scripts/test.sh sets it under CI=true)"
    ))
struct OwnImageTests {
    static let fixtureName = "demo-app.docker.tar"
    static let fixtureArguments = ["--profile", "all"]
    static let built = "whittle-test/whittle:1"

    @Test("slimmed by a profile and by its own trace, it still slims a fixture into the same bytes")
    func slimsItself() throws {
        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let image = try buildImage(whittle, engine: engine, work: work)

        // What whittle itself writes for the fixture: the answer every image must give.
        let expected = work.path("expected.tar")
        try run(whittle, ["slim", fixture(Self.fixtureName), "-o", expected] + Self.fixtureArguments)
        let expectedHelp = try run(whittle, ["--help"])

        let bySafe = work.path("safe.tar")
        try run(whittle, ["slim", image, "-o", bySafe, "--profile", "safe", "--tag", "whittle-test/whittle:safe"])
        let trace = try traceSlimming(image, in: work, expected: expected)
        let byTrace = work.path("traced.tar")
        try run(whittle, ["slim", image, "-o", byTrace, "--trace", trace, "--tag", "whittle-test/whittle:traced"])
        let sizes = try [image, bySafe, byTrace].map(fileSize)
        print("whittle's own image: \(sizes[0]) bytes, by safe \(sizes[1]), by its trace \(sizes[2])")
        #expect(sizes[1] < sizes[0] && sizes[2] < sizes[1], "not smaller: \(sizes)")

        // Loading and running the safe one too would add some 15 s for little: the profile
        // removes documentation and apt's leftovers, the trace all but what slimming touched.
        try engine.docker("load", "-q", "-i", byTrace)
        let slimmed = "whittle-test/whittle:traced"
        for (tag, name) in [(Self.built, "built"), (slimmed, "traced")] {
            let output = try slimFixture(in: tag, engine: engine, directory: work.path("from-\(name)"))
            #expect(
                FileManager.default.contentsEqual(atPath: output, andPath: expected),
                "\(tag) slimmed \(Self.fixtureName) into other bytes than whittle does")
        }
        let help = try engine.docker("run", "--rm", "--network", "none", slimmed, "--help")
        #expect(help == expectedHelp, "\(slimmed) --help printed something else")
    }

    /// Builds the image from the Dockerfile with `whittle` as its binary, and saves it.
    private func buildImage(_ whittle: String, engine: PrivateDockerEngine, work: TestDirectory) throws -> String {
        guard let images = TestEnvironment.acceptanceImages else {
            throw AcceptanceSetupError(
                message: "WHITTLE_ACCEPTANCE_IMAGES is not set: run the suite through scripts/test.sh")
        }
        let base = URL(fileURLWithPath: images).appendingPathComponent("bookworm-base.tar").path
        guard FileManager.default.fileExists(atPath: base) else {
            throw AcceptanceSetupError(message: "\(base) is missing (bench/build-image.sh makes it)")
        }
        try engine.docker("import", base, "whittle-test/bookworm-base:1")
        let context = work.path("context")
        try run(
            "/bin/bash", [repositoryRoot.appendingPathComponent("scripts/image-context.sh").path, whittle, context])
        try engine.build("--build-arg", "BASE=whittle-test/bookworm-base:1", "-t", Self.built, context)
        let saved = work.path("whittle.tar")
        try engine.docker("save", "-o", saved, Self.built)
        return saved
    }

    /// Traces the image slimming the fixture, read from standard input (which the traced
    /// command inherits) and written to standard output, whose digest the trace records.
    private func traceSlimming(_ image: String, in work: TestDirectory, expected: String) throws -> String {
        let trace = work.path("trace.json")
        let command =
            [try whittleExecutable(), "trace", image, "-o", trace, "--network", "none", "--timeout", "120", "-q", "--"]
            + ["whittle", "slim", "-", "-o", "-"] + Self.fixtureArguments
        let traced = try shell(command.map(quoted).joined(separator: " ") + " <" + quoted(fixture(Self.fixtureName)))
        #expect(traced.status == 0, "whittle trace: \(traced.stderr)")
        let expectedBytes = Array(try Data(contentsOf: URL(fileURLWithPath: expected)))
        let recorded = try TraceDocument.load(path: trace).commandResult
        #expect(
            recorded == CommandRecord(exitCode: 0, stdoutDigest: sha256Digest(of: expectedBytes)),
            "the traced image slimmed the fixture into something else, or failed: \(traced.stderr)")
        return trace
    }

    /// `docker run TAG slim` on the fixture, mounted read-only, into `directory`.
    private func slimFixture(in tag: String, engine: PrivateDockerEngine, directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let mounts = ["-v", "\(repositoryRoot.path)/Fixtures:/fixtures:ro", "-v", "\(directory):/work", "-w", "/work"]
        let slim = ["slim", "/fixtures/\(Self.fixtureName)", "-o", "slim.tar"] + Self.fixtureArguments
        try engine.docker(["run", "--rm", "--network", "none"] + mounts + [tag] + slim)
        return directory + "/slim.tar"
    }
}

private func fileSize(_ path: String) throws -> Int {
    try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
}
