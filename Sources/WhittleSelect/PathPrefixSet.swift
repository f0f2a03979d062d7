/// Tree paths, asked whether a path or any directory above it is among them: what a removed
/// directory means for everything below it.
///
/// Each prefix of the asked path is hashed by extending the previous prefix's hash (FNV-1a
/// over the bytes), so a path costs one pass over its bytes however deep it is. Paths are
/// compared as bytes, as the tree names files.
struct PathPrefixSet: Sendable {
    /// The paths by their hash; a list only in the rare case of two paths with one hash.
    private let pathsByHash: [UInt64: [String]]

    init(_ paths: some Sequence<String>) {
        var byHash: [UInt64: [String]] = [:]
        for path in paths {
            var copy = path
            let hash = copy.withUTF8 { Self.extend(Self.seed, with: $0) }
            byHash[hash, default: []].append(path)
        }
        pathsByHash = byHash
    }

    var isEmpty: Bool { pathsByHash.isEmpty }

    /// Whether `path`, or a path it lies below, is in the set.
    func containsPathOrParent(of path: String) -> Bool {
        guard !pathsByHash.isEmpty else { return false }
        var path = path
        return path.withUTF8 { bytes in
            var hash = Self.seed
            for (index, byte) in bytes.enumerated() {
                if byte == UInt8(ascii: "/"), index > 0, contains(hash, UnsafeBufferPointer(rebasing: bytes[..<index]))
                {
                    return true
                }
                hash = (hash ^ UInt64(byte)) &* Self.prime
            }
            return contains(hash, bytes)
        }
    }

    private func contains(_ hash: UInt64, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let candidates = pathsByHash[hash] else { return false }
        return candidates.contains { $0.utf8.elementsEqual(bytes) }
    }

    private static let seed: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    private static func extend(_ hash: UInt64, with bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        bytes.reduce(hash) { ($0 ^ UInt64($1)) &* prime }
    }
}
