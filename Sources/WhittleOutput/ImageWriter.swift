import Foundation
import WhittleArchive
import WhittleCompression
import WhittleFlatten
import WhittleImage

/// How the output layer is stored.
public enum OutputCompression: String, Sendable, CaseIterable {
    case none, gzip
}

public struct WriteOptions: Sendable {
    /// The image name; nil keeps the input's first tag.
    public var tag: String?
    public var compression: OutputCompression
    /// Recorded in the new history entry, e.g. the command line.
    public var createdBy: String
    public var comment: String

    public init(tag: String? = nil, compression: OutputCompression = .none,
                createdBy: String = "whittle slim", comment: String = "") {
        self.tag = tag
        self.compression = compression
        self.createdBy = createdBy
        self.comment = comment
    }
}

/// What was written.
public struct WriteResult: Sendable {
    public let path: String
    public let tag: String
    public let layer: LayerWriteSummary
    /// Digest and size of the stored layer blob (compressed when gzip).
    public let layerDigest: String
    public let layerSize: Int64
    /// Digest and size of the uncompressed layer tar.
    public let diffID: String
    public let uncompressedLayerSize: Int64
    public let outputSize: Int64
}

/// Writes a flattened tree as a single-layer image: an OCI layout plus Docker's
/// `manifest.json` in one tar, which Docker 20.10, skopeo, podman and containerd all load
/// (design notes §4). The tar is assembled under a temporary name and renamed into place.
public struct ImageWriter {
    private let scratch: ScratchDirectory

    public init(scratch: ScratchDirectory) {
        self.scratch = scratch
    }

    public func write(
        _ tree: FileTree, from image: SavedImage, to path: String, options: WriteOptions,
        filter: LayerWriter.Filter? = nil
    ) throws -> WriteResult {
        let tag = try resolveTag(options.tag, image: image)

        // 1. The layer, to scratch space: its digest names it inside the outer tar.
        let layerFile = try scratch.createFile(named: "layer")
        let fileSink = FileSink(fileDescriptor: layerFile.descriptor)
        let blobHash = HashingSink(downstream: fileSink)
        let encoder = options.compression == .gzip ? ParallelGzipEncoder(downstream: blobHash) : nil
        let diffHash = HashingSink(downstream: encoder ?? blobHash)
        let layer = try LayerWriter().write(tree, to: diffHash, filter: filter)
        try encoder?.finish()
        let diffID = "sha256:" + diffHash.hexDigest
        let layerDigest = "sha256:" + blobHash.hexDigest
        let layerSize = blobHash.byteCount

        // 2. Config: every original field kept, with one layer and an honest history.
        let config = try canonicalJSON(newConfig(image.config, diffID: diffID, options: options))
        let configDigest = sha256Digest(of: config)
        let manifest = try canonicalJSON(ImageManifestDocument(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(config.count)),
            layers: [Descriptor(
                mediaType: options.compression == .gzip ? MediaType.ociLayerGzip : MediaType.ociLayer,
                digest: layerDigest, size: layerSize)]))
        let manifestDigest = sha256Digest(of: manifest)
        let platform = Platform(
            architecture: image.config["architecture"]?.stringValue ?? Platform.host.architecture,
            os: image.config["os"]?.stringValue ?? "linux",
            variant: image.config["variant"]?.stringValue)
        let index = try canonicalJSON(IndexDocument(manifests: [Descriptor(
            mediaType: MediaType.ociManifest, digest: manifestDigest, size: Int64(manifest.count),
            annotations: [
                "io.containerd.image.name": ImageName.qualified(tag),
                "org.opencontainers.image.ref.name": ImageName.tag(tag),
            ],
            platform: platform)]))
        let dockerManifest = try canonicalJSON([DockerManifestDocument(
            config: "blobs/sha256/" + hex(configDigest), repoTags: [tag], layers: ["blobs/sha256/" + hex(layerDigest)])])

