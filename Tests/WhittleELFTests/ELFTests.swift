import Foundation
import Testing
import WhittleArchive
import WhittleELF
import WhittleFlatten
import WhittleImage
import WhittleFiles
@testable import WhittleTestSupport

@Suite("ELF: headers, the loader cache and dependency closure")
struct ELFTests {
    // MARK: - Parsing synthetic files

    @Test(
        "parses every class and byte order",
        arguments: [
            (true, false, ELFMachine.x86_64), (true, true, ELFMachine.s390),
            (false, false, ELFMachine.x86), (false, true, ELFMachine.powerPC),
        ])
    func parsesClassesAndByteOrders(wide: Bool, bigEndian: Bool, machine: ELFMachine) throws {
        var fixture = SyntheticELF(wide: wide, bigEndian: bigEndian, machine: machine.rawValue)
        fixture.interpreter = "/lib/ld.so.1"
        fixture.needed = ["libfoo.so.1", "libbar.so.2"]
        fixture.soname = "libself.so.3"
        fixture.rpath = "/opt/r:$ORIGIN/../lib"
        fixture.runpath = "/opt/run"
        fixture.flags1 = 0x800
        let elf = try #require(try ELFFile.parse(bytes: fixture.bytes()))
        #expect(elf.elfClass == (wide ? .elf64 : .elf32))
        #expect(elf.byteOrder == (bigEndian ? .bigEndian : .littleEndian))
        #expect(elf.machine == machine)
        #expect(elf.fileType == .sharedObject)
        #expect(elf.interpreter == "/lib/ld.so.1")
        #expect(elf.isDynamic)
        #expect(elf.needed == ["libfoo.so.1", "libbar.so.2"])
        #expect(elf.soname == "libself.so.3")
        #expect(elf.rpath == "/opt/r:$ORIGIN/../lib")
        #expect(elf.runpath == "/opt/run")
        #expect(elf.noDefaultLibraries)
    }

    @Test("a static file has no interpreter and no libraries; non-ELF data is not ELF")
    func staticAndNonELF() throws {
        var fixture = SyntheticELF()
        fixture.dynamic = false
        let elf = try #require(try ELFFile.parse(bytes: fixture.bytes()))
        #expect(elf.interpreter == nil)
        #expect(!elf.isDynamic)
        #expect(elf.needed.isEmpty)
        #expect(try ELFFile.parse(bytes: Array("#!/bin/sh\necho hi\n".utf8)) == nil)
        #expect(try ELFFile.parse(bytes: []) == nil)
        #expect(try ELFFile.parse(bytes: [0x7f, 0x45, 0x4c]) == nil)
    }

    @Test("more than 65534 program headers are counted through the first section header")
    func extendedProgramHeaderCount() throws {
        var fixture = SyntheticELF()
        fixture.needed = ["libx.so"]
        fixture.extendedCount = true
        let elf = try #require(try ELFFile.parse(bytes: fixture.bytes()))
        #expect(elf.needed == ["libx.so"])
    }

    // MARK: - Parsing host files, checked against readelf

    @Test("host binaries and libraries match readelf")
    func hostFilesMatchReadelf() throws {
        var paths = [
            "/bin/ls", "/usr/bin/python3", "/lib/x86_64-linux-gnu/libc.so.6",
            "/opt/swift/usr/bin/swift-plugin-server", "/opt/swift/usr/lib/swift/linux/libswiftCore.so",
        ]
        for directory in ["/opt/swift/usr/bin", "/usr/bin", "/usr/lib/x86_64-linux-gnu"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            paths += names.sorted().prefix(120).map { directory + "/" + $0 }
        }
        var checked = 0
        for path in paths where startsWithELFMagic(path) {
            let facts = try readelfFacts(path)
            let elf = try #require(try ELFFile.parse(file: OpenFile(path: path)), "\(path)")
            #expect(elf.interpreter == facts.interpreter, "\(path)")
            #expect(elf.needed == facts.needed, "\(path)")
            #expect(elf.runpath == facts.runpath, "\(path)")
            #expect(elf.rpath == facts.rpath, "\(path)")
            #expect(elf.soname == facts.soname, "\(path)")
            #expect(elf.elfClass == (facts.elfClass == "ELF64" ? .elf64 : .elf32), "\(path)")
            if facts.machine == "Advanced Micro Devices X86-64" { #expect(elf.machine == .x86_64, "\(path)") }
            if facts.machine == "AArch64" { #expect(elf.machine == .aarch64, "\(path)") }
            checked += 1
        }
        #expect(checked > 20)
    }

    // MARK: - The loader cache

    @Test("the host's ld.so.cache reads as ldconfig -p prints it")
    func hostCacheMatchesLdconfig() throws {
        let path = "/etc/ld.so.cache"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let cache = try LoaderCache.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let ldconfig =
            FileManager.default.fileExists(atPath: "/usr/sbin/ldconfig") ? "/usr/sbin/ldconfig" : "/sbin/ldconfig"
        let lines = try run(ldconfig, ["-p"], environment: ["LC_ALL": "C"]).split(separator: "\n").map(String.init)
        #expect(lines.first == "\(cache.entries.count) libs found in cache `\(path)'")
        let listed = lines.dropFirst().filter { $0.hasPrefix("\t") }
        let parsed = cache.entries.map { "\t\($0.name) (\($0.abiDescription)) => \($0.path)" }
        // Compared line by line so that a difference names the entry, not the whole cache.
        #expect(parsed.count == listed.count)
        for (mine, theirs) in zip(parsed, listed) where mine != theirs {
            Issue.record("parsed \(mine.debugDescription), ldconfig printed \(theirs.debugDescription)")
        }
        if let generator = cache.generator {
            #expect(lines.last == "Cache generated by: \(generator)")
        }
        #if arch(x86_64)
            let libc = cache.lookup("libc.so.6", for: try hostELF("/bin/ls"))
            #expect(
                libc.first.map { URL(fileURLWithPath: $0.path).resolvingSymlinksInPath().path }
                    == URL(fileURLWithPath: "/lib/x86_64-linux-gnu/libc.so.6").resolvingSymlinksInPath().path)
        #endif
    }

    @Test("current-format caches in either byte order, with glibc-hwcaps names", arguments: [false, true])
    func currentFormat(bigEndian: Bool) throws {
        let bytes = SyntheticCache.current(
            [
                .init(
                    name: "libz.so.1", path: "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1",
                    flags: 0x0303, hwcap: 1 << 62),
                .init(name: "libz.so.1", path: "/lib/x86_64-linux-gnu/libz.so.1", flags: 0x0303),
                .init(name: "libz.so.1", path: "/lib/i386-linux-gnu/libz.so.1", flags: 0x0003),
            ], bigEndian: bigEndian, hwcaps: ["x86-64-v3"])
        let cache = try LoaderCache.parse(bytes: bytes)
        #expect(cache.format == .current)
        #expect(cache.entries.count == 3)
        #expect(cache.entries[0].hwcapsSubdirectory == "x86-64-v3")
        #expect(cache.entries[0].abiDescription == "libc6,x86-64, hwcap: \"x86-64-v3\"")
        #expect(cache.entries[2].abiDescription == "libc6")
        let program = ELFFile(elfClass: .elf64, byteOrder: .littleEndian, fileType: .executable, machine: .x86_64)
        #expect(
            cache.lookup("libz.so.1", for: program).map(\.path) == [
                "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1",
            ])
        let i386 = ELFFile(elfClass: .elf32, byteOrder: .littleEndian, fileType: .executable, machine: .x86)
        #expect(cache.lookup("libz.so.1", for: i386).map(\.path) == ["/lib/i386-linux-gnu/libz.so.1"])
    }

