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
@testable import WhittleTestSupport

/// The output of a slim, flattened again to look at.
final class SlimmedOutput {
    let scratch: ScratchDirectory
    let tree: FileTree

    init(_ path: String) throws {
        scratch = try ScratchDirectory()
        let image = try SavedImage(path: path, scratch: scratch)
        let flattener = Flattener(scratch: scratch)
        try flattener.apply(image)
        tree = flattener.tree
    }

    func text(_ path: String) throws -> String? {
        guard let inode = tree.lookup(path)?.inode else { return nil }
        return try inode.contents(limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) }
    }
}

@Suite("Package databases: reading")
struct PackageDatabaseReadingTests {
    @Test("dpkg: status paragraphs, Multi-Arch list names, relations raw, apt's auto marks, files through usrmerge")
    func dpkg() throws {
        let image = try FlattenedTestImage(PackageImage.builder())
        let debs = try PackageDatabase(tree: image.tree).packages(of: .deb)
        #expect(debs.map(\.name) == ["libfoo1", "tool", "gone", "python3-app", "meta"])
        let libfoo = try #require(debs.first { $0.name == "libfoo1" })
        #expect(libfoo.key == "libfoo1:amd64")
        #expect(libfoo.version == "1.2-3")
        #expect(libfoo.files == ["usr/lib/x86_64-linux-gnu/libfoo.so.1"])
        #expect(libfoo.metadata == ["var/lib/dpkg/info/libfoo1:amd64.list", "var/lib/dpkg/info/libfoo1:amd64.md5sums"])
        let tool = try #require(debs.first { $0.name == "tool" })
        #expect(tool.key == "tool")
        #expect(tool.relations.preDepends == "libfoo1 (>= 1.2)")
        #expect(tool.relations.depends == "libfoo1, gone | other")
        #expect(tool.relations.recommends == "gone")
        #expect(tool.relations.provides == "tool-virtual")
        #expect(tool.conffiles == ["/etc/tool.conf"])
        #expect(Set(tool.files) == ["etc/tool.conf", "usr/bin/tool", "usr/share/doc/tool/copyright"])
        #expect(!tool.autoInstalled)
        #expect(debs.first { $0.name == "gone" }?.autoInstalled == true)
        #expect(debs.first { $0.name == "meta" }?.files == [])
    }

    @Test("apk: P, V, A, D, p, and F/R pairs resolved in the tree")
    func apk() throws {
        let image = try FlattenedTestImage(TestImageBuilder(layers: [ApkImage.layer()]))
        let packages = try PackageDatabase(tree: image.tree).packages
        #expect(packages.map(\.label) == ["apk:musl", "apk:busybox"])
        let busybox = try #require(packages.last)
        #expect(busybox.version == "1.36.1-r5")
        #expect(busybox.architecture == "x86_64")
        #expect(busybox.relations.depends == "so:libc.musl-x86_64.so.1")
        #expect(busybox.relations.provides == "cmd:busybox=1.36.1-r5 cmd:sh=1.36.1-r5")
        #expect(busybox.files == ["bin/busybox", "etc/securetty", "etc/motd"])
        #expect(packages.first?.files == ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1"])
    }

    @Test("Python: RECORD (quoted names, paths above the site), installed-files.txt, top_level.txt, REQUESTED")
    func python() throws {
        let image = try FlattenedTestImage(PackageImage.builder())
        let site = PackageImage.site
        let python = try PackageDatabase(tree: image.tree).packages(of: .python)
        #expect(python.map(\.name) == ["app", "debpkg", "devtool", "legacy"])
        let app = try #require(python.first)
        #expect(app.version == "1.0")
        #expect(app.requested)
        #expect(app.relations.requiresDist == ["devtool>=2; extra == \"dev\"", "legacy"])
        #expect(app.files == [site + "/app/__init__.py", site + "/app/tests/test_app.py", "usr/local/bin/app"])
        #expect(app.metadata == [site + "/app-1.0.dist-info"])
        #expect(python[2].files == [site + "/devtool.py", site + "/odd,name.py"])
        #expect(!python[2].requested)
        #expect(python[3].files == [site + "/legacy/__init__.py"])
        #expect(python[1].files == [site + "/debpkg/__init__.py"])
    }

