import Foundation
import Testing
import WhittleImage
@testable import WhittleTestSupport

@Suite("When the private Docker engine can start")
struct PrivateDockerEngineAvailabilityTests {
    @Test(
        "it needs root and dockerd, in either place",
        arguments: [
            (true, ["/usr/sbin/dockerd"], true),
            (true, ["/usr/bin/dockerd"], true),
            (true, [], false),
            (false, ["/usr/sbin/dockerd"], false),
            (false, ["/usr/bin/dockerd"], false),
        ])
    func availability(isRoot: Bool, executables: [String], expected: Bool) {
        #expect(PrivateDockerEngine.available(isRoot: isRoot, isExecutable: executables.contains) == expected)
    }
}

@Suite("End to end against a real Docker engine", .serialized)
struct DockerEndToEndTests {
    struct Case: Sendable, CustomStringConvertible {
        let input: String
        /// The `docker save` form of the same image, which Docker 20.10 can load as the reference.
        let reference: String
        let referenceTag: String
        let compression: String
        var description: String { "\(input) (\(compression))" }
    }

    static let busybox = "whittle-fixture/busybox-app:1"
    static let corners = "whittle-fixture/corners:1"
    static let cases: [Case] = [
        Case(
            input: "busybox-app.docker.tar", reference: "busybox-app.docker.tar", referenceTag: busybox,
            compression: "none"),
        Case(
            input: "busybox-app.oci-gzip.tar", reference: "busybox-app.docker.tar", referenceTag: busybox,
            compression: "gzip"),
        Case(input: "corners.docker.tar", reference: "corners.docker.tar", referenceTag: corners, compression: "none"),
        Case(input: "corners.docker.tar", reference: "corners.docker.tar", referenceTag: corners, compression: "gzip"),
        Case(
            input: "corners.docker25.tar", reference: "corners.docker.tar", referenceTag: corners, compression: "none"),
        Case(input: "corners.oci.tar", reference: "corners.docker.tar", referenceTag: corners, compression: "none"),
        Case(
            input: "corners.oci-zstd.tar", reference: "corners.docker.tar", referenceTag: corners, compression: "none"),
        Case(
            input: "corners.oci-v2s2.tar", reference: "corners.docker.tar", referenceTag: corners, compression: "none"),
    ]

