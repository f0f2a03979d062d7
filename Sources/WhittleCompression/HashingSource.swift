import Crypto

/// Passes bytes through from `upstream` unchanged while computing their SHA-256, so a
/// layer can be verified against its digest in the same pass that decodes it.
public final class HashingSource: ByteSource {
    private let upstream: ByteSource
    private var hasher = SHA256()

    /// How many bytes have been read through so far.
    public private(set) var byteCount: Int64 = 0

    public init(upstream: ByteSource) {
        self.upstream = upstream
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try upstream.read(into: buffer)
        if count > 0 {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            byteCount += Int64(count)
        }
        return count
    }

    /// Lowercase hex SHA-256 of the bytes read so far; the whole stream's once `read` returned 0.
    public var hexDigest: String { hexString(of: hasher) }
}

/// Forwards bytes to `downstream` unchanged while computing their SHA-256, so the digest of
/// written output (a blob's name in an image) is known without reading it back.
public final class HashingSink: ByteSink {
    private let downstream: ByteSink
    private var hasher = SHA256()

    /// How many bytes have been written through so far.
    public private(set) var byteCount: Int64 = 0

    public init(downstream: ByteSink) {
        self.downstream = downstream
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        // Hash only what the downstream accepted, so a failed write leaves the digest honest.
        try downstream.write(bytes)
        hasher.update(bufferPointer: bytes)
        byteCount += Int64(bytes.count)
    }

    /// Lowercase hex SHA-256 of the bytes written so far.
    public var hexDigest: String { hexString(of: hasher) }
}

/// `finalize()` works on a copy of the value, so the running hash can still be updated afterwards.
func hexString(of hasher: SHA256) -> String {
    let digest = hasher.finalize()
    let hexDigits: [Character] = Array("0123456789abcdef")
    var text = ""
    text.reserveCapacity(SHA256.byteCount * 2)
    for byte in digest {
        text.append(hexDigits[Int(byte >> 4)])
        text.append(hexDigits[Int(byte & 0x0f)])
    }
    return text
}
