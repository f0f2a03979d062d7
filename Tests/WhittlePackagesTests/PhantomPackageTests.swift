import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleFlatten
import WhittleOutput
import WhittlePackages
import WhittleReport
@testable import WhittleTestSupport

/// A Debian-like image whose packages are left with their docs: make (a program, a man page
/// and docs), a transitional package that owns docs only, a tool that keeps its program,
/// a metapackage, Python distributions whose docs or licence outlive their code, and a
/// base package that lists `usr/include` beside one whose header is all it holds.
enum DocsImage {
    static let dist = "usr/lib/python3/dist-packages"
    static let site = "usr/local/lib/python3.11/site-packages"

    static func builder() -> TestImageBuilder {
        var layer = TestLayer()
        for directory in [
            "etc", "usr", "usr/bin", "usr/share", "usr/share/man", "usr/share/man/man1", "usr/share/doc",
            "usr/share/doc/make", "usr/share/doc/transitional", "usr/share/doc/tool",
            "usr/share/doc/python3-docpkg", "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/info",
            "usr/lib", "usr/lib/python3", dist, dist + "/docpkg-1.0.egg-info", "usr/local", "usr/local/lib",
            "usr/local/lib/python3.11", site, site + "/lic-2.0.dist-info", site + "/lic-2.0.dist-info/licenses",
        ] {
            layer.directory(directory)
        }
        layer.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        layer.directory("usr/include")
        layer.directory("usr/include/hdr")
        layer.file("usr/include/hdr/h.h", "int h;\n")
        layer.file("etc/issue", "Debian\n")
        layer.file("var/lib/dpkg/info/base.list", "/.\n/etc\n/etc/issue\n/usr\n/usr/include\n")
        layer.file("var/lib/dpkg/info/hdr.list", "/.\n/usr\n/usr/include\n/usr/include/hdr\n/usr/include/hdr/h.h\n")
        layer.file("usr/bin/make", "make binary")
        layer.file("usr/share/man/man1/make.1.gz", "make manual")
        layer.file("usr/share/doc/make/copyright", "make copyright")
        layer.file("usr/share/doc/make/changelog.Debian.gz", "make changes")
        layer.file("usr/share/doc/transitional/copyright", "transitional copyright")
        layer.file("usr/share/doc/transitional/changelog.Debian.gz", "transitional changes")
        layer.file("usr/bin/tool", "tool binary")
        layer.file("etc/tool.conf", "setting=1\n")
        layer.file("usr/share/doc/tool/copyright", "tool copyright")
        layer.file("var/lib/dpkg/status", status)
        layer.file("var/lib/dpkg/info/format", "1\n")
        layer.file(
            "var/lib/dpkg/info/make.list",
            """
            /.
            /usr
            /usr/bin
            /usr/bin/make
            /usr/share/man/man1/make.1.gz
            /usr/share/doc/make
            /usr/share/doc/make/copyright
            /usr/share/doc/make/changelog.Debian.gz

            """)
        layer.file("var/lib/dpkg/info/make.md5sums", "00000000000000000000000000000001  usr/bin/make\n")
        layer.file(
            "var/lib/dpkg/info/transitional.list",
            """
            /.
            /usr/share/doc/transitional
            /usr/share/doc/transitional/copyright
            /usr/share/doc/transitional/changelog.Debian.gz

            """)
        layer.file("var/lib/dpkg/info/tool.list", "/.\n/usr/bin/tool\n/etc/tool.conf\n/usr/share/doc/tool/copyright\n")
        // Debian's Python module: its docs sit in usr/share/doc, listed by its egg-info.
        layer.file(dist + "/docpkg.py", "docs = 1\n")
        layer.file("usr/share/doc/python3-docpkg/README", "docpkg readme")
        layer.file(dist + "/docpkg-1.0.egg-info/PKG-INFO", "Metadata-Version: 1.2\nName: docpkg\nVersion: 1.0\n")
        layer.file(
            dist + "/docpkg-1.0.egg-info/installed-files.txt",
            "../docpkg.py\n../../../../share/doc/python3-docpkg/README\n")
        // pip's distribution, its licence inside its own metadata.
        layer.file(site + "/lic.py", "lic = 1\n")
        layer.file(site + "/lic-2.0.dist-info/METADATA", "Metadata-Version: 2.4\nName: lic\nVersion: 2.0\n")
        layer.file(site + "/lic-2.0.dist-info/licenses/LICENSE", "MIT")
        layer.file(
            site + "/lic-2.0.dist-info/RECORD",
            "lic.py,,\nlic-2.0.dist-info/METADATA,,\nlic-2.0.dist-info/licenses/LICENSE,,\nlic-2.0.dist-info/RECORD,,\n"
        )
        return TestImageBuilder(layers: [layer])
    }

