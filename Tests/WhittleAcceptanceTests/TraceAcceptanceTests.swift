import Foundation
import Testing
import WhittleImage
import WhittleSelect
import WhittleTrace
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
    @testable import WhittleTestSupport
#endif

/// Where `bench/build-image.sh --images flask-naive,batch-naive` left the realistic images:
/// Debian 12 with python3, pip and the PyPI packages, hundreds of MB each. Building them takes
/// 15–25 minutes, so `scripts/test.sh` does it only under CI=true (or WHITTLE_ACCEPTANCE=1)
/// and passes the directory in WHITTLE_ACCEPTANCE_IMAGES.

/// The acceptance scenarios of `whittle trace` + `slim --trace`: a naive Flask image and a
/// pandas + scikit-learn batch job, traced, slimmed, loaded into a real engine and run.
@Suite(
    "Trace acceptance on realistic images", .serialized,
    .enabled(
        if: (TestEnvironment.acceptanceImages != nil && TestEnvironment.isRoot) || TestEnvironment.isCI,
        "needs root and WHITTLE_ACCEPTANCE_IMAGES (scripts/test.sh sets it under CI=true)"))
struct TraceAcceptanceTests {
    /// The input image, or a recorded issue saying how to build it.
    private func image(_ name: String) throws -> String {
        guard let directory = TestEnvironment.acceptanceImages else {
            throw AcceptanceSetupError(
                message: """
                    WHITTLE_ACCEPTANCE_IMAGES is not set: run the suite through scripts/test.sh, which builds \
                    the images with bench/build-image.sh --images flask-naive,batch-naive
                    """)
        }
        let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw AcceptanceSetupError(
                message: "\(path) is missing (bench/build-image.sh --images flask-naive,batch-naive)")
        }
        return path
    }

    /// `whittle slim --trace --verify`, expecting the output tarball to be at least `ratio`
    /// times smaller than the input's; prints the figures for the log.
    @discardableResult
    private func slim(
        _ input: String, trace: String, tag: String, in work: TestDirectory,
        atLeast ratio: Double, extent: TraceKeepSet.Extent = .packages
    ) throws -> String {
        let output = work.path("traced-\(extent.rawValue).tar")
        try run(
            try whittleExecutable(),
            [
                "slim", input, "-o", output, "--trace", trace, "--tag", tag, "--verify",
                "--trace-keep", extent.rawValue,
            ])
        let (inputBytes, outputBytes) = (try fileSize(input), try fileSize(output))
        let measured = String(format: "%.1f", inputBytes / outputBytes)
        #expect(inputBytes / outputBytes >= ratio, "only \(measured)x smaller (\(Int(outputBytes)) bytes)")
        print(
            "trace acceptance, \(tag) (--trace-keep \(extent.rawValue)): \(Int(inputBytes)) -> \(Int(outputBytes)) "
                + "bytes, \(measured)x smaller")
        return output
    }

    @Test("a naive Flask image traced through its health URL shrinks at least 20x (25x file-exact) and still answers")
    func webApp() throws {
        let input = try image("flask-naive.tar")
        let whittle = try whittleExecutable()
        let work = try TestDirectory()

        // The image's Env says PORT=8080; a free port keeps the host-network run clear of others.
        let tracePort = try freeLocalPort()
        let trace = work.path("flask.trace.json")
        try run(
            whittle,
            [
                "trace", input, "-o", trace, "--timeout", "300", "-e", "PORT=\(tracePort)",
                "--probe-http", "http://127.0.0.1:\(tracePort)/health",
                "--probe-http", "http://127.0.0.1:\(tracePort)/",
            ])
        // File-exact keeps only what the probes reached; the default keeps the packages whole.
        try slim(input, trace: trace, tag: "whittle-e2e/flask-traced:1", in: work, atLeast: 25, extent: .files)
        let output = try slim(input, trace: trace, tag: "whittle-e2e/flask-traced:1", in: work, atLeast: 20)

        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        try engine.docker("load", "-q", "-i", output)
        let port = try freeLocalPort()
        let container = try engine.docker(
            "run", "-d", "--network", "host", "-e", "PORT=\(port)",
            "whittle-e2e/flask-traced:1"
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? engine.docker("rm", "-f", container) }
        let health = try httpGet("http://127.0.0.1:\(port)/health", waitingUpTo: 90)
        #expect(health.status == 200, "GET /health: \(health); logs: \((try? engine.docker("logs", container)) ?? "")")
        #expect(health.body.contains("ok"))
        let index = try httpGet("http://127.0.0.1:\(port)/", waitingUpTo: 10)
        #expect(index.status == 200 && index.body.contains("whittle-bench"), "GET /: \(index)")
    }

    @Test("a pandas + scikit-learn batch job traced to its exit shrinks at least 6x and prints the same")
    func batchJob() throws {
        let input = try image("batch-naive.tar")
        let expected = try String(contentsOfFile: try image("batch-naive.expected-stdout"), encoding: .utf8)
        #expect(expected.contains("forest accuracy="), "the reference output looks wrong: \(expected)")
        let whittle = try whittleExecutable()
        let work = try TestDirectory()

        // The job's own output goes to the log beside the trace, and its digest into the trace.
        let trace = work.path("batch.trace.json")
        try run(whittle, ["trace", input, "-o", trace, "--network", "none", "--timeout", "600"])
        let recorded = try TraceDocument.load(path: trace).commandResult
        #expect(
            recorded == CommandRecord(exitCode: 0, stdoutDigest: sha256Digest(of: Array(expected.utf8))),
            "the job printed something else under trace: \((try? String(contentsOfFile: work.path("batch.trace.log"), encoding: .utf8)) ?? "")"
        )
        let output = try slim(input, trace: trace, tag: "whittle-e2e/batch-traced:1", in: work, atLeast: 6)

        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        try engine.docker("load", "-q", "-i", output)
        let printed = try engine.docker("run", "--rm", "--network", "none", "whittle-e2e/batch-traced:1")
        #expect(printed == expected)
    }
}

