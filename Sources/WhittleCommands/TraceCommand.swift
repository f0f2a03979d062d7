import ArgumentParser
import Foundation
import WhittleTrace

extension TraceNetwork: ExpressibleByArgument {}

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Run an image's command and record every file it touches (needs root).",
        discussion: """
            The image is flattened into a private temporary directory and its Entrypoint+Cmd \
            (or the command after --) runs there with the image's Env (plus -e), WorkingDir and \
            User, in its own mount and PID namespaces, on a throwaway overlay, with /proc, /dev, \
            a read-only /sys, /tmp, and copies of the host's /etc/resolv.conf and /etc/hosts. \
            Every path the app names (open, exec, stat, access, readlink… of every thread and \
            child) is recorded with seccomp user notification.

            It stops when the command exits, after the probes succeed, or at the timeout, \
            and then kills the whole process tree and removes its temporary files. Give a batch \
            job a --timeout longer than it runs.

            The trace file is versioned JSON (see the README): each path with the calls that \
            named it and whether it was in the image, and the image's chain ID. \
            `whittle slim --trace` takes several and merges them.

            Examples:
              whittle trace app.tar -o app.json
              whittle trace job.tar -o job.json --network none --timeout 900
              whittle trace web.tar -o web.json -e PORT=9090 \\
                  --probe-http http://127.0.0.1:9090/health
              whittle trace app.tar -o t.json -- /bin/sh -c 'ls /app'
            """)

    @OptionGroup var input: InputOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the trace file.", valueName: "trace.json"))
    var output: String

    @Option(name: .shortAndLong, help: ArgumentHelp(
        "Set or override a variable of the image's Env (repeatable; KEY alone unsets it).", valueName: "KEY=VALUE"))
    var env: [String] = []

    @Option(name: .customLong("probe-http"), help: ArgumentHelp(
        "Wait until this URL answers, then request it (repeatable).", valueName: "url"))
    var probeHTTP: [String] = []

    @Option(name: .customLong("probe-exec"), help: ArgumentHelp(
        "Run this command inside the same root once the app is up (repeatable; words split as a shell would, with quotes).",
        valueName: "command"))
    var probeExec: [String] = []

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var timeout: Double = 60

    @Option(help: "host (default): share the host's network; none: loopback only.")
    var network: TraceNetwork = .host

    @Argument(parsing: .postTerminator, help: ArgumentHelp(
        "The command to run instead of the image's Entrypoint and Cmd.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout takes a number of seconds above 0; got \(timeout)") }
    }

    func run() throws {
        var options = TraceOptions(
            imagePath: input.image, selection: try input.selection(), command: command, httpProbes: probeHTTP,
            execProbes: probeExec, timeoutSeconds: timeout, network: network)
        options.environment = env
        options.stdoutFD = nil
        let standardError = FileHandle.standardError
        func log(_ line: String) { standardError.write(Data(("whittle: " + line + "\n").utf8)) }
        let result = try Tracer(options: options).run(log: log)
        try result.document.save(path: output)
        for warning in result.warnings { log("warning: \(warning)") }
        for line in result.probeResults { log(line) }
        let stop: String
        switch result.stop {
        case let .commandExited(code): stop = "the command exited with \(code)"
        case .probesDone: stop = "the probes finished"
        case .timeout: stop = "the timeout was reached"
        case .interrupted: stop = "interrupted"
        }
        let existing = result.document.entries.filter(\.existed).count
        log("""
            Stopped: \(stop). \(result.notifications) notified syscalls, \(result.document.entries.count) paths \
            (\(existing) in the image), \(String(format: "%.2f", result.seconds)) s, \(result.rootMode) root. \
            Wrote \(output)
            """)
    }
}
