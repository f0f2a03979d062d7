import Foundation
import FuzzSupport
import WhittleArchive
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittlePackageGraph
import WhittlePackages
import WhittleSelect

// The package database readers and the relation parsers. The first byte of an input picks
// what the rest is (`Skeleton.slots`):
//   - one file of a sound image: dpkg's `status`, a `.list`, `.md5sums` or `.conffiles`,
//     apt's `extended_states`, apk's `installed`, a Python `METADATA`, `RECORD`, `INSTALLER`,
//     `PKG-INFO`, `installed-files.txt` or `top_level.txt`; or extra entries of that image
//     (`path`, `dir/`, `link -> target`, one a line). It goes in a second layer over the sound
//     one, and then, as `slim` does, the databases are read, whole packages planned away
//     (the dependency graph parses every relation field), and the databases rewritten for
//     what stays;
//   - relation text alone, which goes whole and line by line to every relation parser:
//     dpkg relations and versions, apk `D:`/`p:`, Python requirements and markers, package
//     specs. Without an image to build, these inputs run a hundred times faster.

private let directory = FuzzDirectory("packages")
private let image = directory.subdirectory("image")

/// The sound image: a Debian root (usrmerge's `bin -> usr/bin`) with an apk database and
/// Python distributions of every metadata style beside it.
enum Skeleton {
    static let site = "usr/local/lib/python3.11/site-packages"
    static let dist = "usr/lib/python3/dist-packages"

    /// The files an input may stand for, by the input's first byte; the last slot is `entries`.
    static let slots = [
        "var/lib/dpkg/status", "var/lib/dpkg/info/tool.list", "var/lib/dpkg/info/tool.md5sums",
        "var/lib/dpkg/info/tool.conffiles", "var/lib/apt/extended_states", "lib/apk/db/installed",
        site + "/app-1.0.dist-info/METADATA", site + "/app-1.0.dist-info/RECORD", site + "/app-1.0.dist-info/INSTALLER",
        site + "/legacy-2.0-py3.11.egg-info/PKG-INFO", site + "/legacy-2.0-py3.11.egg-info/installed-files.txt",
        dist + "/deb_dist-1.0.dist-info/top_level.txt", site + "/single-0.1-py3.11.egg-info",
    ]
    static let entriesSlot = slots.count
    static let relationsSlot = slots.count + 1

    static let directories = [
        "usr", "usr/bin", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/share", "usr/share/doc", "usr/share/doc/tool",
        "usr/local", "usr/local/bin", "usr/local/lib", "usr/local/lib/python3.11", site, site + "/app",
        site + "/app-1.0.dist-info", site + "/legacy", site + "/legacy-2.0-py3.11.egg-info", "usr/lib/python3", dist,
        dist + "/deb_dist", dist + "/deb_dist-1.0.dist-info", "etc", "etc/tool.d", "lib", "lib/apk", "lib/apk/db",
        "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/info", "var/lib/apt",
    ]

    static let symlinks = [("bin", "usr/bin"), ("usr/bin/sh", "busybox"), ("usr/local/bin/app-alias", "app")]

