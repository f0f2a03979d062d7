import AsyncHTTPClient
import Foundation
import NIOCore
import WhittleCompression
import WhittleFiles

/// The Docker engine's API (or podman's Docker-compatible one) on its socket: images are
/// exported as a `docker save` tarball and loaded from one, as the `docker` CLI does it,
/// without needing the CLI.
public struct DockerEngine: Sendable {
    /// `unix:///var/run/docker.sock` or `tcp://HOST:PORT`, for messages.
    public let host: String
    private let socketPath: String?
    private let address: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let host = environment["DOCKER_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "unix:///var/run/docker.sock"
        self.host = host
        if host.hasPrefix("unix://") {
            socketPath = String(host.dropFirst("unix://".count))
            address = nil
        } else if host.hasPrefix("tcp://") || host.hasPrefix("http://") {
            socketPath = nil
            address = "http://" + host.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: true)[1]
        } else {
            throw RegistryError.badCredentials(source: "DOCKER_HOST", reason: "'\(host)' is neither unix:// nor tcp://")
        }
    }

    /// Streams image `name` (`app:1`, or an ID) as a `docker save` tarball into `file`.
    public func export(_ name: String, to file: OpenFile, meter: ByteMeter?) throws {
        let url = try self.url("/images/get?names=" + Self.queryEncoded(name))
        let step = "export \(name)"
        try runBlocking {
            try await withClient { client in
                let response = try await execute(client, request(url), step: step)
                guard response.status.code == 200 else {
                    throw try await failure(
                        response, step: step,
                        advice: response.status.code == 404
                            ? "check the name and tag (docker images lists them)" : "")
                }
                let sink = FileSink(fileDescriptor: file.descriptor)
                var received = 0
                do {
                    for try await chunk in response.body {
                        try chunk.withUnsafeReadableBytes { try sink.write($0) }
                        received += chunk.readableBytes
                        meter?.add(chunk.readableBytes)
                    }
                } catch let error as CompressionError {
                    throw RegistryError.cannotWrite(path: file.path, reason: "\(error)")
                } catch {
                    throw RegistryError.engineUnreachable(
                        host: host, step: step,
                        reason: RegistrySession.describe(error))
                }
                guard received > 0 else {
                    throw RegistryError.badResponse(
                        registry: "the Docker engine at \(host)", step: step,
                        reason: "an empty export")
                }
            }
        }
    }

    /// Loads the image tarball at `path` (POST /images/load) and returns what the engine
    /// said it loaded.
    public func load(archive path: String, meter: ByteMeter?) throws -> String {
        let file = try OpenFile(path: path)
        let url = try self.url("/images/load?quiet=1")
        let step = "load the image"
        return try runBlocking {
            try await withClient { client in
                var request = request(url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/x-tar")
                request.body = .stream(
                    FileChunks(slice: FileSlice(file: file, offset: 0, length: file.size), meters: [meter]),
                    length: .known(file.size))
                let response = try await execute(client, request, step: step)
                guard response.status.code == 200 else { throw try await failure(response, step: step, advice: "") }
                var body = try await response.body.collect(upTo: 1 << 20)
                let text = body.readString(length: body.readableBytes) ?? ""
                // A JSON message per line: {"stream":"Loaded image: …"} or {"error":"…"}.
                var loaded: [String] = []
                for line in text.split(separator: "\n") {
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    else { continue }
                    if let error = object["error"] as? String {
                        throw RegistryError.badResponse(
                            registry: "the Docker engine at \(host)", step: step, reason: error)
                    }
                    if let stream = object["stream"] as? String {
                        loaded.append(stream.trimmingCharacters(in: .whitespacesAndNewlines))
                    }
                }
                return loaded.joined(separator: "; ")
            }
        }
    }

    private func url(_ path: String) throws -> String {
        if let address { return address + path }
        guard let socketPath, let url = URL(httpURLWithSocketPath: socketPath, uri: path) else {
            throw RegistryError.badCredentials(source: "DOCKER_HOST", reason: "cannot address '\(host)'")
        }
        return url.absoluteString
    }

    /// The engine refuses the socket path as a Host header (HTTP 400), as Go's server does
    /// any name with a slash in it; the docker CLI sends a fixed name too.
    private func request(_ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        if socketPath != nil { request.headers.add(name: "Host", value: "docker") }
        return request
    }

    private func withClient<T: Sendable>(_ body: @Sendable (HTTPClient) async throws -> T) async throws -> T {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func execute(
        _ client: HTTPClient, _ request: HTTPClientRequest, step: String
    ) async throws
        -> HTTPClientResponse
    {
        do {
            return try await client.execute(request, timeout: .hours(1))
        } catch {
            throw RegistryError.engineUnreachable(host: host, step: step, reason: RegistrySession.describe(error))
        }
    }

    /// The engine's `{"message": …}` as the reason.
    private func failure(_ response: HTTPClientResponse, step: String, advice: String) async throws -> RegistryError {
        var body = (try? await response.body.collect(upTo: 64 << 10)) ?? ByteBuffer()
        let text = body.readString(length: body.readableBytes) ?? ""
        let message =
            (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["message"] as? String
        let said = [message.map { "the engine says: \($0)" }, advice.isEmpty ? nil : advice].compactMap { $0 }
        return RegistryError.status(
            registry: "the Docker engine at \(host)", step: step,
            status: Int(response.status.code), advice: said.joined(separator: "; "))
    }

    private static func queryEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
