import Foundation

/// Loads `archive` into a private engine and runs `tag` detached on the host's network, as
/// the acceptance tests ask their apps; `body` gets the engine, the container and an
/// environment whose `DOCKER_HOST` reaches that engine (for `bench/zoo_ask.py`).
func withRunningContainer(
    loading archive: String, tag: String,
    _ body: (PrivateDockerEngine, String, [String: String]) throws -> Void
) throws {
    let engine = try PrivateDockerEngine()
    defer { engine.stop() }
    try engine.docker("load", "-q", "-i", archive)
    let container = try engine.docker("run", "-d", "--network", "host", tag)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    defer { _ = try? engine.docker("rm", "-f", container) }
    var environment = ProcessInfo.processInfo.environment
    environment["DOCKER_HOST"] = engine.host
    try body(engine, container, environment)
}