    static let files: [(String, String)] = [
        ("var/lib/dpkg/status", status), ("var/lib/apt/extended_states", extendedStates),
        ("var/lib/dpkg/info/format", "1\n"),
        (
            "var/lib/dpkg/info/libfoo1:amd64.list",
            "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu/libfoo.so.1\n"
        ),
        (
            "var/lib/dpkg/info/libfoo1:amd64.md5sums",
            "00000000000000000000000000000001  usr/lib/x86_64-linux-gnu/libfoo.so.1\n"
        ),
        (
            "var/lib/dpkg/info/tool.list",
            "/.\n/bin\n/bin/tool\n/etc\n/etc/tool.conf\n/usr\n/usr/share/doc/tool\n/usr/share/doc/tool/copyright\n"
        ),
        (
            "var/lib/dpkg/info/tool.md5sums",
            "00000000000000000000000000000002  bin/tool\n00000000000000000000000000000003  usr/share/doc/tool/copyright\n"
        ),
        ("var/lib/dpkg/info/tool.conffiles", "/etc/tool.conf\nremove-on-upgrade /etc/tool.d/old.conf\n"),
        ("var/lib/dpkg/info/tool.postinst", "#!/bin/sh\nset -e\n"),
        ("var/lib/dpkg/info/gone.list", "/.\n/usr\n/usr/bin\n/usr/bin/gone\n"),
        ("var/lib/dpkg/info/python3-app.list", "/\(site)/app-1.0.dist-info/RECORD\n"),
        (
            "var/lib/dpkg/info/python3-app.md5sums",
            "00000000000000000000000000000005  \(site)/app-1.0.dist-info/RECORD\n"
        ),
        ("usr/bin/tool", "tool"), ("usr/bin/gone", "gone"), ("usr/bin/busybox", "busybox"),
        ("usr/share/doc/tool/copyright", "copyright"), ("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo"),
        ("etc/tool.conf", "setting=1\n"), ("etc/securetty", "console\n"), ("lib/ld-musl-x86_64.so.1", "musl"),
        ("lib/apk/db/installed", apkInstalled),
        (site + "/app/__init__.py", ""), (site + "/app/core.py", "x = 1\n"),
        ("usr/local/bin/app", "#!/usr/bin/python3\n"),
        (site + "/app-1.0.dist-info/METADATA", appMetadata), (site + "/app-1.0.dist-info/RECORD", appRecord),
        (site + "/app-1.0.dist-info/INSTALLER", "pip\n"), (site + "/app-1.0.dist-info/REQUESTED", ""),
        (site + "/legacy/__init__.py", ""), (site + "/legacy-2.0-py3.11.egg-info/PKG-INFO", legacyInfo),
        (
            site + "/legacy-2.0-py3.11.egg-info/installed-files.txt",
            "../legacy/__init__.py\n../../../../bin/legacy-run\nPKG-INFO\ninstalled-files.txt\n"
        ),
        ("usr/local/bin/legacy-run", "run"),
        (dist + "/deb_dist/__init__.py", ""), (dist + "/_deb_dist_c.cpython-311-x86_64-linux-gnu.so", "so"),
        (
            dist + "/deb_dist-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: deb-dist\nVersion: 1.0\nRequires-Dist: app\n"
        ),
        (dist + "/deb_dist-1.0.dist-info/top_level.txt", "deb_dist\n_deb_dist_c\n"),
        (site + "/single-0.1-py3.11.egg-info", "Metadata-Version: 1.1\nName: single\nVersion: 0.1\n"),
        (site + "/single.py", "pass\n"),
    ]

    static let status = """
        Package: libfoo1
        Status: install ok installed
        Architecture: amd64
        Multi-Arch: same
        Version: 1.2-3
        Depends: libc6 (>= 2.34)

        Package: tool
        Status: install ok installed
        Architecture: amd64
        Version: 2:1.0~rc1-1+deb12u1
        Pre-Depends: dpkg (>= 1.19.0)
        Depends: libfoo1 (= 1.2-3), libc6 (>= 2.34) | libc6.1, python3:any, app-data [amd64 !i386]
        Recommends: gone
        Provides: tool-api (= 1.0), editor
        Conffiles:
         /etc/tool.conf 0123456789abcdef0123456789abcdef
         /etc/tool.d/old.conf 0123456789abcdef0123456789abcdef obsolete
        Description: a tool
         that does things.
         .
         More.

        Package: gone
        Status: install ok installed
        Architecture: amd64
        Version: 1.0

        Package: old
        Status: deinstall ok config-files
        Architecture: amd64
        Version: 0.9

        Package: python3-app
        Status: install ok installed
        Architecture: all
        Version: 1.0-1
        Depends: tool (>> 1:0)

        Package: dpkg
        Essential: yes
        Status: install ok installed
        Architecture: amd64
        Version: 1.21.22


        """

    static let extendedStates = """
        Package: gone
        Architecture: amd64
        Auto-Installed: 1

        Package: libfoo1
        Architecture: amd64
        Auto-Installed: 1

        """