    @Test(
        "slimmed fixtures load, run, keep their config, and export exactly like their inputs",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func exportsMatch() throws {
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let whittle = try whittleExecutable()
        let work = try TestDirectory()

        // Reference exports, one per reference image, taken from Docker's own load.
        var referenceExports: [String: String] = [:]
        var referenceConfigs: [String: String] = [:]
        var referenceOutputs: [String: String] = [:]
        for reference in Set(Self.cases.map(\.reference)).sorted() {
            let tag = Self.cases.first { $0.reference == reference }?.referenceTag ?? ""
            try engine.docker("load", "-q", "-i", fixture(reference))
            referenceExports[reference] = try export(tag, engine: engine, to: work.path("ref-\(reference)"))
            referenceConfigs[reference] = try engine.docker("image", "inspect", "--format", "{{json .Config}}", tag)
            if tag == Self.busybox {
                referenceOutputs[reference] = try engine.docker("run", "--rm", "--network", "none", tag)
            }
            try engine.docker("rmi", "-f", tag)
        }

        for (number, testCase) in Self.cases.enumerated() {
            let output = work.path("out-\(number).tar")
            let tag = "whittle-e2e/case\(number):slim"
            try run(
                whittle,
                [
                    "slim", fixture(testCase.input), "-o", output, "--tag", tag,
                    "--compression", testCase.compression,
                ])
            try run("/usr/bin/env", ["skopeo", "inspect", "oci-archive:" + output])
            try run("/usr/bin/env", ["skopeo", "inspect", "docker-archive:" + output])
            let loaded = try engine.docker("load", "-i", output)
            #expect(loaded.contains(tag), "\(testCase): docker load said \(loaded)")

            let exported = try export(tag, engine: engine, to: work.path("out-\(number)-export.tar"))
            let comparison = Result {
                try run(
                    "/usr/bin/env",
                    [
                        "python3", repositoryRoot.appendingPathComponent("scripts/compare_exports.py").path,
                        referenceExports[testCase.reference] ?? "", exported,
                    ])
            }
            switch comparison {
            case let .success(summary):
                #expect(summary.contains(" 0 differences"), "\(testCase): \(summary)")
            case let .failure(error):
                Issue.record("\(testCase): docker export differs from the input's:\n\(error)")
            }

            let history = try engine.docker("image", "history", "-q", "--no-trunc", tag)
            #expect(history.split(separator: "\n").contains { $0 != "<missing>" }, "\(testCase): no layer in history")
            // The docker save layouts (Docker <= 24 and 25+) carry the reference's config bytes;
            // skopeo's oci-archives drop what the OCI schema has no field for.
            if testCase.input.hasSuffix(".docker.tar") || testCase.input.hasSuffix(".docker25.tar") {
                let config = try engine.docker("image", "inspect", "--format", "{{json .Config}}", tag)
                #expect(config == referenceConfigs[testCase.reference], "\(testCase): config changed")
            }
            if testCase.referenceTag == Self.busybox {
                let programOutput = try engine.docker("run", "--rm", "--network", "none", tag)
                let expected = try String(contentsOfFile: fixture("busybox-app.expected-output.txt"), encoding: .utf8)
                #expect(programOutput == referenceOutputs[testCase.reference], "\(testCase): program output differs")
                #expect(programOutput == expected, "\(testCase): program output differs from the committed one")
            }
            try engine.docker("rmi", "-f", tag)
        }
    }

    @Test(
        "a profile-slimmed image loads, runs, and exports as its input minus exactly the dry run's removals",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func profilesRemoveExactlyTheDryRunList() throws {
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let builder = try BloatImage.builder()
        let input = try builder.writeArchive(in: work.url)
        let flags = ["--profile", "apt-cache,pip-cache,pycache,tests,docs,locales,dev-tools,safe"]

        let listing = work.path("removals.json")
        try run(whittle, ["slim", input, "--dry-run", "--format", "json"] + flags)
            .write(toFile: listing, atomically: true, encoding: .utf8)
        let output = work.path("slim.tar")
        let report = work.path("report.json")
        try run(whittle, ["slim", input, "-o", output, "--tag", "whittle-e2e/bloat:slim", "--report", report] + flags)

        try engine.docker("load", "-q", "-i", input)
        let inputExport = try export(builder.tag, engine: engine, to: work.path("in-export.tar"))
        try engine.docker("load", "-q", "-i", output)
        let outputExport = try export("whittle-e2e/bloat:slim", engine: engine, to: work.path("out-export.tar"))
        let ran = try engine.docker("run", "--rm", "--network", "none", "whittle-e2e/bloat:slim")
        #expect(ran == BloatImage.message)

        // Kept files are byte-identical and nothing else went: B == A minus the listing.
        let comparison = Result {
            try run(
                "/usr/bin/env",
                [
                    "python3", repositoryRoot.appendingPathComponent("scripts/compare_exports.py").path,
                    "--removed", listing, inputExport, outputExport,
                ])
        }
        switch comparison {
        case let .success(summary): #expect(summary.contains(" 0 differences"), "\(summary)")
        case let .failure(error): Issue.record("the slimmed export is not the input minus the dry run:\n\(error)")
        }

        // The report's figures are the output's.
        let figures = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        let size = try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int
        #expect(figures["outputTarballBytes"] == .integer(Int64(size ?? -1)))
        #expect(figures["danglingSymlinks"] == .array([.string("app/manual")]))
        let removed = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: listing)))
        #expect(figures["removedBytes"] == removed["totalBytes"])
    }

    @Test(
        "an image slimmed by its own trace loads and still runs, holding little more than what it used",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func traceThenSlim() throws {
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let whittle = try whittleExecutable()
        let work = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: work.url)
        let trace = work.path("trace.json")
        try run(whittle, ["trace", input, "-o", trace, "--network", "none", "--timeout", "60"])
        let output = work.path("traced.tar")
        try run(whittle, ["slim", input, "-o", output, "--trace", trace, "--tag", "whittle-e2e/traced:1"])
        try engine.docker("load", "-q", "-i", output)
        let ran = try engine.docker("run", "--rm", "--network", "none", "whittle-e2e/traced:1")
        #expect(ran == BloatImage.message)
        let exported = try readTar(
            path: try export("whittle-e2e/traced:1", engine: engine, to: work.path("export.tar")))
        let files = Set(exported.filter { $0.entry.kind != .directory }.map { $0.entry.path })
        for path in ["bin/busybox", "app/message.txt", "etc/passwd", "etc/group"] {
            #expect(files.contains(path), "\(path) is missing")
        }
        for path in ["usr/bin/gcc-12", "usr/share/doc/curl/copyright", "var/cache/apt/pkgcache.bin"] {
            #expect(!files.contains(path), "\(path) was kept")
        }
    }

    private func export(_ tag: String, engine: PrivateDockerEngine, to path: String) throws -> String {
        let container = try engine.docker("create", "--network", "none", tag, "/x")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? engine.docker("rm", "-f", container) }
        try engine.docker("export", "-o", path, container)
        return path
    }
}
