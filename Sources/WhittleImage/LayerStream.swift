import WhittleArchive
import WhittleCompression
import WhittleFiles

/// How a layer blob is compressed, from its first bytes (media types are not always given:
/// a legacy `docker save` names layers only `layer.tar`).
public enum LayerCompression: String, Sendable, Codable {
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
    private let digests: Digests

    /// Whether `verify()` can check digests: false for a headers-only pass.
    public let verifying: Bool

    /// How the digests are taken.
    private enum Digests {
        /// A headers-only pass checks none.
        case unchecked
        /// Uncompressed, the blob is the tar: the blob digest and the diff_id are one hash,
        /// taken by a thread of its own over the blob in the file.
        case separate(FileRangeHasher)
        /// The same hash, taken already while standard input was spooled.
        case recorded(MemberDigests)
        /// Compressed, both hashes see the stream as it is decoded, which is counted against
        /// the layer's inflation limit.
        case inline(blob: HashingSource, diff: HashingSource, inflated: LimitedSource)
    }

    /// - Parameters:
    ///   - verifying: false skips the digest checks (for `inspect`).
    ///   - meter: counts the blob's bytes as they are read (or skipped), for progress.
    ///   - recorded: the members' digests taken as the input was spooled, if it was.
    public init(
        _ location: LayerLocation, verifying: Bool = true, meter: ByteMeter? = nil, recorded: MemberDigests? = nil
    ) throws {
        self.location = location
        self.verifying = verifying
        compression = try LayerCompression.sniff(location.slice)
        let slice = location.slice
        if compression == .none {
            // The flattener addresses file data in the input by offset, so the tar reader
            // takes only the headers, and the hash (the one cost that grows with the bytes)
            // runs on the second core meanwhile.
            if !verifying {
                digests = .unchecked
            } else if let recorded, recorded.path == slice.file.path {
                digests = .recorded(recorded)
            } else {
                digests = .separate(Self.hasher(of: slice))
            }
            tar = try Self.headersOnly(slice, name: "layer \(location.index + 1) (\(location.name))", meter: meter)
            return
        }
        let blob = FileSliceSource(fileDescriptor: slice.file.descriptor, offset: slice.offset, length: slice.length)
        let blobHash = HashingSource(upstream: meter.map { MeteredSource(upstream: blob, meter: $0) } ?? blob)
        let diffHash =
            compression == .gzip
            ? HashingSource(upstream: GzipDecodingSource(upstream: blobHash))
            : HashingSource(upstream: ZstdDecodingSource(upstream: blobHash))
        let source = LimitedSource(upstream: diffHash, limit: location.inflationLimit, location: location)
        digests = .inline(blob: blobHash, diff: diffHash, inflated: source)
        let layer = location.index
        tar = try TarReader(name: "layer \(layer + 1) (\(location.name))") { buffer in
            do {
                return try source.read(into: buffer)
            } catch let error as CompressionError {
                throw ImageError.corruptLayer(layer: layer, reason: "\(error)")
            }
        }
    }

    /// A reader of an uncompressed blob that skips file data without reading it.
    private static func headersOnly(_ slice: FileSlice, name: String, meter: ByteMeter?) throws -> TarReader {
        var position: Int64 = 0
        // A small buffer: each read fetches a header and what little follows it, and
        // libarchive skips larger file data through `skip` instead of reading it.
        return try TarReader(
            name: name, bufferSize: 16 << 10,
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
    }

    /// For an uncompressed layer, entry data lives in the input file itself: at
    /// `directOffset + tar.consumedBytes` right after its header. Nil when compressed.
    public var directFile: (file: OpenFile, baseOffset: Int64)? {
        compression == .none ? (location.slice.file, location.slice.offset) : nil
    }

    /// Reads whatever follows the tar's end marker, then checks both digests. Call after
    /// `tar.nextEntry()` returned nil. A digest recorded while standard input was spooled may
    /// still be being taken, so that check is handed back instead, to be run once every
    /// layer is read: the layers that follow are read meanwhile rather than after it (the
    /// spool's members come in archive order, rarely the layers' order).
    public func verify() throws -> RecordedDigestCheck? {
        guard verifying else { return nil }
        let blobDigest: String
        let diffID: String
        do {
            switch digests {
            case .unchecked:
                return nil
            case let .recorded(members):
                return RecordedDigestCheck(location: location, digests: members)
            case let .separate(hasher):
                blobDigest = ContentDigest(finishedHex: try hasher.finish()).description
                diffID = blobDigest
            case let .inline(blob, diff, inflated):
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
                defer { buffer.deallocate() }
                while try inflated.read(into: buffer) > 0 {}
                blobDigest = ContentDigest(finishedHex: blob.hexDigest).description
                diffID = ContentDigest(finishedHex: diff.hexDigest).description
            }
        } catch let error as CompressionError {
            throw ImageError.corruptLayer(layer: location.index, reason: "\(error)")
        }
        try Self.compare(blobDigest: blobDigest, diffID: diffID, with: location)
        return nil
    }

    fileprivate static func compare(blobDigest: String, diffID: String, with location: LayerLocation) throws {
        if let expected = location.blobDigest, blobDigest != expected {
            throw ImageError.digestMismatch(name: location.name, expected: expected, actual: blobDigest)
        }
        guard diffID == location.diffID else {
            throw ImageError.diffIDMismatch(layer: location.index, expected: location.diffID, actual: diffID)
        }
    }

    fileprivate static func hasher(of slice: FileSlice) -> FileRangeHasher {
        FileRangeHasher(fileDescriptor: slice.file.descriptor, offset: slice.offset, available: slice.length)
    }
}

/// The digest check of an uncompressed layer whose hash was taken as standard input was
/// spooled (`LayerStream.verify()`).
public struct RecordedDigestCheck {
    let location: LayerLocation
    let digests: MemberDigests

    /// Waits for the recorded digest (a member the walk did not record is hashed now) and
    /// compares it, as `verify()` would have.
    public func run() throws {
        let digest: String
        if let recorded = digests.digest(of: location.slice) {
            digest = recorded
        } else {
            do {
                digest = ContentDigest(finishedHex: try LayerStream.hasher(of: location.slice).finish()).description
            } catch let error as CompressionError {
                throw ImageError.corruptLayer(layer: location.index, reason: "\(error)")
            }
        }
        try LayerStream.compare(blobDigest: digest, diffID: digest, with: location)
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
            throw ImageError.inflationLimit(
                what: "layer \(location.index + 1) (\(location.name))", limit: limit,
                stored: location.slice.length)
        }
        return got
    }
}
