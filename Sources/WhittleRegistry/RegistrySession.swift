import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One registry and repository, reached and logged in to: the scheme that answered, and the
/// `Authorization` header its challenge asked for (Basic, or a Bearer token from its realm
/// with the scope wanted). Every request of a pull or push goes through `send`.
final class RegistrySession: Sendable {
    let host: String
    let repository: String
    private let client: HTTPClient
    /// `https://HOST` (or `http://HOST` where plain HTTP is allowed and HTTPS did not answer).
    private let base: String
    /// Replaced when a Bearer token runs out during a long pull (`send` asks for another).
    private let authorization: Mutex<String?>
    /// How to log in again: the challenge and what it was answered for.
    private let login: Login?

    private struct Login: Sendable {
        var challenge: AuthChallenge
        var access: RegistryAccess
        var actions: String
    }

    private init(
        host: String, repository: String, client: HTTPClient, base: String, authorization: String?,
        login: Login? = nil
    ) {
        self.host = host
        self.repository = repository
        self.client = client
        self.base = base
        self.authorization = Mutex(authorization)
        self.login = login
    }

    /// Opens a session for `actions` (`pull`, or `pull,push`) on the repository, runs `body`,
    /// and shuts the client down whatever happens.
    static func with<T: Sendable>(
        _ reference: RegistryReference, access: RegistryAccess, actions: String,
        _ body: @Sendable (RegistrySession) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: try access.tlsConfiguration(host: reference.host),
            timeout: .init(connect: .seconds(30), read: .seconds(300)))
        // A refused connection or certificate is the answer; retrying until the deadline only
        // delays the error by half a minute.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let session = try await open(reference, access: access, actions: actions, client: client)
            let result = try await body(session)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private static func open(
        _ reference: RegistryReference, access: RegistryAccess, actions: String,
        client: HTTPClient
    ) async throws -> RegistrySession {
        let host = reference.host
        let schemes = ["https"] + (access.allowsPlainHTTP(host: host) ? ["http"] : [])
        var firstFailure: (any Error)?
        for scheme in schemes {
            let base = "\(scheme)://\(host)"
            let ping: HTTPClientResponse
            do {
                ping = try await client.execute(HTTPClientRequest(url: base + "/v2/"), timeout: .seconds(30))
            } catch {
                firstFailure = firstFailure ?? error
                // A certificate that failed the check came from a TLS server: plain HTTP cannot help.
                if Self.isUntrustedCertificate(error) { break }
                continue
            }
            _ = try? await ping.body.collect(upTo: 1 << 20)
            let plain = RegistrySession(
                host: host, repository: reference.repository, client: client, base: base,
                authorization: nil)
            switch ping.status.code {
            case 200..<300:
                return plain
            case 401:
                let header = ping.headers.first(name: "WWW-Authenticate") ?? ""
                guard let challenge = AuthChallenge(header: header) else {
                    throw RegistryError.badResponse(registry: host, step: "log in", reason: "a 401 without a challenge")
                }
                let authorization = try await plain.authorize(challenge, access: access, actions: actions)
                let session = RegistrySession(
                    host: host, repository: reference.repository, client: client, base: base,
                    authorization: authorization, login: Login(challenge: challenge, access: access, actions: actions))
                // A wrong password shows here, before anything is read or written.
                _ = try await session.send(.GET, "/v2/", step: "log in", expecting: [200])
                return session
            default:
                // Plain HTTP to a TLS port gets a 400: what went wrong is HTTPS's failure.
                if let firstFailure {
                    throw RegistryError.unreachable(
                        registry: host, step: "connect", reason: Self.describe(firstFailure))
                }
                throw RegistryError.status(
                    registry: host, step: "answer the API check /v2/", status: Int(ping.status.code),
                    advice: "is this a registry (the OCI distribution API)?")
            }
        }
        throw RegistryError.unreachable(registry: host, step: "connect", reason: Self.describe(firstFailure))
    }

    /// The header a challenge asks for: credentials for Basic, a token for Bearer.
    private func authorize(_ challenge: AuthChallenge, access: RegistryAccess, actions: String) async throws -> String {
        let credential = try access.credential(for: host)
        switch challenge.scheme {
        case "basic":
            guard let credential else { throw RegistryError.noCredentials(registry: host) }
            return credential.basicAuthorization
        case "bearer":
            return "Bearer " + (try await token(challenge, credential: credential, actions: actions))
        default:
            throw RegistryError.badResponse(
                registry: host, step: "log in",
                reason: "unknown authentication scheme '\(challenge.scheme)'")
        }
    }

