import Foundation
import WhittleFlatten
import WhittleSelect

/// The before/after figures of one `whittle slim` run (or dry run), in a form that renders
/// as a terminal table, JSON, or Markdown. All sizes are bytes, uncompressed unless named
/// otherwise.
public struct SlimReport: Codable, Sendable {
    public struct Side: Codable, Sendable {
        public var layers: Int
        /// Entries that are not directories.
        public var files: Int
        /// File content, each hardlinked inode once.
        public var bytes: Int64
    }

    public struct Saving: Codable, Sendable {
        public var name: String
        public var entries: Int
        public var bytes: Int64
    }

    public struct Waste: Codable, Sendable {
        public var bytes: Int64
        public var efficiency: Double
        /// Wasted bytes as a percentage of every layer but the first; nil with one layer.
        public var userWastedPercent: Double?

        public init(bytes: Int64, efficiency: Double, userWastedPercent: Double?) {
            self.bytes = bytes
            self.efficiency = efficiency
            self.userWastedPercent = userWastedPercent
        }
    }

    public struct PackageLoss: Codable, Sendable {
        public var package: String
        public var files: Int
        public var bytes: Int64

        public init(package: String, files: Int, bytes: Int64) {
            self.package = package
            self.files = files
            self.bytes = bytes
        }
    }

    public var input: String
    public var output: String?
    public var tag: String?
    public var dryRun: Bool
    public var before: Side
    /// The sum of every layer's file content, overwritten and deleted files included.
    public var layerContentBytes: Int64
    public var after: Side
    /// The exact size of the output tarball; nil in a dry run.
    public var outputTarballBytes: Int64?
    /// With `-o docker://…`: the manifest digest the registry now holds.
    public var pushedDigest: String?
    public var removedEntries: Int
    public var removedBytes: Int64
    public var byProfile: [Saving]
    public var byRule: [Saving]
    public var topDirectories: [Saving]
    public var danglingSymlinks: [String]
    /// With a trace: how much each reason (`trace`, `closure:elf`, …) kept.
    public var keptByReason: [Saving]
    /// Bytes the input wastes across layers, with dive's definitions.
    public var wasted: Waste?
    /// OS packages that lost files, most bytes first.
    public var packages: [PackageLoss]
    /// Packages removed and partial in the databases the output carries; nil when the input
    /// has no package database or nothing was asked to go.
    public var packageDatabases: PackageSection?

    /// Builds the figures from the flattened tree and the selection applied to it.
    public init(input: String, layerCount: Int, layerContentBytes: Int64, selection: Selection) {
        self.input = input
        dryRun = true
        before = Side(layers: layerCount, files: selection.before.files, bytes: selection.before.bytes)
        self.layerContentBytes = layerContentBytes
        after = Side(layers: 1, files: selection.after.files, bytes: selection.after.bytes)
        removedEntries = selection.removedEntries
        removedBytes = selection.removedBytes
        // The records of removed packages, one rule per package, read as one line here; the
        // packages section names each package.
        byRule = Self.group(selection.removals) {
            $0.origin == .packages ? "packages:records of removed packages" : $0.rule
        }
        byProfile = Self.group(selection.removals) { $0.origin.name }
        topDirectories = Array(
            Self.group(selection.removals) { removal in
                removal.isDirectory
                    ? removal.path : String(removal.path.split(separator: "/").dropLast().joined(separator: "/"))
            }.prefix(20))
        danglingSymlinks = selection.danglingSymlinks
        keptByReason = Self.keptSavings(selection)
        packages = []
    }

    /// Records what the real run wrote. The counts of files and bytes are the selection's:
    /// the writer writes exactly what it keeps.
    public mutating func recordOutput(path: String, tag: String, tarballBytes: Int64) {
        dryRun = false
        output = path
        self.tag = tag
        outputTarballBytes = tarballBytes
    }

    static func keptSavings(_ selection: Selection) -> [Saving] {
        selection.keptByReason.map { Saving(name: $0.reason.description, entries: $0.entries, bytes: $0.bytes) }
    }

    private static func group(_ removals: [Removal], by key: (Removal) -> String) -> [Saving] {
        var totals: [String: Saving] = [:]
        for removal in removals {
            let name = key(removal)
            var saving = totals[name] ?? Saving(name: name.isEmpty ? "/" : name, entries: 0, bytes: 0)
            saving.entries += removal.entries
            saving.bytes += removal.bytes
            totals[name] = saving
        }
        return totals.values.sorted { ($0.bytes, $1.name) > ($1.bytes, $0.name) }
    }
}
