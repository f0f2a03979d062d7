import Foundation
import Testing
import WhittleFiles

/// Faults whittle must survive without losing anything or leaving anything behind: a full
/// disk, an output directory it cannot write, Ctrl-C and SIGTERM, SIGKILL during a trace, an
/// input cut short while it is read. Each drives the built executable as a user would, with
/// a private TMPDIR so that what it leaves there can be counted.
@Suite("Faults survived, nothing lost", .serialized)
struct FaultTests {
    /// Mounting needs root; locally the tests skip without it, under CI=true they run.
    static let canMount = TestEnvironment.isRoot || TestEnvironment.isCI

    @Test("a full disk: the message names the output and says the disk is full; nothing is left",
          .enabled(if: canMount, "mounts a tmpfs: needs root (runs under CI=true)"))
    func fullDisk() throws {
        let work = try FaultWork()
        let disk = try Mount(tmpfsAt: work.path("small"), options: "size=8m")
        defer { disk.unmount() }
        // 12 MiB of content that does not compress: it cannot fit on 8 MiB.
        var layer = TestLayer()
        layer.directory("data")
        layer.file("data/noise", bytes: randomBytes(12 << 20))
        let input = try TestImageBuilder(layers: [layer]).writeArchive(in: work.url)
        let output = disk.path + "/out.tar"

        let result = try work.whittle(["slim", input, "-o", output])
        #expect(result.status == 1, "\(result.errors)")
        #expect(result.errors.contains(output), "\(result.errors)")
        #expect(result.errors.contains("No space left on device") && result.errors.contains("disk"), "\(result.errors)")
        #expect(try work.leftIn(disk.path).isEmpty, "left on the full disk")
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    @Test("an output directory that cannot be written is refused before the input is read",
          .enabled(if: canMount, "mounts a read-only tmpfs: needs root (runs under CI=true)"))
    func unwritableOutput() throws {
        let work = try FaultWork()
        let readOnly = try Mount(tmpfsAt: work.path("ro"), options: "ro,size=1m")
        defer { readOnly.unmount() }
        // Not an image at all: had whittle read it first, it would complain about it.
        let input = work.path("not-an-image.tar")
        try Data("this is not a tar".utf8).write(to: URL(fileURLWithPath: input))
        let cases = [
            (readOnly.path + "/out.tar", "Read-only file system"),
            (work.path("missing/out.tar"), "No such file or directory"),
            ("/proc/out.tar", "cannot create the output"),
            (work.path("ro"), "is a directory"),
        ]
        for (output, reason) in cases {
            let result = try work.whittle(["slim", input, "-o", output])
            #expect(result.status == 1, "\(output): \(result.errors)")
            #expect(result.errors.contains("cannot create the output \(output)"), "\(result.errors)")
            #expect(result.errors.contains(reason), "\(output): \(result.errors)")
            #expect(!result.errors.contains("not-an-image"), "the input was read first: \(result.errors)")
        }
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    @Test("SIGINT or SIGTERM during slim removes the spool, scratch and staging files and exits 128 + signal",
          arguments: [SIGINT, SIGTERM])
    func interruptedSlim(signal: Int32) throws {
        let work = try FaultWork()
        let input = try bigImage(in: work)
        let outputs = work.path("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let output = outputs + "/slim.tar"
        let process = try work.start(["slim", input, "-o", output, "--compression", "gzip"])
        try work.waitForStagingFile(in: outputs, of: process)
        #expect(!(try work.leftInTemporaryDirectory().isEmpty), "the scratch directory should exist mid-run")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()

        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 128 + signal, "\(work.errors(of: process))")
        #expect(work.errors(of: process).contains("interrupted by"), "\(work.errors(of: process))")
        #expect(try work.leftIn(outputs).isEmpty)
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    /// A shell starts background jobs with SIGINT ignored; whittle must not take it back.
    @Test func ignoredInterruptStaysIgnored() throws {
        let work = try FaultWork()
        let input = try bigImage(in: work)
        let outputs = work.path("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let output = outputs + "/slim.tar"
        let process = try work.start(shell: "trap '' INT; exec \"$0\" \"$@\"",
                                     ["slim", input, "-o", output])
        try work.waitForStagingFile(in: outputs, of: process)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()

        #expect(process.terminationStatus == 0, "\(work.errors(of: process))")
        #expect(try work.leftIn(outputs) == ["slim.tar"])
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    @Test("SIGKILL during slim leaves no file beside the output: it has no name until it is complete")
    func killedSlim() throws {
        let work = try FaultWork()
        let input = try bigImage(in: work)
        let outputs = work.path("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let process = try work.start(["slim", input, "-o", outputs + "/slim.tar", "--compression", "gzip"])
        try work.waitForStagingFile(in: outputs, of: process)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try work.leftIn(outputs).isEmpty)
        // Its scratch directory stays until the next run, which removes it.
        #expect(try work.leftInTemporaryDirectory().count == 1)
        let next = try work.whittle(["inspect", input])
        #expect(next.errors.contains("removed 1 temporary directory left by runs that were killed"), "\(next.errors)")
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    @Test("an input cut short while slim reads it: a clear error naming it, no crash, nothing left")
    func inputShrinksWhileRead() throws {
        let work = try FaultWork()
        let input = try bigImage(in: work)
        let outputs = work.path("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let process = try work.start(["slim", input, "-o", outputs + "/slim.tar", "--compression", "gzip"])
        // The layer's files are being copied out of the input now: cut it to 1 MiB.
        try work.waitForStagingFile(in: outputs, of: process)
        #expect(truncate(input, 1 << 20) == 0)
        process.waitUntilExit()

        let errors = work.errors(of: process)
        #expect(process.terminationReason == .exit, "died of a signal: \(errors)")
        #expect(process.terminationStatus == 1, "\(errors)")
        #expect(errors.contains("\(input) changed while whittle was reading it (it was cut from"), "\(errors)")
        #expect(try work.leftIn(outputs).isEmpty)
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    @Test("SIGKILL during trace leaves no mount on the host; the next run removes its scratch directory",
          .enabled(if: canTrace, "needs root (runs under CI=true)"))
    func killedTrace() throws {
        let work = try FaultWork()
        let image = try busyboxImage().writeArchive(in: work.url)
        let trace = work.path("killed.json")
        let process = try work.start(["trace", image, "-o", trace, "--timeout", "60", "--network", "none", "--",
                                      "/bin/busybox", "sh", "-c", "echo started; exec /bin/busybox sleep 100"])
        try work.waitFor("the traced app to start", process: process) {
            (try? String(contentsOfFile: work.path("killed.log"), encoding: .utf8))?.contains("started") == true
        }
        let stale = try work.leftInTemporaryDirectory()
        #expect(stale.count == 1, "\(stale)")
        // The sandbox's processes live in a mount namespace of their own, holding its mounts.
        let sandbox = descendants(of: process.processIdentifier)
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        let namespaces = Set(sandbox.compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/mnt")
        })
        #expect(!namespaces.isEmpty && !namespaces.contains(hostNamespace), "\(namespaces) vs \(hostNamespace)")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        // Its processes die with whittle (PR_SET_PDEATHSIG), and the namespace with them:
        // no mount was ever on the host, and none is now.
        for _ in 0..<1000 where sandbox.contains(where: isAlive) { usleep(10_000) }
        #expect(!sandbox.contains(where: isAlive), "sandbox processes outlived whittle")
        let mounts = StaleScratch.mountPoints().filter { $0.hasPrefix(work.temporaryDirectory) }
        #expect(mounts.isEmpty, "mounts left on the host: \(mounts)")
        #expect(!FileManager.default.fileExists(atPath: trace))
        #expect(try work.leftInTemporaryDirectory() == stale, "the killed run cannot clean up after itself")

        // The next run (any command that reads an image) finds it abandoned and removes it.
        let next = try work.whittle(["inspect", image])
        #expect(next.status == 0, "\(next.errors)")
        let line = "removed 1 temporary directory left by runs that were killed: "
            + "\(work.temporaryDirectory)/\(stale[0]) (pid \(process.processIdentifier))"
        #expect(next.errors.contains(line), "\(next.errors)")
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }
}

@Suite("Abandoned scratch directories")
struct StaleScratchTests {
    /// Only whittle's marked, unlocked directories of this user go; a live run's stays.
    @Test func onlyAbandonedMarkedDirectoriesAreRemoved() throws {
        let base = try TestDirectory()
        func make(_ name: String, owner: Bool = true) throws -> String {
            let path = base.path(name)
            try FileManager.default.createDirectory(atPath: path + "/spool", withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: path + "/spool/data"))
            if owner { try Data("4242\n".utf8).write(to: URL(fileURLWithPath: path + "/owner")) }
            return path
        }
        let abandoned = try make("whittle.AbC123")
        let live = try make("whittle.LiVe00")
        let unmarked = try make("whittle.NoOwnr", owner: false)
        let otherName = try make("whittle-test-dir")
        let target = try make("elsewhere")
        try FileManager.default.createSymbolicLink(atPath: base.path("whittle.Symlnk"), withDestinationPath: target)
        // A live run holds its directory's lock.
        let lock = open(live, O_RDONLY | O_DIRECTORY)
        defer { close(lock) }
        #expect(flock(lock, LOCK_EX | LOCK_NB) == 0)

        let outcome = StaleScratch.sweep(in: base.url.path)
        #expect(outcome.removed.map(\.path) == [abandoned])
        #expect(outcome.removed.map(\.pid) == ["4242"])
        #expect(outcome.lines == ["removed 1 temporary directory left by runs that were killed: \(abandoned) (pid 4242)"])
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        for kept in [live, unmarked, otherName, target + "/spool/data", base.path("whittle.Symlnk")] {
            #expect(FileManager.default.fileExists(atPath: kept), "\(kept) was removed")
        }
    }

    @Test("a directory with something mounted under it is named, never entered",
          .enabled(if: FaultTests.canMount, "mounts a tmpfs: needs root (runs under CI=true)"))
    func mountedDirectoryIsOnlyNamed() throws {
        let base = try TestDirectory()
        let stale = base.path("whittle.Mount1")
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: false)
        try Data("4242\n".utf8).write(to: URL(fileURLWithPath: stale + "/owner"))
        let mount = try Mount(tmpfsAt: stale + "/root", options: "size=1m")
        defer { mount.unmount() }
        try Data("inside".utf8).write(to: URL(fileURLWithPath: mount.path + "/file"))

        let outcome = StaleScratch.sweep(in: base.url.path)
        #expect(outcome.removed.isEmpty)
        #expect(outcome.lines == ["left \(stale), a temporary directory of a run that was killed: something is still mounted under it"])
        #expect(FileManager.default.fileExists(atPath: mount.path + "/file"))
    }
}

/// A test's directory, with a private TMPDIR for the runs it starts.
struct FaultWork {
    let directory: TestDirectory
    let temporaryDirectory: String
    var url: URL { directory.url }

    init() throws {
        directory = try TestDirectory()
        temporaryDirectory = directory.path("tmp")
        try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: false)
    }

    func path(_ name: String) -> String { directory.path(name) }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temporaryDirectory
        return environment
    }

    /// Runs whittle to its end.
    func whittle(_ arguments: [String]) throws -> (status: Int32, errors: String) {
        let process = try start(arguments)
        process.waitUntilExit()
        return (process.terminationStatus, errors(of: process))
    }

    /// Starts whittle with its standard output and error in files (a pipe nobody reads
    /// could stall it); with `shell`, through `sh -c shell whittle arguments…`, which execs it.
    func start(shell: String? = nil, _ arguments: [String]) throws -> Process {
        let process = Process()
        let whittle = try whittleExecutable()
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shell, whittle] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: whittle)
            process.arguments = arguments
        }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: path("stdout"), contents: nil)
        _ = FileManager.default.createFile(atPath: path("stderr"), contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: path("stdout")))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: path("stderr")))
        try process.run()
        return process
    }

    func errors(of process: Process) -> String {
        (try? String(contentsOfFile: path("stderr"), encoding: .utf8)) ?? ""
    }

    func leftIn(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    func leftInTemporaryDirectory() throws -> [String] {
        try leftIn(temporaryDirectory)
    }

    /// Waits until the process holds a file open in `directory` (named or not yet named)
    /// with more than 4 MiB in it: the layer is being written.
    func waitForStagingFile(in directory: String, of process: Process) throws {
        let descriptors = "/proc/\(process.processIdentifier)/fd"
        try waitFor("the output to be written", process: process) {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? []
            return fds.contains { fd in
                let link = descriptors + "/" + fd
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link),
                      target.hasPrefix(directory + "/") else { return false }
                var info = stat()
                return stat(link, &info) == 0 && info.st_size > 4 << 20
            }
        }
    }

    /// Polls `condition` while the process runs; fails if it ends first or a minute passes.
    func waitFor(_ what: String, process: Process, _ condition: () throws -> Bool) throws {
        for _ in 0..<6000 {
            if try condition() { return }
            guard process.isRunning else {
                throw CommandFailure(command: "whittle, waiting for \(what)", status: process.terminationStatus,
                                     output: errors(of: process))
            }
            usleep(10_000)
        }
        process.terminate()
        throw CommandFailure(command: "whittle, waiting for \(what)", status: -1, output: errors(of: process))
    }
}

