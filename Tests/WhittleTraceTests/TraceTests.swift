import Crypto
import Foundation
import Testing
import WhittleFlatten
import WhittleImage
@testable import WhittleCommands
@testable import WhittleTrace
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
    import WhittleFiles
    @testable import WhittleTestSupport
#endif

/// Hashes of everything below a directory: type, mode, owner, size, mtime and content.
private func snapshot(_ root: String) throws -> [String: String] {
    var result: [String: String] = [:]
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return result }
    while let relative = enumerator.nextObject() as? String {
        let path = root + "/" + relative
        var info = stat()
        guard lstat(path, &info) == 0 else { continue }
        var line = "\(info.st_mode) \(info.st_uid):\(info.st_gid) \(info.st_size) \(info.st_mtim.tv_sec)"
        if (info.st_mode & S_IFMT) == S_IFREG {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            line += " " + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        } else if (info.st_mode & S_IFMT) == S_IFLNK {
            line += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
        }
        result[relative] = line
    }
    return result
}

@Suite("Trace documents")
struct TraceDocumentTests {
    @Test func mergeUnitesOperationsAndKeepsSortedOrder() throws {
        var first = TraceDocument(
            image: "a.tar", command: ["/a"],
            entries: [
                .init(path: "/b", operations: ["openat"], existed: true),
                .init(path: "/a", operations: ["stat", "execve"], existed: true),
            ])
        let second = TraceDocument(
            image: "a.tar", command: ["/a", "--other"],
            entries: [
                .init(path: "/b", operations: ["access"], existed: false),
                .init(path: "/c", operations: ["openat"], existed: false),
            ])
        first.merge(second)
        #expect(first.entries.map(\.path) == ["/a", "/b", "/c"])
        #expect(first.entries[0].operations == ["execve", "stat"])
        #expect(first.entries[1].operations == ["access", "openat"])
        #expect(first.entries[1].existed)
        #expect(first.runs?.count == 2)
    }

    @Test func saveAndLoadRoundTrip() throws {
        let directory = try TestDirectory()
        let document = TraceDocument(
            image: "x.tar", command: ["/bin/x"],
            entries: [
                .init(path: "/etc/passwd", operations: ["openat"], existed: true)
            ])
        let path = directory.path("t.json")
        try document.save(path: path)
        #expect(try TraceDocument.load(path: path) == document)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"version\" : 1"))
        try Data("{\"version\":2,\"entries\":[]}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TraceFileError.unsupportedVersion(path: path, version: 2)) {
            try TraceDocument.load(path: path)
        }
    }

    @Test(arguments: [
        ("wget -q -O- http://127.0.0.1/", ["wget", "-q", "-O-", "http://127.0.0.1/"]),
        ("  sh   -c 'echo a  b; ls'  ", ["sh", "-c", "echo a  b; ls"]),
        (#"python3 -c "print(\"x y\")" ''"#, ["python3", "-c", #"print("x y")"#, ""]),
        (#"a\ b c"#, ["a b", "c"]),
    ])
    func probeCommandsSplitLikeAShell(command: String, words: [String]) {
        #expect(ProbeCommand.words(command) == words)
    }

    @Test func probeCommandWithAnOpenQuoteIsRefused() throws {
        #expect(ProbeCommand.words("sh -c 'echo") == nil)
        #expect(throws: TraceError.invalidProbeCommand("sh -c \"echo")) {
            try TraceOptions(imagePath: "/nonexistent.tar", execProbes: ["sh -c \"echo"])
        }
    }

    @Test func envOptionOverridesAddsAndUnsetsLikeDockerRun() throws {
        let image = try FlattenedTestImage(busyboxImage())
        var document = image.image.rawConfig
        document["config"] = .object([
            "Cmd": .array([.string("/bin/sh")]),
            "Env": .array([.string("PATH=/bin"), .string("PORT=8080"), .string("DEBUG=1")]),
        ])
        let config = ImageConfig(document)
        let run = try RunConfiguration(
            config: config, tree: image.tree, override: [],
            environment: ["PORT=9090", "EXTRA=a=b", "DEBUG"])
        #expect(
            run.environment.filter { !$0.hasPrefix("HOSTNAME=") && !$0.hasPrefix("HOME=") }
                == ["PATH=/bin", "PORT=9090", "EXTRA=a=b"])
        #expect(throws: TraceError.invalidEnvironment("=x")) {
            try RunConfiguration(config: config, tree: image.tree, override: [], environment: ["=x"])
        }
    }

    @Test(arguments: [
        ("/a/./b//c/../d", "/a/b/d"), ("/../x", "/x"), ("/", "/"), ("/a/b/", "/a/b"),
    ])
    func lexicalFolding(input: String, expected: String) {
        #expect("/" + foldLexically("", [input]) == expected)
    }
}