/// One app of the zoo (bench/image/zoo/apps.json): how to trace it and what to ask it.
struct ZooApp: Decodable, CustomTestStringConvertible, Sendable {
    struct Question: Decodable, Sendable {
        var http: String?
        var exec: [String]?
    }

    var name: String
    var kind: String
    var traceArgs: [String]
    var question: Question
    var timeout: Int

    var testDescription: String { name }

    static let manifest = repositoryRoot.appendingPathComponent("bench/image/zoo/apps.json").path

    static func all() -> [ZooApp] {
        guard let data = FileManager.default.contents(atPath: manifest),
            let apps = try? JSONDecoder().decode([ZooApp].self, from: data)
        else { return [] }
        return apps
    }
}

/// Real server software from Debian's packages, each traced with its probes, slimmed with
/// --verify, loaded into the real engine and asked the question its original answered
/// when `bench/build-image.sh` built it.
@Suite(
    "Trace acceptance on a zoo of real apps", .serialized,
    .enabled(
        if: (TestEnvironment.acceptanceImages != nil && TestEnvironment.isRoot) || TestEnvironment.isCI,
        "needs root and WHITTLE_ACCEPTANCE_IMAGES (scripts/test.sh sets it under CI=true)"))
struct ZooAcceptanceTests {
    @Test(
        "traced, slimmed with --verify, loaded and asked, it answers as the original did",
        arguments: ZooApp.all())
    func app(_ app: ZooApp) throws {
        let input = try zooImage(app)
        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let trace = work.path("\(app.name).json")
        try run(whittle, ["trace", input, "-o", trace, "--timeout", String(app.timeout)] + app.traceArgs)
        try expectProbesPassed(trace: trace, app: app)
        let output = work.path("slim.tar")
        let tag = "whittle-e2e/\(app.name):1"
        try run(whittle, ["slim", input, "-o", output, "--trace", trace, "--tag", tag, "--verify"])
        try expectSameAnswer(app: app, input: input, output: output, tag: tag)
    }
}

