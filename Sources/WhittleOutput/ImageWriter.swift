import Foundation
import WhittleArchive
import WhittleCompression
import WhittleFlatten
import WhittleImage

/// How the output layer is stored.
public enum OutputCompression: String, Sendable, CaseIterable {
    case none, gzip

    /// The media type the manifest gives a layer stored this way.
    var layerMediaType: String {
        switch self {
        case .none: return MediaType.ociLayer
        case .gzip: return MediaType.ociLayerGzip
        }
    }
}

public struct WriteOptions: Sendable {
    /// The image name; nil keeps the input's first tag.
    public var tag: String?
    public var compression: OutputCompression
    /// Recorded in the new history entry, e.g. the command line.
    public var createdBy: String
    public var comment: String

    public init(
        tag: String? = nil, compression: OutputCompression = .none,
        createdBy: String = "whittle slim", comment: String = ""
    ) {
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
    public let layerDigest: ContentDigest
    public let layerSize: Int64
    /// Digest and size of the uncompressed layer tar.
    public let diffID: ContentDigest
    public let uncompressedLayerSize: Int64
    public let outputSize: Int64
}

/// Writes a flattened tree as a single-layer image: an OCI layout plus Docker's
/// `manifest.json` in one tar, which Docker 20.10, skopeo, podman and containerd all load
/// (design notes §4). The tar is assembled under a temporary name and renamed into place, or
/// written straight into an empty file already open (`OpenedOutputFile`).
public struct ImageWriter {
    public init() {}

    /// - Parameters:
    ///   - meter: counts the layer's uncompressed bytes as they are written, for progress.
    ///   - beforeCommit: runs once everything is written, before the file is put in place; an
    ///     error leaves nothing (the input's last digest checks, which run beside the write).
    public func write(
        _ tree: FileTree, from image: SavedImage, to path: String, options: WriteOptions,
        filter: LayerWriter.Filter? = nil, meter: ByteMeter? = nil, beforeCommit: () throws -> Void = {}
    ) throws -> WriteResult {
        try mappingWriteErrors(path) {
            try writeImage(
                tree, from: image, to: try AtomicOutputFile(destination: path), options: options, filter: filter,
                meter: meter, beforeCommit: beforeCommit)
        }
    }

    /// The same, into a file already open (standard output redirected to an empty file).
    public func write(
        _ tree: FileTree, from image: SavedImage, into file: OpenedOutputFile, options: WriteOptions,
        filter: LayerWriter.Filter? = nil, meter: ByteMeter? = nil, beforeCommit: () throws -> Void = {}
    ) throws -> WriteResult {
        try mappingWriteErrors(file.name) {
            try writeImage(
                tree, from: image, to: file, options: options, filter: filter, meter: meter,
                beforeCommit: beforeCommit)
        }
    }

    /// The same tarball into a descriptor that cannot seek back (a pipe), with no staged
    /// copy: the tree is written twice, first only to hash the layer, whose digest names it
    /// in the header that comes first, then to send it. Uncompressed layers only. Write
    /// errors of the descriptor are thrown as they are (`CompressionError.writeFailed`).
    /// - Parameters:
    ///   - meter: counts the first pass; `sendMeter` counts every byte sent.
    ///   - beforeSending: runs between the passes; an error leaves the descriptor untouched.
    public func stream(
        _ tree: FileTree, from image: SavedImage, to descriptor: Int32, name: String, options: WriteOptions,
        filter: LayerWriter.Filter? = nil, meter: ByteMeter? = nil, sendMeter: ByteMeter = ByteMeter(),
        beforeSending: () throws -> Void = {}
    ) throws -> WriteResult {
        precondition(options.compression == .none, "a compressed layer is written to a file first")
        let tag = try resolveTag(options.tag, image: image)
        let hash = ThreadedHashingSink()
        let layer = try LayerWriter().write(
            tree, to: meter.map { MeteredSink(downstream: hash, meter: $0) } ?? hash, filter: filter)
        let blob = LayerBlob(digest: ContentDigest(finishedHex: hash.finish()), size: hash.byteCount)
        try beforeSending()

        let out = MeteredSink(downstream: FileSink(fileDescriptor: descriptor), meter: sendMeter)
        let (front, directoriesInFront) = try frontHeaders(layerDigest: blob.digest, layerSize: blob.size, path: name)
        try front.withUnsafeBytes { try out.write($0) }
        let layerStart = sendMeter.done
        _ = try LayerWriter().write(tree, to: out, filter: filter)
        // The tree and the files behind it are the ones the first pass read: only an input
        // cut short meanwhile could change the count, and the copy already refuses that.
        guard sendMeter.done - layerStart == blob.size else { throw OutputError.inputChanged(path: image.path) }
        try writePadding(after: blob.size, to: out)
        try writeTail(
            after: blob, directoriesInFront: directoriesInFront, image: image, tag: tag, options: options, to: out,
            name: name)
        return WriteResult(
            path: name, tag: tag, layer: layer, layerDigest: blob.digest, layerSize: blob.size, diffID: blob.digest,
            uncompressedLayerSize: blob.size, outputSize: sendMeter.done)
    }

