import Foundation
import Testing
@testable import WhittleCommands
import WhittlePipeline
import WhittleFlatten
import WhittleOutput
import WhittlePackageGraph
import WhittleReport
@testable import WhittleTestSupport

/// A Debian-like image for removing whole packages: two applications sharing a file, a
/// library apt installed for one of them and one installed by hand, a package that needs
/// the second application, a removed package's leftover stanza, and pip-installed Python
/// distributions (one asked for, one it requires, one only an extra wants).
enum RemovalImage {
    static let site = "usr/local/lib/python3.11/site-packages"

    static func builder() -> TestImageBuilder {
        var layer = TestLayer()
        for directory in [
            "usr", "usr/bin", "usr/lib", "usr/share", "usr/share/common", "etc", "var", "var/lib",
            "var/lib/dpkg", "var/lib/dpkg/info", "var/lib/apt", "usr/local", "usr/local/lib",
            "usr/local/lib/python3.11", site, site + "/tool", site + "/helper", "usr/lib/python3",
            "usr/lib/python3/dist-packages", "usr/lib/python3/dist-packages/__pycache__",
        ] {
            layer.directory(directory)
        }
        layer.file("usr/bin/a", "a binary")
        layer.file("usr/lib/python3/dist-packages/amod.py", "a = 1\n")
        layer.file("usr/lib/python3/dist-packages/__pycache__/amod.cpython-311.pyc", "compiled")
        layer.file("usr/lib/python3/dist-packages/__pycache__/amodule.cpython-311.pyc", "another module's")
        layer.file("usr/bin/b", "b binary")
        layer.file("etc/a.conf", "a=1\n")
        layer.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        layer.file("usr/share/common/shared.txt", "shared by a and b")
        layer.file("usr/lib/libdep.so", "auto library")
        layer.file("usr/lib/libmanual.so", "manual library")
        layer.file("var/lib/dpkg/status", status)
        layer.file("var/lib/apt/extended_states", "Package: libdep\nArchitecture: amd64\nAuto-Installed: 1\n\n")
        layer.file(
            "var/lib/dpkg/info/app-a.list",
            "/.\n/usr\n/usr/bin\n/usr/bin/a\n/etc\n/etc/a.conf\n/usr/share/common\n/usr/share/common/shared.txt\n"
                + "/usr/lib/python3/dist-packages/amod.py\n")
        layer.file("var/lib/dpkg/info/app-a.conffiles", "/etc/a.conf\n")
        layer.file("var/lib/dpkg/info/app-b.list", "/.\n/usr/bin/b\n/usr/share/common\n/usr/share/common/shared.txt\n")
        layer.file("var/lib/dpkg/info/libdep.list", "/.\n/usr/lib\n/usr/lib/libdep.so\n")
        layer.file("var/lib/dpkg/info/libmanual.list", "/.\n/usr/lib\n/usr/lib/libmanual.so\n")
        layer.file("var/lib/dpkg/info/user.list", "/.\n")
        addPython(to: &layer)
        return TestImageBuilder(layers: [layer])
    }

    static let status = """
        Package: app-a
        Status: install ok installed
        Architecture: amd64
        Version: 1.0
        Depends: libdep, libmanual
        Conffiles:
         /etc/a.conf 0123456789abcdef0123456789abcdef
        Description: first application

        Package: app-b
        Status: install ok installed
        Architecture: amd64
        Version: 1.0
        Description: second application

        Package: libdep
        Status: install ok installed
        Architecture: amd64
        Version: 1.0
        Description: installed for app-a

        Package: libmanual
        Status: install ok installed
        Architecture: amd64
        Version: 1.0
        Description: installed by hand

        Package: user
        Status: install ok installed
        Architecture: amd64
        Version: 1.0
        Depends: app-b
        Description: needs app-b

        Package: old
        Status: deinstall ok config-files
        Architecture: amd64
        Version: 0.1
        Depends: app-b
        Description: removed, its conffiles left


        """

