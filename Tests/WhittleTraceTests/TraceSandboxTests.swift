import Foundation
import Testing
import WhittleFlatten
import WhittleImage
import WhittleSelect
@testable import WhittleCommands
@testable import WhittleTrace
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
    @testable import WhittleTestSupport
#endif

/// What a slim --trace keeps of the directories an app writes into at run time, decided
/// from the trace alone (no root needed).
@Suite("Trace closure of runtime-written directories")
struct RuntimeDirectoryClosureTests {
    /// nginx's case: it creates /var/lib/nginx/body at start, and /var/run is a symlink
    /// to /run where it writes its pid file.
    private func serverImage() throws -> FlattenedTestImage {
        var layer = TestLayer()
        for directory in ["var", "var/lib", "run", "etc", "etc/app", "usr", "usr/share", "usr/share/doc"] {
            layer.directory(directory)
        }
        layer.directory("var/lib/nginx", mode: 0o700, uid: 33)
        layer.file("var/lib/nginx/leftover.tmp", "from the build\n")
        layer.symlink("var/run", to: "/run")
        layer.file("etc/app/app.conf", "listen 80\n")
        layer.file("usr/share/doc/readme", "docs\n")
        return try FlattenedTestImage(TestImageBuilder(layers: [layer]))
    }

    private func keptPaths(_ image: FlattenedTestImage, traced: [String]) -> Set<String> {
        let keep = TraceKeepSet(traced: traced, tree: image.tree, searchPath: [])
        let selection = Selector(
            policy: SelectionPolicy(
                profiles: [], keep: [], remove: [], protected: [:],
                traceKeep: keep)
        ).select(image.tree)
        var kept = Set<String>()
        image.tree.walk { path, node in
            var parts = path.split(separator: "/").map(String.init)
            var removed = false
            while !parts.isEmpty {
                if let ancestor = image.tree.lookup(parts.joined(separator: "/")), !selection.keeps(ancestor) {
                    removed = true
                }
                parts.removeLast()
            }
            if !removed { kept.insert(path) }
        }
        return kept
    }

    @Test func aPathCreatedAtRunTimeKeepsTheDirectoryItIsCreatedIn() throws {
        let image = try serverImage()
        let kept = keptPaths(image, traced: ["/var/lib/nginx/body", "/etc/app/app.conf", "/var/run/nginx.pid"])
        #expect(kept.contains("var/lib/nginx"), "the directory nginx creates body/ in is gone")
        #expect(image.node("var/lib/nginx")?.attributes.permissions == 0o700)
        #expect(image.node("var/lib/nginx")?.attributes.uid == 33)
        #expect(!kept.contains("var/lib/nginx/leftover.tmp"), "the directory's contents are not needed")
        #expect(kept.contains("var/run") && kept.contains("run"), "the pid file's directory, through its symlink")
        #expect(kept.contains("etc/app/app.conf"))
        #expect(!kept.contains("usr/share/doc"))
    }

    @Test func aProbedMissingFileKeepsItsDirectorySoTheAnswerStaysENOENT() throws {
        let image = try serverImage()
        let kept = keptPaths(image, traced: ["/etc/app/app.conf", "/usr/share/doc/missing/deeper.txt"])
        #expect(kept.contains("usr/share/doc"))
        #expect(!kept.contains("usr/share/doc/readme"))
    }

    /// Recording and keeping resolve through the one resolver: a path recorded through a
    /// symlink names the same file the keep set keeps.
    @Test func recordingAndKeepingAgreeOnSymlinkedPaths() throws {
        let image = try serverImage()
        let recorder = PathRecorder()
        recorder.record("/var/run/../lib/nginx/body", "mkdir")
        let entries = recorder.entries(tree: image.tree)
        #expect(entries.contains { $0.path == "/lib/nginx/body" && !$0.existed }, "\(entries)")
        let resolution = image.tree.resolve("/var/run/../lib/nginx/body")
        #expect(resolution.outcome == .missing)
        #expect(resolution.existingDirectory == "")
        #expect(image.tree.resolve("/var/lib/nginx/body").existingDirectory == "var/lib/nginx")
    }
}

