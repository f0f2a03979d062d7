// The parts of a trace file that say how the run went: written by the tracer, read back by
// `verify` to ask a slimmed image the same.

/// Whether the traced app shares the host's network.
public enum TraceNetwork: String, Sendable, CaseIterable, Codable {
    /// The host's network: a probe to 127.0.0.1:PORT reaches the app.
    case host
    /// Its own network namespace with only loopback.
    case none
}

/// What a probe got from the app, as the trace file records it, so that `verify` can ask
/// a slimmed image the same and compare.
public struct ProbeRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case tcp, http, exec
    }

    public var kind: Kind
    public var target: String
    /// The HTTP status or the exit code of the answer that ended the wait (0 for a TCP port
    /// that accepted); nil when the probe never got one.
    public var status: Int?
    /// `sha256:` of the HTTP body or the command's standard output, when two asks in a row
    /// gave the same bytes; nil when they differed (then only the status is compared).
    public var digest: String?

    public init(kind: Kind, target: String, status: Int?, digest: String?) {
        self.kind = kind
        self.target = target
        self.status = status
        self.digest = digest
    }

    /// Whether the probe reached the state it waits for.
    public var succeeded: Bool {
        guard let status else { return false }
        return kind == .http || status == 0
    }

    /// How the answer reads in a message.
    public var summary: String {
        let answer: String
        switch (kind, status) {
        case (_, nil): answer = "no answer"
        case (.tcp, _): answer = "accepted"
        case let (.http, code?): answer = "HTTP \(code)"
        case let (.exec, code?): answer = "exit \(code)"
        }
        let what = kind == .http ? "body" : "output"
        return digest.map { "\(answer), \(what) \($0.prefix(19))…" } ?? answer
    }
}

/// How a command that ran to its end finished: its exit code and what it printed.
public struct CommandRecord: Codable, Sendable, Equatable {
    public var exitCode: Int
    /// `sha256:` of its standard output.
    public var stdoutDigest: String

    public init(exitCode: Int, stdoutDigest: String) {
        self.exitCode = exitCode
        self.stdoutDigest = stdoutDigest
    }
}
