import Foundation
import Testing
@testable import WhittleTestSupport

/// The hostile-archive corpus of `Fixtures/hostile/make_hostile.py`, run through the built
/// whittle as a user runs it. Each case is refused with its message and leaves nothing
/// behind, or is flattened exactly as a real Docker engine applies it.
@Suite("Hostile archives", .serialized)
struct HostileCorpusTests {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        let name: String
        let file: String
        let about: String
        let outcome: String
        let message: String
        let engine: String
        let inspect: String
        var description: String { "\(name) (\(about))" }
    }

    /// A run that has not ended after this long is taken for a hang (the slowest case, the
    /// gzip bomb, is refused from its first header).
    static let patience: TimeInterval = 300

    /// Writes the corpus (or the cases named) into `directory` and reads its manifest.
    static func corpus(in directory: TestDirectory, forEngine: Bool = false) throws -> [Case] {
        let script = repositoryRoot.appendingPathComponent("Fixtures/hostile/make_hostile.py").path
        try run("/usr/bin/env", ["python3", script] + (forEngine ? ["--engine"] : []) + [directory.path("corpus")])
        let manifest = try Data(contentsOf: URL(fileURLWithPath: directory.path("corpus/manifest.json")))
        return try JSONDecoder().decode([Case].self, from: manifest)
    }

    /// At least 25 cases, of every kind the issue names, each expecting one outcome.
    func checkComplete(_ cases: [Case]) {
        #expect(cases.count >= 25)
        #expect(Set(cases.map(\.name)).count == cases.count)
        for testCase in cases {
            #expect(["refuse", "docker"].contains(testCase.outcome), "\(testCase)")
            #expect(testCase.outcome == "docker" || !testCase.message.isEmpty, "\(testCase): no message to expect")
            #expect(testCase.outcome == "refuse" || testCase.engine == "loads", "\(testCase): Docker must load it")
        }
        let names = cases.map(\.name)
        for kind in [
            "dotdot-entry", "dotdot-hardlink-target", "dotdot-whiteout", "dotdot-manifest-layer",
            "absolute-entries", "symlink-out-absolute", "symlink-dangling", "hardlink-missing",
            "hardlink-to-directory", "hardlink-loop", "symlink-loop-write", "path-4096", "deep-400",
            "non-utf8-name", "duplicate-file", "gnu-sparse", "pax-huge-size", "gzip-bomb",
            "thousands-of-layers", "config-nested-100000", "diff-id-mismatch", "truncated-in-data",
        ] {
            #expect(names.contains(kind), "no case \(kind)")
        }
        #expect(names.filter { $0.hasPrefix("truncated-after-") }.count >= 5)
        #expect(names.filter { $0.hasPrefix("truncated-header-") }.count >= 5)
    }

    @Test(
        "slim and inspect refuse each hostile case with its message and leave nothing behind, or flatten it; never a crash or a hang"
    )
    func whittleOnEveryCase() throws {
        let work = try TestDirectory()
        let cases = try Self.corpus(in: work)
        checkComplete(cases)
        let whittle = try whittleExecutable()
        // whittle's scratch space goes here, so a stray staging or spool file would show.
        let scratch = work.path("tmp")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = scratch

        for testCase in cases {
            let input = work.path("corpus/" + testCase.file)
            let outDirectory = work.path("out-" + testCase.name)
            try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)
            let output = outDirectory + "/slim.tar"
            let slim = try Self.launch(whittle, ["slim", input, "--profile", "safe", "-o", output], environment)
            let inspect = try Self.launch(whittle, ["inspect", input], environment)
            for (command, result) in [("slim", slim), ("inspect", inspect)] {
                #expect(!result.crashed, "\(testCase): \(command) crashed: \(result.errors)")
                #expect(!result.hung, "\(testCase): \(command) did not end within \(Self.patience) s")
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: outDirectory)
            if testCase.outcome == "refuse" {
                #expect(slim.status != 0, "\(testCase): slim accepted it")
                #expect(slim.errors.contains(testCase.message), "\(testCase): slim said \(slim.errors)")
                #expect(left.isEmpty, "\(testCase): slim left \(left)")
            } else {
                #expect(slim.status == 0, "\(testCase): slim refused it: \(slim.errors)")
                #expect(left == ["slim.tar"], "\(testCase): slim left \(left)")
            }
            if testCase.inspect == "refuses" {
                #expect(inspect.status != 0, "\(testCase): inspect accepted it")
                #expect(inspect.errors.contains(testCase.message), "\(testCase): inspect said \(inspect.errors)")
            } else {
                #expect(inspect.status == 0, "\(testCase): inspect refused it: \(inspect.errors)")
            }
            let stray = try FileManager.default.contentsOfDirectory(atPath: scratch)
            #expect(stray.isEmpty, "\(testCase): left \(stray) in the temporary directory")
        }
    }

    @Test(
        "a real engine does with each case what the corpus says, and loads whittle's output of the others as exactly what it makes of the original",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func dockerAgrees() throws {
        let work = try TestDirectory()
        // Only the cases an engine can take without inflating gigabytes.
        let cases = try Self.corpus(in: work, forEngine: true)
        #expect(cases.allSatisfy { $0.engine != "skip" })
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let whittle = try whittleExecutable()
        let compare = repositoryRoot.appendingPathComponent("scripts/compare_exports.py").path

        for testCase in cases {
            let input = work.path("corpus/" + testCase.file)
            let tag = "whittle-hostile/\(testCase.name):1"
            let loaded = Result { try engine.docker("load", "-q", "-i", input) }
            switch (testCase.engine, loaded) {
            case ("refuses", .success):
                Issue.record("\(testCase): the engine loaded it, the corpus says it refuses it")
                _ = try? engine.docker("rmi", "-f", tag)
                continue
            case ("refuses", .failure):
                continue
            case (_, .failure(let error)):
                Issue.record("\(testCase): the engine refused it: \(error)")
                continue
            case (_, .success):
                break
            }
            defer { _ = try? engine.docker("rmi", "-f", tag) }
            guard testCase.outcome == "docker" else { continue }
            let reference = try export(tag, engine: engine, to: work.path("\(testCase.name)-reference.tar"))
            let output = work.path("\(testCase.name)-slim.tar")
            let slimTag = "whittle-hostile-slim/\(testCase.name):1"
            try run(whittle, ["slim", input, "--profile", "safe", "-o", output, "--tag", slimTag])
            try engine.docker("load", "-q", "-i", output)
            defer { _ = try? engine.docker("rmi", "-f", slimTag) }
            let exported = try export(slimTag, engine: engine, to: work.path("\(testCase.name)-export.tar"))
            switch Result(catching: { try run("/usr/bin/env", ["python3", compare, reference, exported]) }) {
            case let .success(summary):
                #expect(summary.contains(" 0 differences"), "\(testCase): \(summary)")
            case let .failure(error):
                Issue.record("\(testCase): whittle's output exports differently from the original:\n\(error)")
            }
        }
    }

    private func export(_ tag: String, engine: PrivateDockerEngine, to path: String) throws -> String {
        let container = try engine.docker("create", "--network", "none", tag, "/x")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? engine.docker("rm", "-f", container) }
        try engine.docker("export", "-o", path, container)
        return path
    }

    struct Outcome {
        var status: Int32
        var crashed: Bool
        var hung: Bool
        var errors: String
    }

    /// Runs whittle, killing it if it outlives `patience`; standard output is discarded.
    static func launch(_ executable: String, _ arguments: [String], _ environment: [String: String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        let collected = CollectedOutput()
        let reader = Thread { collected.finish(errors.fileHandleForReading.readDataToEndOfFile()) }
        try process.run()
        reader.start()
        let hung = ended.wait(timeout: .now() + patience) == .timedOut
        if hung {
            process.terminate()
            ended.wait()
        }
        return Outcome(
            status: process.terminationStatus, crashed: process.terminationReason == .uncaughtSignal && !hung,
            hung: hung, errors: collected.text())
    }
}

/// Standard error of a child, read to its end on a thread of its own.
final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    func finish(_ bytes: Data) {
        lock.withLock { data = bytes }
        done.signal()
    }

    func text() -> String {
        done.wait()
        return lock.withLock { String(decoding: data, as: UTF8.self) }
    }
}
