import CWhittleTrace
import Foundation
import WhittleImage
#if canImport(Glibc)
    import Glibc
    import WhittleTraceFormat
#endif

/// Runs the probes in order, each once the one before it succeeded, as a user checking by
/// hand would: a port is tried until it accepts, a URL until it answers, a command until it
/// exits 0. Each answer is then asked for once more, to learn whether it is the same every
/// time (only then does `verify` compare its bytes).
final class ProbeScheduler {
    private let probes: [Probe]
    /// Where exec probes' standard output is collected, one file per attempt.
    private let outputDirectory: String
    private(set) var records: [ProbeRecord] = []
    private var nextAttempt = Date.distantPast
    /// The last status the current probe got, for the record when time runs out.
    private var lastStatus: Int?
    /// The current exec probe's first successful output digest, awaiting the second ask.
    private var firstDigest: String?
    private var running: (id: Int32, path: String)?
    private var nextID: Int32 = 0

    init(probes: [Probe], outputDirectory: String) {
        self.probes = probes
        self.outputDirectory = outputDirectory
    }

    var isFinished: Bool { records.count >= probes.count }

    /// Each probe's state, for progress: done ones passed or failed, the current one waiting.
    var states: [TraceStatus.ProbeProgress] {
        probes.enumerated().map { index, probe in
            let state: TraceStatus.ProbeState =
                index < records.count
                ? (records[index].succeeded ? .passed : .failed) : index == records.count ? .waiting : .pending
            return TraceStatus.ProbeProgress(kind: probe.kind.rawValue, target: probe.target, state: state)
        }
    }

    /// Moves the current probe on; called on every turn of the event loop.
    func tick(sandbox: Sandbox) {
        guard !isFinished, running == nil, Date() >= nextAttempt else { return }
        switch probes[records.count] {
        case let .tcp(host, port):
            guard let fd = connectTCP(host: host, port: port, timeoutSeconds: 1) else { return retry(after: 0.25) }
            close(fd)
            complete(status: 0, digest: nil)
        case let .http(probe):
            // The first answer ends the wait (the app is up); the next two are the record.
            guard probe.request(timeoutSeconds: 2) != nil, let first = probe.request() else {
                return retry(after: 0.25)
            }
            let second = probe.request()
            let stable = second.map { $0.status == first.status && $0.body == first.body } ?? false
            complete(status: first.status, digest: stable ? sha256Digest(of: first.body) : nil)
        case let .exec(_, words):
            startExec(words, sandbox: sandbox)
        }
    }

    private func startExec(_ words: [String], sandbox: Sandbox) {
        nextID += 1
        let path = outputDirectory + "/probe-\(nextID).out"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return retry(after: 0.5) }
        defer { close(fd) }
        if sandbox.sendProbe(id: nextID, words: words, stdoutFD: fd) == 0 {
            running = (nextID, path)
        } else {
            retry(after: 0.5)
        }
    }

    /// An exec probe ended with this wait status (or could not start: `started` false).
    func execEnded(id: Int32, status: Int32, started: Bool) {
        guard let current = running, current.id == id else { return }
        running = nil
        let output = (try? Data(contentsOf: URL(fileURLWithPath: current.path))).map { [UInt8]($0) } ?? []
        unlink(current.path)
        let code = started ? Int(wt_exit_code(status)) : 127
        guard code == 0 else {
            lastStatus = code
            firstDigest = nil
            return retry(after: 0.5)
        }
        let digest = sha256Digest(of: output)
        if let firstDigest {
            complete(status: 0, digest: firstDigest == digest ? digest : nil)
        } else {
            firstDigest = digest
        }
    }

    /// Records what the unfinished probes got when time ran out or the app exited: the
    /// current command's last exit code, and no answer for the rest.
    func giveUp() {
        while !isFinished {
            let probe = probes[records.count]
            records.append(
                ProbeRecord(
                    kind: probe.kind, target: probe.target,
                    status: probe.kind == .exec ? lastStatus : nil, digest: nil))
            lastStatus = nil
        }
    }

    private func retry(after seconds: Double) {
        nextAttempt = Date().addingTimeInterval(seconds)
    }

    private func complete(status: Int, digest: String?) {
        let probe = probes[records.count]
        records.append(ProbeRecord(kind: probe.kind, target: probe.target, status: status, digest: digest))
        lastStatus = nil
        firstDigest = nil
        nextAttempt = .distantPast
    }
}