    /// Docker's token flow: GET the realm with the service and the scope, with Basic
    /// credentials when there are some (anonymous otherwise).
    private func token(_ challenge: AuthChallenge, credential: Credential?, actions: String) async throws -> String {
        guard let realm = challenge.parameters["realm"], var url = URLComponents(string: realm) else {
            throw RegistryError.badResponse(
                registry: host, step: "log in", reason: "a Bearer challenge without a realm")
        }
        var query = url.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: "repository:\(repository):\(actions)"))
        url.queryItems = query
        guard let address = url.string else {
            throw RegistryError.badResponse(registry: host, step: "log in", reason: "an unusable realm '\(realm)'")
        }
        var request = HTTPClientRequest(url: address)
        if let credential { request.headers.add(name: "Authorization", value: credential.basicAuthorization) }
        let step = "issue a token (\(realm))"
        let response = try await execute(request, step: step)
        let body = try await collect(response, limit: 1 << 20, step: step)
        guard response.status.code == 200 else {
            throw RegistryError.status(
                registry: host, step: step, status: Int(response.status.code),
                advice: RegistryError.advice(status: Int(response.status.code), step: step))
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let token = (object["token"] as? String) ?? (object["access_token"] as? String), !token.isEmpty
        else { throw RegistryError.badResponse(registry: host, step: step, reason: "no token in the answer") }
        return token
    }

    // MARK: requests

    /// Sends a request to the registry (a path, or a full URL it gave, such as an upload
    /// location), logged in, and checks the status. The body is left to the caller.
    func send(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [],
        body: HTTPClientRequest.Body? = nil, step: String, expecting: Set<Int>
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: target.hasPrefix("http") ? target : base + target)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = body
        let sent = authorization.withLock { $0 }
        var response = try await execute(request, authorization: sent, step: step)
        // A token that ran out (Docker Hub's last five minutes) is renewed once, and the
        // request sent again: bodies here are bytes or file slices, which can be read twice.
        if response.status.code == 401, !expecting.contains(401), let login, login.challenge.scheme == "bearer" {
            _ = try? await response.body.collect(upTo: 1 << 20)
            let renewed = try await authorize(login.challenge, access: login.access, actions: login.actions)
            authorization.withLock { $0 = renewed }
            response = try await execute(request, authorization: renewed, step: step)
        }
        let status = Int(response.status.code)
        guard expecting.contains(status) else {
            let said = (try? await collect(response, limit: 64 << 10, step: step)).flatMap(Self.registryMessage)
            let advice = [RegistryError.advice(status: status, step: step), said.map { "the registry says: \($0)" }]
                .compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "; ")
            throw RegistryError.status(registry: host, step: step, status: status, advice: advice)
        }
        return response
    }

    /// A relative `Location` is relative to the registry.
    func absolute(_ location: String) -> String {
        location.hasPrefix("http://") || location.hasPrefix("https://") ? location : base + location
    }

    private func execute(
        _ request: HTTPClientRequest, authorization: String?, step: String
    ) async throws
        -> HTTPClientResponse
    {
        var request = request
        if let authorization { request.headers.replaceOrAdd(name: "Authorization", value: authorization) }
        return try await execute(request, step: step)
    }

    private func execute(_ request: HTTPClientRequest, step: String) async throws -> HTTPClientResponse {
        do {
            return try await client.execute(request, timeout: .hours(1))
        } catch {
            throw RegistryError.connectionLost(registry: host, step: step, reason: Self.describe(error))
        }
    }

    func collect(_ response: HTTPClientResponse, limit: Int, step: String) async throws -> [UInt8] {
        do {
            var buffer = try await response.body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch let error as NIOTooManyBytesError {
            throw RegistryError.badResponse(registry: host, step: step, reason: "more than \(limit) bytes (\(error))")
        } catch {
            throw RegistryError.connectionLost(registry: host, step: step, reason: Self.describe(error))
        }
    }

    /// BoringSSL's verdict on the server's certificate, which NIOSSL passes on only as text.
    static func isUntrustedCertificate(_ error: any Error) -> Bool {
        "\(error)".contains("CERTIFICATE_VERIFY_FAILED")
    }

    /// The distribution API's `{"errors":[{"code":…,"message":…}]}`, as one line.
    private static func registryMessage(_ body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let errors = object["errors"] as? [[String: Any]], !errors.isEmpty
        else { return nil }
        return errors.map { "\($0["code"] as? String ?? "?"): \($0["message"] as? String ?? "")" }
            .joined(separator: ", ")
    }

    static func describe(_ error: (any Error)?) -> String {
        guard let error else { return "no answer" }
        if isUntrustedCertificate(error) { return "its TLS certificate is not signed by a CA this machine trusts" }
        if let error = error as? HTTPClientError { return "\(error)" }
        return String(describing: error)
    }
}
