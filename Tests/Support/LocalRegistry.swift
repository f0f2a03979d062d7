import Foundation

/// Debian's `docker-registry` (the distribution registry) on 127.0.0.1 for one test: TLS
/// from a CA made here with openssl, and htpasswd Basic auth or token auth from
/// `TokenIssuer`. Everything lives in one temporary directory, removed by `stop()`.
final class LocalRegistry {
    static let binary = "/usr/bin/docker-registry"
    /// The registry and the tools to set it up. Locally the tests skip without them; under
    /// CI=true they must run, so there they fail instead.
    static var available: Bool {
        ["/usr/bin/docker-registry", "/usr/bin/htpasswd", "/usr/bin/openssl", "/usr/bin/skopeo"]
            .allSatisfy(FileManager.default.isExecutableFile(atPath:))
    }

    enum Auth {
        case basic
        case token(TokenIssuer)
    }

    let directory: TestDirectory
    /// `127.0.0.1:PORT`
    let host: String
    /// Holds `ca.crt`: what `--cert-dir` takes.
    let certificates: String
    let user: String
    let password: String
    private let process: Process

    /// With `requireClientCertificate`, the registry refuses a TLS client without a
    /// certificate its CA signed; `certificates` then holds one (`client.cert`, `client.key`).
    init(
        auth: Auth = .basic, user: String = "whittle", password: String = "not-a-secret",
        requireClientCertificate: Bool = false
    ) throws {
        self.user = user
        self.password = password
        directory = try TestDirectory()
        certificates = directory.path("certs")
        try FileManager.default.createDirectory(atPath: certificates, withIntermediateDirectories: true)
        try Self.makeCertificates(in: directory, caDirectory: certificates)
        if requireClientCertificate { try Self.makeClientCertificate(in: directory, into: certificates) }
        let clientCAs = requireClientCertificate ? "\n    clientcas:\n      - \(certificates)/ca.crt" : ""
        let port = try freePort()
        host = "127.0.0.1:\(port)"
        let authSection: String
        switch auth {
        case .basic:
            let hash = try run("/usr/bin/htpasswd", ["-Bbn", user, password])
            try hash.write(toFile: directory.path("htpasswd"), atomically: true, encoding: .utf8)
            authSection = """
                  htpasswd:
                    realm: whittle-test
                    path: \(directory.path("htpasswd"))
                """
        case let .token(issuer):
            authSection = """
                  token:
                    realm: \(issuer.realm)
                    service: \(TokenIssuer.service)
                    issuer: \(TokenIssuer.issuer)
                    rootcertbundle: \(issuer.certificate)
                """
        }
        let config = """
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: \(directory.path("data"))
              delete:
                enabled: true
            http:
              addr: \(host)
              tls:
                certificate: \(directory.path("server.crt"))
                key: \(directory.path("server.key"))\(clientCAs)
            auth:
            \(authSection)
            """
        try config.write(toFile: directory.path("config.yml"), atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", directory.path("config.yml")]
        let log =
            FileHandle(forWritingAtPath: directory.path("log"))
            ?? {
                FileManager.default.createFile(atPath: directory.path("log"), contents: nil)
                return FileHandle(forWritingAtPath: directory.path("log"))
            }()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitUntilServing()
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

    /// A docker:// reference to `name` (`app:1` or `app@sha256:…`) on this registry.
    func reference(_ name: String) -> String { "docker://\(host)/\(name)" }

    /// The flags whittle needs to reach this registry.
    var whittleFlags: String { "--cert-dir \(quoted(certificates)) --creds \(user):\(password)" }

    /// Puts a saved image into the registry with skopeo, which whittle's own pushes are checked against.
    func seed(_ archive: String, as name: String, transport: String = "docker-archive") throws {
        try run(
            "/usr/bin/skopeo",
            [
                "--insecure-policy", "copy", "-q", "--dest-cert-dir", certificates,
                "--dest-creds", "\(user):\(password)", "\(transport):\(archive)", reference(name),
            ])
    }

    /// The manifest digest of `name`, as skopeo sees it.
    func digest(of name: String) throws -> String {
        try run(
            "/usr/bin/skopeo",
            [
                "inspect", "--cert-dir", certificates, "--creds", "\(user):\(password)",
                "--format", "{{.Digest}}", reference(name),
            ]
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A blob's file in the registry's storage, to corrupt.
    func blobPath(_ digest: String) -> String {
        let hex = String(digest.dropFirst("sha256:".count))
        return directory.path("data/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data")
    }

    private func waitUntilServing() throws {
        for _ in 0..<200 {
            guard process.isRunning else { break }
            let client = certificates + "/client.cert"
            let identity =
                FileManager.default.fileExists(atPath: client)
                ? ["--cert", client, "--key", certificates + "/client.key"] : []
            let probe = try? run(
                "/usr/bin/curl",
                ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", certificates + "/ca.crt"] + identity
                    + ["https://\(host)/v2/"])
            if probe == "401" { return }
            usleep(50_000)
        }
        let log = (try? String(contentsOfFile: directory.path("log"), encoding: .utf8)) ?? ""
        stop()
        throw CommandFailure(command: "docker-registry serve", status: -1, output: "did not start: \(log)")
    }

    /// A client certificate the CA of `makeCertificates` signs, where `--cert-dir` looks for one.
    static func makeClientCertificate(in directory: TestDirectory, into certificates: String) throws {
        let openssl = "/usr/bin/openssl"
        try run(
            openssl,
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", certificates + "/client.key", "-out", directory.path("client.csr"),
                "-subj", "/CN=whittle test client",
            ])
        try run(
            openssl,
            [
                "x509", "-req", "-in", directory.path("client.csr"), "-CA", certificates + "/ca.crt",
                "-CAkey", directory.path("ca.key"), "-CAcreateserial", "-out", certificates + "/client.cert",
                "-days", "2",
            ])
    }

    /// A CA, and a certificate it signs for 127.0.0.1 and localhost.
    static func makeCertificates(in directory: TestDirectory, caDirectory: String) throws {
        let openssl = "/usr/bin/openssl"
        let ca = caDirectory + "/ca.crt"
        try run(
            openssl,
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", directory.path("ca.key"), "-out", ca, "-days", "2", "-subj", "/CN=whittle test CA",
            ])
        try run(
            openssl,
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", directory.path("server.key"), "-out", directory.path("server.csr"),
                "-subj", "/CN=127.0.0.1",
            ])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
            toFile: directory.path("san.ext"), atomically: true, encoding: .utf8)
        try run(
            openssl,
            [
                "x509", "-req", "-in", directory.path("server.csr"), "-CA", ca,
                "-CAkey", directory.path("ca.key"), "-CAcreateserial", "-out", directory.path("server.crt"),
                "-days", "2", "-extfile", directory.path("san.ext"),
            ])
    }
}

/// A TCP port nobody listens on now.
func freePort() throws -> Int {
    let text = try run(
        "/usr/bin/python3",
        [
            "-c",
            "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
                + "print(s.getsockname()[1])",
        ])
    guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw CommandFailure(command: "python3 (free port)", status: -1, output: text)
    }
    return port
}