    @Test("legacy ld.so-1.7.0 caches, alone or followed by the current table")
    func legacyFormats() throws {
        let legacy = try LoaderCache.parse(
            bytes: SyntheticCache.legacy(
                [.init(name: "libold.so.1", path: "/lib/libold.so.1", flags: 1)], current: nil))
        #expect(legacy.format == .legacy)
        #expect(legacy.entries.map(\.path) == ["/lib/libold.so.1"])
        #expect(legacy.entries.first?.abiDescription == "ELF")

        let combined = try LoaderCache.parse(
            bytes: SyntheticCache.legacy(
                [.init(name: "libold.so.1", path: "/lib/libold.so.1", flags: 1)],
                current: [.init(name: "libnew.so.2", path: "/usr/lib/libnew.so.2", flags: 0x0303)]))
        #expect(combined.format == .combined)
        #expect(combined.entries.map(\.name) == ["libnew.so.2"])
    }

    @Test("damaged caches are refused with a reason, never a crash")
    func damagedCaches() throws {
        let good = SyntheticCache.current(
            [.init(name: "liba.so", path: "/lib/liba.so", flags: 0x0303)],
            bigEndian: false, hwcaps: [])
        for length in 0..<good.count {
            #expect(throws: ELFError.self) { try LoaderCache.parse(bytes: Array(good.prefix(length))) }
        }
        var hugeCount = good
        hugeCount[20] = 0xff
        hugeCount[21] = 0xff
        #expect(throws: ELFError.self) { try LoaderCache.parse(bytes: hugeCount) }
        var badString = good
        badString[52] = 0xff  // key offset of the first entry
        badString[53] = 0xff
        #expect(throws: ELFError.self) { try LoaderCache.parse(bytes: badString) }
        var random = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<(1 + random.next() % 6) {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            do {
                _ = try LoaderCache.parse(bytes: bytes)
            } catch is ELFError {}
        }
        if let host = try? Data(contentsOf: URL(fileURLWithPath: "/etc/ld.so.cache")) {
            let bytes = Array(host)
            for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
                do {
                    _ = try LoaderCache.parse(bytes: Array(bytes.prefix(length)))
                } catch is ELFError {}
            }
        }
    }

    // MARK: - Robustness

    @Test("random bytes, truncations, bit flips and huge offsets never crash the parser")
    func malformedInputs() throws {
        var random = SplitMix64(seed: 42)
        for round in 0..<3000 {
            var bytes = (0..<Int(random.next() % 600)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if round % 2 == 0, bytes.count >= 7 {
                bytes.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
                bytes[4] = UInt8(1 + random.next() % 2)
                bytes[5] = UInt8(1 + random.next() % 2)
                bytes[6] = 1
            }
            expectParsesOrThrowsELFError(bytes)
        }

        var fixture = SyntheticELF()
        fixture.interpreter = "/lib64/ld-linux-x86-64.so.2"
        fixture.needed = ["libc.so.6"]
        fixture.runpath = "$ORIGIN"
        let good = fixture.bytes()
        for length in 0..<good.count { expectParsesOrThrowsELFError(Array(good.prefix(length))) }
        for _ in 0..<5000 {
            var bytes = good
            for _ in 0..<(1 + random.next() % 4) {
                let index = Int(random.next() % UInt64(bytes.count))
                bytes[index] ^= UInt8(1) << UInt8(random.next() % 8)
            }
            expectParsesOrThrowsELFError(bytes)
        }

        if let ls = try? Data(contentsOf: URL(fileURLWithPath: "/bin/ls")) {
            let bytes = Array(ls)
            for length in 0..<min(bytes.count, 4096) { expectParsesOrThrowsELFError(Array(bytes.prefix(length))) }
            for length in stride(from: 4096, to: bytes.count, by: 997) {
                expectParsesOrThrowsELFError(Array(bytes.prefix(length)))
            }
        }

        // Offsets and sizes at their limits, one field at a time. Only the oversized load
        // segment still parses: nothing the loader's names depend on is out of bounds.
        let hostile: [(String, Bool, (inout SyntheticELF) -> Void)] = [
            ("program headers far away", true, { $0.programHeaderOffset = UInt64.max - 10 }),
            (
                "65535 program headers and no section header", true,
                {
                    $0.extendedCount = true
                    $0.sectionHeaderOffset = 1 << 60
                }
            ),
            ("huge program header size", true, { $0.programHeaderEntrySize = 0xffff }),
            ("tiny program header size", true, { $0.programHeaderEntrySize = 8 }),
            ("interpreter far away", true, { $0.interpreterOffset = UInt64.max }),
            ("huge interpreter", true, { $0.interpreterSize = 1 << 40 }),
            ("dynamic section far away", true, { $0.dynamicOffset = UInt64.max - 1 }),
            ("huge dynamic section", true, { $0.dynamicSize = UInt64.max }),
            ("string table outside every segment", true, { $0.stringTableAddress = 0x10 }),
            ("string table at the top of memory", true, { $0.stringTableAddress = UInt64.max }),
            ("string index huge", true, { $0.neededIndexOverride = UInt64.max }),
            ("string table size zero", true, { $0.stringTableSize = 0 }),
            ("string without its NUL", true, { $0.chopStringTableEnd = true }),
            ("load segment past the end", false, { $0.loadSize = UInt64.max }),
        ]
        for (name, throwsError, damage) in hostile {
            var broken = fixture
            damage(&broken)
            do {
                let elf = try ELFFile.parse(bytes: broken.bytes(), name: name)
                #expect(!throwsError, "\(name) parsed")
                #expect(elf?.needed == ["libc.so.6"], "\(name)")
            } catch let error as ELFError {
                #expect(throwsError, "\(name): \(error)")
                #expect(error.description.contains(name))
            }
        }
    }

    @Test("a damaged ELF file in the tree is reported as a problem, not a crash")
    func damagedFileInTree() throws {
        var fixture = SyntheticELF()
        fixture.interpreter = "/lib/ld.so"
        fixture.needed = ["libc.so.6"]
        var layer = TestLayer()
        layer.elfFixture("usr/bin/broken", Array(fixture.bytes().prefix(100)))
        let image = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        let closure = DependencyResolver(tree: image.tree).closure(of: ["usr/bin/broken", "usr/bin/absent"])
        #expect(closure.paths == ["usr/bin/broken"])
        #expect(closure.problems.map(\.path) == ["usr/bin/broken", "usr/bin/absent"])
        #expect(
            closure.problems.first?.message.contains("truncated") == true
                || closure.problems.first?.message.contains("ends inside") == true)
    }

    // MARK: - Path resolution inside the tree

    @Test("symlinks resolve inside the image root, and loops end")
    func confinedSymlinks() throws {
        var layer = TestLayer()
        layer.directory("usr")
        layer.directory("usr/lib")
        layer.file("usr/lib/real", "x")
        layer.symlink("usr/lib/climb", to: "../../../../../../usr/lib/real")
        layer.symlink("usr/lib/absolute", to: "/usr/lib/real")
        layer.symlink("usr/lib/loop1", to: "loop2")
        layer.symlink("usr/lib/loop2", to: "loop1")
        layer.symlink("lib", to: "usr/lib")
        let image = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        let tree = image.tree
        let climb = tree.resolve("lib/climb")
        #expect(climb.path == "usr/lib/real")
        #expect(climb.symlinks == ["lib", "usr/lib/climb"])
        #expect(tree.resolve("/lib/absolute").path == "usr/lib/real")
        #expect(tree.resolve("../../lib/../lib/real").path == "usr/lib/real")
        let loop = tree.resolve("lib/loop1")
        #expect(loop.outcome == .symlinkLoop)
        #expect(loop.symlinks.count == 41)
        #expect(tree.resolve("usr/lib/real/x").outcome == .missing)
        #expect(tree.resolve("lib", followFinal: false).path == "lib")
        #expect(tree.resolve("").path == "")
    }

    // MARK: - Closure over real host files, checked against ldd

    @Test("the closure of host programs equals what ldd reports, plus the symlinks on the way")
    func closureMatchesLdd() throws {
        let programs = ["/bin/ls", "/usr/bin/python3", "/opt/swift/usr/bin/swift-plugin-server"]
            .filter { FileManager.default.fileExists(atPath: $0) }
        let collector = HostFileCollector()
        var expected: [String: Set<String>] = [:]
        for program in programs {
            var paths: Set<String> = []
            for path in [program] + (try lddPaths(program)) {
                let walk = try collector.add(path)
                paths.insert(walk.physical)
                paths.formUnion(walk.symlinks)
            }
            expected[program] = paths
        }
        try collector.add("/etc/ld.so.cache")
        let image = try FlattenedTestImage(TestImageBuilder(layers: [collector.layer]))
        let resolver = DependencyResolver(tree: image.tree)
        #expect(!programs.isEmpty)
        for program in programs {
            #expect((expected[program]?.count ?? 0) >= 5, "\(program): \(expected[program] ?? [])")
            let closure = resolver.closure(of: [program])
            #expect(Set(closure.paths) == expected[program], "\(program)")
            #expect(closure.paths.count == Set(closure.paths).count, "\(program): each path once")
            #expect(closure.unresolved.isEmpty, "\(program): \(closure.unresolved)")
            #expect(closure.problems.isEmpty, "\(program): \(closure.problems)")
        }

        #if arch(x86_64)
            let ls = resolver.closure(of: ["bin/ls"])
            func reason(_ path: String) -> DependencyReason? { ls.dependencies.first { $0.path == path }?.reason }
            func real(_ path: String) -> String {
                String(URL(fileURLWithPath: path).resolvingSymlinksInPath().path.dropFirst())
            }
            let program = real("/bin/ls")
            let loader = real("/lib64/ld-linux-x86-64.so.2")
            #expect(reason(program) == .requested)
            #expect(reason(loader) == .interpreter(of: program))
            for link in ["bin", "lib64"] where expected["/bin/ls"]?.contains(link) == true {
                #expect(reason(link) == .symlink(toward: link == "bin" ? program : loader))
            }
            if let libc = ls.dependencies.first(where: { $0.path.hasSuffix("/libc.so.6") }) {
                #expect(libc.reason == .needed(library: "libc.so.6", by: program))
            }
        #endif

        let everything = resolver.closure(of: programs)
        #expect(Set(everything.paths) == expected.values.reduce(Set<String>()) { $0.union($1) })
    }

    enum LoaderConfiguration: String, CaseIterable, Sendable {
        case cache, configurationOnly, neither
    }

    @Test(
        "without ld.so.cache the configured, then the default directories find the same files",
        arguments: LoaderConfiguration.allCases)
    func closureWithoutCache(configuration: LoaderConfiguration) throws {
        let collector = HostFileCollector()
        var expected: Set<String> = []
        for path in ["/bin/ls"] + (try lddPaths("/bin/ls")) {
            let walk = try collector.add(path)
            expected.insert(walk.physical)
            expected.formUnion(walk.symlinks)
        }
        switch configuration {
        case .cache:
            try collector.add("/etc/ld.so.cache")
        case .configurationOnly:
            try collector.add("/etc/ld.so.conf")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/etc/ld.so.conf.d")) ?? [] {
                try collector.add("/etc/ld.so.conf.d/" + name)
            }
        case .neither:
            break
        }
        let image = try FlattenedTestImage(TestImageBuilder(layers: [collector.layer]))
        let closure = DependencyResolver(tree: image.tree).closure(of: ["bin/ls"])
        #expect(Set(closure.paths) == expected)
        #expect(closure.unresolved.isEmpty)
    }

    // MARK: - Loader search rules on synthetic trees

    @Test("RPATH is searched first and inherited down the loader chain; RUNPATH switches it off")
    func rpathAndRunpath() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.elf("usr/bin/app", needed: ["liba.so", "libb.so"], rpath: "/opt/r1")
        layer.elf("usr/bin/app2", needed: ["liba.so"], rpath: "/opt/r1", runpath: "/opt/r2")
        layer.elf("opt/r1/liba.so", needed: ["libc1.so"], soname: "liba.so")
        layer.elf("opt/r1/libb.so")
        layer.elf("usr/lib/libb.so")
        layer.elf("opt/r1/libc1.so")
        layer.elf("usr/lib/libc1.so")
        layer.elf("opt/r2/liba.so", needed: ["libc1.so"])
        let image = try layer.image()
        let resolver = DependencyResolver(tree: image.tree)

        let app = resolver.closure(of: ["usr/bin/app"])
        #expect(app.paths.contains("opt/r1/liba.so"))
        #expect(app.paths.contains("opt/r1/libb.so"))
        #expect(app.paths.contains("opt/r1/libc1.so"), "liba.so has no RUNPATH, so app's RPATH applies to its needs")
        #expect(!app.paths.contains("usr/lib/libb.so"))
        #expect(!app.paths.contains("usr/lib/libc1.so"))

        let app2 = resolver.closure(of: ["usr/bin/app2"])
        #expect(app2.paths.contains("opt/r2/liba.so"))
        #expect(app2.paths.contains("usr/lib/libc1.so"), "app2's RPATH is ignored because it has a RUNPATH")
        #expect(!app2.paths.contains("opt/r1/libc1.so"))
        #expect(!app2.paths.contains("opt/r1/liba.so"))
    }

    @Test("$ORIGIN is the directory a library was opened from, symlinks in its name not followed")
    func originExpansion() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.elf("opt/app/bin/app", needed: ["libplug.so"], runpath: "$ORIGIN/../lib:${ORIGIN}/../$LIB")
        layer.symlink("opt/app/lib/libplug.so", to: "/opt/vendor/lib/libplug.so.1")
        layer.elf("opt/vendor/lib/libplug.so.1", needed: ["libhelper.so", "libextra.so"], runpath: "$ORIGIN/private")
        layer.elf("opt/app/lib/private/libhelper.so")
        layer.elf("opt/vendor/lib/private/libhelper.so")
        layer.elf("opt/app/lib64/libextra.so")
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree).closure(of: ["opt/app/bin/app"])
        #expect(closure.paths.contains("opt/app/lib/libplug.so"))
        #expect(closure.paths.contains("opt/vendor/lib/libplug.so.1"))
        #expect(closure.paths.contains("opt/app/lib/private/libhelper.so"))
        #expect(!closure.paths.contains("opt/vendor/lib/private/libhelper.so"))
        #expect(
            closure.unresolved.map(\.kind) == [.library("libextra.so")],
            "libextra.so is only reachable through app's RUNPATH, which libplug does not inherit")
    }

    @Test("DF_1_NODEFLIB skips the default directories; a wrong-class library is passed over")
    func noDefaultLibrariesAndWrongClass() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.elf("usr/bin/nodeflib", needed: ["libz.so", "libq.so"], runpath: "/opt/q", flags1: 0x800)
        layer.elf("usr/lib/libz.so")
        layer.elf("opt/q/libq.so")
        layer.elf("usr/bin/mixed", needed: ["libw.so"], runpath: "/opt/w32")
        layer.elf("opt/w32/libw.so", wide: false, machine: ELFMachine.x86.rawValue)
        layer.elf("usr/lib/libw.so")
        let image = try layer.image()
        let resolver = DependencyResolver(tree: image.tree)
        let nodeflib = resolver.closure(of: ["usr/bin/nodeflib"])
        #expect(nodeflib.paths.contains("opt/q/libq.so"))
        #expect(!nodeflib.paths.contains("usr/lib/libz.so"))
        #expect(nodeflib.unresolved.map(\.kind) == [.library("libz.so")])
        let mixed = resolver.closure(of: ["usr/bin/mixed"])
        #expect(mixed.paths.contains("usr/lib/libw.so"))
        #expect(!mixed.paths.contains("opt/w32/libw.so"))
    }

    @Test("unresolvable and looping libraries are reported, not errors")
    func unresolvedLibraries() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.elf("usr/bin/app", needed: ["libmissing.so.9", "libloop.so"])
        layer.symlink("usr/lib/libloop.so", to: "libloop2.so")
        layer.symlink("usr/lib/libloop2.so", to: "libloop.so")
        layer.elf("usr/bin/lost", interpreter: "/lib/ld-nowhere.so")
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree).closure(of: ["usr/bin/app", "usr/bin/lost"])
        #expect(
            closure.unresolved.map(\.kind) == [
                .library("libmissing.so.9"), .library("libloop.so"), .interpreter("/lib/ld-nowhere.so"),
            ])
        #expect(closure.unresolved.first?.requiredBy == "usr/bin/app")
        #expect(closure.unresolved.first?.searched.contains("/usr/lib") == true)
        #expect(closure.unresolved.first?.description.contains("libmissing.so.9") == true)
        #expect(!closure.paths.contains("usr/lib/libloop.so"))
    }

    @Test("the interpreter satisfies libc's DT_NEEDED on it; libraries found once are not searched again")
    func loadedNamesAreReused() throws {
        var layer = SyntheticTree()
        layer.symlink("lib64", to: "usr/lib64")
        layer.directory("usr")
        layer.directory("usr/lib64")
        layer.symlink("usr/lib64/ld-linux-x86-64.so.2", to: "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        layer.elf("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", soname: "ld-linux-x86-64.so.2")
        layer.elf("usr/lib/x86_64-linux-gnu/libc.so.6", needed: ["ld-linux-x86-64.so.2"], soname: "libc.so.6")
        layer.elf("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", soname: "ld-linux-x86-64.so.2")
        layer.elf("usr/bin/app", interpreter: "/lib64/ld-linux-x86-64.so.2", needed: ["libc.so.6"])
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree).closure(of: ["usr/bin/app"])
        #expect(
            closure.paths == [
                "usr/bin/app", "lib64", "usr/lib64/ld-linux-x86-64.so.2",
                "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu/libc.so.6",
            ])
    }

    @Test("ld.so.conf with include globs is searched in order when there is no cache; hwcaps copies stay")
    func configurationFallbackAndHWCaps() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.text("etc/ld.so.conf", "# local\ninclude /etc/ld.so.conf.d/*.conf\n/opt/first/\nhwcap 1 tls\n")
        layer.text("etc/ld.so.conf.d/b.conf", "/opt/b\n")
        layer.text("etc/ld.so.conf.d/a.conf", "/opt/a   # trailing comment\ninclude nested/*.conf\n")
        layer.text("etc/ld.so.conf.d/nested/n.conf", "/opt/nested\n")
        layer.text("etc/ld.so.conf.d/ignored.txt", "/opt/ignored\n")
        layer.elf("opt/a/libconf.so")
        layer.elf("opt/b/libconf.so")
        layer.elf("opt/first/libfirst.so")
        layer.elf("opt/nested/libnested.so")
        layer.elf("opt/ignored/libignored.so")
        layer.elf("usr/lib/x86_64-linux-gnu/libh.so")
        layer.elf("usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libh.so")
        layer.elf("usr/bin/app", needed: ["libconf.so", "libfirst.so", "libnested.so", "libignored.so", "libh.so"])
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree).closure(of: ["usr/bin/app"])
        #expect(closure.paths.contains("opt/a/libconf.so"))
        #expect(!closure.paths.contains("opt/b/libconf.so"))
        #expect(closure.paths.contains("opt/first/libfirst.so"))
        #expect(closure.paths.contains("opt/nested/libnested.so"))
        #expect(closure.unresolved.map(\.kind) == [.library("libignored.so")])
        #expect(closure.paths.contains("usr/lib/x86_64-linux-gnu/libh.so"))
        #expect(closure.paths.contains("usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libh.so"))
    }

    @Test("the cache in the image is used, and its hwcaps variants stay")
    func syntheticCacheInTree() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.elf("opt/cached/libc1.so")
        layer.elf("opt/cached/glibc-hwcaps/x86-64-v2/libc1.so")
        layer.elf("usr/lib/libc1.so")
        layer.binary(
            "etc/ld.so.cache",
            SyntheticCache.current(
                [
                    .init(
                        name: "libc1.so", path: "/opt/cached/glibc-hwcaps/x86-64-v2/libc1.so", flags: 0x0303,
                        hwcap: 1 << 62),
                    .init(name: "libc1.so", path: "/opt/cached/libc1.so", flags: 0x0303),
                ], bigEndian: false, hwcaps: ["x86-64-v2"]))
        layer.elf("usr/bin/app", needed: ["libc1.so"])
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree).closure(of: ["usr/bin/app"])
        #expect(closure.paths.contains("opt/cached/libc1.so"))
        #expect(closure.paths.contains("opt/cached/glibc-hwcaps/x86-64-v2/libc1.so"))
        #expect(!closure.paths.contains("usr/lib/libc1.so"))
    }

    @Test("musl: libc names mean the loader, and its path file replaces the default directories")
    func muslRules() throws {
        var layer = SyntheticTree()
        layer.elf("lib/ld-musl-x86_64.so.1", soname: "libc.musl-x86_64.so.1")
        layer.symlink("lib/libc.musl-x86_64.so.1", to: "ld-musl-x86_64.so.1")
        layer.text("etc/ld-musl-x86_64.path", "/usr/local/lib\n/opt/musl/lib\n")
        layer.elf("opt/musl/lib/libssl.so.3", needed: ["libc.musl-x86_64.so.1"])
        layer.elf("usr/lib/libssl.so.3")
        layer.elf(
            "usr/bin/app", interpreter: "/lib/ld-musl-x86_64.so.1",
            needed: ["libc.musl-x86_64.so.1", "libpthread.so.0", "libssl.so.3"])
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree).closure(of: ["usr/bin/app"])
        #expect(closure.paths == ["usr/bin/app", "lib/ld-musl-x86_64.so.1", "opt/musl/lib/libssl.so.3"])
        #expect(closure.unresolved.isEmpty)
    }

    // MARK: - Scripts

    @Test(
        "#! lines split as the kernel splits them",
        arguments: [
            ("#!/bin/sh\necho", "bin/sh", nil, nil),
            ("#! /usr/bin/env python3\n", "usr/bin/env", "python3", "python3"),
            ("#!/usr/bin/env -S python3 -u\n", "usr/bin/env", "-S python3 -u", "python3"),
            ("#!/usr/bin/env FOO=1 -i node\n", "usr/bin/env", "FOO=1 -i node", "node"),
            ("#!/bin/bash -e  \t\nset -x", "bin/bash", "-e", nil),
            ("#!\t/usr/bin/perl -w", "usr/bin/perl", "-w", nil),
        ] as [(String, String, String?, String?)])
    func shebangs(text: String, interpreter: String, argument: String?, command: String?) throws {
        let shebang = try #require(Shebang.parse(bytes: Array(text.utf8)))
        #expect(shebang.interpreter == interpreter)
        #expect(shebang.argument == argument)
        #expect(shebang.command == command)
    }

    @Test("not scripts", arguments: ["#!\n", "#!   \n", "echo hi", "", "#", "\u{7f}ELF"])
    func notScripts(text: String) {
        #expect(Shebang.parse(bytes: Array(text.utf8)) == nil)
    }

    @Test("a script keeps its interpreter, env's program through PATH, and their libraries")
    func scriptClosure() throws {
        var layer = SyntheticTree()
        layer.loader()
        layer.symlink("bin", to: "usr/bin")
        layer.elf("usr/bin/env")
        layer.elf("usr/bin/python3.11", needed: ["libm.so.6"])
        layer.symlink("usr/bin/python3", to: "python3.11")
        layer.elf("usr/lib/libm.so.6")
        layer.elf("usr/bin/dash")
        layer.symlink("usr/bin/sh", to: "dash")
        layer.text("usr/local/bin/tool", "#!/usr/bin/env python3\nprint(1)\n", mode: 0o755)
        layer.text("usr/local/bin/wrapper", "#!/bin/sh\nexec tool\n", mode: 0o755)
        layer.text("usr/local/bin/orphan", "#!/usr/bin/env nosuch\n", mode: 0o755)
        let image = try layer.image()
        let closure = DependencyResolver(tree: image.tree, executableSearchPath: ImageConfig(.object([:])).searchPath)
            .closure(of: ["/usr/local/bin/tool", "/usr/local/bin/wrapper", "usr/local/bin/orphan"])
        func reason(_ path: String) -> DependencyReason? { closure.dependencies.first { $0.path == path }?.reason }
        #expect(reason("usr/bin/env") == .shebang(of: "usr/local/bin/tool"))
        #expect(reason("usr/bin/python3") == .symlink(toward: "usr/bin/python3.11"))
        #expect(reason("usr/bin/python3.11") == .shebangCommand("python3", of: "usr/local/bin/tool"))
        #expect(reason("usr/lib/libm.so.6") == .needed(library: "libm.so.6", by: "usr/bin/python3.11"))
        #expect(reason("bin") == .symlink(toward: "usr/bin/dash"))
        #expect(reason("usr/bin/sh") == .symlink(toward: "usr/bin/dash"))
        #expect(reason("usr/bin/dash") == .shebang(of: "usr/local/bin/wrapper"))
        #expect(closure.unresolved.map(\.kind) == [.command("nosuch")])
    }
}

