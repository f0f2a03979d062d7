import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import WhittleCompression
import WhittleFiles
import WhittleImage

extension RegistrySession {
    /// Streams a blob into `path`, hashing it on the way: a blob whose size or digest differs
    /// from its descriptor is refused (the caller's scratch directory goes with it).
    func download(_ descriptor: Descriptor, to path: String, meter: ByteMeter?) async throws {
        let step = "send blob \(descriptor.digest)"
        let response = try await send(.GET, "/v2/\(repository)/blobs/\(descriptor.digest)", step: step,
                                      expecting: [200])
        let file: OpenFile
        do {
            file = try OpenFile(path: path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        } catch {
            throw RegistryError.cannotWrite(path: path, reason: "\(error)")
        }
        let sink = FileSink(fileDescriptor: file.descriptor)
        var hasher = SHA256()
        var received: Int64 = 0
        do {
            for try await chunk in response.body {
                received += Int64(chunk.readableBytes)
                guard received <= descriptor.size else { break }
                try chunk.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    try sink.write(bytes)
                }
                meter?.add(chunk.readableBytes)
            }
        } catch let error as CompressionError {
            throw RegistryError.cannotWrite(path: path, reason: "\(error)")
        } catch {
            throw RegistryError.connectionLost(registry: host, step: step, reason: Self.describe(error))
        }
        guard received == descriptor.size else {
            throw RegistryError.sizeMismatch(registry: host, blob: descriptor.digest, expected: descriptor.size,
                                             actual: received)
        }
        let actual = "sha256:" + hexString(hasher.finalize())
        guard actual == descriptor.digest else {
            throw RegistryError.digestMismatch(registry: host, blob: descriptor.digest, actual: actual)
        }
    }

    /// A small document (manifest, index, config) whose digest is checked when one is known.
    func document(_ target: String, accept: [String], expectedDigest: String?, step: String) async throws
        -> (bytes: [UInt8], mediaType: String?, digest: String) {
        let response = try await send(.GET, target, headers: accept.map { ("Accept", $0) }, step: step,
                                      expecting: [200])
        let bytes = try await collect(response, limit: 8 << 20, step: step)
        let actual = sha256Digest(of: bytes)
        let claimed = expectedDigest ?? response.headers.first(name: "Docker-Content-Digest")
        if let claimed, claimed.hasPrefix("sha256:"), claimed != actual {
            throw RegistryError.digestMismatch(registry: host, blob: claimed, actual: actual)
        }
        let type = response.headers.first(name: "Content-Type")?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return (bytes, type, actual)
    }

    /// Uploads a blob unless the repository has it: one POST for an upload location, then
    /// one PUT of the whole blob with its digest (the monolithic upload every registry takes).
    func upload(_ digest: String, from slice: FileSlice, meter: ByteMeter?) async throws {
        let existing = try await send(.HEAD, "/v2/\(repository)/blobs/\(digest)", step: "check for blob \(digest)",
                                      expecting: [200, 404])
        if existing.status.code == 200 {
            meter?.add(slice.length)
            return
        }
        let started = try await send(.POST, "/v2/\(repository)/blobs/uploads/", step: "start an upload",
                                     expecting: [202])
        _ = try? await started.body.collect(upTo: 1 << 20)
        guard let location = started.headers.first(name: "Location") else {
            throw RegistryError.badResponse(registry: host, step: "start an upload", reason: "no Location header")
        }
        let separator = location.contains("?") ? "&" : "?"
        let target = absolute(location) + separator + "digest=" + digest.replacingOccurrences(of: ":", with: "%3A")
        let stored = try await send(
            .PUT, target, headers: [("Content-Type", "application/octet-stream")],
            body: .stream(FileChunks(slice: slice, meter: meter), length: .known(slice.length)),
            step: "upload blob \(digest)", expecting: [201, 204])
        _ = try? await stored.body.collect(upTo: 1 << 20)
    }
}

/// A slice of a file as request body chunks of 1 MiB, read as the upload asks for them.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let slice: FileSlice
    let meter: ByteMeter?

    func makeAsyncIterator() -> Iterator {
        Iterator(slice: slice, meter: meter)
    }

    struct Iterator: AsyncIteratorProtocol {
        let slice: FileSlice
        let meter: ByteMeter?
        var position: Int64 = 0

        init(slice: FileSlice, meter: ByteMeter?) {
            self.slice = slice
            self.meter = meter
        }

        mutating func next() async throws -> ByteBuffer? {
            let remaining = slice.length - position
            guard remaining > 0 else { return nil }
            let count = Int(Swift.min(remaining, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            let offset = slice.offset + position
            let file = slice.file
            let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
                try file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: space[0..<count]))
            }
            guard got > 0 else { throw FileError.truncated(path: file.path) }
            position += Int64(got)
            meter?.add(got)
            return buffer
        }
    }
}

func hexString<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
