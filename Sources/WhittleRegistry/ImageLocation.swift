import WhittleImage

/// Where an image lives, in the transport syntax skopeo and podman use:
/// `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`, `docker-daemon:NAME:TAG`, `docker-archive:PATH`,
/// `oci-archive:PATH`, `oci:DIR[:REF]`. Anything without a known transport is a path, as before.
/// Parsed here and nowhere else.
public enum ImageLocation: Equatable, Sendable, CustomStringConvertible {
    /// A file or directory whose layout is sniffed: docker-archive, oci-archive or an OCI layout.
    case path(String)
    /// `docker-archive:`, `oci-archive:` or `oci:`, with an optional image to take from it
    /// (or, for an output, the name to give it).
    case local(LocalTransport, path: String, reference: String?)
    case registry(RegistryReference)
    /// An image of the Docker engine, as `name:tag` or an image ID.
    case daemon(String)

    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            self = .path(text)
            return
        }
        let transport = String(text[..<colon])
        let rest = String(text[text.index(after: colon)...])
        switch transport {
        case "docker":
            guard rest.hasPrefix("//") else {
                throw LocationError.malformed(text, "docker: is followed by //HOST/REPO")
            }
            self = .registry(try RegistryReference(parsing: String(rest.dropFirst(2))))
        case "docker-daemon":
            guard !rest.isEmpty else { throw LocationError.malformed(text, "docker-daemon: needs NAME:TAG") }
            self = .daemon(rest.contains(":") || rest.contains("@") || Self.isImageID(rest) ? rest : rest + ":latest")
        case "docker-archive", "oci-archive", "oci":
            let (path, reference) = Self.splitReference(rest)
            guard !path.isEmpty else { throw LocationError.malformed(text, "\(transport): needs a PATH") }
            let kind: LocalTransport =
                transport == "oci" ? .ociLayout : transport == "oci-archive" ? .ociArchive : .dockerArchive
            self = .local(kind, path: path, reference: reference)
        default:
            // `C:` or `./a:b` is a path; only the names above are transports.
            self = .path(text)
        }
    }

    /// A path on this machine that can be read (or written) in place, if there is one.
    public var localPath: String? {
        switch self {
        case let .path(path), let .local(_, path, _): return path
        case .registry, .daemon: return nil
        }
    }

    public var description: String {
        switch self {
        case let .path(path): return path
        case let .local(kind, path, reference): return kind.rawValue + ":" + path + (reference.map { ":" + $0 } ?? "")
        case let .registry(reference): return "docker://\(reference)"
        case let .daemon(name): return "docker-daemon:\(name)"
        }
    }

    /// As skopeo reads it: the path runs to the first colon, the rest names the image
    /// (`docker-archive:app.tar:app:1`, `oci:dir:latest`).
    private static func splitReference(_ text: String) -> (String, String?) {
        guard let colon = text.firstIndex(of: ":") else { return (text, nil) }
        let reference = String(text[text.index(after: colon)...])
        return (String(text[..<colon]), reference.isEmpty ? nil : reference)
    }

    private static func isImageID(_ text: String) -> Bool {
        let hex = text.hasPrefix(ContentDigest.prefix) ? String(text.dropFirst(ContentDigest.prefix.count)) : text
        return hex.count >= 12 && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}

public enum LocalTransport: String, Sendable {
    case dockerArchive = "docker-archive"
    case ociArchive = "oci-archive"
    case ociLayout = "oci"
}

/// `HOST[:PORT]/REPO[:TAG|@DIGEST]`, with Docker Hub's short names filled in as Docker does.
public struct RegistryReference: Equatable, Sendable, CustomStringConvertible {
    /// `host[:port]` as the user wrote it (`registry-1.docker.io` for Docker Hub).
    public let host: String
    public let repository: String
    public let tag: String?
    public let digest: String?

    public init(host: String, repository: String, tag: String?, digest: String?) {
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    public init(parsing text: String) throws {
        var remainder = text
        var digest: String?
        if let at = remainder.firstIndex(of: "@") {
            digest = String(remainder[remainder.index(after: at)...])
            remainder = String(remainder[..<at])
            guard let value = digest, Self.isDigest(value) else {
                throw LocationError.malformed("docker://" + text, "a digest is sha256: and 64 lowercase hex digits")
            }
        }
        var tag: String?
        if let colon = remainder.lastIndex(of: ":"), !remainder[colon...].contains("/") {
            tag = String(remainder[remainder.index(after: colon)...])
            remainder = String(remainder[..<colon])
        }
        var parts = remainder.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw LocationError.malformed("docker://" + text, "expected HOST[:PORT]/REPO[:TAG|@DIGEST]")
        }
        let first = parts[0]
        let hasHost = parts.count > 1 && (first.contains(".") || first.contains(":") || first == "localhost")
        var host = hasHost ? parts.removeFirst() : "docker.io"
        if host == "docker.io" || host == "index.docker.io" {
            host = "registry-1.docker.io"
            if parts.count == 1 { parts.insert("library", at: 0) }
        }
        let repository = parts.joined(separator: "/")
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-/")
        guard repository.allSatisfy(allowed.contains) else {
            throw LocationError.malformed(
                "docker://" + text, "a repository name is lowercase letters, digits, . _ - and /")
        }
        if let tag,
            tag.isEmpty || tag.count > 128 || !tag.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) })
        {
            throw LocationError.malformed("docker://" + text, "a tag is up to 128 letters, digits, . _ and -")
        }
        self.init(host: host, repository: repository, tag: digest == nil ? (tag ?? "latest") : tag, digest: digest)
    }

    /// What the registry's manifest endpoint is asked for: the digest when there is one.
    public var reference: String { digest ?? tag ?? "latest" }

    /// `host/repo:tag`, the name the image carries in an archive (Docker Hub's as `docker.io/…`,
    /// which Docker shortens to `alpine:3`).
    public var name: String {
        "\(host == "registry-1.docker.io" ? "docker.io" : host)/\(repository):\(tag ?? "latest")"
    }

    public var description: String {
        var text = "\(host)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    static func isDigest(_ text: String) -> Bool {
        (try? ContentDigest(parsing: text)) != nil
    }
}

public enum LocationError: Error, CustomStringConvertible, Sendable {
    case malformed(String, String)

    public var description: String {
        switch self {
        case let .malformed(text, hint):
            return "cannot read the image reference '\(text)': \(hint)"
        }
    }
}
