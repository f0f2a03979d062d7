import Foundation
import Testing
import WhittleCommands
import WhittlePackageGraph
import WhittleProfiles
import WhittleReport
@testable import WhittleTestSupport

/// Profile format version 2: `packages` and `autoremove`, next to unchanged version-1 files.
@Suite("profile packages")
struct ProfilePackagesTests {
    /// Writes `text` as `NAME.yaml` in a fresh directory and loads it.
    static func load(_ text: String, name: String = "p") throws -> (Profile, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-pp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("\(name).yaml").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return (try ProfileCatalog.loadFile(file), file)
    }

    static func loadError(_ text: String) throws -> String {
        do {
            _ = try load(text)
        } catch let error as ProfileError {
            return error.description
        }
        Issue.record("expected an error loading:\n\(text)")
        return ""
    }

    @Test("a version-2 profile names packages and autoremove")
    func versionTwo() throws {
        let (profile, file) = try Self.load(
            """
            version: 2
            name: p
            description: d
            risk: r
            packages:
              - "pypi:pytest"
              - "deb:*-dev"
              - black
            autoremove: true
            """)
        #expect(profile.packages.map(\.description) == ["pypi:pytest", "deb:*-dev", "black"])
        #expect(profile.packages[1].kind == .deb && profile.packages[2].kind == nil)
        #expect(profile.autoremove && profile.remove.isEmpty && profile.isConcrete)
        #expect(profile.file == file)
        let request = try #require(profile.packageRequest)
        #expect(request.origin == .profile("p") && request.autoremove && request.specs == profile.packages)
    }

