import CWhittleTrace
import Foundation
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
#endif

/// Where the traced root comes from and where it is mounted (all inside the scratch directory).
struct RootLayout {
    /// The extracted image, or its private copy when overlayfs is unavailable.
    var source: String
    var mountPoint: String
    var upper: String
    var useOverlay: Bool
}

/// The traced app's namespaces: the helper and PID 1 spawned, the seccomp supervisor
/// attached, and the one owner that kills and reaps them, exactly once.
final class Sandbox {
    private let helper: pid_t
    private let control: Int32
    /// The namespace's PID 1 on the host; 0 once it exited (its pid may be reused).
    private var initPID: pid_t = 0
    private var supervisor: Supervisor?
    private var reaped = false
    private var stopped = false
    private(set) var notifications: UInt64 = 0
    private(set) var supervisorFailure: String?

    /// Forks the helper, which makes the namespaces and PID 1, and waits until PID 1 has
    /// installed the filter and handed over the listener.
    init(
        configuration: RunConfiguration, root: RootLayout, network: TraceNetwork, stdoutFD: Int32,
        stderrFD: Int32?, recorder: PathRecorder
    ) throws {
        var filter: UnsafeMutableRawPointer?
        let filterResult = wt_filter_create(&filter)
        guard filterResult == 0, let filter else {
            throw TraceError.filter(reason: String(cString: strerror(-filterResult)))
        }
        defer { wt_filter_release(filter) }
        var confinement: UnsafeMutableRawPointer?
        let confinementResult = wt_confinement_create(&confinement)
        guard confinementResult == 0, let confinement else {
            throw TraceError.filter(reason: String(cString: strerror(-confinementResult)))
        }
        defer { wt_filter_release(confinement) }
        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0
        else {
            throw TraceError.internalFailure("socketpair: \(String(cString: strerror(errno)))")
        }
        control = sockets[0]
        if wt_interrupted() != 0 {
            close(sockets[0])
            close(sockets[1])
            throw TraceError.interrupted
        }
        helper = Self.spawn(
            configuration: configuration, root: root, network: network,
            filters: (filter, confinement), socket: sockets[1], stdoutFD: stdoutFD,
            stderrFD: stderrFD)
        close(sockets[1])
        guard helper > 0 else {
            close(control)
            throw TraceError.setup(stage: "fork", reason: String(cString: strerror(-helper)))
        }
        do {
            try attachSupervisor(recorder: recorder)
        } catch {
            stop()
            throw error
        }
    }

    deinit {
        stop()
    }

    /// The C strings live until the fork has copied them.
    private static func spawn(
        configuration: RunConfiguration, root: RootLayout, network: TraceNetwork,
        filters: (recording: UnsafeMutableRawPointer, confinement: UnsafeMutableRawPointer),
        socket: Int32, stdoutFD: Int32,
        stderrFD: Int32?
    ) -> pid_t {
        let argv = CStringArray(configuration.command)
        let envp = CStringArray(configuration.environment)
        let strings = CStringArray([root.source, root.mountPoint, root.upper, configuration.workingDirectory])
        defer {
            argv.free()
            envp.free()
            strings.free()
        }
        return configuration.groups.withUnsafeBufferPointer { groupBuffer in
            var config = wt_spawn_config()
            config.lower = UnsafePointer(strings.pointers[0])
            config.root = UnsafePointer(strings.pointers[1])
            config.upper = UnsafePointer(strings.pointers[2])
            config.workdir = UnsafePointer(strings.pointers[3])
            config.use_overlay = root.useOverlay ? 1 : 0
            config.new_network = network == .none ? 1 : 0
            config.argv = UnsafePointer(argv.base)
            config.envp = UnsafePointer(envp.base)
            config.uid = configuration.uid
            config.gid = configuration.gid
            config.groups = groupBuffer.baseAddress
            config.ngroups = Int32(groupBuffer.count)
            config.filter = filters.recording
            config.confinement = filters.confinement
            config.rootless = UserNamespace.isInsideOne ? 1 : 0
            config.sock = socket
            config.stdin_fd = -1
            config.stdout_fd = stdoutFD
            config.stderr_fd = stderrFD ?? -1
            return wt_spawn(&config)
        }
    }

    /// PID, then the listener or the reason there is none.
    private func attachSupervisor(recorder: PathRecorder) throws {
        while supervisor == nil {
            let (event, fd) = try receive(timeoutMilliseconds: 30_000)
            guard let event else {
                throw TraceError.setup(stage: "starting the namespace", reason: "the helper exited")
            }
            switch event.kind {
            case Int32(WT_EV_SETUP_ERROR):
                throw TraceError.setup(
                    stage: String(cString: wt_stage_name(event.stage)),
                    reason: String(cString: strerror(event.a)))
            case Int32(WT_EV_READY):
                guard fd >= 0 else { throw TraceError.internalFailure("the listener fd did not arrive") }
                let started = try Supervisor(listener: fd, recorder: recorder)
                started.start()
                supervisor = started
            default: continue
            }
        }
    }

    /// The next event from PID 1, or nil when none came within the time.
    func nextEvent(timeoutMilliseconds: Int32) throws -> wt_event? {
        let (event, fd) = try receive(timeoutMilliseconds: timeoutMilliseconds)
        if fd >= 0 { close(fd) }
        return event
    }

    /// Whether the helper (and so the namespace) still runs; reaps it when it has ended.
    var isRunning: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        if waitpid(helper, &status, WNOHANG) == 0 { return true }
        reaped = true
        return false
    }

    /// Asks PID 1 to run a probe command; 0 or an errno.
    func sendProbe(id: Int32, words: [String], stdoutFD: Int32) -> Int32 {
        let payload = Array(words.joined(separator: "\0").utf8) + [0]
        let sent = payload.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                wt_send_probe(control, id, $0.baseAddress, Int32($0.count), stdoutFD)
            }
        }
        return -sent
    }

    /// Kills the whole tree (PID 1 takes its namespace and mounts with it), reaps the helper,
    /// and stops the supervisor. Safe to call more than once.
    func stop() {
        guard !stopped else { return }
        stopped = true
        if !reaped {
            if initPID > 0 { kill(initPID, SIGKILL) }
            kill(helper, SIGKILL)
            var status: Int32 = 0
            while waitpid(helper, &status, 0) < 0 && errno == EINTR {}
            reaped = true
        }
        if let supervisor {
            supervisor.stop()
            notifications = supervisor.notifications
            supervisorFailure = supervisor.failure
        }
        supervisor = nil
        close(control)
    }

    /// One event, or nil on timeout or end of stream (the helper and PID 1 are gone).
    /// Keeps track of PID 1 on the way.
    private func receive(timeoutMilliseconds: Int32) throws -> (wt_event?, Int32) {
        var event = wt_event()
        var fd: Int32 = -1
        let result = wt_recv_event(control, timeoutMilliseconds, &event, &fd)
        if result == 0 || result == -EAGAIN || result == -EINTR { return (nil, -1) }
        guard result == 1 else {
            throw TraceError.internalFailure("control socket: \(String(cString: strerror(-result)))")
        }
        switch event.kind {
        case Int32(WT_EV_PID): initPID = event.a
        // PID 1 exits right after this, and its pid must not be signalled any more.
        case Int32(WT_EV_APP_EXIT): initPID = 0
        default: break
        }
        return (event, fd)
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
