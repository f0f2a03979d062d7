import Foundation
import WhittleCompression
import WhittleFiles

/// Which image to take from an archive that may hold several, or several platforms.
public struct ImageSelection: Sendable {
    public var name: String?
    public var platform: Platform
    /// How far its layers (and a compressed archive) may expand as they are read.
    public var inflation: InflationLimit

    public init(name: String? = nil, platform: Platform = .host, inflation: InflationLimit = InflationLimit()) {
        self.name = name
        self.platform = platform
        self.inflation = inflation
    }
}

/// Where one layer's bytes are, and what they must hash to.
public struct LayerLocation: Sendable {
    /// 0-based position in `rootfs.diff_ids`.
    public let index: Int
    public let slice: FileSlice
    /// The digest of the stored (possibly compressed) blob, when the archive states one.
    public let blobDigest: String?
    /// The digest of the uncompressed tar, from the config.
    public let diffID: String
    /// The member name, for messages.
    public let name: String
    /// The most bytes the layer may expand to (`InflationLimit`); nil when unlimited.
    public let inflationLimit: Int64?

    public init(
        index: Int, slice: FileSlice, blobDigest: String?, diffID: String, name: String,
        inflationLimit: Int64? = nil
    ) {
        self.index = index
        self.slice = slice
        self.blobDigest = blobDigest
        self.diffID = diffID
        self.name = name
        self.inflationLimit = inflationLimit
    }
}

/// A saved image, opened and chosen: its config, tags and layers, with every document
/// checked against its digest. Layers are checked as they are streamed.
public final class SavedImage {
    public let path: String
    /// The config document, whole, unknown keys included: what the writer carries over.
    public let rawConfig: JSONValue
    /// The fields of `rawConfig` whittle reads.
    public let config: ImageConfig
    /// Tags in familiar form (`app:1`), first one first.
    public let tags: [String]
    public let layers: [LayerLocation]
    /// The OCI ChainID of the top layer: one digest for the whole filesystem, the same
    /// whatever the layout or compression the image was saved in.
    public var chainID: String {
        layers.map(\.diffID).dropFirst().reduce(layers.first?.diffID ?? sha256Digest(of: [])) { chain, diffID in
            sha256Digest(of: Array("\(chain) \(diffID)".utf8))
        }
    }
    /// Keeps the outer archive or its decompressed copy open while layers are read.
    private let store: BlobStore
    /// Digests of the archive's members, taken while standard input was spooled to `path`.
    public let recordedDigests: MemberDigests?

    public init(
        path: String, selection: ImageSelection = ImageSelection(), scratch: ScratchDirectory,
        recordedDigests: MemberDigests? = nil
    ) throws {
        self.path = path
        self.recordedDigests = recordedDigests
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageError.cannotOpen(path: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            store = DirectoryBlobStore(root: path)
        } else {
            store = try TarBlobStore(
                file: try Self.openPlainTar(
                    path: path, scratch: scratch,
                    limit: selection.inflation))
        }
        let chosen: ChosenImage
        if try store.contains("index.json") {
            chosen = try Self.chooseFromIndex(store: store, selection: selection)
        } else if try store.contains("manifest.json") {
            chosen = try Self.chooseFromDockerManifest(store: store, selection: selection)
        } else {
            throw ImageError.notAnImage(path: path, reason: "it has neither manifest.json nor index.json")
        }
        rawConfig = chosen.rawConfig
        config = chosen.config
        tags = chosen.tags
        layers = chosen.layers
    }