    private static func addPython(to layer: inout TestLayer) {
        func distribution(_ name: String, requested: Bool, requires: [String], files: [String]) {
            let info = site + "/\(name)-1.0.dist-info"
            layer.directory(info)
            layer.file(
                info + "/METADATA",
                "Metadata-Version: 2.1\nName: \(name)\nVersion: 1.0\n"
                    + requires.map { "Requires-Dist: \($0)\n" }.joined())
            layer.file(info + "/INSTALLER", "pip\n")
            if requested { layer.file(info + "/REQUESTED", "") }
            layer.file(info + "/RECORD", (files + ["\(name)-1.0.dist-info/RECORD"]).map { "\($0),,\n" }.joined())
        }
        layer.file(site + "/tool/__init__.py", "import helper\n")
        layer.file(site + "/tool/cli.py", "main = 1\n")
        layer.file(site + "/helper/__init__.py", "helper = 1\n")
        layer.file(site + "/extra_only.py", "extra = 1\n")
        // CPython's own, which no distribution lists: the site directory never empties.
        layer.file(site + "/README.txt", "This directory exists so that 3rd party packages can be installed here.\n")
        distribution(
            "tool", requested: true, requires: ["helper>=1", "extra-only; extra == \"x\""],
            files: ["tool/__init__.py", "tool/cli.py"])
        distribution("helper", requested: false, requires: [], files: ["helper/__init__.py"])
        distribution("extra-only", requested: false, requires: [], files: ["extra_only.py"])
    }
}

@Suite("Removing whole packages (--remove-package, --autoremove, --force)")
struct PackageRemovalTests {
    static func slim(
        packages: [String], autoremove: Bool = false, force: Bool = false, dryRun: Bool = false,
        in directory: TestDirectory
    ) throws -> (Slim.Result, SlimmedOutput?, String) {
        let input = try RemovalImage.builder().writeArchive(in: directory.url)
        let output = directory.path("out.tar")
        let result = try Slim(
            input: input, output: dryRun ? nil : output, options: WriteOptions(),
            removal: RemovalRequest(packages: packages, autoremove: autoremove, force: force)
        ).run()
        return (result, dryRun ? nil : try SlimmedOutput(output), output)
    }

    /// The rule of the removal that takes `path`: its own, or a directory's it left empty.
    static func rule(_ result: Slim.Result, _ path: String) -> String? {
        result.selection.removals.first { path == $0.path || path.hasPrefix($0.path + "/") }?.rule
    }