// MARK: - Helpers

private func expectParsesOrThrowsELFError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try ELFFile.parse(bytes: bytes)
    } catch is ELFError {
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

private func startsWithELFMagic(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
        let handle = FileHandle(forReadingAtPath: path)
    else { return false }
    defer { try? handle.close() }
    guard let start = try? handle.read(upToCount: 4) else { return false }
    return Array(start) == [0x7f, 0x45, 0x4c, 0x46]
}

private func hostELF(_ path: String) throws -> ELFFile {
    try #require(try ELFFile.parse(file: OpenFile(path: path)))
}

private struct ReadelfFacts {
    var interpreter: String?
    var needed: [String] = []
    var runpath: String?
    var rpath: String?
    var soname: String?
    var elfClass = ""
    var machine = ""
}

/// What readelf says about a file's headers and dynamic section.
private func readelfFacts(_ path: String) throws -> ReadelfFacts {
    let output = try run("/usr/bin/readelf", ["-hldW", path], environment: ["LC_ALL": "C"])
    var facts = ReadelfFacts()
    func bracketed(_ line: Substring) -> String? {
        guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]"), open < close else { return nil }
        return String(line[line.index(after: open)..<close])
    }
    func field(_ line: Substring) -> String {
        String(line.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces)
    }
    for line in output.split(separator: "\n") {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("Class:") { facts.elfClass = field(line) }
        if trimmed.hasPrefix("Machine:") { facts.machine = field(line) }
        if line.contains("[Requesting program interpreter:") {
            facts.interpreter = bracketed(line).map { String($0.dropFirst("Requesting program interpreter: ".count)) }
        }
        if line.contains("(NEEDED)"), let value = bracketed(line) { facts.needed.append(value) }
        if line.contains("(RUNPATH)") { facts.runpath = bracketed(line) }
        if line.contains("(RPATH)") { facts.rpath = bracketed(line) }
        if line.contains("(SONAME)") { facts.soname = bracketed(line) }
    }
    return facts
}

