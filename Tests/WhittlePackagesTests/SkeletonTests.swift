import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleOutput
import WhittleReport
import WhittleSelect
@testable import WhittleTestSupport

/// An image with directories that removals empty, and directories that must stay although
/// empty: pip's pytest in a site directory, a sticky `/tmp` holding only pip's leftovers, a
/// run directory empty from the start, a cache the `DIR/**` way, an uploads directory an
/// app lists, and a package tree of Python sources.
enum SkeletonImage {
    static let site = "usr/local/lib/python3.11/site-packages"
    /// pytest's files, relative to the site directory, as its `RECORD` lists them.
    static let pytestFiles = [
        "pytest/__init__.py", "pytest/__pycache__/__init__.cpython-311.pyc", "_pytest/__init__.py",
        "_pytest/__pycache__/__init__.cpython-311.pyc", "_pytest/_code/__init__.py", "_pytest/_code/code.py",
        "_pytest/_code/__pycache__/code.cpython-311.pyc", "../../../bin/pytest",
    ]

    static func builder() -> TestImageBuilder {
        var layer = TestLayer()
        for directory in [
            "bin", "etc", "usr", "usr/local", "usr/local/bin", "usr/local/lib", "usr/local/lib/python3.11",
            site, "var", "var/run", "var/run/app", "var/cache", "var/cache/app", "opt", "opt/app",
            "opt/app/cache", "opt/lib", "opt/lib/pkg", "opt/lib/pkg/sub", "opt/lib/pkg/sub/deep",
            "srv", "srv/uploads", "srv/cache", "var/app", "var/app/logs", "var/app/old-logs",
        ] {
            layer.directory(directory)
        }
        layer.directory("tmp", mode: 0o1777)
        layer.directory("tmp/pip-build-abc")
        layer.file("tmp/pip-build-abc/setup.py", "leftover\n")
        layer.file("bin/app", "the app\n", mode: 0o755)
        layer.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        layer.file("etc/group", "root:x:0:\n")
        layer.file("var/cache/app/blob", "cached\n")
        layer.file("opt/app/old.log", "log\n")
        layer.file("opt/lib/keep.txt", "stays\n")
        layer.file("opt/lib/pkg/z.py", "z = 1\n")
        layer.file("opt/lib/pkg/sub/y.py", "y = 1\n")
        layer.file("opt/lib/pkg/sub/deep/x.py", "x = 1\n")
        layer.file("opt/lib/pkg/sub/deep/table.dat", "data\n")
        layer.file("srv/uploads/old.txt", "uploaded once\n")
        layer.file("srv/cache/x.dat", "cache\n")
        layer.file("var/app/logs/a.log", "a\n")
        layer.file("var/app/old-logs/b.log", "b\n")
        layer.file(site + "/README.txt", "This directory exists so that 3rd party packages can be installed here.\n")
        for file in pytestFiles {
            let path = file.hasPrefix("../") ? "usr/local/bin/pytest" : site + "/" + file
            let parts = path.split(separator: "/").dropLast()
            for depth in 1...parts.count
            where !layer.entries.contains(where: { $0.0.path == parts.prefix(depth).joined(separator: "/") }) {
                layer.directory(parts.prefix(depth).joined(separator: "/"))
            }
            layer.file(path, "content of \(file)\n")
        }
        let info = site + "/pytest-8.0.0.dist-info"
        layer.directory(info)
        layer.file(info + "/METADATA", "Metadata-Version: 2.1\nName: pytest\nVersion: 8.0.0\n")
        layer.file(info + "/INSTALLER", "pip\n")
        layer.file(info + "/REQUESTED", "")
        layer.file(info + "/RECORD", (pytestFiles + ["pytest-8.0.0.dist-info/RECORD"]).map { "\($0),,\n" }.joined())
        return TestImageBuilder(layers: [layer])
    }

    static func slim(
        _ removal: RemovalRequest, output: Bool = false,
        in directory: TestDirectory
    ) throws -> (Slim.Result, SlimmedOutput?) {
        let input = try builder().writeArchive(in: directory.url)
        let out = directory.path("out.tar")
        let result = try Slim(input: input, output: output ? out : nil, options: WriteOptions(), removal: removal)
            .run()
        return (result, output ? try SlimmedOutput(out) : nil)
    }
}