    private func mappingWriteErrors(_ name: String, _ body: () throws -> WriteResult) throws -> WriteResult {
        do {
            return try body()
        } catch let CompressionError.writeFailed(code) {
            // The sink knows only the errno; the user needs the path too (a full disk, say).
            throw OutputError.writeFailed(path: name, reason: OutputError.reason(code))
        }
    }

    /// Refuses, before any long work, an output that cannot be written (a missing or
    /// read-only directory, a directory in its place), by creating and removing a staging
    /// file exactly as the real write will.
    public static func checkDestination(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            throw OutputError.cannotCreate(path: path, reason: "it is a directory")
        }
        _ = try AtomicOutputFile(destination: path)
    }

    /// The headers that go in the space reserved before the layer: the two directory headers
    /// and a plain 512-byte layer header, or, for a layer over 8 GiB whose header needs a PAX
    /// size record, that header alone (the directories then follow the layer).
    private func frontHeaders(
        layerDigest: ContentDigest, layerSize: Int64, path: String
    ) throws
        -> (bytes: [UInt8], holdsDirectories: Bool)
    {
        let layerHeader = try TarWriter.encodeHeader(
            TarEntry(
                path: layerDigest.blobPath, kind: .regular, permissions: 0o644, size: layerSize))
        let directories = try ["blobs/", ContentDigest.blobDirectory].map {
            try TarWriter.encodeHeader(TarEntry(path: $0, kind: .directory, permissions: 0o755))
        }
        if layerHeader.count + directories.joined().count == Int(Self.reservedHeaderSpace) {
            return (Array(directories.joined()) + layerHeader, true)
        }
        if layerHeader.count == Int(Self.reservedHeaderSpace) { return (layerHeader, false) }
        throw OutputError.writeFailed(path: path, reason: "the layer's tar header does not fit its reserved space")
    }

    private func writeImage(
        _ tree: FileTree, from image: SavedImage, to output: any OutputFile, options: WriteOptions,
        filter: LayerWriter.Filter?, meter: ByteMeter?, beforeCommit: () throws -> Void
    ) throws -> WriteResult {
        let tag = try resolveTag(options.tag, image: image)
        let path = output.name

        // 1. The layer, streamed straight into the output file after a reserved space. Its
        //    tar header names it by a digest known only at the end, so the header is
        //    filled in afterwards; this saves writing and re-reading the layer once more.
        try output.seek(to: Self.reservedHeaderSpace)
        let fileSink = output.sink
        // The blob is hashed back from the file on the second core while this one writes.
        let blobHash = FileHashingSink(
            downstream: fileSink, fileDescriptor: output.readDescriptor,
            offset: Self.reservedHeaderSpace)
        let encoder = options.compression == .gzip ? ParallelGzipEncoder(downstream: blobHash) : nil
        // Uncompressed, the blob digest and the diff_id are the same hash: compute it once.
        let diffHash = encoder.map { HashingSink(downstream: $0) }
        let layerSink: ByteSink = diffHash ?? blobHash
        let layer = try LayerWriter().write(
            tree, to: meter.map { MeteredSink(downstream: layerSink, meter: $0) } ?? layerSink, filter: filter)
        try encoder?.finish()
        let layerDigest = ContentDigest(finishedHex: try blobHash.finish())
        let diffID = diffHash.map { ContentDigest(finishedHex: $0.hexDigest) } ?? layerDigest
        let layerSize = blobHash.byteCount
        try writePadding(after: layerSize, to: fileSink)
        let (front, directoriesInFront) = try frontHeaders(layerDigest: layerDigest, layerSize: layerSize, path: path)
        try output.write(front, at: 0)

        // 2. Config, manifests and the rest of the outer tar, after the layer.
        try writeTail(
            after: LayerBlob(digest: layerDigest, diffID: diffID, size: layerSize),
            directoriesInFront: directoriesInFront,
            image: image, tag: tag, options: options, to: output.sink, name: path)
        let outputSize = output.size
        try beforeCommit()
        try output.commit()
        return WriteResult(
            path: path, tag: tag, layer: layer, layerDigest: layerDigest, layerSize: layerSize, diffID: diffID,
            uncompressedLayerSize: diffHash?.byteCount ?? layerSize, outputSize: outputSize)
    }