    @Test("a status paragraph without a file list is a package that owns nothing")
    func statusWithoutList() throws {
        var layer = TestLayer()
        layer.directory("var")
        layer.directory("var/lib")
        layer.directory("var/lib/dpkg")
        layer.file("var/lib/dpkg/status", "Package: a\n")
        let image = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        #expect(try PackageDatabase(tree: image.tree).packages.map(\.files) == [[]])
    }
}

/// An Alpine-like tree with apk's database in its documented format.
enum ApkImage {
    static func layer() -> TestLayer {
        var layer = TestLayer()
        for directory in ["lib", "lib/apk", "lib/apk/db", "bin", "etc", "etc/apk"] { layer.directory(directory) }
        layer.file("lib/apk/db/installed", installed)
        layer.file("etc/apk/world", "busybox\n")
        layer.file("lib/ld-musl-x86_64.so.1", "musl")
        layer.symlink("lib/libc.musl-x86_64.so.1", to: "ld-musl-x86_64.so.1")
        layer.file("bin/busybox", "busybox")
        layer.file("etc/securetty", "console\n")
        layer.file("etc/motd", "hello\n")
        return layer
    }

    static let installed = """
        C:Q1abc=
        P:musl
        V:1.2.4-r2
        A:x86_64
        F:lib
        R:ld-musl-x86_64.so.1
        a:0:0:755
        Z:Q1aaa=
        R:libc.musl-x86_64.so.1
        Z:Q1bbb=

        C:Q1def=
        P:busybox
        V:1.36.1-r5
        A:x86_64
        D:so:libc.musl-x86_64.so.1
        p:cmd:busybox=1.36.1-r5 cmd:sh=1.36.1-r5
        F:bin
        R:busybox
        Z:Q1ccc=
        F:etc
        M:0:0:755
        R:securetty
        Z:Q1ddd=
        R:motd
        Z:Q1eee=

        """
}

@Suite("Package databases: telling the truth after a slim")
struct PackageRewriteTests {
    static func slim(
        _ builder: TestImageBuilder, removing: [String] = [], traces: [String] = [],
        in directory: TestDirectory
    ) throws -> (Slim.Result, SlimmedOutput) {
        let input = try builder.writeArchive(in: directory.url)
        let output = directory.path("out.tar")
        let result = try Slim(
            input: input, output: output, options: WriteOptions(),
            removal: RemovalRequest(remove: removing, traces: traces)
        ).run()
        return (result, try SlimmedOutput(output))
    }

