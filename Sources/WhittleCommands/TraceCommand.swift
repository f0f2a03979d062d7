import ArgumentParser
import Foundation
import WhittlePipeline
import WhittleCompression
import WhittleReport
import WhittleTrace
import WhittleTraceFormat

extension TraceNetwork: ExpressibleByArgument {}

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Run an image's command, confined as docker run does, and record every file it touches.",
        discussion: """
            The image is flattened into a private temporary directory and its Entrypoint+Cmd \
            (or the command after --) runs there with the image's Env (plus -e), WorkingDir and \
            User, on a throwaway overlay, with what Docker gives a container and nothing more: \
            its own mount, PID, IPC, UTS and cgroup namespaces, Docker's 14 capabilities and \
            seccomp rules, /proc and /sys paths masked or read-only, /dev with the usual nodes, \
            and copies of the host's /etc/hosts, /etc/resolv.conf and /etc/hostname. Every path \
            the app names (open, exec, stat, access, readlink… of every thread and child) is \
            recorded with seccomp user notification.

            Without root, whittle runs itself in a user namespace mapped onto your subordinate \
            ids (/etc/subuid, /etc/subgid; newuidmap and newgidmap from Debian's uidmap), with a \
            network of its own: the app may bind port 80 and the probes reach it on 127.0.0.1, \
            but it cannot reach other hosts. Add a range once, as root: \
            usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER.

            Probes run in order, each once the one before succeeded: every --probe-tcp until \
            its port accepts, then every --probe-http until it answers, then every \
            --probe-exec until it exits 0. Each answer is asked for twice and recorded, so \
            `whittle verify` (or `slim --verify`) can check that a slimmed image answers the \
            same. The run stops when the command exits, after the probes succeed, or at the \
            timeout, and then kills the whole process tree and removes its temporary files. \
            Give a batch job a --timeout longer than it runs.

            The app's standard output and error go to a log file beside the trace \
            (TRACE.log, or --log). The trace file is versioned JSON (see docs/trace.md). \
            `whittle slim --trace` takes several and merges them. `-` reads the image from \
            standard input (see IMAGE below); the app then gets an empty standard input.

            On a terminal a status line shows the elapsed time, the syscalls and paths seen \
            so far, and each probe's state (pending, waiting, passed, failed).

            Examples:
              whittle trace app.tar -o app.json
              whittle trace job.tar -o job.json --network none --timeout 900
              whittle trace web.tar -o web.json -e PORT=9090 \\
                  --probe-http http://127.0.0.1:9090/health
              whittle trace db.tar -o db.json --probe-tcp 127.0.0.1:5432 \\
                  --probe-exec "psql -h 127.0.0.1 -U postgres -c 'select 1'"
              whittle trace app.tar -o t.json -- /bin/sh -c 'ls /app'
            """)

    @OptionGroup var input: InputOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the trace file.", valueName: "trace.json"))
    var output: String

    @Option(
        help: ArgumentHelp(
            "Where the app's standard output and error go (default: the trace file's name with .log).",
            valueName: "file"))
    var log: String?

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Set or override a variable of the image's Env (repeatable; KEY alone unsets it).", valueName: "KEY=VALUE"))
    var env: [String] = []

    @Option(
        name: .customLong("probe-tcp"),
        help: ArgumentHelp(
            "Wait until this port accepts a connection (repeatable).", valueName: "host:port"))
    var probeTCP: [String] = []

    @Option(
        name: .customLong("probe-http"),
        help: ArgumentHelp(
            "Wait until this URL answers, then request it (repeatable).", valueName: "url"))
    var probeHTTP: [String] = []

    @Option(
        name: .customLong("probe-exec"),
        help: ArgumentHelp(
            "Run this command inside the same root until it exits 0 (repeatable; words split as a shell would, with quotes).",
            valueName: "command"))
    var probeExec: [String] = []

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var timeout: Double = 60

    @Option(help: "host (default): share the host's network (without root: the sandbox's own); none: loopback only.")
    var network: TraceNetwork = .host

    @OptionGroup var display: ProgressOptions

    @Argument(
        parsing: .postTerminator,
        help: ArgumentHelp(
            "The command to run instead of the image's Entrypoint and Cmd.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout takes a number of seconds above 0; got \(timeout)") }
    }

    /// `web.json` → `web.log`; any other name gets `.log` added.
    var logPath: String {
        if let log { return log }
        return output.hasSuffix(".json") ? String(output.dropLast(5)) + ".log" : output + ".log"
    }

    func run() throws {
        // An ordinary user's run goes on as root of a user namespace of its own.
        try UserNamespace.reenterUnlessRoot()
        // Before a long copy of standard input, not after.
        try Tracer.checkPrerequisites()
        let progress = display.display()
        defer { progress.finish() }
        let source = try input.open(progress: progress)
        defer { source.remove() }
        var options = try TraceOptions(
            imagePath: source.path, selection: try input.selection(), command: command, tcpProbes: probeTCP,
            httpProbes: probeHTTP, execProbes: probeExec, timeoutSeconds: timeout, network: network)
        options.environment = env
        let appLog = try AppLog(path: logPath)
        defer { appLog.close() }
        options.stdoutFD = appLog.fd
        options.stderrFD = appLog.fd
        let meter = ByteMeter()
        options.progress = TraceProgress(
            phase: { progress.begin($0, meter: $0 == "reading layers" ? meter : nil) }, meter: meter,
            status: { progress.status(Self.statusLine($0)) })
        var result = try source.reading { _ in try Tracer(options: options).run(log: progress.log) }
        progress.finish()
        result.document.image = source.name
        try result.document.save(path: output)
        for warning in result.warnings { say("warning: \(warning)") }
        for line in result.probeResults { say(line) }
        let existing = result.document.entries.filter(\.existed).count
        say(
            """
            Stopped: \(result.stop.description). \(result.notifications) notified syscalls, \
            \(result.document.entries.count) paths (\(existing) in the image), \
            \(String(format: "%.2f", result.seconds)) s, \(result.rootMode) root. Wrote \(output); \
            the app's output is in \(logPath)
            """)
        if !result.warnings.isEmpty || result.stop == .timeout { appLog.printTail(say) }
    }
}

extension TraceCommand {
    /// `0:12  12345 syscalls  812 paths  tcp 127.0.0.1:5432 passed  http http://…/health waiting`
    static func statusLine(_ status: TraceStatus) -> String {
        var parts = [ProgressLine.clock(status.elapsed), "\(status.syscalls) syscalls", "\(status.paths) paths"]
        parts += status.probes.map { "\($0.kind) \($0.target) \($0.state.rawValue)" }
        return parts.joined(separator: "  ")
    }
}

/// whittle's own messages, on standard error.
func say(_ line: String) {
    FileHandle.standardError.write(Data(("whittle: " + line + "\n").utf8))
}

/// The file the app's standard output and error go to during a trace.
final class AppLog {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TraceError.io(path: path, reason: "cannot write the app's log: \(String(cString: strerror(errno)))")
        }
    }

    /// The log's last lines, so a user sees at once why an app did not start.
    func printTail(_ print: (String) -> Void, lines count: Int = 10) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else { return }
        print("the app's last lines (\(path)):")
        for line in text.split(separator: "\n").suffix(count) { print("  " + line) }
    }

    func close() {
        Glibc.close(fd)
    }
}
