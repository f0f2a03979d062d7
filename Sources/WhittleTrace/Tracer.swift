import CWhittleTrace
import Foundation
import WhittleFlatten
import WhittleImage
#if canImport(Glibc)
import Glibc
#endif

/// Whether the traced app shares the host's network.
public enum TraceNetwork: String, Sendable, CaseIterable {
    /// The host's network: a probe to 127.0.0.1:PORT reaches the app.
    case host
    /// Its own network namespace with only loopback.
    case none
}

public struct TraceOptions: Sendable {
    public var imagePath: String
    public var selection: ImageSelection
    /// Replaces Entrypoint and Cmd when not empty.
    public var command: [String]
    /// `KEY=VALUE` settings laid over the image's Env, as `docker run -e` does.
    public var environment: [String]
    public var httpProbes: [String]
    /// Commands run inside the root once the HTTP probes answered, split into words with quotes.
    public var execProbes: [String]
    public var timeoutSeconds: Double
    public var network: TraceNetwork
    /// Where the app's standard output and error go (nil: whittle's own).
    public var stdoutFD: Int32?
    public var stderrFD: Int32?
    /// Test hook: called with the extracted image directory before the command runs and
    /// after it stopped (the directory is removed right after).
    public var inspectRoot: (@Sendable (_ directory: String, _ afterRun: Bool) -> Void)?
    /// Force the private-copy root instead of an overlay.
    public var forceCopy: Bool

    public init(imagePath: String, selection: ImageSelection = ImageSelection(), command: [String] = [],
                httpProbes: [String] = [], execProbes: [String] = [], timeoutSeconds: Double = 60,
                network: TraceNetwork = .host) {
        self.imagePath = imagePath
        self.selection = selection
        self.command = command
        environment = []
        self.httpProbes = httpProbes
        self.execProbes = execProbes
        self.timeoutSeconds = timeoutSeconds
        self.network = network
        stdoutFD = nil
        stderrFD = nil
        inspectRoot = nil
        forceCopy = false
    }
}

/// Why the run ended.
public enum TraceStop: Equatable, Sendable {
    case commandExited(code: Int)
    case probesDone
    case timeout
    case interrupted
}

public struct TraceResult: Sendable {
    public var document: TraceDocument
    public var stop: TraceStop
    public var notifications: UInt64
    public var seconds: Double
    public var rootMode: String
    public var probeResults: [String]
    public var warnings: [String]
}