    @Test("a named package loses exactly its listed files, conffiles included; a shared file and directories stay")
    func named() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try Self.slim(packages: ["deb:app-a"], in: directory)
        let out2 = try #require(out)
        #expect(out2.tree.lookup("usr/bin/a") == nil)
        #expect(out2.tree.lookup("etc/a.conf") == nil, "a conffile goes with its package")
        #expect(out2.tree.lookup("usr/share/common/shared.txt") != nil, "app-b still owns it")
        #expect(out2.tree.lookup("usr/share/common")?.isDirectory == true)
        #expect(out2.tree.lookup("usr/bin/b") != nil && out2.tree.lookup("usr/lib/libdep.so") != nil)
        #expect(Self.rule(result, "usr/bin/a") == "package:deb:app-a")
        let cache = "usr/lib/python3/dist-packages/__pycache__/"
        #expect(
            out2.tree.lookup(cache + "amod.cpython-311.pyc") == nil,
            "Debian's byte-compiled module goes with its source")
        #expect(out2.tree.lookup(cache + "amodule.cpython-311.pyc") != nil)
        let status = try #require(try out2.text("var/lib/dpkg/status"))
        #expect(!status.contains("Package: app-a") && status.contains("Package: app-b"))
        #expect(out2.tree.lookup("var/lib/dpkg/info/app-a.list") == nil)
        #expect(result.report.packageDatabases?.removed.map(\.name) == ["app-a"])
    }

    @Test("a path several packages own goes when all of them go")
    func sharedPath() throws {
        let directory = try TestDirectory()
        let (_, out, _) = try Self.slim(packages: ["deb:app-a,deb:app-b", "user"], in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup("usr/share/common/shared.txt") == nil)
        #expect(tree.lookup("usr/bin/b") == nil)
    }

    @Test("a package that stays and needs a removed one stops the run before anything is written")
    func dependents() throws {
        let directory = try TestDirectory()
        #expect {
            _ = try Self.slim(packages: ["deb:app-b"], in: directory)
        } throws: { error in
            let message = "\(error)"
            return message.contains("deb:user") && message.contains("--remove-package deb:app-b,deb:user")
                && message.contains("--force") && !message.contains("deb:old")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("out.tar")))
    }

    @Test("--force removes it anyway and warns about what it leaves broken")
    func force() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try Self.slim(packages: ["deb:app-b"], force: true, in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup("usr/bin/b") == nil)
        #expect(result.warnings.contains { $0.contains("deb:user") }, "warnings: \(result.warnings)")
    }

    @Test("the report marks the kept packages that --force leaves broken, in text, JSON and Markdown")
    func forceReport() throws {
        let directory = try TestDirectory()
        let (result, _, _) = try Self.slim(packages: ["deb:app-b"], force: true, dryRun: true, in: directory)
        let section = try #require(result.report.packageDatabases)
        #expect(section.broken == [PackageSection.Broken(package: "deb:user", requirement: "app-b")])
        let text = result.report.text()
        #expect(text.contains("(1 of them broken by --force)"), "\(text)")
        #expect(text.contains("  broken   deb:user  (requires app-b, removed by --force)"), "\(text)")
        #expect(result.report.markdown().contains("| deb:user | `app-b` |"))
        let json = try JSONSerialization.jsonObject(with: try result.report.json()) as? [String: Any]
        let broken = (json?["packageDatabases"] as? [String: Any])?["broken"] as? [[String: String]]
        #expect(broken == [["package": "deb:user", "requirement": "app-b"]])
        // Without --force nothing is broken: the plan leaves no kept package short.
        let (autoremoved, _, _) = try Self.slim(packages: ["deb:app-a"], autoremove: true, dryRun: true, in: directory)
        #expect(autoremoved.report.packageDatabases?.broken == [])
        #expect(!autoremoved.report.text().contains("broken"))
    }

    @Test("--autoremove takes what apt installed for the removed package, not what was installed by hand")
    func autoremove() throws {
        let directory = try TestDirectory()
        let (result, out, _) = try Self.slim(packages: ["deb:app-a"], autoremove: true, in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup("usr/lib/libdep.so") == nil)
        #expect(tree.lookup("usr/lib/libmanual.so") != nil)
        #expect(Self.rule(result, "usr/lib/libdep.so") == "package:deb:libdep (autoremoved because of deb:app-a)")
        #expect(Set(result.report.packageDatabases?.removed.map(\.name) ?? []) == ["app-a", "libdep"])
    }

    @Test("the dry run's JSON lists each package's files with bytes and why they go")
    func dryRunJSON() throws {
        let directory = try TestDirectory()
        let (result, _, output) = try Self.slim(packages: ["deb:app-a"], autoremove: true, dryRun: true, in: directory)
        #expect(!FileManager.default.fileExists(atPath: output))
        let listing = DryRunListing(result.selection, packages: result.report.packageDatabases)
        let document = try JSONSerialization.jsonObject(with: try listing.json()) as? [String: Any]
        let removals = document?["removals"] as? [[String: Any]] ?? []
        let libdep = try #require(removals.first { $0["path"] as? String == "/usr/lib/libdep.so" })
        #expect(libdep["rule"] as? String == "package:deb:libdep (autoremoved because of deb:app-a)")
        #expect(libdep["size"] as? Int == "auto library".utf8.count)
        #expect(
            removals.contains { $0["path"] as? String == "/etc/a.conf" && $0["rule"] as? String == "package:deb:app-a" }
        )
    }

    @Test("Python: RECORD names the files; --autoremove follows Requires-Dist, extras only when asked")
    func python() throws {
        let directory = try TestDirectory()
        let site = RemovalImage.site
        let (result, out, _) = try Self.slim(packages: ["pypi:tool"], autoremove: true, in: directory)
        let tree = try #require(out).tree
        #expect(tree.lookup(site + "/tool/cli.py") == nil && tree.lookup(site + "/tool-1.0.dist-info") == nil)
        #expect(tree.lookup(site + "/helper/__init__.py") == nil, "only tool required helper")
        #expect(tree.lookup(site + "/extra_only.py") != nil, "tool's extra x was never asked for")
        #expect(tree.lookup(site + "/extra-only-1.0.dist-info/METADATA") != nil)
        #expect(Self.rule(result, site + "/helper/__init__.py")?.hasPrefix("package:pypi:helper (autoremoved") == true)
    }

    @Test("Python: a distribution vendored inside another is no requirer; its files go with the one that ships it")
    func vendored() throws {
        let directory = try TestDirectory()
        let site = RemovalImage.site
        // tool ships `_vendor/vend-1.0.dist-info` (its RECORD lists it); vend and helper,
        // which tool requires, both require extra-only. pip sees no vend: nothing that stays
        // requires extra-only once helper goes.
        var layer = TestLayer()
        layer.directory(site + "/tool/_vendor")
        layer.directory(site + "/tool/_vendor/vend-1.0.dist-info")
        layer.file(site + "/tool/_vendor/vend.py", "vend = 1\n")
        layer.file(
            site + "/tool/_vendor/vend-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: vend\nVersion: 1.0\nRequires-Dist: extra-only\n")
        layer.file(
            site + "/tool/_vendor/vend-1.0.dist-info/RECORD",
            "vend.py,,\nvend-1.0.dist-info/METADATA,,\nvend-1.0.dist-info/RECORD,,\n")
        layer.file(
            site + "/tool-1.0.dist-info/RECORD",
            [
                "tool/__init__.py", "tool/cli.py", "tool/_vendor/vend.py",
                "tool/_vendor/vend-1.0.dist-info/METADATA", "tool/_vendor/vend-1.0.dist-info/RECORD",
                "tool-1.0.dist-info/RECORD",
            ].map { "\($0),,\n" }.joined())
        layer.file(
            site + "/helper-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: helper\nVersion: 1.0\nRequires-Dist: extra-only\n")
        var builder = RemovalImage.builder()
        builder.layers.append(layer)
        let output = directory.path("out.tar")
        let result = try Slim(
            input: try builder.writeArchive(in: directory.url), output: output, options: WriteOptions(),
            removal: RemovalRequest(packages: ["pypi:tool"], autoremove: true)
        ).run()
        let tree = try SlimmedOutput(output).tree
        #expect(
            tree.lookup(site + "/tool/_vendor/vend.py") == nil
                && tree.lookup(site + "/tool/_vendor/vend-1.0.dist-info") == nil)
        #expect(
            tree.lookup(site + "/extra_only.py") == nil, "only helper and the copy vendored in tool required extra-only"
        )
        #expect(
            Self.rule(result, site + "/extra_only.py")
                == "package:pypi:extra-only (autoremoved because of pypi:tool (needed by pypi:helper))")
        #expect(
            Set(result.report.packageDatabases?.removed.map(\.name) ?? []) == ["tool", "vend", "helper", "extra-only"])
        #expect {
            _ = try Slim(
                input: try builder.writeArchive(in: directory.url), output: nil, options: WriteOptions(),
                removal: RemovalRequest(packages: ["pypi:vend"])
            ).run()
        } throws: { "\($0)".contains("'pypi:vend'") }
    }

    @Test(
        "--autoremove or --force without packages to act on is a usage error; a bad spec fails before the image is read"
    )
    func usage() throws {
        #expect(throws: (any Error).self) {
            _ = try WhittleCommand.parseAsRoot(["slim", "app.tar", "--dry-run", "--force"])
        }
        #expect(throws: (any Error).self) {
            _ = try WhittleCommand.parseAsRoot(["slim", "app.tar", "--dry-run", "--autoremove"])
        }
        _ = try WhittleCommand.parseAsRoot(["slim", "x.tar", "--dry-run", "--autoremove", "--remove-package", "deb:x"])
        let job = Slim(
            input: "/no/such.tar", output: nil, options: WriteOptions(),
            removal: RemovalRequest(packages: ["python:pip"]))
        #expect { try job.run() } throws: { "\($0)".contains("pypi:NAME") }
    }

    @Test("a spec that matches nothing is an error naming it")
    func noMatch() throws {
        let directory = try TestDirectory()
        #expect {
            _ = try Self.slim(packages: ["deb:nosuch"], in: directory)
        } throws: { "\($0)".contains("'deb:nosuch'") }
    }
}
