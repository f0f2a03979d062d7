import Foundation

/// `token_issuer.py` running for one test: the realm a token-auth registry sends clients to.
/// It listens on plain HTTP on 127.0.0.1, which whittle allows for this machine only.
final class TokenIssuer {
    static let service = "whittle-test-registry"
    static let issuer = "whittle-test-issuer"

    let directory: TestDirectory
    /// The certificate whose key signs the tokens: the registry's rootcertbundle.
    let certificate: String
    let realm: String
    private let process: Process

    /// `expireFirst`: the first token it issues to pull only has already run out.
    init(user: String, password: String, expireFirst: Bool = false) throws {
        directory = try TestDirectory()
        certificate = directory.path("token.crt")
        try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                     directory.path("token.key"), "-out", certificate, "-days", "2",
                                     "-subj", "/CN=whittle test token issuer"])
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let script = repositoryRoot.appendingPathComponent("Tests/WhittleTests/Support/token_issuer.py").path
        process.arguments = [script, certificate, directory.path("token.key"), Self.issuer, user, password]
            + (expireFirst ? ["expire-first-pull"] : [])
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
            process.terminate()
            throw CommandFailure(command: "token_issuer.py", status: -1, output: "printed no port")
        }
        realm = "http://127.0.0.1:\(port)/token"
    }

    func stop() {
        // SIGKILL: a child of the test process may inherit SIGTERM blocked, and nothing
        // of this throw-away server needs a clean exit.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
