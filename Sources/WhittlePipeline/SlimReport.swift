import Foundation
import WhittleFlatten
import WhittlePackages
import WhittleSelect

/// The before/after figures of one `whittle slim` run (or dry run), in a form that renders
/// as a terminal table, JSON, or Markdown. All sizes are bytes, uncompressed unless named
/// otherwise.
public struct SlimReport: Encodable, Sendable {
    public struct Side: Encodable, Sendable {
        public var layers: Int
        /// Entries that are not directories.
        public var files: Int
        /// File content, each hardlinked inode once.
        public var bytes: Int64
    }

    public struct Saving: Encodable, Sendable {
        public var name: String
        public var entries: Int
        public var bytes: Int64

        public init(name: String, entries: Int, bytes: Int64) {
            self.name = name
            self.entries = entries
            self.bytes = bytes
        }
    }

    public let input: String
    public let output: String?
    public let tag: String?
    public let dryRun: Bool
    public let before: Side
    /// The sum of every layer's file content, overwritten and deleted files included.
    public let layerContentBytes: Int64
    public let after: Side
    /// The exact size of the output tarball; nil in a dry run.
    public let outputTarballBytes: Int64?
    /// With `-o docker://…`: the manifest digest the registry now holds.
    public let pushedDigest: String?
    public let removedEntries: Int
    public let removedBytes: Int64
    public let byProfile: [Saving]
    public let byRule: [Saving]
    public let topDirectories: [Saving]
    public let danglingSymlinks: [String]
    /// With a trace: how much each reason (`trace`, `closure:elf`, …) kept.
    public let keptByReason: [Saving]
    /// Bytes the input wastes across layers, with dive's definitions.
    public let wasted: WasteReport
    /// OS packages that lost files, most bytes first.
    public let packages: [PackageLoss]
    /// Packages removed and partial in the databases the output carries; nil when the input
    /// has no package database or nothing was asked to go.
    public let packageDatabases: PackageSection?

    /// The one place the figures are made: from the stages' results, after the last stage.
    /// `written` is nil in a dry run. The counts of files and bytes after are the
    /// selection's, plus the rewritten package databases: the writer writes exactly what
    /// the selection keeps.
    public init(input: String, flattened: Flattened, decided: Decided, written: Written?) {
        let selection = decided.selection
        self.input = input
        output = written?.output
        tag = written?.file.tag
        dryRun = written == nil
        before = Side(
            layers: flattened.image.image.layers.count, files: selection.before.files, bytes: selection.before.bytes)
        layerContentBytes = flattened.image.layerContentBytes
        after = Side(
            layers: 1, files: selection.after.files,
            bytes: selection.after.bytes + decided.rewrittenDatabases.addedBytes)
        outputTarballBytes = written?.file.outputSize
        pushedDigest = written?.delivery?.pushedDigest
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
        wasted = flattened.waste
        packages = decided.packageLosses
        packageDatabases = decided.packageDatabases
    }

    /// What each reason kept, as the report and the dry run list it.
    public static func keptSavings(_ selection: Selection) -> [Saving] {
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

    private enum CodingKeys: String, CodingKey {
        case input, output, tag, dryRun, before, layerContentBytes, after, outputTarballBytes, pushedDigest
        case removedEntries, removedBytes, byProfile, byRule, topDirectories, danglingSymlinks, keptByReason
        case wasted, packages, packageDatabases
    }

    private enum WasteKeys: String, CodingKey {
        case bytes, efficiency, userWastedPercent
    }

    private enum LossKeys: String, CodingKey {
        case package, files, bytes
    }

    /// Written by hand for one reason: the waste and the package losses keep the short shape
    /// the JSON has always had (`bytes`, `files`), whatever their own types call them.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(input, forKey: .input)
        try container.encodeIfPresent(output, forKey: .output)
        try container.encodeIfPresent(tag, forKey: .tag)
        try container.encode(dryRun, forKey: .dryRun)
        try container.encode(before, forKey: .before)
        try container.encode(layerContentBytes, forKey: .layerContentBytes)
        try container.encode(after, forKey: .after)
        try container.encodeIfPresent(outputTarballBytes, forKey: .outputTarballBytes)
        try container.encodeIfPresent(pushedDigest, forKey: .pushedDigest)
        try container.encode(removedEntries, forKey: .removedEntries)
        try container.encode(removedBytes, forKey: .removedBytes)
        try container.encode(byProfile, forKey: .byProfile)
        try container.encode(byRule, forKey: .byRule)
        try container.encode(topDirectories, forKey: .topDirectories)
        try container.encode(danglingSymlinks, forKey: .danglingSymlinks)
        try container.encode(keptByReason, forKey: .keptByReason)
        var waste = container.nestedContainer(keyedBy: WasteKeys.self, forKey: .wasted)
        try waste.encode(wasted.wastedBytes, forKey: .bytes)
        try waste.encode(wasted.efficiency, forKey: .efficiency)
        try waste.encodeIfPresent(wasted.userWastedPercent, forKey: .userWastedPercent)
        var losses = container.nestedUnkeyedContainer(forKey: .packages)
        for loss in packages {
            var entry = losses.nestedContainer(keyedBy: LossKeys.self)
            try entry.encode(loss.package, forKey: .package)
            try entry.encode(loss.filesLost, forKey: .files)
            try entry.encode(loss.bytesLost, forKey: .bytes)
        }
        try container.encodeIfPresent(packageDatabases, forKey: .packageDatabases)
    }
}
