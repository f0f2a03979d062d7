import Foundation
import WhittleCompression
import WhittleFiles
import WhittleImage

/// `docker://…` to an OCI layout directory that `SavedImage` reads like any other: the
/// manifest (chosen from an index by platform), its config, and its layers fetched
/// concurrently, each checked against its digest as it streams to disk.
public enum RegistryPull {
    static let manifestTypes = [
        MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest,
        MediaType.dockerManifestList,
    ]
    /// Layers in flight at once: enough to fill a link, few enough not to be throttled.
    static let concurrentLayers = 4

    /// Pulls `reference` into the empty directory `layout`. `meter` counts blob bytes.
    public static func pull(
        _ reference: RegistryReference, platform: Platform, access: RegistryAccess,
        into layout: String, meter: ByteMeter?
    ) throws {
        try runBlocking {
            try await RegistrySession.with(reference, access: access, actions: "pull") { session in
                try await pull(reference, platform: platform, session: session, into: layout, meter: meter)
            }
        }
    }

    private static func pull(
        _ reference: RegistryReference, platform: Platform, session: RegistrySession,
        into layout: String, meter: ByteMeter?
    ) async throws {
        let repository = session.repository
        var document = try await session.document(
            "/v2/\(repository)/manifests/\(reference.reference)", accept: manifestTypes,
            expectedDigest: reference.digest, step: "send manifest \(reference.reference)")
        var mediaType = try Self.mediaType(of: document.bytes, header: document.mediaType, session: session)
        if MediaType.indexes.contains(mediaType) {
            let chosen = try choose(platform, from: document.bytes, session: session)
            document = try await session.document(
                "/v2/\(repository)/manifests/\(chosen.digest)", accept: manifestTypes, expectedDigest: chosen.digest,
                step: "send manifest \(chosen.digest) for \(platform)")
            mediaType = try Self.mediaType(of: document.bytes, header: document.mediaType, session: session)
        }
        guard MediaType.manifests.contains(mediaType) else {
            throw RegistryError.badResponse(
                registry: session.host, step: "send manifest",
                reason: "media type '\(mediaType)' is not an image manifest")
        }
        let manifest: ImageManifest = try decode(document.bytes, session: session, what: "the manifest")
        try write(document.bytes, named: document.digest, in: layout)
        meter?.expect(manifest.layers.reduce(manifest.config.size) { $0 + $1.size })
        var blobs = [manifest.config] + manifest.layers
        var seen = Set<String>()
        blobs = blobs.filter { seen.insert($0.digest).inserted }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (position, blob) in blobs.enumerated() {
                if position >= concurrentLayers { try await group.next() }
                let path = try blobPath(blob.digest, in: layout, session: session)
                group.addTask { try await session.download(blob, to: path, meter: meter) }
            }
            try await group.waitForAll()
        }
        let descriptor = Descriptor(
            mediaType: mediaType, digest: document.digest.description, size: Int64(document.bytes.count),
            annotations: ["org.opencontainers.image.ref.name": reference.name])
        try writeFile(layout + "/index.json", try JSONEncoder.canonical.encode(ImageIndex(manifests: [descriptor])))
        try writeFile(layout + "/oci-layout", Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
    }

    /// The manifest for `platform` in an index (`unknown/unknown` entries are attestations).
    private static func choose(_ platform: Platform, from bytes: [UInt8], session: RegistrySession) throws -> Descriptor
    {
        let index: ImageIndex = try decode(bytes, session: session, what: "the image index")
        let images = index.manifests.filter { $0.platform?.os != "unknown" }
        if let match = images.first(where: { $0.platform.map(platform.matches) ?? false }) { return match }
        throw RegistryError.badResponse(
            registry: session.host, step: "choose a platform",
            reason: "the image has no variant for \(platform); choose one with --platform: "
                + images.compactMap { $0.platform?.description }.joined(separator: ", "))
    }

    private static func mediaType(of bytes: [UInt8], header: String?, session: RegistrySession) throws -> String {
        struct Typed: Decodable {
            var mediaType: String?
            var manifests: [Descriptor]?
        }
        let typed: Typed = try decode(bytes, session: session, what: "the manifest")
        if let type = typed.mediaType { return type }
        if let header, header != "application/json" { return header }
        return typed.manifests == nil ? MediaType.ociManifest : MediaType.ociIndex
    }

    private static func decode<T: Decodable>(_ bytes: [UInt8], session: RegistrySession, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw RegistryError.badResponse(registry: session.host, step: "send \(what)", reason: "\(error)")
        }
    }

    private static func blobPath(_ digest: String, in layout: String, session: RegistrySession) throws -> String {
        guard let parsed = try? ContentDigest(parsing: digest) else {
            throw RegistryError.badResponse(
                registry: session.host, step: "send manifest",
                reason: "unsupported digest '\(digest)': only sha256 is supported")
        }
        return try blobPath(parsed, in: layout)
    }

    /// The blob's path in the layout, its directory created on first use.
    private static func blobPath(_ digest: ContentDigest, in layout: String) throws -> String {
        try? FileManager.default.createDirectory(
            atPath: layout + "/" + ContentDigest.blobDirectory, withIntermediateDirectories: true)
        return layout + "/" + digest.blobPath
    }

    private static func write(_ bytes: [UInt8], named digest: ContentDigest, in layout: String) throws {
        try writeFile(try blobPath(digest, in: layout), Data(bytes))
    }

    private static func writeFile(_ path: String, _ data: Data) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw RegistryError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }
}

extension JSONEncoder {
    static var canonical: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