/// The paths ldd says a program loads (the loader included, the vDSO left out).
private func lddPaths(_ program: String) throws -> [String] {
    let output = try run("/usr/bin/ldd", [program], environment: ["LC_ALL": "C", "PATH": "/usr/bin:/bin"])
    var paths: [String] = []
    for line in output.split(separator: "\n") {
        let text = line.trimmingCharacters(in: .whitespaces)
        #expect(!text.contains("not found"), "\(program): \(text)")
        let target = text.components(separatedBy: " => ").last ?? text
        guard target.hasPrefix("/"), let path = target.split(separator: " ").first else { continue }
        paths.append(String(path))
    }
    return paths
}

/// Copies host files into a test layer exactly as they sit on disk: every directory, every
/// symlink followed on the way (resolving it as the kernel does) and the file itself. It
/// doubles as the oracle: it reports the symlink-free path and the symlinks it followed.
private final class HostFileCollector {
    var layer = TestLayer()
    private var added: Set<String> = []

    @discardableResult
    func add(_ hostPath: String) throws -> (physical: String, symlinks: [String]) {
        var stack: [String] = []
        var pending = hostPath.split(separator: "/").reversed().map(String.init)
        var symlinks: [String] = []
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let path = (stack + [component]).joined(separator: "/")
            let attributes = try FileManager.default.attributesOfItem(atPath: "/" + path)
            let type = attributes[.type] as? FileAttributeType
            if type == .typeSymbolicLink {
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/" + path)
                if added.insert(path).inserted { layer.symlink(path, to: target) }
                symlinks.append(path)
                if target.hasPrefix("/") { stack.removeAll() }
                pending += target.split(separator: "/").reversed().map(String.init)
                continue
            }
            if type == .typeDirectory {
                if added.insert(path).inserted { layer.directory(path) }
            } else if added.insert(path).inserted {
                let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "/" + path)))
                let mode = (attributes[.posixPermissions] as? Int).map { UInt32($0) } ?? 0o644
                layer.elfFixture(path, bytes, mode: mode)
            }
            stack.append(component)
        }
        return (stack.joined(separator: "/"), symlinks)
    }
}

