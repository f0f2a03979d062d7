import Foundation
import Testing

/// Runs a shell command line (pipes and redirections included) and returns its exit status,
/// standard output and standard error, read concurrently so that neither pipe fills.
func shell(
    _ command: String, environment: [String: String] = [:]
) throws
    -> (status: Int32, stdout: Data, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-o", "pipefail", "-c", command]
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let collected = ErrorCollector()
    let reader = Thread { collected.data = errors.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let stdout = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !collected.done { usleep(1000) }
    return (process.terminationStatus, stdout, String(decoding: collected.data, as: UTF8.self))
}

private final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    private var finished = false
    var data: Data {
        get { lock.withLock { stored } }
        set {
            lock.withLock {
                stored = newValue; finished = true
            }
        }
    }
    var done: Bool { lock.withLock { finished } }
}

/// Single-quoted for bash.
func quoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