/// A tmpfs mounted for one test.
struct Mount {
    let path: String

    init(tmpfsAt path: String, options: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try run("/bin/mount", ["-t", "tmpfs", "-o", options, "whittle-fault-test", path])
        self.path = path
    }

    func unmount() {
        _ = try? run("/bin/umount", [path])
    }
}

/// Every process below `pid`, from each process's parent in /proc/PID/stat.
func descendants(of pid: Int32) -> [Int32] {
    var parents: [Int32: Int32] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let child = Int32(name),
              let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // After the command name: state, then the parent's pid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { parents[child] = parent }
    }
    var found: [Int32] = []
    var frontier = [pid]
    while let next = frontier.popLast() {
        let children = parents.filter { $0.value == next }.map(\.key)
        found += children
        frontier += children
    }
    return found
}

/// Running, or at least not a zombie waiting to be reaped.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        for index in stride(from: 0, to: count - 7, by: 8) {
            buffer.storeBytes(of: generator.next(), toByteOffset: index, as: UInt64.self)
        }
    }
    return bytes
}

/// An OCI archive big enough that slimming it with gzip takes seconds: a small gzip layer
/// (so a spool file exists in the scratch directory) and 160 MiB of random files, made with
/// the system's tar and gzip rather than in memory.
func bigImage(in work: FaultWork) throws -> String {
    let root = work.path("big")
    let blobs = root + "/blobs/sha256"
    try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
    let small = work.path("small-root")
    let large = work.path("large-root")
    try FileManager.default.createDirectory(atPath: small + "/etc", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: large + "/data", withIntermediateDirectories: true)
    try Data("root:x:0:0:root:/root:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: small + "/etc/passwd"))
    try Data(randomBytes(1 << 20)).write(to: URL(fileURLWithPath: small + "/etc/blob"))
    for part in 0..<4 {
        try run("/bin/sh", ["-c", "head -c 40M /dev/urandom > '\(large)/data/part-\(part)'"])
    }
    let tarFlags = "--owner=0 --group=0 --numeric-owner --mtime=@1000 --sort=name"
    try run("/bin/sh", ["-c", "tar \(tarFlags) -C '\(small)' -c etc | gzip -n -1 > '\(root)/small'"])
    try run("/bin/sh", ["-c", "tar \(tarFlags) -C '\(large)' -cf '\(root)/large' data"])
    try FileManager.default.removeItem(atPath: large)
    func store(_ file: String) throws -> (digest: String, size: Int) {
        let hex = String(try run("/usr/bin/sha256sum", [file]).prefix(64))
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0
        try FileManager.default.moveItem(atPath: file, toPath: blobs + "/" + hex)
        return ("sha256:" + hex, size)
    }
    let smallDiffID = "sha256:" + String(try run("/bin/sh", ["-c", "gzip -dc '\(root)/small' | sha256sum"]).prefix(64))
    let smallBlob = try store(root + "/small")
    let largeBlob = try store(root + "/large")
    func write(_ text: String, to name: String) throws -> (digest: String, size: Int) {
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + name))
        return try store(root + "/" + name)
    }
    let config = try write("""
        {"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},\
        "rootfs":{"type":"layers","diff_ids":["\(smallDiffID)","\(largeBlob.digest)"]}}
        """, to: "config")
    let manifest = try write("""
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(config.digest)","size":\(config.size)},\
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(smallBlob.digest)","size":\(smallBlob.size)},\
        {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(largeBlob.digest)","size":\(largeBlob.size)}]}
        """, to: "manifest")
    try Data("""
        {"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "digest":"\(manifest.digest)","size":\(manifest.size),\
        "annotations":{"io.containerd.image.name":"docker.io/test/big:1"}}]}
        """.utf8).write(to: URL(fileURLWithPath: root + "/index.json"))
    try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: root + "/oci-layout"))
    let archive = work.path("big.tar")
    try run("/bin/tar", ["-C", root, "-cf", archive, "."])
    try FileManager.default.removeItem(atPath: root)
    try FileManager.default.removeItem(atPath: small)
    return archive
}