        // 3. The outer tar, atomically.
        let output = try AtomicOutputFile(destination: path)
        let outputSink = output.sink
        let tar = try TarWriter(name: path) { try outputSink.write($0) }
        try writeDirectory("blobs/", to: tar)
        try writeDirectory("blobs/sha256/", to: tar)
        try writeFile("blobs/sha256/" + hex(configDigest), bytes: config, to: tar)
        try writeFile("blobs/sha256/" + hex(manifestDigest), bytes: manifest, to: tar)
        try copyFile("blobs/sha256/" + hex(layerDigest), from: layerFile, length: layerSize, to: tar)
        try writeFile("index.json", bytes: index, to: tar)
        try writeFile("manifest.json", bytes: dockerManifest, to: tar)
        try writeFile("oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: tar)
        try tar.finish()
        let outputSize = output.size
        try output.commit()
        return WriteResult(
            path: path, tag: tag, layer: layer, layerDigest: layerDigest, layerSize: layerSize, diffID: diffID,
            uncompressedLayerSize: diffHash.byteCount, outputSize: outputSize)
    }

    private func resolveTag(_ requested: String?, image: SavedImage) throws -> String {
        guard let requested else { return image.tags.first ?? "whittled:latest" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-/:")
        guard !requested.isEmpty, requested.allSatisfy({ allowed.contains($0) || $0.isUppercase }),
              !requested.hasPrefix(":"), !requested.hasSuffix(":"), !requested.hasPrefix("/")
        else { throw OutputError.invalidTag(requested) }
        let familiar = ImageName.familiar(requested)
        let repository = familiar[..<(familiar.lastIndex(of: ":") ?? familiar.endIndex)]
        guard !repository.contains(where: \.isUppercase) else { throw OutputError.invalidTag(requested) }
        return familiar
    }

    private func newConfig(_ original: JSONValue, diffID: String, options: WriteOptions) -> JSONValue {
        var config = original
        config["rootfs"] = .object(["type": .string("layers"), "diff_ids": .array([.string(diffID)])])
        var history: [JSONValue] = (original["history"]?.arrayValue ?? []).map { entry in
            var entry = entry
            entry["empty_layer"] = .bool(true)
            return entry
        }
        var added: [String: JSONValue] = ["created_by": .string(options.createdBy)]
        // The input's own creation time, not now: the same input must give the same bytes.
        if let created = original["created"] { added["created"] = created }
        if !options.comment.isEmpty { added["comment"] = .string(options.comment) }
        history.append(.object(added))
        config["history"] = .array(history)
        return config
    }

    private func hex(_ digest: String) -> String {
        String(digest.dropFirst("sha256:".count))
    }

    private func writeDirectory(_ name: String, to tar: TarWriter) throws {
        try tar.writeHeader(TarEntry(path: name, kind: .directory, permissions: 0o755))
    }

    private func writeFile(_ name: String, bytes: [UInt8], to tar: TarWriter) throws {
        try tar.writeHeader(TarEntry(path: name, kind: .regular, permissions: 0o644, size: Int64(bytes.count)))
        try tar.writeData(bytes)
    }

    private func copyFile(_ name: String, from file: OpenFile, length: Int64, to tar: TarWriter) throws {
        try tar.writeHeader(TarEntry(path: name, kind: .regular, permissions: 0o644, size: length))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let got = try file.read(at: done, into: buffer)
            guard got > 0 else { throw OutputError.writeFailed(path: file.path, reason: "layer file is short") }
            try tar.writeData(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            done += Int64(got)
        }
    }
}

/// `manifest.md`, as written.
private struct ImageManifestDocument: Encodable {
    let schemaVersion = 2
    let mediaType = MediaType.ociManifest
    let config: Descriptor
    let layers: [Descriptor]
}

/// `image-index.md`, as written.
private struct IndexDocument: Encodable {
    let schemaVersion = 2
    let mediaType = MediaType.ociIndex
    let manifests: [Descriptor]
}

/// One element of Docker's `manifest.json`.
private struct DockerManifestDocument: Encodable {
    let config: String
    let repoTags: [String]
    let layers: [String]

    enum CodingKeys: String, CodingKey {
        case config = "Config"
        case repoTags = "RepoTags"
        case layers = "Layers"
    }
}