    static let apkInstalled = """
        C:Q1SJd5p5u0wZr1UfgqyP6xbz7Ub9A=
        P:musl
        V:1.2.4-r2
        A:x86_64
        S:383152
        I:622592
        T:the musl c library (libc) implementation
        o:musl
        p:so:libc.musl-x86_64.so.1=1
        F:lib
        R:ld-musl-x86_64.so.1
        a:0:0:755
        Z:Q1QZkQkVEuTpFJKhr6E1TjqoCcT+Q=

        P:busybox
        V:1.36.1-r5
        A:x86_64
        D:so:libc.musl-x86_64.so.1 !busybox-extras musl>=1.2
        p:cmd:busybox=1.36.1-r5 cmd:sh=1.36.1-r5 /bin/sh
        F:usr/bin
        R:busybox
        R:sh
        F:etc
        M:0:0:755
        R:securetty
        Z:Q1ltrPIAlmB3BGmB9+SCDLzTkv6Eo=

        """

    static let appMetadata = """
        Metadata-Version: 2.1
        Name: App
        Version: 1.0
        Requires-Dist: legacy (>=2.0)
        Requires-Dist: numpy>=1.22.4; python_version < "3.11"
        Requires-Dist: deb_dist[Extra_One,two]~=1.0; extra == "full" or (os_name == 'posix' and platform_machine in "x86_64 aarch64")
        Requires-Dist: pytest; extra == "test"
        Requires-Dist: single @ https://example.org/single.whl ; sys_platform == "linux"
        Provides-Extra: full
        Provides-Extra: test

        A description.
        """

    static let appRecord = """
        app/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r
        app/core.py,sha256=uTOtV2Qvtt9vL8n4qkFCbU6RmhHW9OyIzxl3WDfkZ4k,6\r
        "app/we,ird ""quoted"".py",,\r
        ../../../bin/app,sha256=AAAA,19\r
        ../../../bin/app-alias,,\r
        app-1.0.dist-info/METADATA,,\r
        app-1.0.dist-info/RECORD,,\r

        """

    static let legacyInfo = """
        Metadata-Version: 1.2
        Name: legacy
        Version: 2.0
        Requires-Dist: single

        """
}

/// The sound layer, written once, and its digest.
private let skeletonLayer: (bytes: [UInt8], digest: String) = {
    var entries: [(TarEntry, [UInt8])] = Skeleton.directories.map {
        (TarEntry(path: $0, kind: .directory, permissions: 0o755), [])
    }
    entries += Skeleton.symlinks.map {
        (TarEntry(path: $0.0, kind: .symlink, permissions: 0o777, linkTarget: $0.1), [])
    }
    entries += Skeleton.files.map {
        (TarEntry(path: $0.0, kind: .regular, size: Int64($0.1.utf8.count)), Array($0.1.utf8))
    }
    guard let bytes = tar(entries) else { fatalError("the sound layer cannot be written") }
    return (bytes, sha256Digest(of: bytes))
}()

/// A tar of `entries`; nil when the writer refuses one (an input's odd names).
private func tar(_ entries: [(TarEntry, [UInt8])]) -> [UInt8]? {
    var out: [UInt8] = []
    do {
        let writer = try TarWriter(name: "layer") { out.append(contentsOf: $0) }
        for (entry, data) in entries {
            try writer.writeHeader(entry)
            try writer.writeData(data)
        }
        try writer.finish()
    } catch {
        return nil
    }
    return out
}

/// The second layer: the input as one database file, or as extra entries.
private func inputLayer(_ bytes: [UInt8]) -> [UInt8]? {
    let slot = Int(bytes[0]) % (Skeleton.relationsSlot + 1)
    let content = Array(bytes.dropFirst())
    guard slot == Skeleton.entriesSlot else {
        return tar([(TarEntry(path: Skeleton.slots[slot], kind: .regular, size: Int64(content.count)), content)])
    }
    // One entry a line: `link -> target`, `directory/`, or a file holding its own name.
    let lines = String(decoding: content, as: UTF8.self).split(separator: "\n").prefix(64)
    return tar(
        lines.map { line in
            if let arrow = line.range(of: " -> ") {
                return (
                    TarEntry(
                        path: String(line[..<arrow.lowerBound]), kind: .symlink, permissions: 0o777,
                        linkTarget: String(line[arrow.upperBound...])), []
                )
            }
            if line.hasSuffix("/") { return (TarEntry(path: String(line), kind: .directory, permissions: 0o755), []) }
            return (TarEntry(path: String(line), kind: .regular, size: Int64(line.utf8.count)), Array(line.utf8))
        })
}

