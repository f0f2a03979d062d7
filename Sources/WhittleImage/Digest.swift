import Crypto

/// `sha256:<hex>` of a small in-memory document.
public func sha256Digest(of bytes: [UInt8]) -> String {
    "sha256:"
        + SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
}

/// The hex part of a `sha256:` digest, or an error for any other algorithm.
func sha256Hex(of digest: String) throws -> String {
    guard digest.hasPrefix("sha256:") else { throw ImageError.unsupportedDigest(digest) }
    let hex = String(digest.dropFirst("sha256:".count))
    guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
        throw ImageError.unsupportedDigest(digest)
    }
    return hex
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
