import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleOutput
import WhittleProfiles
import WhittleSelect
import WhittleImage
import WhittleFiles
@testable import WhittleTestSupport

@Suite("Profiles and globs choose what goes")
struct SelectionTests {
    static func dryRun(
        profiles: [String] = [], profileFiles: [String] = [], keep: [String] = [],
        remove: [String] = []
    ) throws -> Slim.Result {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        return try Slim(
            input: input, output: nil, options: WriteOptions(),
            removal: RemovalRequest(
                profiles: profiles, profileFiles: profileFiles, keep: keep,
                remove: remove)
        ).run()
    }

    @Test(
        "each named profile removes what it targets and nothing that must stay",
        arguments: BloatImage.removedBy.keys.sorted())
    func profileRemovesItsTargets(profile: String) throws {
        let result = try Self.dryRun(profiles: [profile])
        let removals = result.selection.removals
        for path in BloatImage.removedBy[profile] ?? [] {
            #expect(isCovered(path, by: removals), "\(profile) left \(path)")
        }
        for path in BloatImage.alwaysKept {
            #expect(!isCovered(path, by: removals), "\(profile) removed \(path)")
        }
        for (other, paths) in BloatImage.removedBy where other != profile {
            for path in paths { #expect(!isCovered(path, by: removals), "\(profile) removed \(other)'s \(path)") }
        }
        // A directory the profile's rules left empty goes by the profile too.
        #expect(removals.allSatisfy { $0.origin == .profile(profile) })
        #expect(removals.allSatisfy { $0.rule.hasPrefix(profile + ":") || $0.rule == Rule.leftEmptyLabel })
    }

    @Test("the safe set removes caches, pycache and docs, and no tests, tools or locales")
    func safeSet() throws {
        let removals = try Self.dryRun(profiles: ["safe"]).selection.removals
        for profile in ["apt-cache", "pip-cache", "npm-cache", "pycache", "docs"] {
            for path in BloatImage.removedBy[profile] ?? [] { #expect(isCovered(path, by: removals), "\(path)") }
        }
        for profile in ["tests", "dev-tools", "locales"] {
            for path in BloatImage.removedBy[profile] ?? [] { #expect(!isCovered(path, by: removals), "\(path)") }
        }
    }

    @Test("--keep beats every removal; --remove adds removals with the cli rule")
    func commandLineGlobs() throws {
        let result = try Self.dryRun(profiles: ["docs"], keep: ["/usr/share/man/**"], remove: ["app/message.txt"])
        let removals = result.selection.removals
        #expect(!isCovered("usr/share/man/man1/curl.1.gz", by: removals))
        #expect(isCovered("usr/share/info/curl.info.gz", by: removals))
        #expect(removals.first { $0.path == "app/message.txt" }?.rule == "cli:app/message.txt")
    }

    @Test("the entrypoint, its symlinks and the account files survive any profile, but not an explicit --remove")
    func protectedPaths() throws {
        let directory = try TestDirectory()
        let greedy = directory.path("greedy.yaml")
        try """
        version: 1
        name: greedy
        description: removes binaries and configuration
        risk: breaks everything
        remove:
          - bin/**
          - etc/**
        """.write(toFile: greedy, atomically: true, encoding: .utf8)
        let removals = try Self.dryRun(profileFiles: [greedy]).selection.removals
        for path in ["bin/busybox", "etc/passwd", "etc/group"] {
            #expect(!isCovered(path, by: removals), "\(path) was removed")
        }
        let explicit = try Self.dryRun(profileFiles: [greedy], remove: ["etc/passwd"]).selection.removals
        #expect(isCovered("etc/passwd", by: explicit))
        #expect(!isCovered("bin/busybox", by: explicit))
    }

    @Test("a profile file that only includes others removes what they remove")
    func profileFileIncludes() throws {
        let directory = try TestDirectory()
        let mine = directory.path("mine.yaml")
        try """
        version: 1
        name: mine
        description: the documentation, by way of the shipped profile
        risk: as docs
        include: [docs]
        keep: [usr/share/man/**]
        """.write(toFile: mine, atomically: true, encoding: .utf8)
        let removals = try Self.dryRun(profileFiles: [mine]).selection.removals
        for path in BloatImage.removedBy["docs"] ?? [] where !path.hasPrefix("usr/share/man/") {
            #expect(isCovered(path, by: removals), "\(path) stayed")
        }
        // The composite's own keep reaches the profiles it includes, as for a named one.
        #expect(!isCovered("usr/share/man/man1/curl.1.gz", by: removals))
        #expect(!removals.isEmpty && removals.allSatisfy { $0.rule.hasPrefix("docs:") })

        // Joining the shipped profiles, it cannot take one of their names.
        let clash = directory.path("clash.yaml")
        try "version: 1\nname: docs\ninclude: [pycache]\n".write(toFile: clash, atomically: true, encoding: .utf8)
        #expect(throws: ProfileError.self) { try Self.dryRun(profileFiles: [clash]) }
    }

    @Test("a profile named cli is a profile: protected paths survive it")
    func profileNamedCommandLine() throws {
        let directory = try TestDirectory()
        let file = directory.path("cli.yaml")
        try """
        version: 1
        name: cli
        description: a profile whose name is the command line's label
        risk: breaks everything
        remove:
          - bin/**
          - etc/**
          - usr/share/**
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let removals = try Self.dryRun(profileFiles: [file]).selection.removals
        for path in ["bin/busybox", "etc/passwd", "etc/group"] {
            #expect(!isCovered(path, by: removals), "\(path) was removed")
        }
        // Labels read as before: the profile's name, then the pattern.
        #expect(removals.contains { $0.rule == "cli:usr/share/**" })
    }

    @Test("a rule's origin is a type; its label reads as before")
    func ruleOrigins() throws {
        let pattern = try PathPattern("etc/**")
        let fromCommandLine = Rule(action: .remove, pattern: pattern, origin: .commandLine)
        let fromProfile = Rule(action: .remove, pattern: pattern, origin: .profile("cli"))
        let fromTrace = Rule(action: .remove, pattern: pattern, origin: .trace)
        #expect(fromCommandLine.label == "cli:etc/**" && fromCommandLine.isExplicit)
        #expect(fromProfile.label == "cli:etc/**" && !fromProfile.isExplicit)
        #expect(fromTrace.label == "trace:unused" && !fromTrace.isExplicit)
    }

    @Test("a removed symlink target is reported as dangling; sizes count each inode once")
    func danglingAndSizes() throws {
        let result = try Self.dryRun(profiles: ["docs"])
        #expect(result.selection.danglingSymlinks == ["app/manual"])
        // README.gz is also app/LICENSE, which stays: removing it saves nothing.
        let readme = try #require(result.selection.removals.first { "usr/share/doc/curl/README.gz".hasPrefix($0.path) })
        let expected = (BloatImage.removedBy["docs"] ?? []).filter { $0 != "usr/share/doc/curl/README.gz" }
            .map { Int64(("content of /\($0)\n" + String(repeating: "x", count: 1000)).utf8.count) }
            .reduce(0, +)
        #expect(result.selection.removedBytes == expected, "\(readme)")
    }

    @Test("the dry run's figures are the real run's figures")
    func dryRunMatchesRealRun() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let removal = RemovalRequest(profiles: ["all"])
        let dry = try Slim(input: input, output: nil, options: WriteOptions(), removal: removal).run()
        let real = try Slim(
            input: input, output: directory.path("out.tar"), options: WriteOptions(),
            removal: removal
        ).run()
        #expect(dry.selection.removals == real.selection.removals)
        #expect(dry.report.after.files == real.report.after.files)
        #expect(dry.report.after.bytes == real.report.after.bytes)
        let size = try FileManager.default.attributesOfItem(atPath: directory.path("out.tar"))[.size] as? Int
        #expect(real.report.outputTarballBytes.map(Int.init) == size)
    }
}

@Suite("Protected paths follow the entrypoint's loader and libraries")
struct ProtectedLibraryTests {
    /// A usrmerged image holding the host's `ls` with its loader and libraries, copied as
    /// real files, whose entrypoint is `ls`.
    static func lsImage() throws -> TestImageBuilder {
        var layer = TestLayer()
        for directory in [
            "usr", "usr/bin", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc", "var",
            "var/cache",
        ] {
            layer.directory(directory)
        }
        layer.symlink("lib", to: "usr/lib")
        layer.symlink("lib64", to: "usr/lib64")
        layer.symlink("bin", to: "usr/bin")
        func copy(_ host: String, to path: String) throws {
            layer.file(path, bytes: Array(try Data(contentsOf: URL(fileURLWithPath: host))))
        }
        try copy("/usr/bin/ls", to: "usr/bin/ls")
        try copy("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", to: "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        layer.symlink("usr/lib64/ld-linux-x86-64.so.2", to: "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        for library in ["libselinux.so.1", "libc.so.6", "libpcre2-8.so.0"] {
            try copy("/lib/x86_64-linux-gnu/" + library, to: "usr/lib/x86_64-linux-gnu/" + library)
        }
        layer.file("usr/lib/x86_64-linux-gnu/libunused.so.1", "not needed by ls")
        layer.file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        layer.file("etc/group", "root:x:0:\n")
        var builder = TestImageBuilder(layers: [layer])
        builder.extraConfig["config"] = .object([
            "Entrypoint": .array([.string("ls")]),
            "Env": .array([.string("PATH=/bin")]),
        ])
        return builder
    }

    @Test(
        "a profile removing every library keeps the entrypoint's loader, libraries and symlinks",
        .enabled(
            if: FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
                && FileManager.default.fileExists(atPath: "/lib/x86_64-linux-gnu/libpcre2-8.so.0")))
    func librariesSurvive() throws {
        let directory = try TestDirectory()
        let input = try Self.lsImage().writeArchive(in: directory.url)
        let greedy = directory.path("libs.yaml")
        try """
        version: 1
        name: libs
        description: removes all libraries and binaries
        risk: breaks everything
        remove:
          - usr/lib/**
          - usr/lib64/**
          - usr/bin/**
        """.write(toFile: greedy, atomically: true, encoding: .utf8)
        let result = try Slim(
            input: input, output: nil, options: WriteOptions(),
            removal: RemovalRequest(profileFiles: [greedy])
        ).run()
        let removals = result.selection.removals
        for path in [
            "usr/bin/ls", "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libselinux.so.1",
            "usr/lib/x86_64-linux-gnu/libpcre2-8.so.0", "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "usr/lib64/ld-linux-x86-64.so.2",
        ] {
            #expect(!isCovered(path, by: removals), "\(path) was removed")
        }
        #expect(isCovered("usr/lib/x86_64-linux-gnu/libunused.so.1", by: removals))
    }
}

@Suite("A trace keeps what the app used, with its closure")
struct TraceSelectionTests {
    @Test("untraced paths go; traced ones, their symlinks and essentials stay, each with its reason")
    func traceKeepsClosure() throws {
        let directory = try TestDirectory()
        var builder = try BloatImage.builder()
        var metadata = TestLayer()
        metadata.directory("usr/local/lib/python3.11/site-packages/requests-2.31.dist-info")
        metadata.file("usr/local/lib/python3.11/site-packages/requests-2.31.dist-info/METADATA", "Name: requests\n")
        builder.layers.append(metadata)
        let input = try builder.writeArchive(in: directory.url)
        let trace = directory.path("trace.json")
        try TraceFixture.write(
            paths: [
                "/bin/sh", "/app/message.txt",
                "/usr/local/lib/python3.11/site-packages/requests/api.py",
            ], to: trace)
        let result = try Slim(
            input: input, output: nil, options: WriteOptions(),
            removal: RemovalRequest(traces: [trace])
        ).run()
        let reasons = Dictionary(result.selection.kept.map { ($0.path, $0.reason) }, uniquingKeysWith: { a, _ in a })
        #expect(reasons["bin/sh"] == .traced)
        #expect(reasons["bin/busybox"] == .closure(.symlink))
        #expect(reasons["app/message.txt"] == .traced)
        #expect(reasons["etc/passwd"] == .closure(.essential))
        // The app used requests, so the distribution stays whole, metadata included.
        #expect(
            reasons["usr/local/lib/python3.11/site-packages/requests-2.31.dist-info/METADATA"] == .closure(.package))
        let removals = result.selection.removals
        #expect(removals.allSatisfy { $0.rule == "trace:unused" })
        for path in [
            "usr/share/doc/curl/copyright", "var/lib/apt/lists", "usr/bin/gcc-12", "app/manual",
            "usr/local/lib/python3.11/site-packages/numpy",
        ] {
            #expect(isCovered(path, by: removals), "\(path) stayed")
        }
        #expect(
            Set(reasons.keys) == [
                "bin/sh", "bin/busybox", "app/message.txt", "etc/passwd", "etc/group",
                "usr/local/lib/python3.11/site-packages/requests/api.py",
                "usr/local/lib/python3.11/site-packages/requests-2.31.dist-info/METADATA",
            ])
        #expect(result.report.keptByReason.contains { $0.name == "trace" })
        #expect(result.warnings.isEmpty, "a trace without a chain ID has nothing to compare")
    }

    @Test("a trace of another image is named in a warning; one of the same image in another layout is not")
    func traceOfAnotherImageIsCalledOut() throws {
        let directory = try TestDirectory()
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cornersChain = try SavedImage(path: fixture("corners.oci.tar"), scratch: scratch).chainID
        let sameImage = directory.path("same.json")
        try TraceFixture.write(paths: ["/bin/sh"], chainID: cornersChain, to: sameImage)
        let otherImage = directory.path("other.json")
        try TraceFixture.write(paths: ["/bin/sh"], chainID: sha256Digest(of: Array("another".utf8)), to: otherImage)
        let result = try Slim(
            input: fixture("corners.docker.tar"), output: nil, options: WriteOptions(),
            removal: RemovalRequest(traces: [sameImage, otherImage])
        ).run()
        #expect(result.warnings.count == 1)
        #expect(
            result.warnings.first?.hasPrefix("\(otherImage) was recorded on another image") == true,
            "\(result.warnings)")
    }
}