/// A legacy `docker save` layout of the sound layer and `layer` over it.
private func writeImage(_ layer: [UInt8]) {
    let config = """
        {"architecture":"amd64","os":"linux","config":{"Entrypoint":["/usr/local/bin/app"]},\
        "rootfs":{"type":"layers","diff_ids":["\(skeletonLayer.digest)","\(sha256Digest(of: layer))"]}}
        """
    directory.write(layer, to: "image/input.tar")
    directory.write(Array(config.utf8), to: "image/config.json")
}

private let writeFixedFiles: Void = {
    directory.write(skeletonLayer.bytes, to: "image/skeleton.tar")
    let manifest = #"[{"Config":"config.json","RepoTags":["fuzz:latest"],"Layers":["skeleton.tar","input.tar"]}]"#
    directory.write(Array(manifest.utf8), to: "image/manifest.json")
}()

func fuzzPackages(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    guard Int(first) % (Skeleton.relationsSlot + 1) != Skeleton.relationsSlot else {
        parseRelations(String(decoding: bytes.dropFirst(), as: UTF8.self))
        return
    }
    guard let layer = inputLayer(bytes) else { return }
    _ = writeFixedFiles
    writeImage(layer)
    guard let scratch = try? ScratchDirectory() else { fatalError("no scratch directory") }
    defer { scratch.remove() }
    guard let saved = try? SavedImage(path: image, scratch: scratch) else {
        fatalError("the fixed image does not open")
    }
    let flattener = Flattener(scratch: scratch)
    // A layer that fails part way (the entries slot) still leaves a tree to read.
    _ = try? flattener.apply(saved)
    readDatabases(flattener.tree, scratch: scratch, byName: bytes.count % 2 == 0)
}

/// What `slim` and `inspect` do with the databases: read them, protect them, plan whole
/// packages away (`byName`: as `--remove-package` names them, with `--autoremove` and
/// `--force`; otherwise as a profile's globs do), and rewrite them for what stays.
private func readDatabases(_ tree: FileTree, scratch: ScratchDirectory, byName: Bool) {
    guard let database = try? PackageDatabase(tree: tree) else { return }
    _ = database.protectedPaths(in: tree)
    // The second and third installed package of each kind, named on the command line.
    let specs = WhittlePackages.PackageKind.allCases.flatMap { kind in
        database.packages(of: kind).filter(\.installed).dropFirst().prefix(2).compactMap {
            try? PackageSpec("\(kind.graphSpelling):\($0.name)")
        }
    }
    let request =
        byName
        ? PackageRemovalRequest(specs: specs, origin: .commandLine, autoremove: true)
        : PackageRemovalRequest(
            specs: (try? PackageSpec.list("deb:*-dev,pypi:*,apk:busy?ox")) ?? [], origin: .profile("fuzz"))
    if let removal = try? PackageRemoval(
        database: database, tree: tree, requests: [request],
        autoremove: byName, force: byName)
    {
        _ = removal.plan.removals.map(\.reason.description)
        rewrite(database, tree, scratch, removing: removal.removedPackages) { removal.rules[$0] == nil }
    }
    // Path rules alone, which leave packages partly installed: their lists, `Conffiles`,
    // `RECORD` and checksums are rewritten line by line.
    rewrite(database, tree, scratch, removing: []) { path in
        !path.hasPrefix("usr/share/doc/") && !path.hasPrefix("etc/") && !path.hasSuffix("core.py")
            && !path.hasSuffix("/sh") && !path.hasSuffix("RECORD")
    }
}

private func rewrite(
    _ database: PackageDatabase, _ tree: FileTree, _ scratch: ScratchDirectory, removing: Set<Int>,
    keeps: @escaping (String) -> Bool
) {
    let truth = PackageTruth(database: database, tree: tree, removing: removing, keeps: keeps)
    _ = truth.recordsToRemove(database)
    _ = truth.recordsToKeep(database)
    // Rewritten files replace the tree's content, so a second rewrite reads the first's.
    try? truth.rewrite(database, tree: tree, keeps: keeps, into: GeneratedContent(tree: tree, scratch: scratch))
}