/// The sandbox, the probes and verify, on small busybox images (root; runs under CI=true).
@Suite("Trace sandbox, probes and verify", .serialized, .enabled(if: canTrace, "needs root (runs under CI=true)"))
struct TraceSandboxTests {
    /// Docker's mounts for a container, no more and no less (docs/sandbox.md lists them).
    @Test func theSandboxMountsWhatDockerMounts() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        var options = TraceOptions(
            imagePath: imagePath, command: ["/bin/busybox", "sh", "-c", "cat /proc/self/mountinfo; cat /etc/hostname"],
            timeoutSeconds: 30)
        let output = try CapturedOutput()
        options.stdoutFD = output.fd
        let result = try Tracer(options: options).run()
        #expect(result.stop == .commandExited(code: 0))
        var mounts: [String: String] = [:]
        for line in output.text.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count > 7, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            mounts[fields[4]] = fields[dash + 1] + " " + fields[5]
        }
        // Docker's masked and read-only paths are mounts too, where this kernel has them.
        let confinement = [
            "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
            "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware", "/proc/bus",
            "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
        ]
        .filter { FileManager.default.fileExists(atPath: $0) }
        #expect(
            Set(mounts.keys)
                == Set(
                    ["/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"]
                        + confinement), "\(mounts)")
        #expect(mounts["/proc/sys"]?.contains("ro") == true, "\(mounts["/proc/sys"] ?? "")")
        #expect(mounts["/sys"]?.contains("ro") == true, "\(mounts["/sys"] ?? "")")
        #expect(mounts["/dev/pts"]?.hasPrefix("devpts") == true)
        #expect(mounts["/dev/shm"]?.hasPrefix("tmpfs") == true)
        #expect(mounts["/dev/mqueue"]?.hasPrefix("mqueue") == true)
        if let hostname = try? String(contentsOfFile: "/etc/hostname", encoding: .utf8) {
            #expect(output.text.hasSuffix(hostname))
        }
    }

    /// A database-like server: its port opens after a while, and its own client only works
    /// later still. The probes wait for each in turn, with no shell loop from the user.
    @Test func probesWaitInOrderAndExecIsRetriedUntilItSucceeds() throws {
        let work = try TestDirectory()
        let port = 21_000 + Int(getpid() % 10_000)
        var builder = try busyboxImage()
        var www = TestLayer()
        www.directory("www")
        www.file("www/index.html", "up\n")
        builder.layers.append(www)
        builder.extraConfig["config"] = .object([
            "Entrypoint": .array(
                [
                    "/bin/busybox", "sh", "-c",
                    "sleep 1; busybox httpd -f -p 127.0.0.1:\(port) -h /www & sleep 2; echo ready > /app/ready; wait",
                ]
                .map(JSONValue.string)),
            "Env": .array([.string("PATH=/bin")]),
        ])
        let imagePath = try builder.writeArchive(in: work.url)
        let options = try TraceOptions(
            imagePath: imagePath, tcpProbes: ["127.0.0.1:\(port)"], execProbes: ["/bin/busybox cat /app/ready"],
            timeoutSeconds: 30)
        let result = try Tracer(options: options).run()
        #expect(result.stop == .probesDone, "\(result.warnings)")
        #expect(
            result.document.probes == [
                ProbeRecord(kind: .tcp, target: "127.0.0.1:\(port)", status: 0, digest: nil),
                ProbeRecord(
                    kind: .exec, target: "/bin/busybox cat /app/ready", status: 0,
                    digest: sha256Digest(of: Array("ready\n".utf8))),
            ])
    }

    @Test func aBadTCPTargetIsRefused() {
        #expect(throws: TraceError.invalidTCPTarget("5432")) { try TraceOptions(imagePath: "x", tcpProbes: ["5432"]) }
    }

    /// The batch-job case: the command runs to its end; its exit code and output are the
    /// record, and the app's output goes to the log beside the trace.
    @Test func aCommandThatRunsToItsEndIsRecordedAndLogged() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let trace = work.path("job.json")
        try run(
            try whittleExecutable(),
            [
                "trace", imagePath, "-o", trace, "--timeout", "30", "--network", "none",
                "--", "/bin/sh", "-c", "cat /app/message.txt; echo oops >&2",
            ])
        let document = try TraceDocument.load(path: trace)
        #expect(
            document.commandResult
                == CommandRecord(
                    exitCode: 0, stdoutDigest: sha256Digest(of: Array("hello from the trace test\n".utf8))))
        #expect(document.network == TraceNetwork.none)
        let log = try String(contentsOfFile: work.path("job.log"), encoding: .utf8)
        #expect(log.contains("hello from the trace test") && log.contains("oops"), "\(log)")
    }

    /// slim --verify puts a slimmed image in place only when it answers as the original did;
    /// with a trace that misses a file the app reads, it names that file and writes nothing.
    @Test func verifyCatchesAnIncompleteTraceAndNamesTheMissingPath() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let whittle = try whittleExecutable()
        let trace = work.path("app.json")
        try run(whittle, ["trace", imagePath, "-o", trace, "--timeout", "30"])
        let good = work.path("good.tar")
        try run(whittle, ["slim", imagePath, "-o", good, "--trace", trace, "--verify"])
        #expect(FileManager.default.fileExists(atPath: good))
        try run(whittle, ["verify", good, "--trace", trace])

        var document = try TraceDocument.load(path: trace)
        document.entries.removeAll { $0.path == "/app/message.txt" }
        let incomplete = work.path("incomplete.json")
        try document.save(path: incomplete)
        let bad = work.path("bad.tar")
        do {
            // File-exact: by default the directory the app wrote into (/app) stays whole.
            try run(
                whittle, ["slim", imagePath, "-o", bad, "--trace", incomplete, "--trace-keep", "files", "--verify"])
            Issue.record("slim --verify passed an image that lacks a file the app reads")
        } catch let failure as CommandFailure {
            #expect(failure.status != 0)
            #expect(failure.output.contains("printed something else"), "\(failure.output)")
            #expect(failure.output.contains("/app/message.txt"), "\(failure.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: bad), "a failed verify left its output")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: work.url.path).filter {
            $0.contains("verifying")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}