@Suite("No skeletons: a directory its removals left empty goes with them")
struct SkeletonTests {
    static let site = SkeletonImage.site

    @Test("a package directory emptied by a profile goes, nested directories with it, as one removal")
    func packageDirectory() throws {
        let directory = try TestDirectory()
        let (result, out) = try SkeletonImage.slim(
            RemovalRequest(profiles: ["python-dev"]), output: true, in: directory)
        let removals = result.selection.removals
        for name in ["pytest", "_pytest"] {
            let removal = try #require(removals.first { $0.path == Self.site + "/" + name }, "\(name) stayed")
            #expect(removal.isDirectory && removal.rule == "package:pypi:pytest" && removal.origin == .packages)
            #expect(!removals.contains { $0.path.hasPrefix(removal.path + "/") }, "one removal for \(name)")
        }
        #expect(removals.first { $0.path == Self.site + "/_pytest" }?.entries == 5)
        // The figures are the files', as before; the dry run lists the directory, and the writer leaves it out.
        #expect(result.selection.removedEntries == SkeletonImage.pytestFiles.count + 4)
        let listing = DryRunListing(result.selection).text()
        #expect(listing.contains("/\(Self.site)/_pytest/  [package:pypi:pytest]"), "\(listing)")
        let tree = try #require(out).tree
        #expect(tree.lookup(Self.site + "/pytest") == nil && tree.lookup(Self.site + "/_pytest") == nil)
        #expect(tree.lookup(Self.site + "/README.txt") != nil)
        #expect(tree.lookup("usr/local/bin") == nil, "pytest's script was all usr/local/bin held")
    }

    @Test("contents removed by different rules: the directory goes as empty:left by removals, counted under its origin")
    func mixedRules() throws {
        let directory = try TestDirectory()
        let (result, _) = try SkeletonImage.slim(RemovalRequest(profiles: ["python-dev", "pycache"]), in: directory)
        let removal = try #require(result.selection.removals.first { $0.path == Self.site + "/_pytest" })
        #expect(removal.rule == Rule.leftEmptyLabel && removal.origin == .emptied && removal.entries == 5)
        #expect(result.report.byProfile.contains { $0.name == "empty" && $0.entries == 7 })
        // The same rules from one command line share an origin: the profile table keeps them there.
        let (globs, _) = try SkeletonImage.slim(RemovalRequest(remove: ["**/*.py", "**/*.dat"]), in: directory)
        let package = try #require(globs.selection.removals.first { $0.path == "opt/lib/pkg" })
        #expect(package.rule == Rule.leftEmptyLabel && package.origin == .commandLine && package.entries == 4)
        #expect(!globs.selection.removals.contains { $0.path.hasPrefix("opt/lib/pkg/") })
    }

    @Test("nested directories emptied by one rule collapse into one removal under that rule")
    func nested() throws {
        let directory = try TestDirectory()
        let (result, out) = try SkeletonImage.slim(
            RemovalRequest(remove: ["opt/lib/pkg/**/*.*"]), output: true,
            in: directory)
        let removals = result.selection.removals.filter { $0.path.hasPrefix("opt/") }
        #expect(removals.map(\.path) == ["opt/lib/pkg"], "\(removals.map(\.path))")
        #expect(removals.first?.rule == "cli:opt/lib/pkg/**/*.*" && removals.first?.entries == 4)
        let tree = try #require(out).tree
        #expect(tree.lookup("opt/lib/pkg") == nil && tree.lookup("opt/lib/keep.txt") != nil)

        let (single, _) = try SkeletonImage.slim(RemovalRequest(remove: ["opt/lib/pkg/**/*.py"]), in: directory)
        let deep = single.selection.removals.filter { $0.path.hasPrefix("opt/") }
        // table.dat stays, so deep/, sub/ and pkg/ stay; only the sources go, one by one.
        #expect(Set(deep.map(\.path)) == ["opt/lib/pkg/z.py", "opt/lib/pkg/sub/y.py", "opt/lib/pkg/sub/deep/x.py"])
    }

