import Foundation
import WhittleTraceFormat

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
                port > 0, colon > target.startIndex
            else {
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