@Suite("Verify's comparison")
struct VerifyComparisonTests {
    private func trace(probes: [ProbeRecord]?, command: CommandRecord?) -> TraceDocument {
        var document = TraceDocument(image: "x.tar", command: ["/app"], entries: [])
        document.probes = probes
        document.commandResult = command
        return document
    }

    private func result(_ document: TraceDocument, stop: TraceStop) -> TraceResult {
        TraceResult(document: document, stop: stop, notifications: 0, seconds: 0, rootMode: "overlay", warnings: [])
    }

    @Test func statusesAlwaysAndBodiesWhenTheOriginalWasStable() {
        let original = trace(
            probes: [
                ProbeRecord(kind: .http, target: "http://h/a", status: 200, digest: "sha256:aa"),
                ProbeRecord(kind: .http, target: "http://h/b", status: 200, digest: nil),
            ], command: nil)
        let same = trace(
            probes: [
                ProbeRecord(kind: .http, target: "http://h/a", status: 200, digest: "sha256:aa"),
                ProbeRecord(kind: .http, target: "http://h/b", status: 200, digest: "sha256:other"),
            ], command: nil)
        #expect(Verifier.compare(original: original, slimmed: result(same, stop: .probesDone)).isEmpty)
        let broken = trace(
            probes: [
                ProbeRecord(kind: .http, target: "http://h/a", status: 200, digest: "sha256:bb"),
                ProbeRecord(kind: .http, target: "http://h/b", status: 404, digest: nil),
            ], command: nil)
        let differences = Verifier.compare(original: original, slimmed: result(broken, stop: .probesDone))
        #expect(differences.count == 2, "\(differences)")
        #expect(differences[0].contains("body differs") && differences[1].contains("HTTP 404"))
    }

    @Test func aServerThatExitsFailsAndACommandIsComparedByCodeAndOutput() {
        let server = trace(probes: nil, command: nil)
        #expect(
            !Verifier.compare(
                original: server,
                slimmed: result(
                    trace(probes: nil, command: nil),
                    stop: .commandExited(code: 1))
            ).isEmpty)
        let job = trace(probes: nil, command: CommandRecord(exitCode: 0, stdoutDigest: "sha256:aa"))
        let other = trace(probes: nil, command: CommandRecord(exitCode: 0, stdoutDigest: "sha256:bb"))
        #expect(Verifier.compare(original: job, slimmed: result(job, stop: .commandExited(code: 0))).isEmpty)
        #expect(
            Verifier.compare(original: job, slimmed: result(other, stop: .commandExited(code: 0)))
                == ["the command printed something else than the original did"])
    }

    @Test func aTraceWhoseProbeNeverAnsweredCannotVerify() {
        let original = trace(
            probes: [ProbeRecord(kind: .tcp, target: "127.0.0.1:1", status: nil, digest: nil)],
            command: nil)
        #expect(throws: TraceError.unansweredProbe(kind: "tcp", target: "127.0.0.1:1")) {
            try Verifier(imagePath: "/nonexistent.tar", trace: original).run()
        }
    }
}

@Suite("The supervisor's life cycle")
struct SupervisorLifeCycleTests {
    /// Stopping twice (the run's end, then the sandbox's clean-up on the way out) returns
    /// both times instead of waiting forever for a loop that already ended.
    @Test(.timeLimit(.minutes(1))) func stoppingTwiceReturns() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[1]) }
        let supervisor = try Supervisor(listener: fds[0], recorder: PathRecorder())
        supervisor.start()
        supervisor.stop()
        supervisor.stop()
        #expect(supervisor.failure == nil)
    }
}