    static let status = """
        Package: make
        Status: install ok installed
        Architecture: amd64
        Version: 4.3-4.1
        Description: a program with docs

        Package: transitional
        Status: install ok installed
        Architecture: all
        Version: 1
        Description: owns docs only

        Package: tool
        Status: install ok installed
        Architecture: amd64
        Version: 2.0
        Description: keeps its program

        Package: meta
        Status: install ok installed
        Architecture: all
        Version: 1
        Depends: tool
        Description: owns no files

        Package: base
        Status: install ok installed
        Architecture: all
        Version: 1
        Description: lists usr/include

        Package: hdr
        Status: install ok installed
        Architecture: all
        Version: 1
        Description: a header in usr/include


        """

    static func slim(
        _ removal: RemovalRequest, in directory: TestDirectory
    ) throws -> (Slim.Result, SlimmedOutput, String) {
        let input = try builder().writeArchive(in: directory.url)
        let output = directory.path("out-\(UUID().uuidString).tar")
        let result = try Slim(input: input, output: output, options: WriteOptions(), removal: removal).run()
        return (result, try SlimmedOutput(output), output)
    }
}

@Suite("No phantom packages: a package left with only its docs leaves its database")
struct PhantomPackageTests {
    /// The packages the report names as removed, as `kind:name`.
    static func removed(_ result: Slim.Result) -> Set<String> {
        Set(result.report.packageDatabases?.removed.map { "\($0.kind):\($0.name)" } ?? [])
    }

    /// What stays of make in the output's database: its status paragraph and `info/` files.
    static func listsMake(_ out: SlimmedOutput) throws -> Bool {
        try out.text("var/lib/dpkg/status")?.contains("Package: make\n") == true
            || out.tree.lookup("var/lib/dpkg/info/make.list") != nil
            || out.tree.lookup("var/lib/dpkg/info/make.md5sums") != nil
    }

