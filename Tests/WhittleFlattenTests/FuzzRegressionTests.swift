import Foundation
import Testing
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittlePackageGraph
import WhittlePackages
@testable import WhittleTestSupport

/// Inputs that once crashed a fuzz harness (Fuzz/findings/), replayed the way the harness
/// fed them, each with what whittle must do instead.
@Suite("Fuzz findings")
struct FuzzRegressionTests {
    @Test("a layer entry named 60,000 directories deep is refused, naming the layer, instead of overflowing the stack")
    func deepName() throws {
        let layer = try finding("layer-60000-deep-name.tar.gz")
        let error = try #require(try flatteningError(layer) as? FlattenError)
        guard case let .pathTooLong(number, path, _) = error else {
            Issue.record("expected the name to be refused as too long, got: \(error)")
            return
        }
        #expect(number == 1)
        #expect(path.utf8.count == 120_001)
        #expect(error.description.contains("120001 bytes"))
        #expect(error.description.contains("refusing it"))
    }

    @Test(
        "a tree made deeper than 4,096 directories through symlinks, each name short, is refused instead of overflowing the stack"
    )
    func deepThroughSymlinks() throws {
        // 40 rounds of a 2,000-deep directory and a symlink to it, each next one made inside the last.
        let layer = try finding("layer-deep-through-symlinks.tar.gz")
        let error = try #require(try flatteningError(layer) as? FlattenError)
        guard case let .tooDeep(number, path) = error else {
            Issue.record("expected the tree to be refused as too deep, got: \(error)")
            return
        }
        #expect(number == 1)
        #expect(path.hasPrefix("l1/a/a/"))
        #expect(error.description.contains("more than \(FileTree.maxDepth) directories deep"))
    }

    @Test("a path of exactly the longest length Docker writes (4,094 bytes) is still taken")
    func longestName() throws {
        let name = String(repeating: "d/", count: 2046) + "fx"
        #expect(name.utf8.count == FlattenError.maximumPathBytes)
        var layer = TestLayer()
        layer.file(name, "deep")
        let result = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        #expect(try result.text(name) == "deep")
    }

    @Test(
        "a dpkg info file named ':.list', with no package name before the colon, is nobody's instead of crashing the reader"
    )
    func dpkgInfoColonStem() throws {
        // FuzzPackages' entries slot: one entry a line, each a file holding its own name.
        let input = try finding("packages-dpkg-info-colon-stem")
        #expect(input.first == 13)
        let listed = String(decoding: input.dropFirst(), as: UTF8.self).trimmingCharacters(in: .newlines)
        #expect(listed == "var/lib/dpkg/info/:.list")
        var layer = TestLayer()
        layer.file("usr/bin/tool", "tool")
        layer.file("var/lib/dpkg/info/tool.list", "/usr\n/usr/bin\n/usr/bin/tool\n")
        layer.file(listed, "/usr/bin/tool\n")
        layer.file("var/lib/dpkg/info/:amd64.list", "/usr/bin/tool\n")
        let packages = try PackageDatabase(tree: FlattenedTestImage(TestImageBuilder(layers: [layer])).tree).packages
        #expect(packages.map(\.name) == ["tool"])
        #expect(packages.first?.files == ["usr/bin/tool"])
    }

    @Test(
        "a Requires-Dist marker nested 5,000 parentheses deep is refused as too long instead of overflowing the stack")
    func markerParentheses() throws {
        try expectMarkerRefused(finding("packages-marker-5000-parens"))
    }

    @Test(
        "a Requires-Dist marker of 20,000 comparisons joined by 'or' is refused as too long instead of overflowing the stack"
    )
    func markerTerms() throws {
        try expectMarkerRefused(finding("packages-marker-20000-terms"))
    }

    @Test("a marker of 1,023 tokens, just under the limit, is still read and evaluated")
    func longestMarker() throws {
        let marker = Array(repeating: #"extra == "x""#, count: 256).joined(separator: " or ")
        let parsed = try PythonMarker.parse(marker)
        #expect(parsed.evaluate(PythonEnvironment(pythonVersion: "3.11.2"), extra: "x"))
        #expect(!parsed.evaluate(PythonEnvironment(pythonVersion: "3.11.2"), extra: "y"))
        #expect(throws: PackageGraphError.self) { try PythonMarker.parse(marker + " or extra == 'z'") }
    }
}

/// What `FuzzPackages` does with relation text (its first byte 14): the marker is refused
/// on its own and inside a requirement, and a removal plan over a distribution that
/// requires it only warns.
private func expectMarkerRefused(_ input: [UInt8]) throws {
    #expect(input.first == 14)
    let marker = String(decoding: input.dropFirst(), as: UTF8.self).trimmingCharacters(in: .newlines)
    let error = #expect(throws: PackageGraphError.self) { try PythonMarker.parse(marker) }
    #expect(error.map { "\($0)" }?.hasSuffix("environment marker: longer than 1024 tokens; no real marker is") == true)
    #expect(throws: PackageGraphError.self) { try PythonRequirement("pkg>=1; " + marker) }
    let records = [
        PackageRecord(kind: .pypi, name: "app", requiresDist: ["pkg>=1; " + marker]),
        PackageRecord(kind: .pypi, name: "pkg"),
    ]
    let plan = try RemovalPlan(
        records: records, requests: [PackageRemovalRequest(specs: [PackageSpec("pypi:pkg")], origin: .commandLine)],
        environment: PackageEnvironment(python: PythonEnvironment(pythonVersion: "3.11.2")))
    #expect(plan.removals.map(\.record.name) == ["pkg"])
    #expect(plan.warnings.count == 1)
    #expect(plan.warnings.first?.hasPrefix("pypi:app: cannot read Requires-Dist") == true)
}

/// The bytes of a committed finding.
private func finding(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/findings/\(name)")
    return Array(try Data(contentsOf: url))
}

/// What `FuzzLayer` does with its input: a `docker save` layout around it, flattened. Returns
/// the error flattening ends with, or nil.
private func flatteningError(_ layer: [UInt8]) throws -> Error? {
    let directory = try TestDirectory()
    // The diff_id is the blob's digest, as the harness writes it: for a compressed blob it
    // cannot match, but it is checked only after every entry was applied.
    let config = #"{"rootfs":{"type":"layers","diff_ids":["\#(sha256Digest(of: layer))"]}}"#
    try Data(layer).write(to: directory.url.appendingPathComponent("layer.tar"))
    try Data(config.utf8).write(to: directory.url.appendingPathComponent("config.json"))
    try Data(#"[{"Config":"config.json","RepoTags":["fuzz:latest"],"Layers":["layer.tar"]}]"#.utf8)
        .write(to: directory.url.appendingPathComponent("manifest.json"))
    let scratch = try ScratchDirectory()
    let image = try SavedImage(path: directory.url.path, scratch: scratch)
    do {
        try Flattener(scratch: scratch).apply(image)
        return nil
    } catch {
        return error
    }
}
