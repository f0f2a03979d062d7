import WhittleCompression
import WhittleFlatten
import WhittleImage
import WhittlePackages
import WhittleFiles

/// One layer as `inspect` shows it.
public struct LayerReport: Codable, Sendable, Equatable {
    /// 1-based, as `docker history` counts from the bottom.
    public var index: Int
    /// From the config's history entries that made a layer; nil when the history is short.
    public var createdBy: String?
    public var entries: Int
    /// Sum of regular file sizes, uncompressed.
    public var fileBytes: Int64
    /// The blob as stored in the archive (compressed or not).
    public var storedBytes: Int64
    /// Encoded as `none`, `gzip` or `zstd`.
    public var compression: LayerCompression
    public var diffID: String

    // Optionals are written as null rather than left out, so the JSON keeps one shape.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(entries, forKey: .entries)
        try container.encode(fileBytes, forKey: .fileBytes)
        try container.encode(storedBytes, forKey: .storedBytes)
        try container.encode(compression, forKey: .compression)
        try container.encode(diffID, forKey: .diffID)
    }
}

/// Sizes of the whole image.
public struct ImageTotals: Codable, Sendable, Equatable {
    public var layers: Int
    public var entries: Int
    /// Every layer's file bytes added up, overwritten and deleted files included.
    public var layerFileBytes: Int64
    public var storedBytes: Int64
    /// The flattened tree: what a single layer would hold.
    public var flattenedFiles: Int
    public var flattenedBytes: Int64
}

/// Everything `whittle inspect` reports.
public struct ImageInspection: Codable, Sendable, Equatable {
    public var image: String
    public var tags: [String]
    public var layers: [LayerReport]
    public var totals: ImageTotals
    public var waste: WasteReport
    /// Nil when no estimator was given (no profiles found).
    public var profiles: [RemovalEstimate]?
    /// What each OS package owns; nil unless asked for (it reads file contents).
    public var packages: [PackageLoss]?

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(tags, forKey: .tags)
        try container.encode(layers, forKey: .layers)
        try container.encode(totals, forKey: .totals)
        try container.encode(waste, forKey: .waste)
        try container.encode(profiles, forKey: .profiles)
        try container.encode(packages, forKey: .packages)
    }
}

/// Reads an image headers-only and gathers the figures of `ImageInspection`.
///
/// Uncompressed layers are never read past their tar headers: file data is skipped by
/// offset. Compressed layers must be inflated to reach the headers at all. Digests are not
/// checked (that would mean reading every byte); `slim` checks them.
public struct ImageInspector {
    public var path: String
    public var selection: ImageSelection
    /// How many inefficient paths to list.
    public var top: Int
    /// Read dpkg/apk databases to attribute paths to packages (reads those small files).
    public var readPackages: Bool

    public init(path: String, selection: ImageSelection = ImageSelection(), top: Int = 20, readPackages: Bool = false) {
        self.path = path
        self.selection = selection
        self.top = top
        self.readPackages = readPackages
    }

    /// - Parameter estimator: what to estimate removals with; nil when there is nothing to
    ///   estimate with (no profiles found), which the report keeps apart from an empty list.
    /// - Parameter meter: counts the layers' stored bytes as they are read (or skipped), for progress.
    /// - Parameter examine: given the flattened tree and config before they are dropped
    ///   (the HTML report draws its treemap there).
    public func run(
        estimator: RemovalEstimator? = nil, meter: ByteMeter? = nil, progress: ((String) -> Void)? = nil,
        examine: ((FileTree, ImageConfig) throws -> Void)? = nil
    ) throws -> ImageInspection {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        progress?("reading \(path)")
        let measured = try FlattenedImage.measuringWaste(
            path: path, selection: selection, scratch: scratch, verifying: false, top: top, meter: meter
        ) { layer, count in
            progress?("read layer \(layer.index + 1)/\(count) (\(layer.entries) entries)")
        }
        let flattened = measured.image
        let image = flattened.image
        let tree = flattened.tree
        let history = Self.layerHistory(image.config)
        let layers = zip(image.layers, flattened.layers).map { location, summary in
            LayerReport(
                index: location.index + 1,
                createdBy: location.index < history.count ? history[location.index] : nil,
                entries: summary.entries, fileBytes: summary.fileBytes, storedBytes: summary.storedBytes,
                compression: summary.compression, diffID: location.diffID)
        }
        let size = tree.measure()
        let ownership = readPackages ? try PackageOwnership(tree: tree) : nil
        if estimator != nil { progress?("estimating removals") }
        let estimates = estimator?.estimate(tree: tree, config: image.config, ownership: ownership)
        try examine?(tree, image.config)
        return ImageInspection(
            image: path, tags: image.tags, layers: layers,
            totals: ImageTotals(
                layers: layers.count, entries: layers.reduce(0) { $0 + $1.entries },
                layerFileBytes: layers.reduce(0) { $0 + $1.fileBytes },
                storedBytes: layers.reduce(0) { $0 + $1.storedBytes },
                flattenedFiles: size.files, flattenedBytes: size.bytes),
            waste: measured.waste,
            profiles: estimates,
            packages: ownership.map { $0.packageTotals })
    }

    /// `created_by` of the history entries that made a layer, in layer order.
    static func layerHistory(_ config: ImageConfig) -> [String] {
        config.history.filter { !$0.emptyLayer }.map(\.createdBy)
    }
}