    @Test("a directory empty in the input stays, and so does one that still holds one")
    func originallyEmpty() throws {
        let directory = try TestDirectory()
        let (result, out) = try SkeletonImage.slim(
            RemovalRequest(remove: ["opt/app/old.log", "var/cache/app/**"]),
            output: true, in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup("var/run/app")?.isDirectory == true)
        #expect(tree.lookup("opt/app/cache")?.isDirectory == true && tree.lookup("opt/app/old.log") == nil)
        // `DIR/**` takes what is below DIR, and means DIR to stay.
        #expect(tree.lookup("var/cache/app")?.isDirectory == true && tree.lookup("var/cache/app/blob") == nil)
        #expect(result.selection.removals.map(\.path).sorted() == ["opt/app/old.log", "var/cache/app/blob"])
    }

    @Test("a sticky /tmp that held only pip's leftovers stays")
    func stickyDirectory() throws {
        let directory = try TestDirectory()
        let (result, out) = try SkeletonImage.slim(RemovalRequest(profiles: ["pip-cache"]), output: true, in: directory)
        #expect(result.selection.removals.map(\.path) == ["tmp/pip-build-abc"])
        let tree = try #require(out).tree
        let tmp = try #require(tree.lookup("tmp"))
        #expect(tmp.isDirectory && tmp.attributes.permissions == 0o1777)
    }

    @Test("a directory the trace names stays; one it only passed through goes when emptied")
    func traceNamesDirectory() throws {
        let directory = try TestDirectory()
        let trace = directory.path("trace.json")
        try TraceFixture.write(paths: ["/bin/app", "/srv/uploads", "/srv/cache/x.dat"], to: trace)
        let (result, out) = try SkeletonImage.slim(
            RemovalRequest(remove: ["srv/cache/x.dat"], traces: [trace]),
            output: true, in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup("srv/uploads")?.isDirectory == true && tree.lookup("srv/uploads/old.txt") == nil)
        #expect(tree.lookup("srv/cache") == nil)
        let cache = try #require(result.selection.removals.first { $0.path == "srv/cache" })
        #expect(cache.rule == "cli:srv/cache/x.dat")
        #expect(tree.lookup("bin/app") != nil)
    }

    @Test("a directory a keep rule names stays; its sibling, emptied, goes")
    func keptDirectory() throws {
        let directory = try TestDirectory()
        let (result, out) = try SkeletonImage.slim(
            RemovalRequest(keep: ["var/app/logs"], remove: ["var/app/*/*.log"]),
            output: true, in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup("var/app/logs")?.isDirectory == true)
        #expect(tree.lookup("var/app/old-logs") == nil)
        #expect(result.selection.removals.map(\.path) == ["var/app/old-logs"])
    }

    @Test("a directory a package that stays lists stays although emptied: dpkg -V would find it missing")
    func listedDirectory() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try DocsImage.slim(RemovalRequest(packages: ["deb:hdr"]), in: directory)
        #expect(result.selection.removals.first { $0.path == "usr/include/hdr" }?.rule == "package:deb:hdr")
        #expect(out.tree.lookup("usr/include")?.isDirectory == true, "base lists it")
        let (both, bothOut, _) = try DocsImage.slim(RemovalRequest(packages: ["deb:hdr", "deb:base"]), in: directory)
        #expect(bothOut.tree.lookup("usr/include") == nil)
        #expect(both.selection.removals.contains { $0.path == "usr/include" })
    }

    @Test("a protected program keeps its directory, whatever goes around it")
    func protectedPath() throws {
        let directory = try TestDirectory()
        let greedy = directory.path("greedy.yaml")
        try "version: 1\nname: greedy\ndescription: every program\nrisk: all\nremove: [\"bin/*\"]\n"
            .write(toFile: greedy, atomically: true, encoding: .utf8)
        let (result, _) = try SkeletonImage.slim(RemovalRequest(profileFiles: [greedy]), in: directory)
        #expect(result.selection.removals.isEmpty, "\(result.selection.removals.map(\.path))")
        let (explicit, _) = try SkeletonImage.slim(RemovalRequest(remove: ["bin/app"]), in: directory)
        #expect(
            explicit.selection.removals.map(\.path) == ["bin"],
            "an explicit --remove takes it, and the directory with it")
    }
}
