import Foundation
import Testing
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
    @testable import WhittleTestSupport
#endif

/// Where `bench/build-image.sh --images unprobed` left the images and their answers (the
/// directory the other trace acceptance suites read, under the same variable).

/// One app of bench/image/unprobed/apps.json: how to trace it (its probes ask one of its
/// questions) and every question it answers.
struct UnprobedApp: Decodable, CustomTestStringConvertible, Sendable {
    struct Question: Decodable, Sendable {
        var name: String
        /// Whether the app's traceArgs ask this question while tracing.
        var probed: Bool
        var http: String?
        var exec: [String]?

        var summary: String {
            "\(name) (\(probed ? "probed" : "not probed")): "
                + (http.map { "GET \($0)" } ?? (exec ?? []).joined(separator: " "))
        }
    }

    var name: String
    var kind: String
    var traceArgs: [String]
    var questions: [Question]
    var timeout: Int

    var testDescription: String { name }

    static let manifest = repositoryRoot.appendingPathComponent("bench/image/unprobed/apps.json").path

    static func all() -> [UnprobedApp] {
        guard let data = FileManager.default.contents(atPath: manifest),
            let apps = try? JSONDecoder().decode([UnprobedApp].self, from: data)
        else { return [] }
        return apps
    }

    /// The answers the original gave when `bench/build-image.sh` built it: NAME.expected, one
    /// block per question as `bench/zoo_ask.py --all` prints them (`=== Q LENGTH\n`, the
    /// answer's LENGTH bytes, `\n`), by question name.
    static func recordedAnswers(_ path: String) throws -> [String: String] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var answers: [String: String] = [:]
        var index = 0
        while index < bytes.count {
            guard let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            let header = String(decoding: bytes[index..<newline], as: UTF8.self).split(separator: " ")
            guard header.count == 3, header[0] == "===", let length = Int(header[2]),
                newline + 1 + length < bytes.count, bytes[newline + 1 + length] == UInt8(ascii: "\n")
            else {
                throw RecordedAnswersError(description: "\(path): no block of zoo_ask.py --all at byte \(index)")
            }
            answers[String(header[1])] = String(decoding: bytes[(newline + 1)..<(newline + 1 + length)], as: UTF8.self)
            index = newline + 1 + length + 1
        }
        return answers
    }

    struct RecordedAnswersError: Error, CustomStringConvertible {
        let description: String
    }
}

/// Nothing the probes did not touch is lost: each app is traced with probes that ask one of
/// its questions, slimmed with that trace, loaded into the real engine and asked every
/// question, the ones its probes never asked too (a route that imports other modules,
/// metadata read at run time, tables the probe never queried). Each answer must be the one
/// its original gave when `bench/build-image.sh --images unprobed` built it.
@Suite(
    "Trace acceptance: questions the probes never asked", .serialized,
    .enabled(
        if: (TestEnvironment.acceptanceImages != nil && TestEnvironment.isRoot) || TestEnvironment.isCI,
        "needs root and WHITTLE_ACCEPTANCE_IMAGES (scripts/test.sh sets it under CI=true)"))
struct UnprobedAcceptanceTests {
    /// How long a question after the first may take: the app is up by then.
    static let laterQuestionTimeout = 30

    @Test(
        "traced through one question, slimmed, loaded and asked the others too, it answers all as the original did",
        arguments: UnprobedApp.all())
    func app(_ app: UnprobedApp) throws {
        let directory = try #require(
            TestEnvironment.acceptanceImages,
            "WHITTLE_ACCEPTANCE_IMAGES is not set: run the suite through scripts/test.sh")
        let input = directory + "/\(app.name).tar"
        try #require(
            FileManager.default.fileExists(atPath: input),
            "\(input) is missing (bench/build-image.sh --images unprobed)")
        let expected = try UnprobedApp.recordedAnswers(directory + "/\(app.name).expected")
        #expect(
            app.questions.contains(where: \.probed) && app.questions.contains(where: { !$0.probed }),
            "\(app.name) needs a probed question and at least one the probes never ask")

        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let trace = work.path("\(app.name).json")
        try run(whittle, ["trace", input, "-o", trace, "--timeout", String(app.timeout)] + app.traceArgs)
        let probes = try TraceDocument.load(path: trace).probes
        #expect(
            probes?.allSatisfy(\.succeeded) == true,
            """
            probes under trace: \(probes ?? []); log: \
            \((try? run("/usr/bin/tail", ["-n", "15", work.path("\(app.name).log")])) ?? "")
            """)
        let output = work.path("slim.tar")
        let tag = "whittle-e2e/\(app.name):1"
        // --verify replays the probes, so it checks the probed question only.
        try run(whittle, ["slim", input, "-o", output, "--trace", trace, "--tag", tag, "--verify"])
        let size = { (path: String) in
            Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        }
        print(
            "unprobed acceptance, \(app.name) (\(app.kind)): \(Int(size(input))) -> \(Int(size(output))) bytes, "
                + String(format: "%.1fx smaller", size(input) / size(output)))

        try withRunningContainer(loading: output, tag: tag) { engine, container, environment in
            try ask(app, expected: expected, engine: engine, container: container, environment: environment)
        }
    }

    /// Every question, the probed one first (it waits for the app to come up), each answer
    /// compared with the original's.
    private func ask(
        _ app: UnprobedApp, expected: [String: String], engine: PrivateDockerEngine, container: String,
        environment: [String: String]
    ) throws {
        // The probed question first: it waits for the app to come up.
        let ordered = app.questions.filter(\.probed) + app.questions.filter { !$0.probed }
        for (position, question) in ordered.enumerated() {
            let timeout = position == 0 ? app.timeout : Self.laterQuestionTimeout
            let answer: String
            do {
                answer = try run(
                    "/usr/bin/env",
                    [
                        "python3", repositoryRoot.appendingPathComponent("bench/zoo_ask.py").path, UnprobedApp.manifest,
                        app.name, "--question", question.name, "--docker-container", container, "--timeout",
                        String(timeout),
                    ], environment: environment)
            } catch {
                answer = "no answer: \(error)"
            }
            guard let original = expected[question.name] else {
                Issue.record(
                    "\(app.name): no recorded answer to \(question.summary) (rebuild with bench/build-image.sh --force --images \(app.name))"
                )
                continue
            }
            #expect(
                answer == original,
                """
                \(app.name), question \(question.summary): the slimmed image answered something else; \
                its last lines of output: \(lastLines(of: container, in: engine))
                """)
        }
    }

    /// The container's last lines of standard output and error together.
    private func lastLines(of container: String, in engine: PrivateDockerEngine) -> String {
        let logs =
            (try? run("/bin/sh", ["-c", "docker -H \"$1\" logs --tail 20 \"$2\" 2>&1", "sh", engine.host, container]))
            ?? ""
        return String(logs.suffix(3000))
    }
}