/// A small image of synthetic ELF files, for the loader's search rules.
private struct SyntheticTree {
    var layer = TestLayer()
    private var directories: Set<String> = []

    mutating func ensureParents(_ path: String) {
        var parts = path.split(separator: "/").dropLast().map(String.init)[...]
        var current = ""
        while let part = parts.popFirst() {
            current = current.isEmpty ? part : current + "/" + part
            if directories.insert(current).inserted { layer.directory(current) }
        }
    }

    mutating func directory(_ path: String) {
        ensureParents(path + "/x")
    }

    /// The glibc loader at the usual x86-64 place, without usrmerge.
    mutating func loader() {
        elf("lib64/ld-linux-x86-64.so.2", soname: "ld-linux-x86-64.so.2")
    }

    mutating func elf(
        _ path: String, interpreter: String? = nil, needed: [String] = [], soname: String? = nil,
        rpath: String? = nil, runpath: String? = nil, flags1: UInt64? = nil,
        wide: Bool = true, machine: UInt16 = ELFMachine.x86_64.rawValue
    ) {
        var fixture = SyntheticELF(wide: wide, bigEndian: false, machine: machine)
        let isProgram = path.contains("/bin/")
        fixture.type = isProgram ? 2 : 3
        fixture.interpreter = interpreter ?? (isProgram ? "/lib64/ld-linux-x86-64.so.2" : nil)
        fixture.needed = needed
        fixture.soname = soname
        fixture.rpath = rpath
        fixture.runpath = runpath
        fixture.flags1 = flags1
        binary(path, fixture.bytes())
    }