    /// The layer blob's digest, its diff_id (the same when uncompressed) and its size.
    private struct LayerBlob {
        let digest: ContentDigest
        let diffID: ContentDigest
        let size: Int64

        /// Uncompressed, the blob's digest is its diff_id.
        init(digest: ContentDigest, diffID: ContentDigest? = nil, size: Int64) {
            self.digest = digest
            self.diffID = diffID ?? digest
            self.size = size
        }
    }

    /// Everything after the layer: the config (every original field kept, with one layer and
    /// an honest history), the OCI manifest and index, Docker's `manifest.json` and
    /// `oci-layout`, with the two directory headers when they did not fit in front.
    private func writeTail(
        after layer: LayerBlob, directoriesInFront: Bool, image: SavedImage, tag: String, options: WriteOptions,
        to sink: ByteSink, name: String
    ) throws {
        let config = try canonicalJSON(newConfig(image.rawConfig, diffID: layer.diffID, options: options))
        let configDigest = ContentDigest(of: config)
        let manifest = try canonicalJSON(
            ImageManifest(
                config: Descriptor(
                    mediaType: MediaType.ociConfig, digest: configDigest.description, size: Int64(config.count)),
                layers: [
                    Descriptor(
                        mediaType: options.compression.layerMediaType,
                        digest: layer.digest.description, size: layer.size)
                ]))
        let manifestDigest = ContentDigest(of: manifest)
        let index = try canonicalJSON(
            ImageIndex(manifests: [
                Descriptor(
                    mediaType: MediaType.ociManifest, digest: manifestDigest.description, size: Int64(manifest.count),
                    annotations: [
                        "io.containerd.image.name": ImageName.qualified(tag),
                        "org.opencontainers.image.ref.name": ImageName.tag(tag),
                    ],
                    platform: image.config.platform)
            ]))
        let dockerManifest = try canonicalJSON([
            DockerManifestEntry(
                config: configDigest.blobPath, repoTags: [tag], layers: [layer.digest.blobPath])
        ])
        let tar = try TarWriter(name: name) { try sink.write($0) }
        if !directoriesInFront {
            try writeDirectory("blobs/", to: tar)
            try writeDirectory(ContentDigest.blobDirectory, to: tar)
        }
        try writeFile(configDigest.blobPath, bytes: config, to: tar)
        try writeFile(manifestDigest.blobPath, bytes: manifest, to: tar)
        try writeFile("index.json", bytes: index, to: tar)
        try writeFile("manifest.json", bytes: dockerManifest, to: tar)
        try writeFile("oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: tar)
        try tar.finish()
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

    private func newConfig(_ original: JSONValue, diffID: ContentDigest, options: WriteOptions) -> JSONValue {
        var config = original
        config["rootfs"] = .object(["type": .string("layers"), "diff_ids": .array([.string(diffID.description)])])
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

    private func writeDirectory(_ name: String, to tar: TarWriter) throws {
        try tar.writeHeader(TarEntry(path: name, kind: .directory, permissions: 0o755))
    }

    private func writeFile(_ name: String, bytes: [UInt8], to tar: TarWriter) throws {
        try tar.writeHeader(TarEntry(path: name, kind: .regular, permissions: 0o644, size: Int64(bytes.count)))
        try tar.writeData(bytes)
    }

    private func writePadding(after length: Int64, to sink: ByteSink) throws {
        let remainder = Int(length % 512)
        guard remainder != 0 else { return }
        let zeros = [UInt8](repeating: 0, count: 512 - remainder)
        try zeros.withUnsafeBytes { try sink.write($0) }
    }

    /// Room for the layer's header at the start of the output file.
    static let reservedHeaderSpace: Int64 = 1536
}
