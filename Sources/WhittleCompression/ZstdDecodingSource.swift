import CZstd

/// Decompresses a zstd stream pulled from `upstream`. Consecutive frames (and skippable
/// frames) decode as one stream, as the `zstd` tool does; an incomplete or invalid
/// stream throws a `CompressionError`.
public final class ZstdDecodingSource: ByteSource {
    private static let inputCapacity = 256 * 1024

    private let upstream: ByteSource
    private var context: OpaquePointer?
    private let input: UnsafeMutableRawBufferPointer
    private var inputState = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var upstreamEnded = false
    /// libzstd returns 0 exactly when a frame is complete and fully flushed, so this tells
    /// a clean end of input apart from a truncated one. An empty input is not a zstd stream.
    private var atFrameBoundary = false
    private var finished = false

    public init(upstream: ByteSource) {
        self.upstream = upstream
        input = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.inputCapacity, alignment: 16)
    }

    deinit {
        if let context { ZSTD_freeDStream(context) }
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, let outputBase = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let context = try startContextIfNeeded()
        var output = ZSTD_outBuffer(dst: outputBase, size: buffer.count, pos: 0)

        while true {
            if inputState.pos == inputState.size && !upstreamEnded {
                try refillInput()
            }
            if inputState.pos == inputState.size && upstreamEnded && atFrameBoundary {
                finished = true
                return output.pos
            }

            let positionBefore = inputState.pos
            let result = ZSTD_decompressStream(context, &output, &inputState)
            if ZSTD_isError(result) != 0 {
                throw CompressionError.corruptZstd(String(cString: ZSTD_getErrorName(result)))
            }
            atFrameBoundary = result == 0
            if output.pos > 0 { return output.pos }

            // Nothing came out and nothing more is coming in: the frame was cut short.
            let consumedNothing = inputState.pos == positionBefore
            if upstreamEnded && inputState.pos == inputState.size && consumedNothing && !atFrameBoundary {
                throw CompressionError.truncatedZstd
            }
        }
    }

    private func startContextIfNeeded() throws -> OpaquePointer {
        if let context { return context }
        guard let created = ZSTD_createDStream() else {
            throw CompressionError.libraryFailure(library: "libzstd", detail: "could not create a decoder")
        }
        context = created
        let result = ZSTD_initDStream(created)
        if ZSTD_isError(result) != 0 {
            throw CompressionError.libraryFailure(
                library: "libzstd", detail: String(cString: ZSTD_getErrorName(result)))
        }
        return created
    }

    private func refillInput() throws {
        let count = try upstream.read(into: input)
        if count == 0 { upstreamEnded = true }
        inputState = ZSTD_inBuffer(src: UnsafeRawPointer(input.baseAddress), size: count, pos: 0)
    }
}
