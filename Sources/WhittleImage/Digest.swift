import Crypto

/// A SHA-256 content digest, the only algorithm whittle accepts. The `sha256:` spelling and
/// the blob path in an OCI layout live here alone.
public struct ContentDigest: Hashable, Sendable, CustomStringConvertible {
    /// The algorithm part of the spelling, as image references and image IDs carry it.
    public static let prefix = "sha256:"
    /// Where an OCI layout (and whittle's output) keeps blobs, named by their hex.
    public static let blobDirectory = "blobs/sha256/"

    /// 64 lowercase hex digits.
    public let hex: String

    /// From the hex a finished SHA-256 hasher gave, which needs no checking.
    public init(finishedHex hex: String) {
        self.hex = hex
    }

    public init(_ hash: SHA256.Digest) {
        self.init(finishedHex: hash.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
    }

    /// The digest of a small in-memory document.
    public init(of bytes: [UInt8]) {
        self.init(SHA256.hash(data: bytes))
    }

    /// Exactly 64 lowercase hex digits, or nil.
    public init?(hex: String) {
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        self.init(finishedHex: hex)
    }

    /// `sha256:<64 lowercase hex>`; any other algorithm or spelling is refused.
    public init(parsing text: String) throws {
        guard text.hasPrefix(Self.prefix), let digest = Self(hex: String(text.dropFirst(Self.prefix.count))) else {
            throw ImageError.unsupportedDigest(text)
        }
        self = digest
    }

    public var description: String { Self.prefix + hex }

    /// The member name of the blob in an OCI layout.
    public var blobPath: String { Self.blobDirectory + hex }
}

/// `sha256:<hex>` of a small in-memory document.
public func sha256Digest(of bytes: [UInt8]) -> String {
    ContentDigest(of: bytes).description
}

/// Reference spelling: `docker.io/library/app:1` and `app:1` name the same image.
public enum ImageName {
    /// The short form Docker prints and `RepoTags` carries, with a tag (`:latest` if none).
    public static func familiar(_ reference: String) -> String {
        var name = reference
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"]
        where name.hasPrefix(prefix) {
            name = String(name.dropFirst(prefix.count))
            break
        }
        return hasTag(name) ? name : name + ":latest"
    }

    /// The fully qualified form containerd records in `io.containerd.image.name`.
    public static func qualified(_ reference: String) -> String {
        let name = familiar(reference)
        let first = name.split(separator: "/").first.map(String.init) ?? name
        let hasDomain = name.contains("/") && (first.contains(".") || first.contains(":") || first == "localhost")
        if hasDomain { return name }
        return name.contains("/") ? "docker.io/" + name : "docker.io/library/" + name
    }

    /// The tag part of a reference.
    public static func tag(_ reference: String) -> String {
        let name = familiar(reference)
        guard let colon = name.lastIndex(of: ":") else { return "latest" }
        return String(name[name.index(after: colon)...])
    }

    private static func hasTag(_ name: String) -> Bool {
        guard let colon = name.lastIndex(of: ":") else { return false }
        return !name[colon...].contains("/") && !name.contains("@")
    }
}
