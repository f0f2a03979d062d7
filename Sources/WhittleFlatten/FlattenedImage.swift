import WhittleCompression
import WhittleFiles
import WhittleImage

/// A saved image read and flattened into one tree: the first stage of `slim`, `inspect` and
/// `trace` alike.
public struct FlattenedImage {
    public let image: SavedImage
    public let tree: FileTree
    /// One per layer, in the order they were applied.
    public let layers: [LayerSummary]
    /// The layers' digest checks still running, when the caller deferred them.
    public let layerChecks: LayerChecks

    /// The sum of every layer's file content, overwritten and deleted files included.
    public var layerContentBytes: Int64 { layers.reduce(0) { $0 + $1.fileBytes } }

    /// Reads the image at `path` and applies its layers in order. File contents stay in
    /// the input or in a spool file of `scratch`, which must outlive the tree.
    /// - Parameters:
    ///   - verifying: true checks every layer's digests; false (for `inspect`) reads
    ///     uncompressed layers headers-only and checks nothing.
    ///   - deferringChecks: true leaves the last layers' checks running in `layerChecks`,
    ///     for the caller to finish.
    ///   - observer: sees each entry before it is applied (the wasted-bytes analysis).
    ///   - meter: counts the layers' stored bytes as they are read; its total is set to theirs.
    ///   - progress: called after each layer, with the number of layers in the image.
    ///   - recordedDigests: the members' digests taken as standard input was spooled to `path`.
    public init(
        path: String, selection: ImageSelection = ImageSelection(), scratch: ScratchDirectory,
        verifying: Bool = true, deferringChecks: Bool = false, observer: Flattener.EntryObserver? = nil,
        meter: ByteMeter? = nil, recordedDigests: MemberDigests? = nil,
        progress: (_ layer: LayerSummary, _ layerCount: Int) -> Void = { _, _ in }
    ) throws {
        image = try SavedImage(path: path, selection: selection, scratch: scratch, recordedDigests: recordedDigests)
        let flattener = Flattener(scratch: scratch)
        flattener.entryObserver = observer
        let count = image.layers.count
        layerChecks = LayerChecks()
        try flattener.apply(
            image, verifying: verifying, deferringTo: deferringChecks ? layerChecks : nil, meter: meter
        ) { progress($0, count) }
        tree = flattener.tree
        layers = flattener.layers
    }
}

/// The first stage of `slim` and `inspect`: the image read, flattened, and the bytes its
/// layers waste measured on the way (`FlattenedImage.measuringWaste`).
public struct Flattened {
    public let image: FlattenedImage
    public let waste: WasteReport

    public var tree: FileTree { image.tree }
    public var saved: SavedImage { image.image }

    /// Waits for the layers' deferred digest checks (`deferringChecks`); a layer whose
    /// digest is wrong is the error.
    public func finishLayerChecks() throws {
        try image.layerChecks.finish()
    }

    /// Runs `body` while the layers' deferred digest checks go on beside it. When `body`
    /// throws, a layer that fails its check is the error instead: its bytes were not the
    /// image's, so nothing made from them counts.
    public func besideLayerChecks<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            try finishLayerChecks()
            throw error
        }
    }
}