    @Test("dpkg: a package whose files all went leaves status and info/; a partial one lists what remains")
    func dpkg() throws {
        let directory = try TestDirectory()
        let (result, out) = try Self.slim(
            PackageImage.builder(),
            removing: [
                "usr/bin/gone", "usr/share/doc", "etc/tool.conf",
            ], in: directory)
        let section = try #require(result.report.packageDatabases)
        #expect(section.removed.map(\.name) == ["gone"])
        #expect(section.removed.first?.filesLost == 2)
        #expect(section.partial.map(\.name) == ["tool"])
        #expect(section.partial.first?.filesLost == 2)
        #expect(section.partial.first?.filesKept == 1)
        let status = try #require(try out.text("var/lib/dpkg/status"))
        #expect(!status.contains("Package: gone"))
        #expect(status.contains("Package: meta"), "a package without files stays")
        #expect(
            status.contains("Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same"))
        #expect(status.contains(" with a long description\n"))
        #expect(status.contains("Provides: tool-virtual\nDescription: a tool"), "the removed conffile left the status")
        #expect(out.tree.lookup("var/lib/dpkg/info/gone.list") == nil)
        #expect(out.tree.lookup("var/lib/dpkg/info/gone.md5sums") == nil)
        #expect(try out.text("var/lib/dpkg/info/tool.list") == "/.\n/etc\n/usr\n/usr/bin\n/usr/bin/tool\n")
        #expect(try out.text("var/lib/dpkg/info/tool.md5sums") == "00000000000000000000000000000002  usr/bin/tool\n")
        #expect(try out.text("var/lib/dpkg/info/tool.conffiles") == "")
        #expect(out.tree.lookup("var/lib/dpkg/info/tool.postinst") != nil)
        // Untouched packages read exactly as before.
        #expect(
            try out.text("var/lib/dpkg/info/libfoo1:amd64.list")
                == "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1\n")
        let removal = try #require(result.selection.removals.first { $0.path == "var/lib/dpkg/info/gone.list" })
        #expect(removal.rule == "packages:deb:gone")
    }

    @Test("dpkg: a flagged .conffiles line stays while its conffile does")
    func flaggedConffile() throws {
        let directory = try TestDirectory()
        let (result, out) = try Self.slim(PackageImage.builder(), removing: ["usr/share/doc"], in: directory)
        #expect(result.report.packageDatabases?.partial.map(\.name).contains("tool") == true)
        #expect(try out.text("var/lib/dpkg/info/tool.conffiles") == "remove-on-upgrade /etc/tool.conf\n")
    }

    @Test("the report's after bytes are the written tree's, rewritten databases included")
    func figuresMatchOutput() throws {
        let directory = try TestDirectory()
        let (result, out) = try Self.slim(
            PackageImage.builder(), removing: ["usr/bin/gone", "usr/share/doc"],
            in: directory)
        #expect(result.report.after.bytes == out.tree.measure().bytes)
        #expect(result.report.after.files == out.tree.measure().files)
    }

    @Test("apk: the same rules on lib/apk/db/installed")
    func apk() throws {
        let directory = try TestDirectory()
        let (result, out) = try Self.slim(
            TestImageBuilder(layers: [ApkImage.layer()]),
            removing: ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1", "etc/motd"],
            in: directory)
        let section = try #require(result.report.packageDatabases)
        #expect(section.removed.map(\.name) == ["musl"])
        #expect(section.partial.map(\.name) == ["busybox"])
        #expect(
            try out.text("lib/apk/db/installed") == """
                C:Q1def=
                P:busybox
                V:1.36.1-r5
                A:x86_64
                D:so:libc.musl-x86_64.so.1
                p:cmd:busybox=1.36.1-r5 cmd:sh=1.36.1-r5
                F:bin
                R:busybox
                Z:Q1ccc=
                F:etc
                M:0:0:755
                R:securetty
                Z:Q1ddd=


                """)
    }

    @Test("Python: gone distributions lose their metadata, partial ones keep it with RECORD naming what remains")
    func python() throws {
        let directory = try TestDirectory()
        let site = PackageImage.site
        let (result, out) = try Self.slim(
            PackageImage.builder(),
            removing: [
                "**/tests", site + "/devtool.py", site + "/odd,name.py", site + "/legacy",
            ], in: directory)
        let section = try #require(result.report.packageDatabases)
        #expect(section.removed.filter { $0.kind == "python" }.map(\.name) == ["devtool", "legacy"])
        #expect(section.partial.filter { $0.kind == "python" }.map(\.name) == ["app"])
        #expect(out.tree.lookup(site + "/devtool-2.0.dist-info") == nil)
        #expect(out.tree.lookup(site + "/legacy-0.1.egg-info") == nil)
        #expect(
            try out.text(site + "/app-1.0.dist-info/RECORD") == """
                app/__init__.py,sha256=abc,13
                ../../../bin/app,sha256=ghi,19
                app-1.0.dist-info/METADATA,sha256=jkl,100
                app-1.0.dist-info/RECORD,,

                """)
        #expect(out.tree.lookup(site + "/app-1.0.dist-info/REQUESTED") != nil)
        // The dpkg package that ships the RECORD has its new checksum, so `dpkg -V` agrees.
        let record = directory.path("RECORD")
        try Data((try out.text(site + "/app-1.0.dist-info/RECORD") ?? "").utf8).write(to: URL(fileURLWithPath: record))
        let md5 = try run("/usr/bin/md5sum", [record]).prefix(32)
        #expect(try out.text("var/lib/dpkg/info/python3-app.md5sums") == "\(md5)  \(site)/app-1.0.dist-info/RECORD\n")
        #expect(out.tree.lookup(site + "/debpkg-3.0.dist-info/METADATA") != nil)
    }

    @Test("a trace keeps the databases it never read, and the distributions whose code or metadata the app read")
    func trace() throws {
        let directory = try TestDirectory()
        let site = PackageImage.site
        let trace = directory.path("trace.json")
        try TraceFixture.write(
            paths: [
                "/usr/bin/tool", "/" + site + "/app/__init__.py",
                "/" + site + "/devtool-2.0.dist-info/METADATA",
            ], to: trace)
        let (result, out) = try Self.slim(PackageImage.builder(), traces: [trace], in: directory)
        let status = try #require(try out.text("var/lib/dpkg/status"))
        #expect(status.contains("Package: tool") && status.contains("Package: meta"))
        #expect(!status.contains("Package: gone") && !status.contains("Package: libfoo1"))
        #expect(out.tree.lookup("var/lib/dpkg/info/tool.postinst") != nil)
        #expect(out.tree.lookup("var/lib/dpkg/updates") != nil)
        #expect(try out.text("var/lib/dpkg/info/format") == "1\n", "dpkg reads `:arch` names only with it")
        #expect(out.tree.lookup("var/lib/apt/extended_states") != nil)
        // app's code ran, so app stays whole; the app read devtool's metadata (as
        // `importlib.metadata.version("devtool")` does), so devtool stays listed and
        // importable: the trace and the database agree. legacy was never touched, but app
        // requires it, so it stays too.
        #expect(out.tree.lookup(site + "/app-1.0.dist-info/METADATA") != nil)
        #expect(out.tree.lookup(site + "/devtool-2.0.dist-info/METADATA") != nil)
        #expect(out.tree.lookup(site + "/devtool.py") != nil)
        let reasons = Dictionary(
            result.selection.kept.map { ($0.path, $0.reason.description) }, uniquingKeysWith: { a, _ in a })
        #expect(reasons[site + "/legacy/__init__.py"] == "closure:dependency")
        #expect(reasons["var/lib/dpkg/status"] == "protected:packages")
        #expect(reasons[site + "/app-1.0.dist-info/RECORD"] == "closure:package")
        #expect(reasons[site + "/devtool.py"] == "closure:metadata")
    }

    @Test("an explicit --remove takes the database; a profile's rules cannot")
    func explicitRemoval() throws {
        let directory = try TestDirectory()
        let (_, out) = try Self.slim(PackageImage.builder(), removing: ["var/lib/dpkg"], in: directory)
        #expect(out.tree.lookup("var/lib/dpkg") == nil)
    }

    @Test("the dry run lists the packages section; text and Markdown name removed and partial packages")
    func rendering() throws {
        let directory = try TestDirectory()
        let input = try PackageImage.builder().writeArchive(in: directory.url)
        let result = try Slim(
            input: input, output: nil, options: WriteOptions(),
            removal: RemovalRequest(remove: ["usr/bin/gone", "usr/share/doc"])
        ).run()
        let listing = DryRunListing(result.selection, packages: result.report.packageDatabases)
        #expect(listing.text().contains("removed  deb:gone 0.9  (2 files"))
        #expect(listing.text().contains("partial  deb:tool 2.0  (lost 1 files"))
        let json = try JSONSerialization.jsonObject(with: try listing.json()) as? [String: Any]
        let packages = try #require(json?["packages"] as? [String: Any])
        #expect((packages["removed"] as? [[String: Any]])?.first?["name"] as? String == "gone")
        #expect(result.report.markdown().contains("| removed | deb | gone | 0.9 | 2 |"))
        #expect(result.report.text().contains("packages: 1 removed, 1 partial"))
    }
}