@Suite("Runtime trace", .serialized, .enabled(if: canTrace, "needs root (runs under CI=true)"))
struct TraceTests {
    @Test func busyboxFixtureRunsAsDockerWould() throws {
        let output = try CapturedOutput()
        var options = TraceOptions(imagePath: fixture("busybox-app.docker.tar"), timeoutSeconds: 60)
        options.stdoutFD = output.fd
        let result = try Tracer(options: options).run()
        let expected = try String(contentsOfFile: fixture("busybox-app.expected-output.txt"), encoding: .utf8)
        #expect(result.stop == .commandExited(code: 0))
        #expect(output.text == expected)
        let paths = Set(result.document.entries.filter(\.existed).map(\.path))
        for path in ["/bin/sh", "/app/run.sh", "/app/msg.txt", "/etc/passwd", "/app/dated.txt"] {
            #expect(paths.contains(path), "\(path) missing from the trace")
        }
        #expect(result.notifications > 0)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        #expect(
            result.document.chainID
                == (try SavedImage(path: fixture("busybox-app.docker.tar"), scratch: scratch)).chainID)
    }

    /// What strace records for the same command in the same root (a copy of it, run with
    /// chroot) must all be in the trace; the extracted image must not change; nothing of the
    /// trace may stay on the host (mounts, temporary files).
    @Test func recordsEverythingStraceSeesAndTouchesNothing() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let command = ["/bin/sh", "-c", "cd /app && exec /bin/sh /app/run.sh"]
        let mountsBefore = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let temporary = FileManager.default.temporaryDirectory.path
        let temporaryBefore = Set(try FileManager.default.contentsOfDirectory(atPath: temporary))

        final class Observations: @unchecked Sendable {
            var before: [String: String] = [:]
            var after: [String: String] = [:]
            var stracePaths: [String] = []
            var straceOutput = ""
            var error: String?
        }
        let seen = Observations()
        let straceLog = work.path("strace.log")
        let copy = work.path("copy")
        var options = TraceOptions(imagePath: imagePath, command: command, timeoutSeconds: 60)
        let output = try CapturedOutput()
        options.stdoutFD = output.fd
        options.inspectRoot = { directory, afterRun in
            do {
                if afterRun {
                    seen.after = try snapshot(directory)
                    return
                }
                seen.before = try snapshot(directory)
                try run("/bin/cp", ["-a", directory, copy])
                // The same root as the trace sees: /proc, /dev and /tmp mounted, in a
                // private mount namespace so nothing stays behind.
                let quoted = command.map { "'" + $0 + "'" }.joined(separator: " ")
                seen.straceOutput = try run(
                    "/usr/bin/unshare",
                    [
                        "--mount", "--propagation", "private", "/bin/sh", "-c",
                        """
                        mkdir -p \(copy)/proc \(copy)/dev && mount -t proc proc \(copy)/proc \
                        && mount --rbind /dev \(copy)/dev && mount -t tmpfs tmpfs \(copy)/tmp \
                        && exec /usr/bin/strace -f -qq -e trace=%file -o \(straceLog) \
                        /usr/bin/env -i PATH=/bin /usr/sbin/chroot \(copy) \(quoted)
                        """,
                    ])
            } catch {
                seen.error = "\(error)"
            }
        }
        let result = try Tracer(options: options).run()
        if let debug = TestEnvironment.traceDebugDirectory {
            try result.document.save(path: debug + "/trace.json")
            try? FileManager.default.copyItem(atPath: straceLog, toPath: debug + "/strace.log")
        }
        #expect(seen.error == nil)
        #expect(result.stop == .commandExited(code: 0))
        #expect(output.text == seen.straceOutput, "the traced run printed something else than the chroot run")
        #expect(output.text.contains("hello from the trace test"))

        // The extracted image is unchanged, and the host keeps no mount and no temp files.
        #expect(!seen.before.isEmpty)
        #expect(seen.before == seen.after)
        let mountsAfter = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let added = whittleMounts(mountsAfter).subtracting(whittleMounts(mountsBefore))
        #expect(added.isEmpty, "mounts left: \(added)")
        let temporaryAfter = Set(try FileManager.default.contentsOfDirectory(atPath: temporary))
        #expect(temporaryAfter.subtracting(temporaryBefore).filter { $0.hasPrefix("whittle.") }.isEmpty)

        // strace's paths that exist in the image are all in the trace.
        let scratch = try ScratchDirectory()
        let image = try SavedImage(path: imagePath, scratch: scratch)
        let flattener = Flattener(scratch: scratch)
        try flattener.apply(image)
        let straced = Self.straceFilePaths(try String(contentsOfFile: straceLog, encoding: .utf8))
        let existing = Set(straced.filter { flattener.tree.resolve($0, followFinal: false).node != nil })
        let traced = Set(result.document.entries.map(\.path))
        #expect(existing.count >= 8, "strace saw too little: \(existing.sorted())")
        #expect(existing.subtracting(traced).isEmpty, "missed: \(existing.subtracting(traced).sorted())")
        for path in [
            "/app/message.txt", "/app/current", "/app/data/numbers.txt", "/usr/lib/libfake.so.1", "/bin/busybox",
        ] {
            #expect(traced.contains(path), "\(path) missing")
        }
        #expect(!traced.contains("/app/unused.txt"))
        // Created by the run, so recorded as not in the image.
        #expect(result.document.entries.first { $0.path == "/app/newdir/file" }?.existed == false)
    }

    /// Absolute paths named in `strace -f -e trace=%file` output after the chroot, with
    /// relative ones made absolute against the last successful chdir.
    static func straceFilePaths(_ log: String) -> [String] {
        var paths: [String] = []
        var inRoot = false
        var cwd = "/"
        for line in log.split(separator: "\n") {
            if line.contains("chroot(") { inRoot = true; continue }
            guard inRoot else { continue }
            let pieces = line.split(separator: "\"", omittingEmptySubsequences: false)
            guard pieces.count >= 3 else { continue }
            let isTwoPath = ["rename", "link(", "linkat", "symlink"].contains { line.contains($0) }
            var names = [String(pieces[1])]
            if isTwoPath, pieces.count >= 5 { names.append(String(pieces[3])) }
            for name in names where !name.isEmpty {
                let absolute = name.hasPrefix("/") ? name : (cwd == "/" ? "/" : cwd + "/") + name
                paths.append("/" + foldLexically("", [absolute]))
            }
            if line.contains(" chdir(") || line.hasPrefix("chdir("), line.hasSuffix("= 0"), let first = names.first {
                cwd = "/" + foldLexically(first.hasPrefix("/") ? "" : cwd, [first])
            }
        }
        return paths
    }

    /// A server traced with an HTTP probe and an exec probe: the run stops once both are
    /// done, the pages served and the probe's files are in the trace.
    @Test func probesEndAServerRun() throws {
        let work = try TestDirectory()
        var builder = try busyboxImage()
        var web = TestLayer()
        web.directory("www")
        web.file("www/index.html", "<h1>traced</h1>\n")
        web.file("www/health", "ok\n")
        web.file("app/probe.txt", "read by the exec probe\n")
        builder.layers.append(web)
        let port = 20_000 + Int(getpid() % 10_000)
        builder.extraConfig["config"] = .object([
            "Entrypoint": .array(
                ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", "/www"].map(JSONValue.string)),
            "Env": .array([.string("PATH=/bin")]),
        ])
        let imagePath = try builder.writeArchive(in: work.url)
        var options = try TraceOptions(
            imagePath: imagePath,
            httpProbes: ["http://127.0.0.1:\(port)/health", "http://127.0.0.1:\(port)/index.html"],
            execProbes: ["/bin/busybox cat /app/probe.txt"], timeoutSeconds: 30)
        let output = try CapturedOutput()
        options.stdoutFD = output.fd
        let started = Date()
        let result = try Tracer(options: options).run()
        #expect(result.stop == .probesDone)
        #expect(Date().timeIntervalSince(started) < 15)
        // Each answer is recorded with a digest of what came back, for `verify`.
        #expect(
            result.document.probes == [
                ProbeRecord(
                    kind: .http, target: "http://127.0.0.1:\(port)/health", status: 200,
                    digest: sha256Digest(of: Array("ok\n".utf8))),
                ProbeRecord(
                    kind: .http, target: "http://127.0.0.1:\(port)/index.html", status: 200,
                    digest: sha256Digest(of: Array("<h1>traced</h1>\n".utf8))),
                ProbeRecord(
                    kind: .exec, target: "/bin/busybox cat /app/probe.txt", status: 0,
                    digest: sha256Digest(of: Array("read by the exec probe\n".utf8))),
            ], "\(result.probeResults)")
        let paths = Set(result.document.entries.filter(\.existed).map(\.path))
        for path in ["/www/index.html", "/www/health", "/app/probe.txt", "/bin/busybox"] {
            #expect(paths.contains(path), "\(path) missing")
        }
        // The server is gone: nothing answers any more.
        #expect(try HTTPProbe(url: "http://127.0.0.1:\(port)/health").request(timeoutSeconds: 1) == nil)
    }

    @Test func timeoutStopsALongRun() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let options = TraceOptions(
            imagePath: imagePath, command: ["/bin/busybox", "sh", "-c", "cat /app/message.txt; sleep 100"],
            timeoutSeconds: 1)
        let started = Date()
        let result = try Tracer(options: options).run()
        #expect(result.stop == .timeout)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.document.entries.filter(\.existed).map(\.path).contains("/app/message.txt"))
    }

    /// As Docker does, the app sees the host's resolv.conf and hosts (copies in the
    /// throwaway root), and the timeout of a run without probes is called out.
    @Test func hostNameFilesAreCopiedInAndTheTimeoutIsNamed() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let output = try CapturedOutput()
        var options = TraceOptions(
            imagePath: imagePath,
            command: ["/bin/busybox", "sh", "-c", "cat /etc/hosts; echo changed > /etc/hosts; sleep 100"],
            timeoutSeconds: 2)
        options.stdoutFD = output.fd
        let hostBefore = try String(contentsOfFile: "/etc/hosts", encoding: .utf8)
        let result = try Tracer(options: options).run()
        #expect(output.text == hostBefore)
        #expect(
            try String(contentsOfFile: "/etc/hosts", encoding: .utf8) == hostBefore, "the host's /etc/hosts changed")
        #expect(result.stop == .timeout)
        #expect(result.warnings.contains { $0.contains("still running at the 2 s timeout") }, "\(result.warnings)")
        #expect(result.document.entries.contains { $0.path == "/etc/hosts" && !$0.existed })
    }

    @Test func missingCommandSaysSo() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let options = TraceOptions(imagePath: imagePath, command: ["/no/such/program"], timeoutSeconds: 10)
        #expect(throws: TraceError.commandNotFound(command: ["/no/such/program"], reason: "No such file or directory"))
        {
            try Tracer(options: options).run()
        }
    }

    @Test func privateCopyWorksToo() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        var options = TraceOptions(imagePath: imagePath, command: ["/bin/sh", "/app/run.sh"], timeoutSeconds: 30)
        options.forceCopy = true
        let output = try CapturedOutput()
        options.stdoutFD = output.fd
        let result = try Tracer(options: options).run()
        #expect(result.rootMode == "copy")
        #expect(result.stop == .commandExited(code: 0))
        #expect(output.text.hasPrefix("hello from the trace test"))
    }

    /// Symlinks that point at the host, used as parents by later entries and as mount
    /// points, stay inside the root: nothing lands in the host directory they name.
    @Test func hostileSymlinksStayInside() throws {
        let work = try TestDirectory()
        // A host directory the image's symlinks aim at.
        let host = URL(fileURLWithPath: "/var/tmp/whittle-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: host) }
        try Data("host file\n".utf8).write(to: host.appendingPathComponent("keep.txt"))
        let hostBefore = try snapshot(host.path)
        var builder = try busyboxImage()
        var evil = TestLayer()
        // The image has a directory at the host path too: a layer may write through a link
        // only to what the image holds (Docker refuses the rest, and so does whittle).
        let components = host.path.split(separator: "/").map(String.init)
        for depth in 1...components.count { evil.directory(components.prefix(depth).joined(separator: "/")) }
        evil.symlink("escape", to: host.path)
        evil.symlink("app/climb", to: "../../../../../../../.." + host.path)
        evil.symlink("sys", to: host.path)
        evil.symlink("dev", to: host.path)
        var over = TestLayer()
        over.file("escape/pwned", "written through a symlink\n")
        over.file("app/climb/pwned-too", "written through a relative symlink\n")
        builder.layers += [evil, over]
        let imagePath = try builder.writeArchive(in: work.url)
        var options = TraceOptions(
            imagePath: imagePath,
            command: [
                "/bin/sh", "-c",
                "echo x > /escape/at-run; echo y > /app/climb/at-run2; cat /escape/pwned; ls /sys /dev >/dev/null",
            ],
            timeoutSeconds: 30, network: .none)
        let output = try CapturedOutput()
        options.stdoutFD = output.fd
        let result = try Tracer(options: options).run()
        #expect(result.stop == .commandExited(code: 0))
        #expect(output.text == "written through a symlink\n")
        #expect(try snapshot(host.path) == hostBefore)
        #expect(result.document.entries.filter(\.existed).map(\.path).contains("/escape"))
    }

    /// The command as a user runs it: options in, trace file out; a missing WorkingDir is
    /// made, as Docker does.
    @Test func traceCommandWritesTheFile() throws {
        let work = try TestDirectory()
        var builder = try busyboxImage()
        builder.extraConfig["config"] = .object([
            "Entrypoint": .array([
                .string("/bin/sh"), .string("-c"), .string("pwd > /dev/null; cat /app/message.txt > /dev/null"),
            ]),
            "Env": .array([.string("PATH=/bin")]),
            "WorkingDir": .string("/srv/missing/dir"),
        ])
        let imagePath = try builder.writeArchive(in: work.url)
        let tracePath = work.path("out.trace.json")
        let command = try TraceCommand.parse([imagePath, "-o", tracePath, "--timeout", "30"])
        try command.run()
        let document = try TraceDocument.load(path: tracePath)
        #expect(document.version == 1)
        #expect(document.image == imagePath)
        #expect(document.entries.filter(\.existed).map(\.path).contains("/app/message.txt"))
        let overridden = try TraceCommand.parse([imagePath, "-o", tracePath, "--", "/bin/busybox", "true"])
        #expect(overridden.command == ["/bin/busybox", "true"])
    }

    /// Ctrl-C (SIGINT to whittle) ends the run cleanly, and the trace so far is kept.
    @Test func interruptStopsAndCleansUp() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let mountsBefore = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        var options = TraceOptions(
            imagePath: imagePath, command: ["/bin/busybox", "sh", "-c", "cat /app/message.txt; sleep 100"],
            timeoutSeconds: 30)
        let output = try CapturedOutput()
        options.stdoutFD = output.fd
        options.inspectRoot = { _, afterRun in
            guard !afterRun else { return }
            let pid = getpid()
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: 0.5)
                kill(pid, SIGINT)
            }
        }
        let started = Date()
        let result = try Tracer(options: options).run()
        #expect(result.stop == .interrupted)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.document.entries.filter(\.existed).map(\.path).contains("/app/message.txt"))
        let mountsAfter = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let added = whittleMounts(mountsAfter).subtracting(whittleMounts(mountsBefore))
        #expect(added.isEmpty, "mounts left: \(added)")
    }
}