    @Test("by a profile: its record goes, its licence stays; a docs-only package and a metapackage stay listed")
    func profile() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try DocsImage.slim(
            RemovalRequest(profiles: ["docs"], remove: ["usr/bin/make"]),
            in: directory)
        #expect(Self.removed(result) == ["deb:make"])
        #expect(try !Self.listsMake(out))
        #expect(out.tree.lookup("usr/share/doc/make/copyright") != nil, "the licence notice stays")
        let make = try #require(result.report.packageDatabases?.removed.first)
        #expect(make.filesLost == 3 && make.filesKept == 1)
        let status = try #require(try out.text("var/lib/dpkg/status"))
        #expect(
            status.contains("Package: transitional\n") && status.contains("Package: meta\n")
                && status.contains("Package: tool\n"))
        // transitional lost its changelog, docpkg its README: both keep what they had besides.
        #expect(Set(result.report.packageDatabases?.partial.map(\.name) ?? []) == ["transitional", "docpkg"])
        #expect(
            try out.text("var/lib/dpkg/info/transitional.list")
                == "/.\n/usr/share/doc/transitional\n/usr/share/doc/transitional/copyright\n")
        let record = try #require(result.selection.removals.first { $0.path == "var/lib/dpkg/info/make.list" })
        #expect(record.rule == "packages:deb:make")
    }

    @Test("by a glob alone: docs that no rule took stay, the package goes")
    func glob() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try DocsImage.slim(
            RemovalRequest(remove: ["usr/bin/make", "usr/share/man"]), in: directory)
        #expect(Self.removed(result) == ["deb:make"])
        #expect(try !Self.listsMake(out))
        #expect(out.tree.lookup("usr/share/doc/make/changelog.Debian.gz") != nil)
        #expect(try out.text("var/lib/dpkg/status")?.contains("Package: transitional\n") == true)
    }

    @Test("by a trace: what the app never used goes, and the package with only its kept licence goes too")
    func trace() throws {
        let directory = try TestDirectory()
        let trace = directory.path("trace.json")
        try TraceFixture.write(paths: ["/usr/bin/tool"], to: trace)
        let (result, out, _) = try DocsImage.slim(
            RemovalRequest(keep: ["usr/share/doc/*/copyright"], traces: [trace]), in: directory)
        #expect(Self.removed(result).contains("deb:make"))
        #expect(try !Self.listsMake(out))
        #expect(out.tree.lookup("usr/share/doc/make/copyright") != nil)
        let status = try #require(try out.text("var/lib/dpkg/status"))
        #expect(status.contains("Package: transitional\n") && status.contains("Package: tool\n"))
        #expect(result.report.packageDatabases?.partial.map(\.name).sorted() == ["tool", "transitional"])
    }

    @Test("Python: a distribution left with its docs goes; one left with its dist-info's licence goes whole")
    func python() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try DocsImage.slim(
            RemovalRequest(remove: [DocsImage.dist + "/docpkg.py", DocsImage.site + "/lic.py"]), in: directory)
        #expect(Self.removed(result) == ["python:docpkg", "python:lic"])
        #expect(out.tree.lookup(DocsImage.dist + "/docpkg-1.0.egg-info") == nil)
        #expect(out.tree.lookup("usr/share/doc/python3-docpkg/README") != nil)
        #expect(out.tree.lookup(DocsImage.site + "/lic-2.0.dist-info") == nil)
    }

    @Test("dpkg's info/ stays when every record in it goes")
    func databaseDirectoryLasts() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try DocsImage.slim(
            RemovalRequest(remove: [
                "usr/bin", "usr/share", "usr/lib", "usr/local", "etc/tool.conf", "var/lib/dpkg/info/format",
            ]), in: directory)
        #expect(Self.removed(result) == ["deb:make", "deb:transitional", "deb:tool", "python:docpkg", "python:lic"])
        #expect(out.tree.lookup("var/lib/dpkg/info")?.isDirectory == true)
        #expect(out.tree.lookup("var/lib/dpkg/info/tool.list") == nil)
        #expect(try out.text("var/lib/dpkg/status")?.contains("Package: meta\n") == true)
    }

    @Test("the directories a package lists are read as the tree names them: dpkg's .list, apk's F: lines")
    func listedDirectories() throws {
        let debs = try PackageDatabase(tree: try FlattenedTestImage(DocsImage.builder()).tree).packages(of: .deb)
        #expect(debs.first { $0.name == "hdr" }?.directories == ["usr", "usr/include", "usr/include/hdr"])
        #expect(debs.first { $0.name == "tool" }?.directories == [])
        let apks = try PackageDatabase(tree: try FlattenedTestImage(TestImageBuilder(layers: [ApkImage.layer()])).tree)
            .packages
        #expect(apks.map { Array($0.directories) } == [["lib"], ["bin", "etc"]])
    }

    @Test("the fate rule: docs only left removes; docs only from the start, no files, or code kept do not")
    func fate() throws {
        let paths = [
            "usr/bin/a", "usr/share/doc/a/copyright", "usr/share/doc/b/copyright", "usr/share/doc/b/README",
            "usr/bin/c", "usr/share/doc/c/copyright", "etc/d.conf", "usr/share/doc/d/copyright",
        ]
        let database = PackageDatabase(packages: [
            InstalledPackage(
                kind: .deb, name: "a", version: "1", files: ["usr/bin/a", "usr/share/doc/a/copyright"], key: "a"),
            InstalledPackage(
                kind: .deb, name: "b", version: "1", files: ["usr/share/doc/b/copyright", "usr/share/doc/b/README"],
                key: "b"),
            InstalledPackage(
                kind: .deb, name: "c", version: "1", files: ["usr/bin/c", "usr/share/doc/c/copyright"], key: "c"),
            InstalledPackage(
                kind: .deb, name: "d", version: "1", files: ["etc/d.conf", "usr/share/doc/d/copyright"], key: "d"),
            InstalledPackage(kind: .deb, name: "meta", version: "1", files: [], key: "meta"),
        ])
        let gone: Set<String> = ["usr/bin/a", "usr/share/doc/b/README", "usr/share/doc/d/copyright"]
        let truth = PackageTruth(database: database, tree: try FileTree.holding(paths), keeps: { !gone.contains($0) })
        #expect(truth.outcomes.map(\.state) == [.removed, .partial, .kept, .partial, .kept])
        #expect(truth.outcomes[0].filesKept == 1 && truth.outcomes[0].filesLost == 1)
    }

    @Test("syft no longer lists a package left with only its docs", .enabled(if: syftPath != nil))
    func scanner() throws {
        let directory = try TestDirectory()
        let (result, _, output) = try DocsImage.slim(
            RemovalRequest(profiles: ["docs"], remove: ["usr/bin/make"]),
            in: directory)
        let flattened = directory.path("flattened.tar")
        _ = try Slim(
            input: try DocsImage.builder().writeArchive(in: directory.url), output: flattened,
            options: WriteOptions()
        ).run()
        let before = try syftInventory("docker-archive:" + flattened)
        #expect(before.contains("deb:make@4.3-4.1"), "syft saw \(before)")
        let after = try syftInventory("docker-archive:" + output)
        #expect(!after.contains("deb:make@4.3-4.1") && after.contains("deb:transitional@1"))
        expectTruthful(input: before, output: after, report: result.report.packageDatabases)
    }
}
