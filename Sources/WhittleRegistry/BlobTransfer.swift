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
        let response = try await send(
            .GET, "/v2/\(repository)/blobs/\(descriptor.digest)", step: step,
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
            throw RegistryError.sizeMismatch(
                registry: host, blob: descriptor.digest, expected: descriptor.size,
                actual: received)
        }
        let actual = ContentDigest(hasher.finalize()).description
        guard actual == descriptor.digest else {
            throw RegistryError.digestMismatch(registry: host, blob: descriptor.digest, actual: actual)
        }
    }

    /// A small document (manifest, index, config) whose digest is checked when one is known.
    func document(
        _ target: String, accept: [String], expectedDigest: String?, step: String
    ) async throws
        -> (bytes: [UInt8], mediaType: String?, digest: ContentDigest)
    {
        let response = try await send(
            .GET, target, headers: accept.map { ("Accept", $0) }, step: step,
            expecting: [200])
        let bytes = try await collect(response, limit: 8 << 20, step: step)
        let actual = ContentDigest(of: bytes)
        let claimed = expectedDigest ?? response.headers.first(name: "Docker-Content-Digest")
        // A claim in another algorithm cannot be checked here; the caller names the blob by `actual`.
        if let claimed, claimed.hasPrefix(ContentDigest.prefix), claimed != actual.description {
            throw RegistryError.digestMismatch(registry: host, blob: claimed, actual: actual.description)
        }
        let type = response.headers.first(name: "Content-Type")?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return (bytes, type, actual)
    }

    /// Uploads a blob unless the repository has it: first as one PUT of the whole blob (the
    /// monolithic upload most registries take), and if the registry (or a proxy before it)
    /// refuses a body that large (413), in PATCH parts it does take.
    func upload(_ digest: String, from slice: FileSlice, meter: ByteMeter?) async throws {
        let existing = try await send(
            .HEAD, "/v2/\(repository)/blobs/\(digest)", step: "check for blob \(digest)",
            expecting: [200, 404])
        if existing.status.code == 200 {
            meter?.add(slice.length)
            return
        }
        let (location, minimumPart) = try await startUpload()
        let attempt = ByteMeter()
        do {
            try await finishUpload(at: location, digest: digest, with: slice, meters: [meter, attempt])
        } catch RegistryError.status(_, _, 413, _) {
            meter?.add(-attempt.done)
            let (location, _) = try await startUpload()
            // The whole blob was too large: parts start below half of it.
            let size = max(minimumPart ?? 0, min(Self.firstPartSize, max(slice.length / 2, Self.smallestPartSize)))
            try await uploadInParts(digest, from: slice, at: location, partSize: size, meter: meter)
        }
    }

    /// Parts are at most 8 MiB, and halve while the registry refuses them as too large.
    static let firstPartSize: Int64 = 8 << 20
    static let smallestPartSize: Int64 = 64 << 10

    /// The upload location, and the smallest part the registry takes (`OCI-Chunk-Min-Length`).
    private func startUpload() async throws -> (String, Int64?) {
        let started = try await send(
            .POST, "/v2/\(repository)/blobs/uploads/", step: "start an upload",
            expecting: [202])
        _ = try? await started.body.collect(upTo: 1 << 20)
        guard let location = started.headers.first(name: "Location") else {
            throw RegistryError.badResponse(registry: host, step: "start an upload", reason: "no Location header")
        }
        return (location, started.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int64($0) })
    }

    /// The closing PUT with the digest, carrying `slice` (all of the blob, or what is left of it).
    private func finishUpload(
        at location: String, digest: String, with slice: FileSlice?,
        meters: [ByteMeter?]
    ) async throws {
        let separator = location.contains("?") ? "&" : "?"
        let target = absolute(location) + separator + "digest=" + digest.replacingOccurrences(of: ":", with: "%3A")
        let body = slice.map {
            HTTPClientRequest.Body.stream(FileChunks(slice: $0, meters: meters), length: .known($0.length))
        }
        let stored = try await send(
            .PUT, target,
            headers: [("Content-Type", "application/octet-stream")] + (slice == nil ? [("Content-Length", "0")] : []),
            body: body, step: "upload blob \(digest)", expecting: [201, 204])
        _ = try? await stored.body.collect(upTo: 1 << 20)
    }

    /// PATCH after PATCH, each part at the offset the registry has, each to the location its
    /// last answer gave; then the closing PUT.
    private func uploadInParts(
        _ digest: String, from slice: FileSlice, at start: String, partSize: Int64,
        meter: ByteMeter?
    ) async throws {
        var location = start
        var size = partSize
        var offset: Int64 = 0
        while offset < slice.length {
            let count = min(size, slice.length - offset)
            let part = FileSlice(file: slice.file, offset: slice.offset + offset, length: count)
            let attempt = ByteMeter()
            do {
                let response = try await send(
                    .PATCH, absolute(location),
                    headers: [
                        ("Content-Type", "application/octet-stream"),
                        ("Content-Range", "\(offset)-\(offset + count - 1)"),
                    ],
                    body: .stream(FileChunks(slice: part, meters: [meter, attempt]), length: .known(count)),
                    step: "upload part \(offset)-\(offset + count - 1) of blob \(digest)", expecting: [202])
                _ = try? await response.body.collect(upTo: 1 << 20)
                location = response.headers.first(name: "Location") ?? location
                offset += count
            } catch RegistryError.status(_, _, 413, _) where size / 2 >= Self.smallestPartSize {
                meter?.add(-attempt.done)
                size /= 2
            }
        }
        try await finishUpload(at: location, digest: digest, with: nil, meters: [])
    }
}

/// A slice of a file as request body chunks of 1 MiB, read as the upload asks for them.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let slice: FileSlice
    /// Each counts the bytes read: the progress bar's, and one for the attempt (taken back
    /// from the bar if the attempt is refused).
    let meters: [ByteMeter?]

    init(slice: FileSlice, meters: [ByteMeter?]) {
        self.slice = slice
        self.meters = meters
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(slice: slice, meters: meters)
    }

    struct Iterator: AsyncIteratorProtocol {
        let slice: FileSlice
        let meters: [ByteMeter?]
        var position: Int64 = 0

        init(slice: FileSlice, meters: [ByteMeter?]) {
            self.slice = slice
            self.meters = meters
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
            for meter in meters { meter?.add(got) }
            return buffer
        }
    }
}
