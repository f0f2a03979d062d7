/// The fields of an image config (`config.md` of the OCI image spec) that whittle reads.
///
/// A view: the document itself is kept whole as `JSONValue` beside it (`SavedImage.rawConfig`),
/// so keys whittle does not know survive into the output. Read leniently, as `docker run`
/// tolerates old configs: a missing field, `null` or a value of another type reads as empty,
/// and an array keeps only its strings.
public struct ImageConfig: Sendable, Equatable {
    /// The `PATH` a container gets when the image's `Env` sets none (Docker's default).
    public static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// `architecture`, `os` and `variant`.
    public var architecture: String?
    public var os: String?
    public var variant: String?
    /// `config.Entrypoint`.
    public var entrypoint: [String]
    /// `config.Cmd`.
    public var cmd: [String]
    /// `config.Env`: `KEY=VALUE` entries, in order.
    public var env: [String]
    /// `config.User`: `user`, `uid`, `user:group` or `uid:gid`; empty for root.
    public var user: String
    /// `config.WorkingDir`; empty means `/`.
    public var workingDir: String
    /// `config.Volumes`: the directories whose data lives outside the container.
    public var volumes: [String]
    /// `rootfs.diff_ids`: the digest of each layer's uncompressed tar, bottom first.
    public var diffIDs: [String]
    /// `history`, one entry per build step, including steps that made no layer.
    public var history: [HistoryEntry]

    /// One element of `history`.
    public struct HistoryEntry: Sendable, Equatable {
        /// `created_by`; empty when absent.
        public var createdBy: String
        /// `empty_layer`: the step changed only the config.
        public var emptyLayer: Bool
    }

    public init(_ document: JSONValue) {
        let settings = document["config"]
        func strings(_ value: JSONValue?) -> [String] {
            (value?.arrayValue ?? []).compactMap(\.stringValue)
        }
        architecture = document["architecture"]?.stringValue
        os = document["os"]?.stringValue
        variant = document["variant"]?.stringValue
        entrypoint = strings(settings?["Entrypoint"])
        cmd = strings(settings?["Cmd"])
        env = strings(settings?["Env"])
        user = settings?["User"]?.stringValue ?? ""
        workingDir = settings?["WorkingDir"]?.stringValue ?? ""
        if case let .object(volumes)? = settings?["Volumes"] {
            self.volumes = volumes.keys.sorted()
        } else {
            volumes = []
        }
        diffIDs = strings(document["rootfs"]?["diff_ids"])
        history = (document["history"]?.arrayValue ?? []).map { entry in
            HistoryEntry(
                createdBy: entry["created_by"]?.stringValue ?? "",
                emptyLayer: entry["empty_layer"]?.boolValue == true)
        }
    }

    /// The value of the first `NAME=` entry of `env`.
    public func environmentValue(_ name: String) -> String? {
        env.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// Where a command without a `/` is looked for: the image's `PATH`, or Docker's default.
    public var searchPath: [String] {
        (environmentValue("PATH") ?? Self.defaultSearchPath).split(separator: ":").map(String.init)
    }

    /// The platform the config names; linux on this machine's architecture where it names none.
    public var platform: Platform {
        Platform(architecture: architecture ?? Platform.host.architecture, os: os ?? "linux", variant: variant)
    }
}