    mutating func binary(_ path: String, _ bytes: [UInt8]) {
        ensureParents(path)
        layer.elfFixture(path, bytes)
    }

    mutating func text(_ path: String, _ text: String, mode: UInt32 = 0o644) {
        ensureParents(path)
        layer.file(path, text, mode: mode)
    }

    mutating func symlink(_ path: String, to target: String) {
        ensureParents(path)
        layer.symlink(path, to: target)
    }

    /// The flattened image; keep it alive while its tree is used, as it owns the files.
    func image() throws -> FlattenedTestImage {
        try FlattenedTestImage(TestImageBuilder(layers: [layer]))
    }
}

/// Writes a minimal ELF file: header, program headers (PT_LOAD over the whole file, then
/// PT_INTERP and PT_DYNAMIC), the interpreter path, a string table and the dynamic array.
/// The overrides plant hostile values for the robustness tests.
private struct SyntheticELF {
    var wide = true
    var bigEndian = false
    var machine: UInt16 = ELFMachine.x86_64.rawValue
    var type: UInt16 = 3
    var interpreter: String?
    var needed: [String] = []
    var soname: String?
    var rpath: String?
    var runpath: String?
    var flags1: UInt64?
    var dynamic = true
    var extendedCount = false
    var loadAddress: UInt64 = 0x40_0000