/// Runs an image's command in its own mount and PID namespaces on a throwaway root, and
/// records every path it names through seccomp user notification.
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
        for url in options.httpProbes {
            _ = try HTTPProbe(url: url)
            if options.network == .none { throw TraceError.probeNeedsHostNetwork(url: url) }
        }
        for command in options.execProbes where (ProbeCommand.words(command) ?? []).isEmpty {
            throw TraceError.invalidProbeCommand(command)
        }
        try Self.checkPrerequisites()
        let started = Date()
        // Ctrl-C and SIGTERM only set a flag, so the run below can clean up.
        wt_install_interrupt_handler()
        defer { wt_restore_interrupt_handler() }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }

        log("Reading and flattening \(options.imagePath)")
        let image = try SavedImage(path: options.imagePath, selection: options.selection, scratch: scratch)
        let flattener = Flattener(scratch: scratch)
        try flattener.apply(image)
        let tree = flattener.tree
        let configuration = try RunConfiguration(
            config: image.config, tree: tree, override: options.command, environment: options.environment)

        let lower = scratch.path + "/image"
        let mountPoint = scratch.path + "/root"
        let upper = scratch.path + "/upper"
        for directory in [lower, mountPoint, upper, scratch.path + "/probe"] {
            guard mkdir(directory, 0o700) == 0 else {
                throw TraceError.io(path: directory, reason: String(cString: strerror(errno)))
            }
        }
        let written = try RootWriter(tree: tree).write(into: lower)
        log("Extracted \(written.entries) entries (\(written.bytes) bytes) into \(lower)")

        var rootSource = lower
        var useOverlay = !options.forceCopy
        var rootMode = "overlay"
        var warnings: [String] = []
        if useOverlay {
            let error = wt_probe_overlay(lower, scratch.path + "/probe")
            if error != 0 {
                useOverlay = false
                warnings.append("overlayfs is unavailable (\(String(cString: strerror(error)))); the app runs on a private copy")
            }
        }
        if !useOverlay {
            rootMode = "copy"
            rootSource = scratch.path + "/copy"
            guard mkdir(rootSource, 0o700) == 0 else {
                throw TraceError.io(path: rootSource, reason: String(cString: strerror(errno)))
            }
            try RootWriter(tree: tree).write(into: rootSource)
        }
        options.inspectRoot?(lower, false)

        let recorder = PathRecorder()
        let outcome = try runNamespaced(
            configuration: configuration, rootSource: rootSource, useOverlay: useOverlay, mountPoint: mountPoint,
            upper: upper, recorder: recorder, log: log)
        options.inspectRoot?(lower, true)
        warnings += outcome.warnings

        let document = TraceDocument(
            image: options.imagePath, chainID: image.chainID, command: configuration.command,
            entries: recorder.entries(tree: tree))
        return TraceResult(
            document: document, stop: outcome.stop, notifications: outcome.notifications,
            seconds: Date().timeIntervalSince(started), rootMode: rootMode, probeResults: outcome.probeResults,
            warnings: warnings)
    }

    private struct Outcome {
        var stop: TraceStop
        var notifications: UInt64
        var probeResults: [String]
        var warnings: [String]
    }

    private func runNamespaced(
        configuration: RunConfiguration, rootSource: String, useOverlay: Bool, mountPoint: String, upper: String,
        recorder: PathRecorder, log: (String) -> Void
    ) throws -> Outcome {
        var filter: UnsafeMutableRawPointer?
        let filterResult = wt_filter_create(&filter)
        guard filterResult == 0, let filter else {
            throw TraceError.filter(reason: String(cString: strerror(-filterResult)))
        }
        defer { wt_filter_release(filter) }

        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0 else {
            throw TraceError.internalFailure("socketpair: \(String(cString: strerror(errno)))")
        }
        let control = sockets[0]
        defer { close(control) }

        // C strings that must stay valid across fork.
        let argv = CStringArray(configuration.command)
        let envp = CStringArray(configuration.environment)
        let strings = CStringArray([rootSource, mountPoint, upper, configuration.workingDirectory])
        defer {
            argv.free()
            envp.free()
            strings.free()
        }
        let groups = configuration.groups
        if wt_interrupted() != 0 { throw TraceError.interrupted }

        let helper: pid_t = groups.withUnsafeBufferPointer { groupBuffer in
            var config = wt_spawn_config()
            config.lower = UnsafePointer(strings.pointers[0])
            config.root = UnsafePointer(strings.pointers[1])
            config.upper = UnsafePointer(strings.pointers[2])
            config.workdir = UnsafePointer(strings.pointers[3])
            config.use_overlay = useOverlay ? 1 : 0
            config.new_network = options.network == .none ? 1 : 0
            config.argv = UnsafePointer(argv.base)
            config.envp = UnsafePointer(envp.base)
            config.uid = configuration.uid
            config.gid = configuration.gid
            config.groups = groupBuffer.baseAddress
            config.ngroups = Int32(groupBuffer.count)
            config.filter = filter
            config.sock = sockets[1]
            config.stdin_fd = -1
            config.stdout_fd = options.stdoutFD ?? -1
            config.stderr_fd = options.stderrFD ?? -1
            return wt_spawn(&config)
        }
        close(sockets[1])
        guard helper > 0 else {
            throw TraceError.setup(stage: "fork", reason: String(cString: strerror(-helper)))
        }

        var initPID: pid_t = 0
        var supervisor: Supervisor?
        var helperReaped = false
        defer {
            // The whole tree goes: PID 1 takes its namespace with it; mounts live only there.
            if !helperReaped {
                if initPID > 0 { kill(initPID, SIGKILL) }
                kill(helper, SIGKILL)
                var status: Int32 = 0
                while waitpid(helper, &status, 0) < 0 && errno == EINTR {}
            }
            supervisor?.stop()
        }

        // PID, then the listener or the reason there is none.
        while supervisor == nil {
            let (event, fd) = try receive(control, timeoutMilliseconds: 30_000)
            guard let event else { throw TraceError.setup(stage: "starting the namespace", reason: "the helper exited") }
            switch event.kind {
            case Int32(WT_EV_PID): initPID = event.a
            case Int32(WT_EV_SETUP_ERROR):
                throw TraceError.setup(stage: String(cString: wt_stage_name(event.stage)),
                                       reason: String(cString: strerror(event.a)))
            case Int32(WT_EV_READY):
                guard fd >= 0 else { throw TraceError.internalFailure("the listener fd did not arrive") }
                let started = try Supervisor(listener: fd, recorder: recorder)
                started.start()
                supervisor = started
            default: continue
            }
        }
        log("Tracing \(configuration.command.joined(separator: " ")) (PID 1 is \(initPID) on the host)")

        let deadline = Date().addingTimeInterval(options.timeoutSeconds)
        var httpPending = options.httpProbes.map { try? HTTPProbe(url: $0) }.compactMap { $0 }
        var httpAnswered = httpPending.isEmpty
        var nextHTTPAttempt = Date()
        var execQueue = options.execProbes
        var runningProbe: Int32?
        var probeID: Int32 = 0
        var probeResults: [String] = []
        var warnings: [String] = []
        let hasProbes = !options.httpProbes.isEmpty || !options.execProbes.isEmpty
        var stop: TraceStop?

        while stop == nil {
            if wt_interrupted() != 0 { stop = .interrupted; break }
            if Date() >= deadline {
                stop = .timeout
                if hasProbes {
                    warnings.append("the probes had not all finished at the timeout")
                } else {
                    // Without probes the command is expected to end by itself (a batch job);
                    // whatever it would have touched later is missing from the trace.
                    warnings.append("""
                        the command was still running at the \(Int(options.timeoutSeconds)) s timeout, so the \
                        trace holds only what it touched until then; give a job that runs longer a larger --timeout
                        """)
                }
                break
            }
            let (event, _) = try receive(control, timeoutMilliseconds: 50)
            if let event {
                switch event.kind {
                case Int32(WT_EV_PID):
                    initPID = event.a
                case Int32(WT_EV_APP_EXIT):
                    // PID 1 exits right after this, taking its namespace with it; its pid
                    // must not be signalled any more (it may be reused).
                    initPID = 0
                    let code = Int(wt_exit_code(event.a))
                    stop = .commandExited(code: code)
                    if hasProbes && !(httpAnswered && execQueue.isEmpty && runningProbe == nil) {
                        warnings.append("the command exited (code \(code)) before the probes finished")
                    }
                case Int32(WT_EV_EXEC_ERROR):
                    throw TraceError.commandNotFound(
                        command: configuration.command,
                        reason: event.stage == Int32(WT_STAGE_CREDENTIALS)
                            ? "cannot switch to uid \(configuration.uid): \(String(cString: strerror(event.a)))"
                            : String(cString: strerror(event.a)))
                case Int32(WT_EV_PROBE_EXIT):
                    probeResults.append("exec probe #\(event.b) exited with \(wt_exit_code(event.a))")
                    runningProbe = nil
                case Int32(WT_EV_PROBE_EXEC_ERROR):
                    probeResults.append("exec probe #\(event.b) could not run: \(String(cString: strerror(event.a)))")
                    runningProbe = nil
                default: break
                }
                continue
            }
            if event == nil && !isAlive(helper) {
                helperReaped = true
                stop = .commandExited(code: -1)
                break
            }
            guard hasProbes else { continue }
            if !httpAnswered, Date() >= nextHTTPAttempt, let first = httpPending.first {
                if first.request(timeoutSeconds: 2) != nil {
                    httpAnswered = true
                    for probe in httpPending {
                        let status = probe.request()
                        probeResults.append("GET \(probe.url): " + (status.map { "\($0)" } ?? "no answer"))
                    }
                    httpPending.removeAll()
                } else {
                    nextHTTPAttempt = Date().addingTimeInterval(0.25)
                }
            }
            if httpAnswered && runningProbe == nil {
                if execQueue.isEmpty {
                    stop = .probesDone
                } else {
                    let command = execQueue.removeFirst()
                    probeID += 1
                    let words = ProbeCommand.words(command) ?? []  // checked in run()
                    let payload = Array(words.joined(separator: "\0").utf8) + [0]
                    let sent = payload.withUnsafeBufferPointer { buffer in
                        buffer.withMemoryRebound(to: CChar.self) { wt_send_probe(control, probeID, $0.baseAddress, Int32($0.count)) }
                    }
                    if sent == 0 {
                        runningProbe = probeID
                        probeResults.append("exec probe #\(probeID): \(command)")
                    } else {
                        probeResults.append("exec probe #\(probeID) not sent: \(String(cString: strerror(-sent)))")
                    }
                }
            }
        }
        if !helperReaped {
            if initPID > 0 { kill(initPID, SIGKILL) }
            var status: Int32 = 0
            while waitpid(helper, &status, 0) < 0 && errno == EINTR {}
            helperReaped = true
        }
        supervisor?.stop()
        let notifications = supervisor?.notifications ?? 0
        if let failure = supervisor?.failure { warnings.append("the supervisor stopped early: \(failure)") }
        supervisor = nil
        return Outcome(stop: stop ?? .timeout, notifications: notifications, probeResults: probeResults,
                       warnings: warnings)
    }

    /// Whether the helper still runs; reaps it when it has ended.
    private func isAlive(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// One event, or nil on timeout or end of stream (the helper and PID 1 are gone).
    private func receive(_ socket: Int32, timeoutMilliseconds: Int32) throws -> (wt_event?, Int32) {
        var event = wt_event()
        var fd: Int32 = -1
        let result = wt_recv_event(socket, timeoutMilliseconds, &event, &fd)
        if result == 1 { return (event, fd) }
        if result == 0 || result == -EAGAIN || result == -EINTR { return (nil, -1) }
        throw TraceError.internalFailure("control socket: \(String(cString: strerror(-result)))")
    }
}

/// A NULL-terminated array of C strings allocated with strdup, freed explicitly.
final class CStringArray {
    let base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) }
        base = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (index, pointer) in pointers.enumerated() { base[index] = pointer }
        base[strings.count] = nil
    }

    func free() {
        for pointer in pointers { Glibc.free(pointer) }
        base.deallocate()
    }
}
