import CWhittleTrace
import Foundation
import WhittleCompression
import WhittleFlatten
import WhittleImage
import WhittleTraceFormat
import WhittleFiles
#if canImport(Glibc)
    import Glibc
#endif

public struct TraceOptions: Sendable {
    public var imagePath: String
    public var selection: ImageSelection
    /// Replaces Entrypoint and Cmd when not empty.
    public var command: [String]
    /// `KEY=VALUE` settings laid over the image's Env, as `docker run -e` does.
    public var environment: [String]
    /// In the order they run (see `Probe`).
    public var probes: [Probe]
    public var timeoutSeconds: Double
    public var network: TraceNetwork
    /// Where the app's standard output (after it is hashed) and error go; nil: nowhere.
    public var stdoutFD: Int32?
    public var stderrFD: Int32?
    /// Test hook: called with the extracted image directory before the command runs and
    /// after it stopped (the directory is removed right after).
    public var inspectRoot: (@Sendable (_ directory: String, _ afterRun: Bool) -> Void)?
    /// Force the private-copy root instead of an overlay.
    public var forceCopy: Bool
    /// Phases, bytes read and the running app's figures, for a progress display.
    public var progress: TraceProgress?

    public init(
        imagePath: String, selection: ImageSelection = ImageSelection(), command: [String] = [],
        probes: [Probe] = [], timeoutSeconds: Double = 60, network: TraceNetwork = .host
    ) {
        self.imagePath = imagePath
        self.selection = selection
        self.command = command
        environment = []
        self.probes = probes
        self.timeoutSeconds = timeoutSeconds
        self.network = network
        stdoutFD = nil
        stderrFD = nil
        inspectRoot = nil
        forceCopy = false
        progress = nil
    }

    /// The command line's spelling: probes by kind, run TCP, then HTTP, then exec.
    public init(
        imagePath: String, selection: ImageSelection = ImageSelection(), command: [String] = [],
        tcpProbes: [String] = [], httpProbes: [String] = [], execProbes: [String] = [],
        timeoutSeconds: Double = 60, network: TraceNetwork = .host
    ) throws {
        self.init(
            imagePath: imagePath, selection: selection, command: command,
            probes: try Probe.ordered(tcp: tcpProbes, http: httpProbes, exec: execProbes),
            timeoutSeconds: timeoutSeconds, network: network)
    }
}

/// Why the run ended.
public enum TraceStop: Equatable, Sendable {
    case commandExited(code: Int)
    case probesDone
    case timeout
    case interrupted

    public var description: String {
        switch self {
        case let .commandExited(code): return "the command exited with \(code)"
        case .probesDone: return "the probes finished"
        case .timeout: return "the timeout was reached"
        case .interrupted: return "interrupted"
        }
    }
}

public struct TraceResult: Sendable {
    public var document: TraceDocument
    public var stop: TraceStop
    public var notifications: UInt64
    public var seconds: Double
    public var rootMode: String
    public var warnings: [String]
    /// One line per probe: what it asked and what it got.
    public var probeResults: [String] {
        (document.probes ?? []).map { "\($0.kind.rawValue) probe \($0.target): \($0.summary)" }
    }
}

/// Runs an image's command in its own mount, PID and IPC namespaces on a throwaway root,
/// with what Docker mounts for a container and nothing more, and records every path it
/// names through seccomp user notification.
public final class Tracer {
    public let options: TraceOptions

    public init(options: TraceOptions) {
        self.options = options
    }

    /// Checks what tracing needs from the machine, with a message naming what is missing.
    public static func checkPrerequisites() throws {
        let euid = geteuid()
        guard euid == 0 else { throw TraceError.notRoot(euid: euid) }
        let release = kernelRelease()
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        if numbers.count == 2, (numbers[0], numbers[1]) < (5, 5) {
            // SECCOMP_USER_NOTIF_FLAG_CONTINUE, which lets a checked syscall go on, came in 5.5.
            throw TraceError.kernelTooOld(release: release)
        }
        let level = Int(wt_seccomp_api())
        guard level >= 5 else { throw TraceError.seccompUnsupported(apiLevel: level) }
    }