    var programHeaderOffset: UInt64?
    var programHeaderEntrySize: UInt16?
    var sectionHeaderOffset: UInt64?
    var interpreterOffset: UInt64?
    var interpreterSize: UInt64?
    var dynamicOffset: UInt64?
    var dynamicSize: UInt64?
    var stringTableAddress: UInt64?
    var stringTableSize: UInt64?
    var neededIndexOverride: UInt64?
    var chopStringTableEnd = false
    var loadSize: UInt64?

    func bytes() -> [UInt8] {
        let headerSize = wide ? 64 : 52
        let entrySize = wide ? 56 : 32
        let word = wide ? 8 : 4
        let segmentCount = 1 + (interpreter == nil ? 0 : 1) + (dynamic ? 1 : 0)
        let sectionHeaderSize = wide ? 64 : 40

        var strings: [UInt8] = [0]
        func add(_ text: String) -> UInt64 {
            let offset = UInt64(strings.count)
            strings += Array(text.utf8) + [0]
            return offset
        }
        var entries: [(UInt64, UInt64)] = needed.map { (1, neededIndexOverride ?? add($0)) }
        if let soname { entries.append((14, add(soname))) }
        if let rpath { entries.append((15, add(rpath))) }
        if let runpath { entries.append((29, add(runpath))) }
        if let flags1 { entries.append((0x6fff_fffb, flags1)) }
        if chopStringTableEnd { strings.removeLast() }

        let tableOffset = headerSize
        let interpreterStart = tableOffset + segmentCount * entrySize
        let interpreterBytes: [UInt8] = interpreter.map { Array($0.utf8) + [0] } ?? []
        let stringsStart = interpreterStart + interpreterBytes.count
        entries.append((5, stringTableAddress ?? (loadAddress + UInt64(stringsStart))))
        entries.append((10, stringTableSize ?? UInt64(strings.count)))
        entries.append((0, 0))
        let dynamicStart = (stringsStart + strings.count + 7) & ~7
        let dynamicBytes = entries.count * 2 * word
        let sectionStart = dynamicStart + (dynamic ? dynamicBytes : 0)
        let total = sectionStart + (extendedCount ? sectionHeaderSize : 0)

        var out = [UInt8](repeating: 0, count: total)
        func put(_ value: UInt64, _ size: Int, at offset: Int) {
            for index in 0..<size {
                let shift = UInt64(8 * (bigEndian ? size - 1 - index : index))
                out[offset + index] = UInt8(truncatingIfNeeded: value >> shift)
            }
        }
        out.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
        out[4] = wide ? 2 : 1
        out[5] = bigEndian ? 2 : 1
        out[6] = 1
        put(UInt64(type), 2, at: 16)
        put(UInt64(machine), 2, at: 18)
        put(1, 4, at: 20)
        put(programHeaderOffset ?? UInt64(tableOffset), word, at: wide ? 32 : 28)
        put(sectionHeaderOffset ?? (extendedCount ? UInt64(sectionStart) : 0), word, at: wide ? 40 : 32)
        put(UInt64(headerSize), 2, at: wide ? 52 : 40)
        put(UInt64(programHeaderEntrySize ?? UInt16(entrySize)), 2, at: wide ? 54 : 42)
        put(extendedCount ? 0xffff : UInt64(segmentCount), 2, at: wide ? 56 : 44)
        put(UInt64(sectionHeaderSize), 2, at: wide ? 58 : 46)
        put(extendedCount ? 1 : 0, 2, at: wide ? 60 : 48)

        func segment(_ index: Int, type: UInt32, offset: UInt64, address: UInt64, size: UInt64) {
            let base = tableOffset + index * entrySize
            put(UInt64(type), 4, at: base)
            put(offset, word, at: base + (wide ? 8 : 4))
            put(address, word, at: base + (wide ? 16 : 8))
            put(address, word, at: base + (wide ? 24 : 12))
            put(size, word, at: base + (wide ? 32 : 16))
            put(size, word, at: base + (wide ? 40 : 20))
        }
        var index = 0
        segment(index, type: 1, offset: 0, address: loadAddress, size: loadSize ?? UInt64(total))
        index += 1
        if interpreter != nil {
            segment(
                index, type: 3, offset: interpreterOffset ?? UInt64(interpreterStart),
                address: loadAddress + UInt64(interpreterStart),
                size: interpreterSize ?? UInt64(interpreterBytes.count))
            out.replaceSubrange(interpreterStart..<stringsStart, with: interpreterBytes)
            index += 1
        }
        out.replaceSubrange(stringsStart..<(stringsStart + strings.count), with: strings)
        if dynamic {
            segment(
                index, type: 2, offset: dynamicOffset ?? UInt64(dynamicStart),
                address: loadAddress + UInt64(dynamicStart), size: dynamicSize ?? UInt64(dynamicBytes))
            for (position, entry) in entries.enumerated() {
                put(entry.0, word, at: dynamicStart + position * 2 * word)
                put(entry.1, word, at: dynamicStart + position * 2 * word + word)
            }
        }
        if extendedCount {
            // sh_info of section header 0 holds the program header count.
            put(UInt64(segmentCount), 4, at: sectionStart + (wide ? 44 : 28))
        }
        return out
    }
}

