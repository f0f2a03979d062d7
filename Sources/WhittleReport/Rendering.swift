import Foundation
import WhittleSelect

/// Sizes the way people read them: binary units, one decimal.
public func humanBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while abs(value) >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// Renders left-aligned columns, the first column wide and the others right-aligned.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            let padding = String(repeating: " ", count: widths[column] - cell.count)
            return column == 0 ? cell + padding : padding + cell
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

extension SlimReport {
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    private var summaryRows: [[String]] {
        var rows = [
            ["layers", "\(before.layers)", "\(after.layers)", ""],
            ["files", "\(before.files)", "\(after.files)", "\(before.files - after.files)"],
            ["bytes (uncompressed)", humanBytes(before.bytes), humanBytes(after.bytes), humanBytes(before.bytes - after.bytes)],
            ["all layers' content", humanBytes(layerContentBytes), humanBytes(after.bytes),
             humanBytes(layerContentBytes - after.bytes)],
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
            out.append("\n" + table(["profile", "entries", "saved"],
                                    byProfile.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
            out.append("\n" + table(["rule", "entries", "saved"],
                                    byRule.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        if !keptByReason.isEmpty {
            out.append("\n" + table(["kept by reason", "entries", "kept"],
                                    keptByReason.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        if !topDirectories.isEmpty {
            out.append("\n" + table(["top directories removed", "entries", "saved"],
                                    topDirectories.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        if !packages.isEmpty {
            out.append("\n" + table(["OS package losing files", "files", "bytes"],
                                    packages.prefix(20).map { [$0.package, "\($0.files)", humanBytes($0.bytes)] }))
            if packages.count > 20 { out.append("… and \(packages.count - 20) more packages") }
        }
        if let wasted {
            out.append(String(format: "\nwasted across input layers: %@ (efficiency %.1f%%, dive's definitions)",
                              humanBytes(wasted.bytes), wasted.efficiency * 100))
        }
        if !danglingSymlinks.isEmpty {
            out.append("dangling symlinks left by removals: \(danglingSymlinks.count)")
        }
        return out.joined(separator: "\n")
    }

    /// The same report as Markdown, for `--report FILE.md`.
    public func markdown() -> String {
        func mdTable(_ header: [String], _ rows: [[String]]) -> String {
            let head = "| " + header.joined(separator: " | ") + " |"
            let rule = "|" + header.indices.map { $0 == 0 ? " --- |" : " ---: |" }.joined()
            return ([head, rule] + rows.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
        }
        var out = ["# whittle report", "", "Input: `\(input)`"]
        if let output { out.append("Output: `\(output)`" + (tag.map { " (`\($0)`)" } ?? "")) }
        if dryRun { out.append("Dry run: nothing was written.") }
        out += ["", "## Before and after", "", mdTable(["", "before", "after", "saved"], summaryRows)]
        if !byProfile.isEmpty {
            out += ["", "## Savings per profile", "",
                    mdTable(["profile", "entries", "bytes"], byProfile.map { [$0.name, "\($0.entries)", "\($0.bytes)"] }),
                    "", "## Savings per rule", "",
                    mdTable(["rule", "entries", "bytes"], byRule.map { ["`\($0.name)`", "\($0.entries)", "\($0.bytes)"] })]
        }
        if !keptByReason.isEmpty {
            out += ["", "## Kept by reason", "",
                    mdTable(["reason", "entries", "bytes"], keptByReason.map { [$0.name, "\($0.entries)", "\($0.bytes)"] })]
        }
        if !topDirectories.isEmpty {
            out += ["", "## Top directories by bytes removed", "",
                    mdTable(["directory", "entries", "bytes"],
                            topDirectories.map { ["`/\($0.name)`", "\($0.entries)", "\($0.bytes)"] })]
        }
        if let wasted {
            out += ["", "## Wasted bytes in the input", "",
                    "\(wasted.bytes) bytes wasted across layers; efficiency "
                        + String(format: "%.4f", wasted.efficiency) + " (dive's definitions)."]
        }
        if !packages.isEmpty {
            out += ["", "## OS packages that lost files", "",
                    mdTable(["package", "files", "bytes"], packages.map { [$0.package, "\($0.files)", "\($0.bytes)"] })]
        }
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

    public init(_ selection: Selection) {
        removals = selection.removals.map {
            Item(path: "/" + $0.path, size: $0.bytes, entries: $0.entries, type: $0.isDirectory ? "directory" : "file",
                 rule: $0.rule)
        }
        totalBytes = selection.removedBytes
        totalEntries = selection.removedEntries
        kept = selection.kept.isEmpty ? nil : selection.kept.map { KeptItem(path: "/" + $0.path, size: $0.bytes, reason: $0.reason) }
        keptByReason = selection.kept.isEmpty ? nil : SlimReport.keptSavings(selection)
    }

    public func text() -> String {
        var lines = removals.map { item in
            let size = humanBytes(item.size)
            return size.padding(toLength: max(size.count, 10), withPad: " ", startingAt: 0)
                + "  " + item.path + (item.type == "directory" ? "/" : "") + "  [" + item.rule + "]"
        }
        lines.append("\(removals.count) removals, \(totalEntries) entries, \(humanBytes(totalBytes)) (\(totalBytes) bytes)")
        if let kept, let keptByReason {
            lines.append("\nkept, with the reason for each:")
            lines += kept.map { item in
                let size = humanBytes(item.size)
                return size.padding(toLength: max(size.count, 10), withPad: " ", startingAt: 0) + "  " + item.path
                    + "  [" + item.reason + "]"
            }
            lines.append("\n" + table(["kept by reason", "entries", "bytes"],
                                       keptByReason.map { [$0.name, "\($0.entries)", humanBytes($0.bytes)] }))
        }
        return lines.joined(separator: "\n")
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