/// Cost per notified syscall, against strace on the same loop: `WHITTLE_TRACE_BENCH=1`.
@Suite("Trace cost", .enabled(if: TestEnvironment.traceBenchmark && TestEnvironment.isRoot))
struct TraceCostTests {
    @Test func costPerNotifiedSyscall() throws {
        let work = try TestDirectory()
        let imagePath = try busyboxImage().writeArchive(in: work.url)
        let count = 50_000
        let loop = "i=0; while [ $i -lt \(count) ]; do [ -e /etc/passwd ]; i=$((i+1)); done"
        func timed(_ body: () throws -> Void) rethrows -> Double {
            let start = Date()
            try body()
            return Date().timeIntervalSince(start)
        }
        var short = TraceOptions(imagePath: imagePath, command: ["/bin/sh", "-c", "i=0"], timeoutSeconds: 60)
        short.forceCopy = false
        let baseline = try timed { _ = try Tracer(options: short).run() }
        var result: TraceResult?
        let traced = try timed {
            result = try Tracer(
                options: TraceOptions(imagePath: imagePath, command: ["/bin/sh", "-c", loop], timeoutSeconds: 120)
            ).run()
        }
        let root = try TestDirectory()
        let scratch = try ScratchDirectory()
        let flattener = Flattener(scratch: scratch)
        try flattener.apply(try SavedImage(path: imagePath, scratch: scratch))
        try RootWriter(tree: flattener.tree).write(into: root.url.path)
        let plain = try timed { try run("/usr/sbin/chroot", [root.url.path, "/bin/sh", "-c", loop]) }
        let straced = try timed {
            try run(
                "/usr/bin/strace",
                [
                    "-f", "-qq", "-e", "trace=%file", "-o", "/dev/null",
                    "/usr/sbin/chroot", root.url.path, "/bin/sh", "-c", loop,
                ])
        }
        let notifications = Double(result?.notifications ?? 0)
        let perCall = (traced - baseline - plain) / notifications * 1e6
        let stracePerCall = (straced - plain) / Double(count) * 1e6
        print(
            """
            trace cost: \(Int(notifications)) notifications; whittle run \(traced) s (setup \(baseline) s), \
            plain \(plain) s, strace \(straced) s; ≈ \(perCall) µs per notified call under whittle, \
            \(stracePerCall) µs under strace
            """)
        #expect(notifications >= Double(count))
    }
}
