import Foundation

/// One way of asking a traced app something. Probes run in order, each once the one before
/// it succeeded: first the TCP ports, then the HTTP URLs, then the commands.
public enum Probe: Sendable, Equatable {
    /// Waits until the port accepts a connection.
    case tcp(host: String, port: UInt16)
    /// Waits until the URL answers, then asks it twice (is the body the same each time?).
    case http(HTTPProbe)
    /// Runs the command inside the root until it exits 0, then once more.
    case exec(command: String, words: [String])

    public var kind: ProbeRecord.Kind {
        switch self {
        case .tcp: return .tcp
        case .http: return .http
        case .exec: return .exec
        }
    }

    /// What the user gave: `HOST:PORT`, the URL, or the command.
    public var target: String {
        switch self {
        case let .tcp(host, port): return "\(host):\(port)"
        case let .http(probe): return probe.url
        case let .exec(command, _): return command
        }
    }

    /// Parses a probe as the command line and the trace file name it.
    public init(kind: ProbeRecord.Kind, target: String) throws {
        switch kind {
        case .tcp:
            guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]),
                  port > 0, colon > target.startIndex else {
                throw TraceError.invalidTCPTarget(target)
            }
            let host = String(target[..<colon]).trimmingCharacters(in: ["[", "]"])
            self = .tcp(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        case .http:
            self = .http(try HTTPProbe(url: target))
        case .exec:
            guard let words = ProbeCommand.words(target), !words.isEmpty else {
                throw TraceError.invalidProbeCommand(target)
            }
            self = .exec(command: target, words: words)
        }
    }

    /// The command line's probes in the order they run.
    public static func ordered(tcp: [String], http: [String], exec: [String]) throws -> [Probe] {
        try tcp.map { try Probe(kind: .tcp, target: $0) } + http.map { try Probe(kind: .http, target: $0) }
            + exec.map { try Probe(kind: .exec, target: $0) }
    }
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
