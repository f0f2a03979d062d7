import CZlib

/// Decompresses a gzip stream pulled from `upstream`.
///
/// Concatenated members (as `pigz` or `cat a.gz b.gz` produce) decode as one stream, and
/// zero bytes after the last member (padding some tools add) are ignored. Anything else
/// that is not a complete, valid stream throws a `CompressionError`.
public final class GzipDecodingSource: ByteSource {
    private static let inputCapacity = 256 * 1024
    /// 15 = the largest window; +32 lets zlib detect the gzip (or zlib) header itself.
    private static let windowBits: Int32 = 15 + 32
    private static let gzipMagicFirstByte: Bytef = 0x1f

    private let upstream: ByteSource
    /// zlib keeps a pointer back to its `z_stream`, so it lives at a fixed address.
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var isStreamInitialized = false
    private var upstreamEnded = false
    /// True between members: the previous one ended and the next has not started.
    /// Decoding starts inside a member because an empty input is not a gzip stream:
    /// running out of input there reports truncation.
    private var atMemberBoundary = false
    private var finished = false

    public init(upstream: ByteSource) {
        self.upstream = upstream
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.inputCapacity, alignment: 16)
    }

    deinit {
        if isStreamInitialized { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, let outputBase = buffer.baseAddress, buffer.count > 0 else { return 0 }
        try startStreamIfNeeded()

        stream.pointee.next_out = outputBase.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(clamping: buffer.count)
        let outputCapacity = Int(stream.pointee.avail_out)

        while true {
            if stream.pointee.avail_in == 0 && !upstreamEnded {
                try refillInput()
            }
            if atMemberBoundary {
                guard try startNextMemberIfAny() else {
                    finished = true
                    return outputCapacity - Int(stream.pointee.avail_out)
                }
            }

            let result = inflate(stream, Z_NO_FLUSH)
            let produced = outputCapacity - Int(stream.pointee.avail_out)

            switch result {
            case Z_STREAM_END:
                atMemberBoundary = true
                if produced > 0 { return produced }
            case Z_OK:
                if produced > 0 { return produced }
            case Z_BUF_ERROR:
                // No progress was possible: zlib wants input that will never come.
                if upstreamEnded && stream.pointee.avail_in == 0 { throw CompressionError.truncatedGzip }
                if produced > 0 { return produced }
                // zlib promises this only happens without input; guard against spinning forever.
                if stream.pointee.avail_in > 0 { throw CompressionError.corruptGzip("decoder made no progress") }
            case Z_NEED_DICT:
                throw CompressionError.corruptGzip("stream needs a preset dictionary, which gzip never uses")
            case Z_MEM_ERROR:
                throw CompressionError.libraryFailure(library: "zlib", detail: "inflate ran out of memory")
            default:
                throw CompressionError.corruptGzip(zlibMessage(default: "error \(result)"))
            }

            if stream.pointee.avail_in == 0 && upstreamEnded && !atMemberBoundary {
                throw CompressionError.truncatedGzip
            }
        }
    }

    private func startStreamIfNeeded() throws {
        guard !isStreamInitialized else { return }
        let result = inflateInit2_(
            stream, Self.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard result == Z_OK else {
            throw CompressionError.libraryFailure(
                library: "zlib", detail: "inflateInit2 returned \(result)")
        }
        isStreamInitialized = true
    }

    /// Reads the next chunk of compressed input; it is only called once zlib consumed the last.
    private func refillInput() throws {
        guard let base = input.baseAddress else { return }
        let count = try upstream.read(into: input)
        if count == 0 {
            upstreamEnded = true
        }
        stream.pointee.next_in = base.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(count)
    }

    /// After a member ended: true if another member follows (zlib is reset for it),
    /// false if only the end of input or zero padding is left.
    private func startNextMemberIfAny() throws -> Bool {
        var skippedPadding = false
        while true {
            if stream.pointee.avail_in == 0 {
                if upstreamEnded { return false }
                try refillInput()
                continue
            }
            // A new member starts with the gzip magic; zero bytes are padding to skip.
            guard let next = stream.pointee.next_in, next.pointee == 0 else { break }
            stream.pointee.next_in = next + 1
            stream.pointee.avail_in -= 1
            skippedPadding = true
        }
        if skippedPadding {
            throw CompressionError.corruptGzip("unexpected data after the zero padding that follows the last member")
        }
        guard stream.pointee.next_in?.pointee == Self.gzipMagicFirstByte else {
            throw CompressionError.corruptGzip("unexpected data after the end of the last member")
        }
        guard inflateReset(stream) == Z_OK else {
            throw CompressionError.libraryFailure(library: "zlib", detail: "inflateReset failed")
        }
        atMemberBoundary = false
        return true
    }

    private func zlibMessage(default fallback: String) -> String {
        guard let message = stream.pointee.msg else { return fallback }
        return String(cString: message)
    }
}