    static func kernelRelease() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "" }
        return withUnsafeBytes(of: &name.release) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    public func run(log: (String) -> Void = { _ in }) throws -> TraceResult {
        for case let .http(probe) in options.probes where options.network == .none {
            throw TraceError.probeNeedsHostNetwork(url: probe.url)
        }
        try Self.checkPrerequisites()
        let started = Date()
        // Ctrl-C and SIGTERM only set a flag, so the run below can clean up. (In the whittle
        // executable they are blocked and `Interruption` takes them; see `runApp`.)
        wt_install_interrupt_handler()
        defer { wt_restore_interrupt_handler() }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }

        log("Reading and flattening \(options.imagePath)")
        options.progress?.phase("reading layers")
        let flattened = try FlattenedImage(
            path: options.imagePath, selection: options.selection, scratch: scratch,
            meter: options.progress?.meter)
        let image = flattened.image
        let tree = flattened.tree
        let configuration = try RunConfiguration(
            config: image.config, tree: tree, override: options.command, environment: options.environment)
        var warnings: [String] = []
        options.progress?.phase("extracting the image")
        let root = try prepareRoot(tree: tree, scratch: scratch, warnings: &warnings, log: log)
        options.inspectRoot?(root.lower, false)

        let recorder = PathRecorder()
        // While the app runs, an interruption stops it and keeps the trace so far; before,
        // it removes the scratch directory and ends whittle like any other.
        let outcome = try Interruption.deferring(to: { _ in wt_request_interrupt() }) {
            try runApp(configuration: configuration, root: root.layout, scratch: scratch, recorder: recorder, log: log)
        }
        options.inspectRoot?(root.lower, true)
        warnings += outcome.warnings

        var document = TraceDocument(
            image: options.imagePath, chainID: image.chainID, command: configuration.command,
            entries: recorder.entries(tree: tree))
        document.environment = options.environment.isEmpty ? nil : options.environment
        document.network = options.network
        document.timeout = options.timeoutSeconds
        document.probes = outcome.probes.isEmpty ? nil : outcome.probes
        document.commandResult = outcome.command
        return TraceResult(
            document: document, stop: outcome.stop, notifications: outcome.notifications,
            seconds: Date().timeIntervalSince(started), rootMode: root.layout.useOverlay ? "overlay" : "copy",
            warnings: warnings)
    }

    /// Extracts the image into the scratch directory and decides how it becomes the root:
    /// an overlay on it, or a private copy where overlayfs is unavailable.
    private func prepareRoot(
        tree: FileTree, scratch: ScratchDirectory, warnings: inout [String],
        log: (String) -> Void
    ) throws -> (lower: String, layout: RootLayout) {
        let lower = scratch.path + "/image"
        var layout = RootLayout(
            source: lower, mountPoint: scratch.path + "/root", upper: scratch.path + "/upper",
            useOverlay: !options.forceCopy)
        for directory in [lower, layout.mountPoint, layout.upper, scratch.path + "/probe", scratch.path + "/probes"] {
            guard mkdir(directory, 0o700) == 0 else {
                throw TraceError.io(path: directory, reason: String(cString: strerror(errno)))
            }
        }
        let written = try RootWriter(tree: tree).write(into: lower)
        log("Extracted \(written.entries) entries (\(written.bytes) bytes) into \(lower)")
        if written.skippedDevices > 0 {
            warnings.append(
                """
                \(written.skippedDevices) device node(s) of the image were left out: a user namespace cannot \
                make them (the app sees /dev's usual nodes, as under Docker)
                """)
        }
        if layout.useOverlay {
            let error = wt_probe_overlay(lower, scratch.path + "/probe")
            if error != 0 {
                layout.useOverlay = false
                warnings.append(
                    "overlayfs is unavailable (\(String(cString: strerror(error)))); the app runs on a private copy")
            }
        }
        if !layout.useOverlay {
            layout.source = scratch.path + "/copy"
            guard mkdir(layout.source, 0o700) == 0 else {
                throw TraceError.io(path: layout.source, reason: String(cString: strerror(errno)))
            }
            try RootWriter(tree: tree).write(into: layout.source)
        }
        return (lower, layout)
    }

    private struct Outcome {
        var stop: TraceStop
        var notifications: UInt64
        var probes: [ProbeRecord]
        var command: CommandRecord?
        var warnings: [String]
    }

    /// Starts the app, runs the probes, and stops everything, whatever happens on the way.
    private func runApp(
        configuration: RunConfiguration, root: RootLayout, scratch: ScratchDirectory,
        recorder: PathRecorder, log: (String) -> Void
    ) throws -> Outcome {
        let output = try OutputCapture(copyTo: options.stdoutFD)
        let sandbox: Sandbox
        do {
            sandbox = try Sandbox(
                configuration: configuration, root: root, network: options.network,
                stdoutFD: output.writeFD, stderrFD: options.stderrFD, recorder: recorder)
        } catch {
            output.closeWriteEnd()
            throw error
        }
        output.closeWriteEnd()
        defer { sandbox.stop() }
        log("Tracing \(configuration.command.joined(separator: " "))")
        let scheduler = ProbeScheduler(probes: options.probes, outputDirectory: scratch.path + "/probes")
        var warnings: [String] = []
        options.progress?.phase("tracing")
        let started = Date()
        let stop = try pumpEvents(
            sandbox: sandbox, scheduler: scheduler, recorder: recorder, started: started,
            configuration: configuration, warnings: &warnings)
        sandbox.stop()
        scheduler.giveUp()
        showStatus(started: started, recorder: recorder, scheduler: scheduler)
        if let failure = sandbox.supervisorFailure { warnings.append("the supervisor stopped early: \(failure)") }
        var command: CommandRecord?
        if case let .commandExited(code) = stop, code >= 0 {
            command = CommandRecord(exitCode: code, stdoutDigest: output.digest())
        }
        return Outcome(
            stop: stop, notifications: sandbox.notifications, probes: scheduler.records,
            command: command, warnings: warnings)
    }

    /// The running app's figures, for a progress display.
    private func showStatus(started: Date, recorder: PathRecorder, scheduler: ProbeScheduler) {
        guard let progress = options.progress else { return }
        let counts = recorder.counts
        progress.status(
            TraceStatus(
                elapsed: Date().timeIntervalSince(started), syscalls: counts.syscalls,
                paths: counts.paths, probes: scheduler.states))
    }

    /// The event loop: the app's exit, the probes' exits, the probes' next steps, the clock.
    private func pumpEvents(
        sandbox: Sandbox, scheduler: ProbeScheduler, recorder: PathRecorder, started: Date,
        configuration: RunConfiguration, warnings: inout [String]
    ) throws -> TraceStop {
        let deadline = started.addingTimeInterval(options.timeoutSeconds)
        let hasProbes = !options.probes.isEmpty
        while true {
            showStatus(started: started, recorder: recorder, scheduler: scheduler)
            if wt_interrupted() != 0 { return .interrupted }
            if Date() >= deadline {
                warnings.append(
                    hasProbes
                        ? "the probes had not all succeeded at the timeout"
                        : """
                        the command was still running at the \(Int(options.timeoutSeconds)) s timeout, so the \
                        trace holds only what it touched until then; give a job that runs longer a larger --timeout
                        """)
                return .timeout
            }
            if let event = try sandbox.nextEvent(timeoutMilliseconds: 50) {
                switch event.kind {
                case Int32(WT_EV_APP_EXIT):
                    let code = Int(wt_exit_code(event.a))
                    if hasProbes && !scheduler.isFinished {
                        warnings.append("the command exited (code \(code)) before the probes finished")
                    }
                    return .commandExited(code: code)
                case Int32(WT_EV_EXEC_ERROR):
                    throw TraceError.commandNotFound(
                        command: configuration.command,
                        reason: event.stage == Int32(WT_STAGE_CREDENTIALS)
                            ? "cannot switch to uid \(configuration.uid): \(String(cString: strerror(event.a)))"
                            : String(cString: strerror(event.a)))
                case Int32(WT_EV_PROBE_EXIT):
                    scheduler.execEnded(id: event.b, status: event.a, started: true)
                case Int32(WT_EV_PROBE_EXEC_ERROR):
                    scheduler.execEnded(id: event.b, status: event.a, started: false)
                default: break
                }
                continue
            }
            if !sandbox.isRunning { return .commandExited(code: -1) }
            guard hasProbes else { continue }
            scheduler.tick(sandbox: sandbox)
            if scheduler.isFinished { return .probesDone }
        }
    }
}