private extension WhittlePackages.PackageKind {
    var graphSpelling: String { self == .python ? "pypi" : rawValue }
}

/// Every relation parser on the whole text and on each of its lines.
private func parseRelations(_ text: String) {
    let lines = text.split(separator: "\n").prefix(256).map(String.init)
    let environment = PythonEnvironment(pythonVersion: "3.11.2")
    var previous = "1.0"
    for line in [text] + lines {
        if let groups = try? DebianRelations.parse(line) {
            for relation in groups.joined() {
                _ = relation.description
                _ = relation.applies(on: "amd64")
                _ = relation.constraint?.isSatisfied(by: previous)
            }
        }
        _ = try? DebianRelations.parseProvides(line)
        checkVersionOrder(line, previous)
        previous = line
        _ = ApkRelations.dependencies(line)
        _ = ApkRelations.provides(line)
        if let requirement = try? PythonRequirement(line) {
            _ = requirement.applies(in: environment, extras: ["test", "full"])
            _ = requirement.marker?.mentionsExtra
        }
        if let marker = try? PythonMarker.parse(line) { _ = marker.evaluate(environment, extra: "test") }
        if let spec = try? PackageSpec(line) {
            _ = spec.matches(PackageRecord(kind: .pypi, name: line))
            _ = spec.matches(PackageRecord(kind: .deb, name: previous))
        }
    }
    _ = try? PackageSpec.list(text)
}

/// dpkg's version order is a total order: a version equals itself, and swapping the two
/// sides swaps the answer.
private func checkVersionOrder(_ a: String, _ b: String) {
    precondition(DebianVersion.compare(a, a) == 0, "a Debian version differs from itself")
    let forward = DebianVersion.compare(a, b).signum()
    precondition(forward == -DebianVersion.compare(b, a).signum(), "the Debian version order is not antisymmetric")
}

/// Writes one seed a slot: its number and the sound image's file, and a few entries.
private func writeSeeds(to seedDirectory: String) {
    let sound = Dictionary(Skeleton.files, uniquingKeysWith: { first, _ in first })
    var seeds = Skeleton.slots.enumerated().map { slot, path in
        ("slot-\(slot)-" + (path as NSString).lastPathComponent, [UInt8(slot)] + Array((sound[path] ?? "").utf8))
    }
    let entries =
        "lib -> usr/lib\n\(Skeleton.site)/extra-3.0.dist-info/\n\(Skeleton.site)/extra-3.0.dist-info/METADATA\n"
        + "var/lib/dpkg/info/extra:amd64.list\nusr/local/bin -> ../../bin\n"
    seeds.append(("slot-\(Skeleton.entriesSlot)-entries", [UInt8(Skeleton.entriesSlot)] + Array(entries.utf8)))
    // The sound image's relation fields and requirements, one a line.
    let relations =
        (Skeleton.status + Skeleton.appMetadata + Skeleton.apkInstalled).split(separator: "\n").compactMap {
            line -> Substring? in
            guard let colon = line.firstIndex(of: ":"),
                ["Depends", "Pre-Depends", "Recommends", "Provides", "Version", "Requires-Dist", "D", "p"]
                    .contains(String(line[..<colon]))
            else { return nil }
            return line[line.index(after: colon)...].drop { $0 == " " }
        }.joined(separator: "\n") + "\ndeb:gcc-12\npypi:Jupyter_Core\napk:so:libc.so\n*-dev,pytest\n"
    seeds.append(("slot-\(Skeleton.relationsSlot)-relations", [UInt8(Skeleton.relationsSlot)] + Array(relations.utf8)))
    for (name, bytes) in seeds {
        guard FileManager.default.createFile(atPath: seedDirectory + "/" + name, contents: Data(bytes)) else {
            fatalError("cannot write \(seedDirectory)/\(name)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackagesInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzPackages(fuzzInput(data, size))
    return 0
}

@main
enum Main {
    static func main() {
        #if FUZZING
            runLibFuzzer(fuzzPackagesInput)
        #else
            let arguments = Array(CommandLine.arguments.dropFirst())
            if arguments.first == "--write-seeds", arguments.count == 2 {
                writeSeeds(to: arguments[1])
                return
            }
            replay(arguments, harness: "FuzzPackages", fuzzPackages)
        #endif
    }
}