    /// `docker save | gzip` is common; such an outer tar is inflated once into scratch space
    /// so its members can be addressed by offset.
    private static func openPlainTar(path: String, scratch: ScratchDirectory, limit: InflationLimit) throws -> OpenFile
    {
        let file = try OpenFile(path: path)
        var magic = [UInt8](repeating: 0, count: 2)
        let got = try magic.withUnsafeMutableBytes { try file.read(at: 0, into: $0) }
        guard got == 2, magic == [0x1f, 0x8b] else { return file }
        let copy = try scratch.createFile(named: "input.tar")
        let source = GzipDecodingSource(
            upstream: FileSliceSource(fileDescriptor: file.descriptor, offset: 0, length: file.size))
        let sink = FileSink(fileDescriptor: copy.descriptor)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let maximum = limit.maximum(forStored: file.size)
        var inflated: Int64 = 0
        do {
            while true {
                let count = try source.read(into: buffer)
                if count == 0 { break }
                inflated += Int64(count)
                if let maximum, inflated > maximum {
                    throw ImageError.inflationLimit(what: path, limit: maximum, stored: file.size)
                }
                try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
        } catch let error as ImageError {
            throw error
        } catch {
            throw ImageError.notAnImage(path: path, reason: "\(error)")
        }
        return copy
    }

    private struct ChosenImage {
        var rawConfig: JSONValue
        var config: ImageConfig
        var tags: [String]
        var layers: [LayerLocation]
    }

    // MARK: OCI layout (skopeo, podman, Docker 25+)

    private static func chooseFromIndex(store: BlobStore, selection: ImageSelection) throws -> ChosenImage {
        let index: ImageIndex = try decode(store.readDocument("index.json"), name: "index.json")
        var candidates = index.manifests
        func names(_ descriptor: Descriptor) -> [String] {
            let annotations = descriptor.annotations ?? [:]
            if let full = annotations["io.containerd.image.name"] { return [ImageName.familiar(full)] }
            if let ref = annotations["org.opencontainers.image.ref.name"] {
                // A bare ref name ("latest") is only a tag; a full one names the image.
                return ref.contains(":") || ref.contains("/") ? [ImageName.familiar(ref)] : []
            }
            return []
        }
        let allNames = candidates.flatMap(names)
        if let wanted = selection.name {
            let familiar = ImageName.familiar(wanted)
            candidates = candidates.filter { descriptor in
                names(descriptor).contains(familiar)
                    || descriptor.annotations?["org.opencontainers.image.ref.name"] == wanted
            }
            guard !candidates.isEmpty else { throw ImageError.imageNotFound(requested: wanted, choices: allNames) }
        }
        // Several descriptors differing only by platform are one multi-platform image.
        if candidates.count > 1, candidates.allSatisfy({ $0.platform != nil }) {
            let matching = candidates.filter { $0.platform.map(selection.platform.matches) ?? false }
            guard !matching.isEmpty else {
                throw ImageError.platformNotFound(
                    requested: selection.platform.description,
                    available: candidates.compactMap { $0.platform?.description })
            }
            candidates = matching
        }
        guard let chosen = candidates.first else { throw ImageError.noImage(path: "index.json") }
        if candidates.count > 1 {
            let choices = candidates.map { names($0).first ?? $0.digest }
            throw ImageError.ambiguousImage(choices: choices)
        }
        let manifestDescriptor = try resolvePlatform(chosen, store: store, platform: selection.platform)
        let manifest: ImageManifest = try decode(
            try verifiedDocument(manifestDescriptor, store: store), name: "manifest \(manifestDescriptor.digest)")
        if let mediaType = manifest.config.mediaType, !MediaType.configs.contains(mediaType) {
            throw ImageError.unknownMediaType(name: "config \(manifest.config.digest)", mediaType: mediaType)
        }
        let rawConfig: JSONValue = try decode(
            try verifiedDocument(manifest.config, store: store), name: "config \(manifest.config.digest)")
        let config = ImageConfig(rawConfig)
        let diffIDs = try diffIDs(of: config, layerCount: manifest.layers.count)
        var layers: [LayerLocation] = []
        for (position, descriptor) in manifest.layers.enumerated() {
            if let mediaType = descriptor.mediaType, !MediaType.layers.contains(mediaType) {
                throw ImageError.unknownMediaType(name: "layer \(descriptor.digest)", mediaType: mediaType)
            }
            let name = try ContentDigest(parsing: descriptor.digest).blobPath
            let slice = try store.require(name)
            guard slice.length == descriptor.size else {
                throw ImageError.sizeMismatch(name: name, expected: descriptor.size, actual: slice.length)
            }
            layers.append(
                LayerLocation(
                    index: position, slice: slice, blobDigest: descriptor.digest, diffID: diffIDs[position], name: name,
                    inflationLimit: selection.inflation.maximum(forStored: slice.length)))
        }
        return ChosenImage(rawConfig: rawConfig, config: config, tags: names(chosen), layers: layers)
    }

    /// Follows an image index down to the manifest for the wanted platform.
    private static func resolvePlatform(
        _ descriptor: Descriptor, store: BlobStore, platform: Platform
    ) throws -> Descriptor {
        var current = descriptor
        for _ in 0..<4 {
            let mediaType = current.mediaType ?? MediaType.ociManifest
            if MediaType.manifests.contains(mediaType) { return current }
            guard MediaType.indexes.contains(mediaType) else {
                throw ImageError.unknownMediaType(name: "manifest \(current.digest)", mediaType: mediaType)
            }
            let index: ImageIndex = try decode(
                try verifiedDocument(current, store: store), name: "index \(current.digest)")
            let images = index.manifests.filter { $0.platform?.os != "unknown" }
            guard
                let match = images.first(where: { $0.platform.map(platform.matches) ?? false })
                    ?? (images.count == 1 && images[0].platform == nil ? images[0] : nil)
            else {
                throw ImageError.platformNotFound(
                    requested: platform.description, available: images.compactMap { $0.platform?.description })
            }
            current = match
        }
        throw ImageError.notAnImage(path: current.digest, reason: "image indexes are nested too deeply")
    }

    // MARK: docker save (legacy layout)

    private static func chooseFromDockerManifest(store: BlobStore, selection: ImageSelection) throws -> ChosenImage {
        var entries: [DockerManifestEntry] = try decode(store.readDocument("manifest.json"), name: "manifest.json")
        let allTags = entries.flatMap { $0.repoTags ?? [] }.map(ImageName.familiar)
        if let wanted = selection.name {
            let familiar = ImageName.familiar(wanted)
            entries = entries.filter { ($0.repoTags ?? []).map(ImageName.familiar).contains(familiar) }
            guard !entries.isEmpty else { throw ImageError.imageNotFound(requested: wanted, choices: allTags) }
        }
        guard let entry = entries.first else { throw ImageError.noImage(path: "manifest.json") }
        if entries.count > 1 {
            throw ImageError.ambiguousImage(choices: entries.map { $0.repoTags?.first ?? $0.config })
        }
        let configBytes = try store.readDocument(entry.config)
        // Legacy configs are named by their own digest (the image ID); newer ones sit in blobs/.
        if let expected = digestNamed(by: entry.config) {
            let actual = sha256Digest(of: configBytes)
            guard actual == expected else {
                throw ImageError.digestMismatch(name: entry.config, expected: expected, actual: actual)
            }
        }
        let rawConfig: JSONValue = try decode(configBytes, name: entry.config)
        let config = ImageConfig(rawConfig)
        let diffIDs = try diffIDs(of: config, layerCount: entry.layers.count)
        var layers: [LayerLocation] = []
        for (position, name) in entry.layers.enumerated() {
            let slice = try store.require(name)
            layers.append(
                LayerLocation(
                    index: position, slice: slice, blobDigest: digestNamed(by: name), diffID: diffIDs[position],
                    name: name,
                    inflationLimit: selection.inflation.maximum(forStored: slice.length)))
        }
        return ChosenImage(
            rawConfig: rawConfig, config: config, tags: (entry.repoTags ?? []).map(ImageName.familiar),
            layers: layers)
    }

    /// `blobs/sha256/<hex>` and `<hex>.json` carry their digest in the name.
    private static func digestNamed(by member: String) -> String? {
        let last = member.split(separator: "/").last.map(String.init) ?? member
        let hex = last.hasSuffix(".json") ? String(last.dropLast(5)) : last
        guard let digest = ContentDigest(hex: hex),
            member.hasPrefix(ContentDigest.blobDirectory) || last.hasSuffix(".json")
        else { return nil }
        return digest.description
    }

    // MARK: helpers

    private static func verifiedDocument(_ descriptor: Descriptor, store: BlobStore) throws -> [UInt8] {
        let name = try ContentDigest(parsing: descriptor.digest).blobPath
        let bytes = try store.readDocument(name)
        let actual = sha256Digest(of: bytes)
        guard actual == descriptor.digest else {
            throw ImageError.digestMismatch(name: name, expected: descriptor.digest, actual: actual)
        }
        return bytes
    }

    private static func diffIDs(of config: ImageConfig, layerCount: Int) throws -> [String] {
        let ids = config.diffIDs
        guard ids.count == layerCount else {
            throw ImageError.layerCountMismatch(layers: layerCount, diffIDs: ids.count)
        }
        guard ids.count <= maximumLayerCount else { throw ImageError.tooManyLayers(count: ids.count) }
        for id in ids { _ = try ContentDigest(parsing: id) }
        return ids
    }

    private static func decode<T: Decodable>(_ bytes: [UInt8], name: String) throws -> T {
        guard !jsonNesting(of: bytes, exceeds: maximumJSONDepth) else {
            throw ImageError.invalidJSON(
                name: name,
                reason: "arrays or objects are nested more than "
                    + "\(maximumJSONDepth) levels deep; refusing it")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ImageError.invalidJSON(name: name, reason: describe(error))
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, _): return "missing field '\(key.stringValue)'"
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
