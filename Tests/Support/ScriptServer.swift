import Foundation

/// A Python server from this directory, running for one test: it prints the port it
/// listens on (on 127.0.0.1) as its first line, and is killed by `stop()`.
final class ScriptServer {
    let port: Int
    private let process: Process

    init(script: String, arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let path = repositoryRoot.appendingPathComponent("Tests/Support/\(script)").path
        process.arguments = [path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            kill(process.processIdentifier, SIGKILL)
            throw CommandFailure(command: script, status: -1, output: "printed no port")
        }
        self.port = port
    }

    /// SIGKILL: a child of the test process may inherit SIGTERM blocked, and nothing of a
    /// throw-away server needs a clean exit.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