/// Writes ld.so.cache files in glibc's layouts.
private enum SyntheticCache {
    struct Entry {
        var name: String
        var path: String
        var flags: Int32
        var hwcap: UInt64 = 0
    }

    /// "glibc-ld.so.cache1.1": header, entries, strings (offsets from the header's start),
    /// then an extension directory naming the glibc-hwcaps subdirectories.
    static func current(_ entries: [Entry], bigEndian: Bool, hwcaps: [String], base: Int = 0) -> [UInt8] {
        var out = Array("glibc-ld.so.cache1.1".utf8) + [UInt8](repeating: 0, count: 28)
        func put(_ value: UInt64, _ size: Int, at offset: Int) {
            for index in 0..<size {
                let shift = UInt64(8 * (bigEndian ? size - 1 - index : index))
                out[offset + index] = UInt8(truncatingIfNeeded: value >> shift)
            }
        }
        let stringsStart = 48 + 24 * entries.count
        var strings: [UInt8] = []
        func add(_ text: String) -> UInt64 {
            let offset = UInt64(stringsStart + strings.count)
            strings += Array(text.utf8) + [0]
            return offset
        }
        out += [UInt8](repeating: 0, count: 24 * entries.count)
        put(UInt64(entries.count), 4, at: 20)
        out[28] = bigEndian ? 3 : 2
        for (index, entry) in entries.enumerated() {
            let base = 48 + 24 * index
            put(UInt64(UInt32(bitPattern: entry.flags)), 4, at: base)
            put(add(entry.name), 4, at: base + 4)
            put(add(entry.path), 4, at: base + 8)
            put(entry.hwcap, 8, at: base + 16)
        }
        // hwcaps names are file offsets, so they must account for what precedes this table.
        let names = hwcaps.map { add($0) + UInt64(base) }
        put(UInt64(strings.count), 4, at: 24)
        out += strings
        if !hwcaps.isEmpty {
            while out.count % 4 != 0 { out.append(0) }
            let directory = out.count
            out += [UInt8](repeating: 0, count: 8 + 16 + 4 * names.count)
            put(UInt64(directory + base), 4, at: 32)
            put(0xeaa4_2174, 4, at: directory)
            put(1, 4, at: directory + 4)
            put(1, 4, at: directory + 8)
            put(UInt64(directory + 24 + base), 4, at: directory + 16)
            put(UInt64(4 * names.count), 4, at: directory + 20)
            for (index, name) in names.enumerated() { put(name, 4, at: directory + 24 + 4 * index) }
        }
        return out
    }

    /// "ld.so-1.7.0", optionally followed (8-byte aligned) by a current table; the legacy
    /// strings then come after it, as their offsets count from the end of the legacy table.
    static func legacy(_ entries: [Entry], current: [Entry]?) -> [UInt8] {
        var out = Array("ld.so-1.7.0".utf8) + [0, 0, 0, 0, 0]
        func put(_ value: UInt64, _ size: Int, at offset: Int) {
            for index in 0..<size { out[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index)) }
        }
        put(UInt64(entries.count), 4, at: 12)
        out += [UInt8](repeating: 0, count: 12 * entries.count)
        let tableEnd = out.count
        if let current {
            while out.count % 8 != 0 { out.append(0) }
            out += SyntheticCache.current(current, bigEndian: false, hwcaps: [], base: out.count)
        }
        for (index, entry) in entries.enumerated() {
            let base = 16 + 12 * index
            put(UInt64(UInt32(bitPattern: entry.flags)), 4, at: base)
            put(UInt64(out.count - tableEnd), 4, at: base + 4)
            out += Array(entry.name.utf8) + [0]
            put(UInt64(out.count - tableEnd), 4, at: base + 8)
            out += Array(entry.path.utf8) + [0]
        }
        return out
    }
}

/// A small deterministic generator, so failures reproduce.
private struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var value = state
        value = (value ^ (value >> 30)) &* 0xbf58_476d_1ce4_e5b9
        value = (value ^ (value >> 27)) &* 0x94d0_49bb_1331_11eb
        return value ^ (value >> 31)
    }
}

extension TestLayer {
    /// A regular file with binary content (`file` takes text).
    fileprivate mutating func elfFixture(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o755) {
        entries.append(
            (
                TarEntry(
                    path: path, kind: .regular, permissions: mode, mtimeSeconds: 1_000,
                    size: Int64(bytes.count)), bytes
            ))
    }
}