    @Test("version 2 keeps every version-1 key; version-1 files load as before")
    func versionOneUnchanged() throws {
        let (mixed, _) = try Self.load(
            "version: 2\nname: p\nremove: [\"usr/bin/dpkg\"]\nkeep: [x]\npackages: [deb:apt]\n")
        #expect(mixed.remove.map(\.text) == ["usr/bin/dpkg"] && mixed.keep.map(\.text) == ["x"])
        #expect(mixed.packages.map(\.description) == ["deb:apt"] && !mixed.autoremove)
        let (old, _) = try Self.load("version: 1\nname: p\nremove: [\"**/__pycache__\"]\n")
        #expect(old.packages.isEmpty && !old.autoremove && old.packageRequest == nil)
        for name in try ShippedProfiles.catalog().names {
            let profile = try ShippedProfiles.catalog().profile(named: name)
            let text = try String(contentsOfFile: profile.file!, encoding: .utf8)
            if text.contains("\nversion: 1\n") { #expect(profile.packages.isEmpty && !profile.autoremove) }
        }
    }

    @Test(
        "package keys are refused where they do not belong, naming file and line",
        arguments: [
            ("version: 1\nname: p\nremove: [a]\npackages: [deb:apt]\n", "line 4: 'packages' needs 'version: 2'"),
            ("version: 1\nname: p\nremove: [a]\nautoremove: true\n", "'autoremove' needs 'version: 2'"),
            ("version: 2\nname: p\npackages:\n  - \"rpm:gcc\"\n", "line 4: in 'packages': unknown package kind 'rpm'"),
            ("version: 2\nname: p\npackages: [\"pytest>=7\"]\n", "without a version"),
            ("version: 2\nname: p\npackages: deb:apt\n", "'packages' must be a list"),
            ("version: 2\nname: p\nremove: [a]\nautoremove: true\n", "names none"),
            ("version: 2\nname: p\npackages: [deb:apt]\nautoremove: sometimes\n", "'autoremove' must be true or false"),
            ("version: 2\nname: p\n", "removes nothing; give it 'remove' patterns, 'packages'"),
            ("version: 3\nname: p\npackages: [deb:apt]\n", "'version: 1' and 'version: 2'"),
        ])
    func refused(text: String, message: String) throws {
        let description = try Self.loadError(text)
        #expect(description.contains(message), "\(description)")
        #expect(description.contains("p.yaml"), "\(description)")
    }

    @Test("a packages-only profile is concrete: it expands to itself, alone or in a composite")
    func expansion() throws {
        let tools = Profile(name: "tools", packages: [try PackageSpec("pypi:black")], autoremove: true)
        let both = Profile(name: "both", include: ["tools", "pycache"])
        let catalog = try ProfileCatalog(profiles: [
            tools, both, Profile(name: "pycache", remove: [try PathPattern("**/__pycache__")]),
        ])
        #expect(try catalog.expand(["tools"]).map(\.name) == ["tools"])
        #expect(try catalog.expand(["both"]).map(\.name) == ["tools", "pycache"])
        #expect(try catalog.expand(["both"]).first?.autoremove == true)
    }

    @Test("the shipped python-dev and package-managers profiles")
    func shipped() throws {
        let catalog = try ShippedProfiles.catalog()
        let dev = try catalog.profile(named: "python-dev")
        let specs = Set(dev.packages.map(\.description))
        for name in [
            "pypi:pytest", "pypi:black", "pypi:flake8", "pypi:mypy", "pypi:ipython", "pypi:jupyter*",
            "pypi:notebook", "pypi:ipykernel",
        ] {
            #expect(specs.contains(name), "python-dev should name \(name)")
        }
        #expect(dev.autoremove && dev.remove.isEmpty)
        #expect(dev.packages.allSatisfy { $0.kind == .pypi })

        let managers = try catalog.profile(named: "package-managers")
        let managed = Set(managers.packages.map(\.description))
        for name in ["deb:apt", "apk:apk-tools", "pypi:pip", "pypi:setuptools", "pypi:wheel", "deb:python3-pip"] {
            #expect(managed.contains(name), "package-managers should name \(name)")
        }
        // dpkg is Essential: its commands go by path, the package and its database stay.
        #expect(!managed.contains("deb:dpkg"))
        #expect(managers.remove.map(\.text).contains("usr/bin/dpkg"))
        #expect(!managers.remove.contains { $0.matches("var/lib/dpkg/status") || $0.matches("lib/apk/db/installed") })
        #expect(
            !managers.remove.contains {
                $0.matches("usr/bin/dpkg-architecture") || $0.matches("sbin/start-stop-daemon")
            })
        #expect(managers.riskSummary.hasPrefix("Medium:"))

        let all = try catalog.expand(["all"]).map(\.name)
        #expect(all.contains("python-dev") && all.contains("package-managers"))
        #expect(!(try catalog.expand(["safe"]).map(\.name)).contains("python-dev"))
    }

    @Test("profiles show and list print the packages and the risk")
    func showAndList() throws {
        let catalog = try ShippedProfiles.catalog()
        let shown = try ProfileListing.show("python-dev", in: catalog)
        #expect(shown.contains("version: 2"))
        #expect(shown.contains("- \"pypi:pytest\"") && shown.contains("- \"pypi:jupyter*\""))
        #expect(shown.contains("autoremove: true"))
        let table = try ProfileListing.table(catalog)
        let row = try #require(table.split(separator: "\n").first { $0.hasPrefix("package-managers ") })
        #expect(row.contains(try catalog.profile(named: "package-managers").riskSummary))

        var command = try ProfilesCommand.parseAsRoot([
            "show", "python-dev", "--profiles-dir", ShippedProfiles.directory,
        ])
        try command.run()
    }

    @Test("a profile built in code shows as version 2 with its packages, and reads back the same")
    func renderedRoundTrip() throws {
        let profile = Profile(
            name: "mine", description: "d", risk: "r",
            packages: [try PackageSpec("pypi:black"), try PackageSpec("deb:gcc-*")], autoremove: true)
        let shown = try ProfileListing.show("mine", in: try ProfileCatalog(profiles: [profile]))
        #expect(shown.hasPrefix("version: 2\n"))
        let (read, _) = try Self.load(shown, name: "mine")
        #expect(read.packages == profile.packages && read.autoremove)
    }
}
