import WhittlePipeline
import Foundation
import WhittleSelect

extension SlimReport {
    public func json() throws -> Data {
        try renderJSON(self)
    }

    var summaryRows: [[String]] {
        var rows = [
            ["layers", "\(before.layers)", "\(after.layers)", ""],
            ["files", "\(before.files)", "\(after.files)", "\(before.files - after.files)"],
            [
                "bytes (uncompressed)", humanBytes(before.bytes), humanBytes(after.bytes),
                humanBytes(before.bytes - after.bytes),
            ],
            [
                "all layers' content", humanBytes(layerContentBytes), humanBytes(after.bytes),
                humanBytes(layerContentBytes - after.bytes),
            ],
        ]
        if let outputTarballBytes {
            rows.append(["output tarball", "", "\(outputTarballBytes) B", ""])
        }
        return rows
    }

    /// The table printed at the end of a run.
    public func text() -> String {
        var out = [table(["", "before", "after", "saved"], summaryRows)]
        if !byProfile.isEmpty {
            out.append(
                "\n"
                    + table(
                        ["profile", "entries", "saved"],
                        byProfile.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
            out.append(
                "\n"
                    + table(
                        ["rule", "entries", "saved"],
                        byRule.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        if !keptByReason.isEmpty {
            out.append(
                "\n"
                    + table(
                        ["kept by reason", "entries", "kept"],
                        keptByReason.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        if !topDirectories.isEmpty {
            out.append(
                "\n"
                    + table(
                        ["top directories removed", "entries", "saved"],
                        topDirectories.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        if !packages.isEmpty {
            out.append(
                "\n"
                    + table(
                        ["OS package losing files", "files", "bytes"],
                        packages.prefix(20).map { [$0.package, "\($0.filesLost)", humanBytes($0.bytesLost)] }))
            if packages.count > 20 { out.append("… and \(packages.count - 20) more packages") }
        }
        if let packageDatabases {
            out.append("\n" + packageDatabases.textLines(limit: 20).joined(separator: "\n"))
        }
        out.append(
            String(
                format: "\nwasted across input layers: %@ (efficiency %.1f%%, dive's definitions)",
                humanBytes(wasted.wastedBytes), wasted.efficiency * 100))
        if !danglingSymlinks.isEmpty {
            out.append("dangling symlinks left by removals: \(danglingSymlinks.count)")
        }
        return out.joined(separator: "\n")
    }

    /// The same report as Markdown, for `--report FILE.md`.
    public func markdown() -> String {
        var out = ["# whittle report", "", "Input: `\(input)`"]
        if let output { out.append("Output: `\(output)`" + (tag.map { " (`\($0)`)" } ?? "")) }
        if dryRun { out.append("Dry run: nothing was written.") }
        out += ["", "## Before and after", "", markdownTable(["", "before", "after", "saved"], summaryRows)]
        if !byProfile.isEmpty {
            out += [
                "", "## Savings per profile", "",
                markdownTable(
                    ["profile", "entries", "bytes"], byProfile.map { [$0.name, "\($0.entries)", "\($0.bytes)"] }),
                "", "## Savings per rule", "",
                markdownTable(
                    ["rule", "entries", "bytes"], byRule.map { ["`\($0.name)`", "\($0.entries)", "\($0.bytes)"] }),
            ]
        }
        if !keptByReason.isEmpty {
            out += [
                "", "## Kept by reason", "",
                markdownTable(
                    ["reason", "entries", "bytes"], keptByReason.map { [$0.name, "\($0.entries)", "\($0.bytes)"] }),
            ]
        }
        if !topDirectories.isEmpty {
            out += [
                "", "## Top directories by bytes removed", "",
                markdownTable(
                    ["directory", "entries", "bytes"],
                    topDirectories.map { ["`/\($0.name)`", "\($0.entries)", "\($0.bytes)"] }),
            ]
        }
        out += [
            "", "## Wasted bytes in the input", "",
            "\(wasted.wastedBytes) bytes wasted across layers; efficiency "
                + String(format: "%.4f", wasted.efficiency) + " (dive's definitions).",
        ]
        if !packages.isEmpty {
            out += [
                "", "## OS packages that lost files", "",
                markdownTable(
                    ["package", "files", "bytes"], packages.map { [$0.package, "\($0.filesLost)", "\($0.bytesLost)"] }),
            ]
        }
        if let packageDatabases { out += [""] + packageDatabases.markdownLines() }
        if !danglingSymlinks.isEmpty {
            out += ["", "## Dangling symlinks", ""] + danglingSymlinks.map { "- `/\($0)`" }
        }
        return out.joined(separator: "\n") + "\n"
    }
}

/// The dry-run listing: every removal with its size and rule, then the totals.
public struct DryRunListing: Encodable {
    public struct Item: Encodable {
        public let path: String
        public let size: Int64
        public let entries: Int
        public let type: String
        public let rule: String
    }

    /// With a trace: every kept file and why it stayed.
    public struct KeptItem: Encodable {
        public let path: String
        public let size: Int64
        public let reason: String
    }

    public let removals: [Item]
    public let totalBytes: Int64
    public let totalEntries: Int
    public let kept: [KeptItem]?
    public let keptByReason: [SlimReport.Saving]?
    /// Packages the databases will drop or list partly.
    public let packages: PackageSection?

    public init(_ selection: Selection, packages: PackageSection? = nil) {
        self.packages = packages
        removals = selection.removals.map {
            Item(
                path: "/" + $0.path, size: $0.bytes, entries: $0.entries, type: $0.isDirectory ? "directory" : "file",
                rule: $0.rule)
        }
        totalBytes = selection.removedBytes
        totalEntries = selection.removedEntries
        kept =
            selection.kept.isEmpty
            ? nil : selection.kept.map { KeptItem(path: "/" + $0.path, size: $0.bytes, reason: $0.reason.description) }
        keptByReason = selection.kept.isEmpty ? nil : SlimReport.keptSavings(selection)
    }

    public func text() -> String {
        var lines = removals.map { item in
            Self.line(size: item.size, path: item.path + (item.type == "directory" ? "/" : ""), why: item.rule)
        }
        lines.append(
            "\(removals.count) removals, \(totalEntries) entries, \(humanBytes(totalBytes)) (\(totalBytes) bytes)")
        if let packages { lines += [""] + packages.textLines() }
        if let kept, let keptByReason {
            lines.append("\nkept, with the reason for each:")
            lines += kept.map { Self.line(size: $0.size, path: $0.path, why: $0.reason) }
            lines.append(
                "\n"
                    + table(
                        ["kept by reason", "entries", "bytes"],
                        keptByReason.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        return lines.joined(separator: "\n")
    }

    /// `1.2 KiB     /path  [rule or reason]`: sizes in a column ten wide, so paths line up.
    private static func line(size: Int64, path: String, why: String) -> String {
        let size = humanBytes(size)
        return size.padding(toLength: max(size.count, 10), withPad: " ", startingAt: 0) + "  " + path + "  [" + why
            + "]"
    }

    public func json() throws -> Data {
        try renderJSON(self)
    }
}
