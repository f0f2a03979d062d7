import WhittleCompression

/// What a running trace shows on the way: a phase name as each begins, the layers' bytes
/// as they are read, and while the app runs, its figures a few times a second.
public struct TraceProgress: Sendable {
    public var phase: @Sendable (String) -> Void
    public var meter: ByteMeter
    public var status: @Sendable (TraceStatus) -> Void

    public init(
        phase: @escaping @Sendable (String) -> Void, meter: ByteMeter,
        status: @escaping @Sendable (TraceStatus) -> Void
    ) {
        self.phase = phase
        self.meter = meter
        self.status = status
    }
}

/// A running trace's figures.
public struct TraceStatus: Sendable, Equatable {
    public enum ProbeState: String, Sendable, Equatable {
        /// Not started: an earlier probe has not succeeded yet.
        case pending
        /// Trying: the port does not accept, the URL does not answer, the command fails.
        case waiting
        case passed
        case failed
    }

    public struct ProbeProgress: Sendable, Equatable {
        public var kind: String
        public var target: String
        public var state: ProbeState

        public init(kind: String, target: String, state: ProbeState) {
            self.kind = kind
            self.target = target
            self.state = state
        }
    }

    public var elapsed: Double
    /// Syscalls the supervisor was notified of.
    public var syscalls: Int
    /// Distinct paths they named.
    public var paths: Int
    public var probes: [ProbeProgress]

    public init(elapsed: Double, syscalls: Int, paths: Int, probes: [ProbeProgress]) {
        self.elapsed = elapsed
        self.syscalls = syscalls
        self.paths = paths
        self.probes = probes
    }
}