/// Tracing with no root: an ordinary user with subordinate ids (scripts/rootless-user.sh)
/// traces and verifies a server that binds port 80 and drops to www-data, and a database
/// asked with its own client. Root then loads the outputs into the real engine, where they
/// answer as their originals did.
@Suite(
    "Trace acceptance without root", .serialized,
    .enabled(
        if: (TestEnvironment.acceptanceImages != nil && RootlessUser.available) || TestEnvironment.isCI,
        "needs root (to make the user), uidmap and WHITTLE_ACCEPTANCE_IMAGES (set under CI=true)"))
struct RootlessZooAcceptanceTests {
    @Test(
        "an ordinary user traces and verifies it; loaded by root, it answers as the original did",
        arguments: ZooApp.all().filter { ["zoo-nginx", "zoo-postgres"].contains($0.name) })
    func app(_ app: ZooApp) throws {
        let work = try TestDirectory()
        let user = try RootlessUser(in: work)
        let input = try user.stage(try zooImage(app))
        let trace = user.home + "/\(app.name).json"
        try user.whittle(["trace", input, "-o", trace, "--timeout", String(app.timeout)] + app.traceArgs)
        try expectProbesPassed(trace: trace, app: app)
        let output = user.home + "/slim.tar"
        let tag = "whittle-e2e/\(app.name):rootless"
        try user.whittle(["slim", input, "-o", output, "--trace", trace, "--tag", tag, "--verify"])
        #expect(try fileOwner(output) == RootlessUser.name, "the output belongs to the user who ran whittle")
        try expectSameAnswer(app: app, input: input, output: output, tag: tag)
    }

    private func fileOwner(_ path: String) throws -> String? {
        try FileManager.default.attributesOfItem(atPath: path)[.ownerAccountName] as? String
    }
}

/// The zoo image built by `bench/build-image.sh`.
private func zooImage(_ app: ZooApp) throws -> String {
    guard let directory = TestEnvironment.acceptanceImages else {
        throw AcceptanceSetupError(
            message: "WHITTLE_ACCEPTANCE_IMAGES is not set: run the suite through scripts/test.sh")
    }
    return directory + "/\(app.name).tar"
}

private func expectProbesPassed(trace: String, app: ZooApp) throws {
    let document = try TraceDocument.load(path: trace)
    let log = String(trace.dropLast(".json".count)) + ".log"
    #expect(
        document.probes?.allSatisfy(\.succeeded) == true,
        "probes under trace: \(document.probes ?? []); log: \(tail(log))")
}

/// Loads the slimmed image into a private engine, runs it on the host's network and asks
/// it the app's question: the answer must be the original's, recorded at build time.
private func expectSameAnswer(app: ZooApp, input: String, output: String, tag: String) throws {
    let expected = try String(
        contentsOfFile: TestEnvironment.acceptanceImages! + "/\(app.name).expected", encoding: .utf8)
    let (inputBytes, outputBytes) = (try fileSize(input), try fileSize(output))
    print(
        "trace acceptance, \(app.name) (\(app.kind)): \(Int(inputBytes)) -> \(Int(outputBytes)) bytes, "
            + String(format: "%.1fx smaller", inputBytes / outputBytes))
    try withRunningContainer(loading: output, tag: tag) { engine, container, environment in
        let answer = try run(
            "/usr/bin/env",
            [
                "python3", repositoryRoot.appendingPathComponent("bench/zoo_ask.py").path, ZooApp.manifest, app.name,
                "--docker-container", container,
            ], environment: environment)
        #expect(answer == expected, "logs: \((try? engine.docker("logs", container)) ?? "")")
    }
}

private func tail(_ path: String) -> String {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").suffix(15).joined(
        separator: "\n")
}

private func fileSize(_ path: String) throws -> Double {
    Double(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0)
}
