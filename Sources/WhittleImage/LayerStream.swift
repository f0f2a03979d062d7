import WhittleArchive
import WhittleCompression
import WhittleFiles

/// How a layer blob is compressed, from its first bytes (media types are not always given:
/// a legacy `docker save` names layers only `layer.tar`).
public enum LayerCompression: Sendable {
    case none, gzip, zstd

    static func sniff(_ slice: FileSlice) throws -> LayerCompression {
        var magic = [UInt8](repeating: 0, count: 4)
        let got = try magic.withUnsafeMutableBytes { try slice.file.read(at: slice.offset, into: $0) }
        let head = Array(magic.prefix(min(got, Int(slice.length))))
        if head.starts(with: [0x1f, 0x8b]) { return .gzip }
        if head.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return .zstd }
        return .none
    }
}

/// One layer opened for a single pass: a tar reader over the decompressed stream, with
/// the blob digest and the diff_id computed along the way and checked by `verify()`.
public final class LayerStream {
    public let location: LayerLocation
    public let compression: LayerCompression
    public let tar: TarReader
    private let blobHash: HashingSource
    private let diffHash: HashingSource
    /// The decompressed stream, counted against the layer's inflation limit.
    private let inflated: LimitedSource

    /// Whether `verify()` can check digests: false for a headers-only pass.
    public let verifying: Bool

    /// - Parameters:
    ///   - verifying: false reads headers only and skips file data in uncompressed
    ///     layers without reading it (for `inspect`); digests are then not checked.
    ///   - meter: counts the blob's bytes as they are read (or skipped), for progress.
    public init(_ location: LayerLocation, verifying: Bool = true, meter: ByteMeter? = nil) throws {
        self.location = location
        self.verifying = verifying
        compression = try LayerCompression.sniff(location.slice)
        let slice = location.slice
        if !verifying, compression == .none {
            blobHash = HashingSource(upstream: FileSliceSource(fileDescriptor: slice.file.descriptor, offset: 0, length: 0))
            diffHash = blobHash
            inflated = LimitedSource(upstream: blobHash, limit: nil, location: location)
            var position: Int64 = 0
            // A small buffer: each read fetches a header and what little follows it, and
            // libarchive skips larger file data through `skip` instead of reading it.
            tar = try TarReader(
                name: "layer \(location.index + 1) (\(location.name))", bufferSize: 16 << 10,
                skip: { request in
                    let step = max(0, min(request, slice.length - position))
                    position += step
                    meter?.add(step)
                    return step
                },
                read: { buffer in
                    let want = Int(min(Int64(buffer.count), slice.length - position))
                    let got = try slice.file.read(
                        at: slice.offset + position, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
                    position += Int64(got)
                    meter?.add(got)
                    return got
                })
            return
        }
        let blob = FileSliceSource(fileDescriptor: slice.file.descriptor, offset: slice.offset, length: slice.length)
        blobHash = HashingSource(upstream: meter.map { MeteredSource(upstream: blob, meter: $0) } ?? blob)
        switch compression {
        // Uncompressed, the blob digest and the diff_id hash the same bytes: hash once.
        case .none: diffHash = blobHash
        case .gzip: diffHash = HashingSource(upstream: GzipDecodingSource(upstream: blobHash))
        case .zstd: diffHash = HashingSource(upstream: ZstdDecodingSource(upstream: blobHash))
        }
        // Uncompressed, the stream is the stored blob: only decompression can blow up.
        let source = LimitedSource(upstream: diffHash, limit: compression == .none ? nil : location.inflationLimit,
                                   location: location)
        inflated = source
        let layer = location.index
        tar = try TarReader(name: "layer \(layer + 1) (\(location.name))") { buffer in
            do {
                return try source.read(into: buffer)
            } catch let error as CompressionError {
                throw ImageError.corruptLayer(layer: layer, reason: "\(error)")
            }
        }
    }

    /// For an uncompressed layer, entry data lives in the input file itself: at
    /// `directOffset + tar.consumedBytes` right after its header. Nil when compressed.
    public var directFile: (file: OpenFile, baseOffset: Int64)? {
        compression == .none ? (location.slice.file, location.slice.offset) : nil
    }

    /// Reads whatever follows the tar's end marker, then checks both digests. Call after
    /// `tar.nextEntry()` returned nil.
    public func verify() throws {
        guard verifying else { return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while try inflated.read(into: buffer) > 0 {}
        } catch let error as CompressionError {
            throw ImageError.corruptLayer(layer: location.index, reason: "\(error)")
        }
        if let expected = location.blobDigest {
            let actual = "sha256:" + blobHash.hexDigest
            guard actual == expected else {
                throw ImageError.digestMismatch(name: location.name, expected: expected, actual: actual)
            }
        }
        let actual = "sha256:" + diffHash.hexDigest
        guard actual == location.diffID else {
            throw ImageError.diffIDMismatch(layer: location.index, expected: location.diffID, actual: actual)
        }
    }
}

/// Passes bytes through, refusing them once more than `limit` have come (a decompression
/// bomb: a small blob that inflates without end).
final class LimitedSource: ByteSource {
    private let upstream: ByteSource
    private let limit: Int64?
    private let location: LayerLocation
    private var count: Int64 = 0

    init(upstream: ByteSource, limit: Int64?, location: LayerLocation) {
        self.upstream = upstream
        self.limit = limit
        self.location = location
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let got = try upstream.read(into: buffer)
        count += Int64(got)
        if let limit, count > limit {
            throw ImageError.inflationLimit(what: "layer \(location.index + 1) (\(location.name))", limit: limit,
                                            stored: location.slice.length)
        }
        return got
    }
}
