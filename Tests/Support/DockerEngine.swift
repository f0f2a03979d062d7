import Foundation
import Testing
import WhittleImage

/// A private Docker engine for the end-to-end test: its own socket, data root and pidfile
/// under a short temporary directory, stopped by pid when the test ends.
final class PrivateDockerEngine {
    let directory: String
    let host: String

    /// Docker needs root and the `dockerd` binary. Locally the test skips without them;
    /// under CI=true it must run, so there the test fails instead.
    static var available: Bool {
        available(isRoot: TestEnvironment.isRoot, isExecutable: FileManager.default.isExecutableFile(atPath:))
    }

    static func available(isRoot: Bool, isExecutable: (String) -> Bool) -> Bool {
        isRoot && (isExecutable("/usr/sbin/dockerd") || isExecutable("/usr/bin/dockerd"))
    }

    static var required: Bool { TestEnvironment.isCI }

    init() throws {
        directory = try run("/usr/bin/mktemp", ["-d", "/tmp/wd.XXXX"]).trimmingCharacters(in: .whitespacesAndNewlines)
        host = try run(
            "/bin/bash",
            [
                repositoryRoot.appendingPathComponent("scripts/docker-engine.sh").path,
                "start", directory,
            ]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        _ = try? run(
            "/bin/bash", [repositoryRoot.appendingPathComponent("scripts/docker-engine.sh").path, "stop", directory])
    }

    @discardableResult
    func docker(_ arguments: String...) throws -> String {
        try docker(arguments)
    }

    @discardableResult
    func docker(_ arguments: [String]) throws -> String {
        try run("/usr/bin/env", ["docker", "-H", host] + arguments)
    }

    /// `docker build` on the host's network (the engine has no bridge), with the CLI's legacy
    /// builder: Debian's docker.io comes without buildx.
    @discardableResult
    func build(_ arguments: String...) throws -> String {
        try run("/usr/bin/env", ["DOCKER_BUILDKIT=0", "docker", "-H", host, "build", "--network", "host"] + arguments)
    }
}

/// Builds (once) and returns the whittle executable the tests drive as a user would.
func whittleExecutable() throws -> String {
    let candidates = [".build/debug/whittle", ".build/release/whittle"].map {
        repositoryRoot.appendingPathComponent($0).path
    }
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
    try run("/usr/bin/env", ["swift", "build", "--package-path", repositoryRoot.path, "--product", "whittle"])
    return candidates[0]
}
