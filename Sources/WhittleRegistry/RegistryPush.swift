import Foundation
import WhittleCompression
import WhittleFiles
import WhittleImage

/// An image tarball (as whittle writes it) to `docker://…`: its blobs first, the manifest
/// last, so that a push that fails anywhere leaves the tag where it was.
public enum RegistryPush {
    /// Pushes the image of the OCI archive at `archive` and returns its manifest digest.
    public static func push(
        archive: String, to reference: RegistryReference, access: RegistryAccess,
        meter: ByteMeter?
    ) throws -> String {
        let image = try ArchivedImage(path: archive)
        meter?.expect(image.blobs.reduce(0) { $0 + $1.slice.length })
        return try runBlocking {
            try await RegistrySession.with(reference, access: access, actions: "pull,push") { session in
                for blob in image.blobs {
                    try await session.upload(blob.digest, from: blob.slice, meter: meter)
                }
                let target = reference.tag ?? image.manifestDigest
                if let digest = reference.digest, digest != image.manifestDigest {
                    throw RegistryError.badResponse(
                        registry: session.host, step: "push manifest",
                        reason: "the image's manifest is \(image.manifestDigest), not the \(digest) asked for")
                }
                let stored = try await session.send(
                    .PUT, "/v2/\(session.repository)/manifests/\(target)",
                    headers: [("Content-Type", image.manifestMediaType)],
                    body: .bytes(image.manifest), step: "push manifest \(target)", expecting: [201, 200])
                _ = try? await stored.body.collect(upTo: 1 << 20)
                let said = stored.headers.first(name: "Docker-Content-Digest")
                if let said, said != image.manifestDigest {
                    throw RegistryError.digestMismatch(registry: session.host, blob: image.manifestDigest, actual: said)
                }
                return image.manifestDigest
            }
        }
    }
}

/// The one image of an OCI archive: its manifest's exact bytes, and where its blobs are.
struct ArchivedImage: Sendable {
    var manifest: [UInt8]
    var manifestDigest: String
    var manifestMediaType: String
    /// Layers, then the config.
    var blobs: [(digest: String, slice: FileSlice)]

    init(path: String) throws {
        let store = try TarBlobStore(file: try OpenFile(path: path))
        func member(_ name: String) throws -> FileSlice {
            guard let slice = try store.slice(named: name) else {
                throw ImageError.notAnImage(path: path, reason: "it has no \(name)")
            }
            return slice
        }
        func bytes(_ name: String) throws -> [UInt8] {
            guard let bytes = try member(name).bytes(limit: 8 << 20) else {
                throw ImageError.notAnImage(path: path, reason: "\(name) is implausibly large")
            }
            return bytes
        }
        let index = try JSONDecoder().decode(ImageIndex.self, from: Data(try bytes("index.json")))
        guard index.manifests.count == 1, let descriptor = index.manifests.first else {
            throw ImageError.notAnImage(path: path, reason: "index.json does not name exactly one image")
        }
        manifest = try bytes(try ContentDigest(parsing: descriptor.digest).blobPath)
        manifestDigest = sha256Digest(of: manifest)
        guard manifestDigest == descriptor.digest else {
            throw ImageError.digestMismatch(name: "manifest", expected: descriptor.digest, actual: manifestDigest)
        }
        manifestMediaType = descriptor.mediaType ?? MediaType.ociManifest
        let parsed = try JSONDecoder().decode(ImageManifest.self, from: Data(manifest))
        blobs = try (parsed.layers + [parsed.config]).map {
            ($0.digest, try member(try ContentDigest(parsing: $0.digest).blobPath))
        }
    }
}
