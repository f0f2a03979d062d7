import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// The trace file: what a run of an image touched. Version 1:
///
/// ```json
/// {
///   "version": 1,
///   "image": "app.tar",
///   "command": ["/bin/app", "--serve"],
///   "entries": [
///     {"path": "/etc/passwd", "operations": ["openat"], "existed": true}
///   ]
/// }
/// ```
///
/// - `path`: an absolute path inside the image, as the process named it, made absolute
///   against its working directory (or the directory fd of an `*at` call), with `.`, `..`
///   and repeated slashes folded lexically. When a path passes through symlinks of the
///   image, its resolved form is listed too, with the operation `resolved`, and every
///   symlink passed with `symlink`.
/// - `operations`: the system calls that named it (`openat`, `execve`, `newfstatat`…),
///   sorted; `write` marks an open for writing (`O_WRONLY`, `O_RDWR`, `O_CREAT` or
///   `O_TRUNC`). Traces written before `write` existed read the same, without it.
/// - `existed`: whether the path was in the image before the run (as named: a final
///   symlink counts, not its target). Files the app created are listed with `false`.
/// - `chainID` (optional): the OCI ChainID of the traced image's layers, which names its
///   filesystem whatever the layout it was saved in; `slim` warns when it differs.
/// - `runs` (optional): when traces were merged, the image, chain ID and command of each run.
/// - `environment`, `network`, `timeout` (optional): how the run was made (`-e` settings,
///   `--network`, `--timeout`), so `verify` can run a slimmed image the same way.
/// - `probes` (optional): each probe in the order it ran, with what the app answered: the
///   HTTP status or exit code, and a digest of the body or output when two asks agreed.
/// - `commandResult` (optional): for a command that ran to its end, its exit code and a
///   digest of its standard output.
///
/// Entries are sorted by path (bytewise), keys are sorted, so the same run gives the same
/// bytes. Traces merge by path: operations are united, and `existed` is true if any run saw
/// the path in its image.
public struct TraceDocument: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public struct Entry: Codable, Sendable, Equatable {
        public var path: String
        public var operations: [String]
        public var existed: Bool

        public init(path: String, operations: [String], existed: Bool) {
            self.path = path
            self.operations = operations
            self.existed = existed
        }

        /// Whether the app created, changed, renamed or deleted this entry: the directory
        /// holding it is the app's state.
        public var changesState: Bool {
            if operations.contains(where: Self.stateChanging.contains) { return true }
            // A directory made where one was (`mkdir -p` of its parents) failed and changed
            // nothing; `symlink` also marks a link the path passed through, always in the image.
            return !existed && operations.contains { $0 == "mkdir" || $0 == "mkdirat" || $0 == "symlink" }
        }

        static let stateChanging: Set<String> = [
            "write", "creat", "truncate", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
            "linkat", "symlinkat", "mknod", "mknodat",
        ]
    }

    public struct Run: Codable, Sendable, Equatable {
        public var image: String
        public var chainID: String?
        public var command: [String]
    }

    public var version: Int
    public var image: String
    public var chainID: String?
    public var command: [String]
    public var entries: [Entry]
    public var runs: [Run]?
    public var environment: [String]?
    public var network: TraceNetwork?
    public var timeout: Double?
    public var probes: [ProbeRecord]?
    public var commandResult: CommandRecord?

    public init(image: String, chainID: String? = nil, command: [String], entries: [Entry]) {
        version = Self.currentVersion
        self.image = image
        self.chainID = chainID
        self.command = command
        self.entries = entries
        runs = nil
        normalize()
    }

    /// Sorts entries and operations, and folds duplicate paths.
    public mutating func normalize() {
        var byPath: [String: Entry] = [:]
        for entry in entries {
            if var existing = byPath[entry.path] {
                existing.operations += entry.operations
                existing.existed = existing.existed || entry.existed
                byPath[entry.path] = existing
            } else {
                byPath[entry.path] = entry
            }
        }
        entries = byPath.values.map { entry in
            var entry = entry
            entry.operations = Array(Set(entry.operations)).sorted()
            return entry
        }.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// Every path of `other` added to this trace.
    public mutating func merge(_ other: TraceDocument) {
        var allRuns = runs ?? [Run(image: image, chainID: chainID, command: command)]
        for run in other.runs ?? [Run(image: other.image, chainID: other.chainID, command: other.command)]
        where !allRuns.contains(run) {
            allRuns.append(run)
        }
        runs = allRuns.count > 1 ? allRuns : nil
        // How each run went belongs to that run; `verify` reads the traces one by one.
        if other.environment != environment || other.network != network || other.timeout != timeout
            || other.probes != probes || other.commandResult != commandResult
        {
            (environment, network, timeout, probes, commandResult) = (nil, nil, nil, nil, nil)
        }
        entries += other.entries
        normalize()
    }

    /// The chain IDs of the images the runs traced (one per run when merged).
    public var tracedChainIDs: [String] {
        (runs?.compactMap(\.chainID) ?? chainID.map { [$0] } ?? [])
    }

    /// All of `documents` merged into one, or nil when there are none.
    public static func merging(_ documents: [TraceDocument]) -> TraceDocument? {
        guard var merged = documents.first else { return nil }
        for document in documents.dropFirst() { merged.merge(document) }
        return merged
    }

    public static func load(path: String) throws -> TraceDocument {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TraceFileError.io(path: path, reason: "cannot read the trace file: \(error.localizedDescription)")
        }
        struct VersionOnly: Decodable { var version: Int? }
        guard let probe = try? JSONDecoder().decode(VersionOnly.self, from: data) else {
            throw TraceFileError.notATrace(path: path, reason: "it is not a JSON object")
        }
        guard let version = probe.version else {
            throw TraceFileError.notATrace(path: path, reason: "it has no \"version\" field")
        }
        guard version == currentVersion else { throw TraceFileError.unsupportedVersion(path: path, version: version) }
        do {
            var document = try JSONDecoder().decode(TraceDocument.self, from: data)
            document.normalize()
            return document
        } catch {
            throw TraceFileError.notATrace(path: path, reason: "\(error)")
        }
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0a)
        return data
    }

    /// Writes the trace to a temporary file beside `path` and renames it into place.
    public func save(path: String) throws {
        let data = try encoded()
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, path) == 0 else {
                throw TraceFileError.io(path: path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw TraceFileError.io(path: path, reason: "cannot write the trace file: \(error.localizedDescription)")
        }
    }
}

/// Why a trace file could not be read or written.
public enum TraceFileError: Error, CustomStringConvertible, Equatable {
    case io(path: String, reason: String)
    case notATrace(path: String, reason: String)
    case unsupportedVersion(path: String, version: Int)

    public var description: String {
        switch self {
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .notATrace(path, reason):
            return "\(path) is not a whittle trace file: \(reason)"
        case let .unsupportedVersion(path, version):
            return
                "\(path) is a version \(version) trace file; this whittle reads version \(TraceDocument.currentVersion)"
        }
    }
}
