/// Why talking to a registry or the Docker engine failed: which one, at which step, what it
/// answered, and what to do about it.
public enum RegistryError: Error, CustomStringConvertible, Sendable {
    case unreachable(registry: String, step: String, reason: String)
    case connectionLost(registry: String, step: String, reason: String)
    case status(registry: String, step: String, status: Int, advice: String)
    case badResponse(registry: String, step: String, reason: String)
    case digestMismatch(registry: String, blob: String, actual: String)
    case sizeMismatch(registry: String, blob: String, expected: Int64, actual: Int64)
    case noCredentials(registry: String)
    case credentialHelper(helper: String, reason: String)
    case badCredentials(source: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case engineUnreachable(host: String, step: String, reason: String)

    public var description: String {
        switch self {
        case let .unreachable(registry, step, reason):
            return "cannot reach \(registry) (\(step)): \(reason). Check the address; for a private CA pass "
                + "--cert-dir DIR holding its .crt, or --tls-verify=false to skip the check"
        case let .connectionLost(registry, step, reason):
            return "the connection to \(registry) broke (\(step)): \(reason). Run again (a push moves its tag "
                + "only once every blob is in, so a broken push tagged nothing)"
        case let .status(registry, step, status, advice):
            return "\(registry) refused to \(step): HTTP \(status)\(advice.isEmpty ? "" : "; \(advice)")"
        case let .badResponse(registry, step, reason):
            return "\(registry) answered \(step) with something unusable: \(reason)"
        case let .digestMismatch(registry, blob, actual):
            return "\(registry) sent content for \(blob) that hashes to \(actual): refusing it (a corrupt "
                + "registry or a proxy changing the bytes)"
        case let .sizeMismatch(registry, blob, expected, actual):
            return "\(registry) sent \(actual) bytes for \(blob), whose descriptor says \(expected): refusing it"
        case let .noCredentials(registry):
            return "\(registry) asks for credentials and none were found: log in (docker login \(registry)), "
                + "or pass --creds USER:PASS, or set REGISTRY_AUTH_FILE"
        case let .credentialHelper(helper, reason):
            return "the credential helper \(helper) failed: \(reason)"
        case let .badCredentials(source, reason):
            return "cannot read credentials from \(source): \(reason)"
        case let .engineUnreachable(host, step, reason):
            return "cannot reach the Docker engine at \(host) (\(step)): \(reason). Is it running, and is this "
                + "its socket? DOCKER_HOST names another (unix:///run/user/UID/podman/podman.sock for podman)"
        case let .cannotWrite(path, reason):
            return "cannot write \(path) (set TMPDIR to a disk with room): \(reason)"
        }
    }

    /// What a user can do about a status, by the step that met it.
    static func advice(status: Int, step: String) -> String {
        switch status {
        case 401: return "log in: check the user and password (--creds USER:PASS, docker login, REGISTRY_AUTH_FILE)"
        case 403: return "the credentials lack the permission for it"
        case 404 where step.contains("manifest"): return "check the repository name and the tag or digest"
        case 404: return "the registry does not have it"
        case 405: return "the registry does not allow it (is it a read-only mirror?)"
        case 429: return "too many requests: wait and try again"
        default: return ""
        }
    }
}
