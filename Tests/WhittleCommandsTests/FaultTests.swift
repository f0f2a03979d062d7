import Foundation
import Testing
import WhittleFiles
@testable import WhittleTestSupport

/// Faults whittle must survive without losing anything or leaving anything behind: a full
/// disk, an output directory it cannot write, Ctrl-C and SIGTERM, SIGKILL during a trace, an
/// input cut short while it is read. Each drives the built executable as a user would, with
/// a private TMPDIR so that what it leaves there can be counted.
@Suite("Faults survived, nothing lost", .serialized)
struct FaultTests {
    /// Mounting needs root; locally the tests skip without it, under CI=true they run.
    static let canMount = TestEnvironment.isRoot || TestEnvironment.isCI

    @Test(
        "a full disk: the message names the output and says the disk is full; nothing is left",
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

        // -o - into an empty file on that disk, written in place: emptied again.
        let redirected = try work.start(shell: "exec \"$0\" \"$@\" > '\(output)'", ["slim", input, "-o", "-"])
        redirected.waitUntilExit()
        #expect(redirected.terminationStatus == 1)
        #expect(work.errors(of: redirected).contains("No space left on device"), "\(work.errors(of: redirected))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)).isEmpty)
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    @Test(
        "an output directory that cannot be written is refused before the input is read",
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

    @Test(
        "SIGINT or SIGTERM during slim removes the spool, scratch and staging files and exits 128 + signal",
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

    @Test("SIGINT while -o - is written in place into an empty file on standard output leaves it empty")
    func interruptedWriteToStandardOutput() throws {
        let work = try FaultWork()
        let input = try bigImage(in: work)
        // `start` gives whittle an empty regular file as standard output: written in place.
        let process = try work.start(["slim", input, "-o", "-", "--compression", "gzip"])
        try work.waitFor("the output to be written", process: process) {
            let size = (try? FileManager.default.attributesOfItem(atPath: work.path("stdout"))[.size]) as? Int
            return (size ?? 0) > 4 << 20
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()

        #expect(process.terminationStatus == 128 + SIGINT, "\(work.errors(of: process))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: work.path("stdout"))).isEmpty)
        #expect(try work.leftInTemporaryDirectory().isEmpty)
    }

    /// A shell starts background jobs with SIGINT ignored; whittle must not take it back.
    @Test func ignoredInterruptStaysIgnored() throws {
        let work = try FaultWork()
        let input = try bigImage(in: work)
        let outputs = work.path("out")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
        let output = outputs + "/slim.tar"
        let process = try work.start(
            shell: "trap '' INT; exec \"$0\" \"$@\"",
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

    @Test(
        "SIGKILL during trace leaves no mount on the host; the next run removes its scratch directory",
        .enabled(if: canTrace, "needs root (runs under CI=true)"))
    func killedTrace() throws {
        let work = try FaultWork()
        let image = try busyboxImage().writeArchive(in: work.url)
        let trace = work.path("killed.json")
        let process = try work.start([
            "trace", image, "-o", trace, "--timeout", "60", "--network", "none", "--",
            "/bin/busybox", "sh", "-c", "echo started; exec /bin/busybox sleep 100",
        ])
        try work.waitFor("the traced app to start", process: process) {
            (try? String(contentsOfFile: work.path("killed.log"), encoding: .utf8))?.contains("started") == true
        }
        let stale = try work.leftInTemporaryDirectory()
        #expect(stale.count == 1, "\(stale)")
        // The sandbox's processes live in a mount namespace of their own, holding its mounts.
        let sandbox = descendants(of: process.processIdentifier)
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        let namespaces = Set(
            sandbox.compactMap {
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
        let line =
            "removed 1 temporary directory left by runs that were killed: "
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
        #expect(
            outcome.lines == ["removed 1 temporary directory left by runs that were killed: \(abandoned) (pid 4242)"])
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        for kept in [live, unmarked, otherName, target + "/spool/data", base.path("whittle.Symlnk")] {
            #expect(FileManager.default.fileExists(atPath: kept), "\(kept) was removed")
        }
    }

    @Test(
        "a directory with something mounted under it is named, never entered",
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
        #expect(
            outcome.lines == [
                "left \(stale), a temporary directory of a run that was killed: something is still mounted under it"
            ])
        #expect(FileManager.default.fileExists(atPath: mount.path + "/file"))
    }
}
