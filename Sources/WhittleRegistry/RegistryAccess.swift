import Foundation
import NIOSSL

/// How to reach registries: credentials and TLS trust, as skopeo's flags of the same names.
public struct RegistryAccess: Sendable {
    /// `--creds USER:PASS`: used for every registry, before any file.
    public var credentials: String?
    /// `--cert-dir DIR`: `*.crt` CAs to trust, `*.cert` with `*.key` as a client certificate.
    /// Without it, `/etc/containers/certs.d/HOST[:PORT]` and `/etc/docker/certs.d/HOST[:PORT]`.
    public var certificateDirectory: String?
    /// `--tls-verify=false`: accept any certificate, and plain HTTP.
    public var verifyTLS: Bool
    public var environment: [String: String]

    public init(
        credentials: String? = nil, certificateDirectory: String? = nil, verifyTLS: Bool = true,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.credentials = credentials
        self.certificateDirectory = certificateDirectory
        self.verifyTLS = verifyTLS
        self.environment = environment
    }

    /// Plain HTTP is tried (after HTTPS) only here: on this machine, or when told to.
    func allowsPlainHTTP(host: String) -> Bool {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        return !verifyTLS || ["localhost", "127.0.0.1", "[::1]"].contains(name) || host.hasPrefix("[::1]")
    }

    func tlsConfiguration(host: String) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !verifyTLS { tls.certificateVerification = .none }
        let directories =
            certificateDirectory.map { [$0] }
            ?? ["/etc/containers/certs.d/\(host)", "/etc/docker/certs.d/\(host)"]
        for directory in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() {
                let path = directory + "/" + name
                if name.hasSuffix(".crt") {
                    tls.additionalTrustRoots.append(.file(path))
                } else if name.hasSuffix(".cert") {
                    let key = directory + "/" + name.dropLast(5) + ".key"
                    do {
                        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(path).map { .certificate($0) }
                        // Read here as PEM: given a path, the TLS library takes a `.key` file for DER.
                        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                    } catch {
                        throw RegistryError.badCredentials(source: path, reason: "\(error)")
                    }
                }
            }
        }
        return tls
    }
}

/// A user name and password (or identity token) for one registry.
struct Credential: Equatable, Sendable {
    var username: String
    var password: String

    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

extension RegistryAccess {
    /// Where Docker and podman keep credentials, in the order skopeo reads them.
    func credential(for host: String) throws -> Credential? {
        if let credentials {
            guard let colon = credentials.firstIndex(of: ":"), colon != credentials.startIndex else {
                throw RegistryError.badCredentials(source: "--creds", reason: "expected USER:PASS")
            }
            return Credential(
                username: String(credentials[..<colon]),
                password: String(credentials[credentials.index(after: colon)...]))
        }
        var files: [String] = []
        if let file = environment["REGISTRY_AUTH_FILE"] { files.append(file) }
        if let runtime = environment["XDG_RUNTIME_DIR"] { files.append(runtime + "/containers/auth.json") }
        let home = environment["HOME"] ?? NSHomeDirectory()
        files.append((environment["DOCKER_CONFIG"] ?? home + "/.docker") + "/config.json")
        for file in files where FileManager.default.fileExists(atPath: file) {
            if let found = try AuthFile(path: file).credential(for: host, environment: environment) { return found }
        }
        return nil
    }
}

/// `~/.docker/config.json` and containers' `auth.json`: `auths`, `credHelpers`, `credsStore`.
struct AuthFile {
    let path: String
    private let document: [String: Any]

    init(path: String) throws {
        self.path = path
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw RegistryError.badCredentials(source: path, reason: "not a JSON object")
            }
            document = object
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError.badCredentials(source: path, reason: "\(error.localizedDescription)")
        }
    }

    func credential(for host: String, environment: [String: String]) throws -> Credential? {
        let keys = Self.keys(for: host)
        if let helpers = document["credHelpers"] as? [String: String],
            let helper = keys.lazy.compactMap({ helpers[$0] }).first
        {
            return try Self.ask(helper: helper, host: host, environment: environment)
        }
        if let auths = document["auths"] as? [String: Any] {
            for key in keys {
                guard let entry = auths[key] as? [String: Any] else { continue }
                if let found = try decode(entry) { return found }
            }
        }
        if let store = document["credsStore"] as? String, !store.isEmpty {
            return try Self.ask(helper: store, host: host, environment: environment)
        }
        return nil
    }

    /// Docker files Docker Hub under its old index address, and others under `https://HOST` at times.
    private static func keys(for host: String) -> [String] {
        if host == "registry-1.docker.io" {
            return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
        }
        return [host, "https://\(host)", "http://\(host)"]
    }

    private func decode(_ entry: [String: Any]) throws -> Credential? {
        if let auth = entry["auth"] as? String, !auth.isEmpty {
            guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else { throw RegistryError.badCredentials(source: path, reason: "an auth entry is not base64 USER:PASS") }
            return Credential(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        if let user = entry["username"] as? String, let password = entry["password"] as? String {
            return Credential(username: user, password: password)
        }
        if let token = entry["identitytoken"] as? String {
            return Credential(username: "<token>", password: token)
        }
        return nil
    }

    /// Runs `docker-credential-NAME get` with the registry on standard input, as Docker does.
    static func ask(helper: String, host: String, environment: [String: String]) throws -> Credential? {
        let name = "docker-credential-" + helper
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name, "get"]
        process.environment = environment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw RegistryError.credentialHelper(helper: name, reason: "cannot run it: \(error.localizedDescription)")
        }
        input.fileHandleForWriting.write(Data(host.utf8))
        try? input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let said = String(decoding: answer, as: UTF8.self) + complaint
        guard process.terminationStatus == 0 else {
            // Helpers answer this way for a registry they hold nothing for.
            if said.contains("credentials not found") { return nil }
            if process.terminationStatus == 127 {
                throw RegistryError.credentialHelper(helper: name, reason: "it is not on PATH")
            }
            throw RegistryError.credentialHelper(
                helper: name, reason: said.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any],
            let user = object["Username"] as? String, let secret = object["Secret"] as? String
        else {
            throw RegistryError.credentialHelper(helper: name, reason: "it did not answer with Username and Secret")
        }
        return Credential(username: user, password: secret)
    }
}
