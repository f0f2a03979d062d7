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
    private let server: ScriptServer

    /// `expireFirst`: the first token it issues to pull only has already run out.
    init(user: String, password: String, expireFirst: Bool = false) throws {
        directory = try TestDirectory()
        certificate = directory.path("token.crt")
        try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                directory.path("token.key"), "-out", certificate, "-days", "2",
                "-subj", "/CN=whittle test token issuer",
            ])
        server = try ScriptServer(
            script: "token_issuer.py",
            arguments: [certificate, directory.path("token.key"), Self.issuer, user, password]
                + (expireFirst ? ["expire-first-pull"] : []))
        realm = "http://127.0.0.1:\(server.port)/token"
    }

    func stop() { server.stop() }
}
