import Foundation
import WhittleAnalysis
import WhittlePackages

/// `whittle inspect`'s report, as text and as JSON.
extension ImageInspection {
    public func json() throws -> Data {
        try renderJSON(self)
    }

    /// - Parameter packageLimit: how many packages to list (the inefficient paths are
    ///   already cut to the `--top` the inspector was given).
    public func text(packageLimit: Int = 20) -> String {
        var lines = [tags.first.map { "\($0) (\(image))" } ?? image, ""]
        lines += layerLines + [""] + wasteLines + [""] + profileLines
        if let packages {
            lines += [""] + Self.packageLines(packages, limit: packageLimit)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The layers, then the totals of the layers and of the flattened tree.
    private var layerLines: [String] {
        var rows = [["#", "stored", "files", "entries", "created by"]]
        for layer in layers {
            rows.append([
                "\(layer.index)",
                humanBytes(layer.storedBytes)
                    + (layer.compression == .none ? "" : " " + layer.compression.rawValue),
                humanBytes(layer.fileBytes), "\(layer.entries)", Self.shortCommand(layer.createdBy),
            ])
        }
        return ["Layers"] + tableLines(rows, rightAligned: [0, 1, 2, 3]).map { "  " + $0 } + [
            "",
            """
            Total: \(totals.layers) layers, \(totals.entries) entries, \(humanBytes(totals.layerFileBytes)) \
            of files in layers, \(humanBytes(totals.storedBytes)) stored
            """,
            """
            Flattened: \(totals.flattenedFiles) files, \(humanBytes(totals.flattenedBytes)) \
            (\(humanBytes(totals.layerFileBytes - totals.flattenedBytes)) less than the layers hold)
            """,
        ]
    }

    private var wasteLines: [String] {
        var lines = [
            "Wasted space (dive's definitions)",
            "  wasted bytes:        \(waste.wastedBytes) (\(humanBytes(waste.wastedBytes)))",
            "  efficiency:          \(String(format: "%.4f", waste.efficiency * 100)) %",
            "  user wasted percent: "
                + (waste.userWastedPercent.map { String(format: "%.4f", $0) + " %" }
                    ?? "n/a (no layers above the first)"),
        ]
        guard waste.inefficientPathCount > 0 else { return lines }
        let shown = waste.inefficientPaths.count
        lines.append(
            "  Paths written by more than one layer (\(waste.inefficientPathCount)"
                + (shown < waste.inefficientPathCount ? ", largest \(shown) shown" : "") + "):")
        var rows = [["count", "wasted", "path"]]
        for entry in waste.inefficientPaths {
            rows.append(["\(entry.count)", humanBytes(entry.cumulativeBytes), entry.path])
        }
        return lines + tableLines(rows, rightAligned: [0, 1]).map { "    " + $0 }
    }

    /// Each profile's estimate, and for those that take from OS packages, the first few.
    private var profileLines: [String] {
        guard let profiles else {
            return ["Profiles: none found (set WHITTLE_PROFILES to the profiles directory)."]
        }
        var rows = [["profile", "files", "bytes", "share", "removes"]]
        for profile in profiles {
            let share =
                totals.flattenedBytes > 0
                ? String(format: "%.1f %%", Double(profile.bytes) / Double(totals.flattenedBytes) * 100) : "-"
            rows.append([profile.name, "\(profile.files)", humanBytes(profile.bytes), share, profile.summary])
        }
        var lines = ["What each profile would remove from the flattened image (as `whittle slim --profile NAME`)"]
        lines += tableLines(rows, rightAligned: [1, 2, 3]).map { "  " + $0 }
        for profile in profiles {
            guard let summary = profile.packages, !summary.packages.isEmpty else { continue }
            let hit = summary.packages.prefix(5).map { "\($0.package) (\(humanBytes($0.bytesLost)))" }
            lines.append(
                "    \(profile.name) takes from \(summary.packages.count) packages: "
                    + hit.joined(separator: ", ") + (summary.packages.count > 5 ? ", …" : ""))
        }
        return lines
    }

    private static func packageLines(_ packages: [PackageLoss], limit: Int) -> [String] {
        guard !packages.isEmpty else { return ["OS packages: no dpkg or apk database found."] }
        let owned = packages.reduce(Int64(0)) { $0 + $1.bytesOwned }
        var rows = [["package", "files", "bytes"]]
        for package in packages.prefix(limit) {
            rows.append([package.package, "\(package.filesOwned)", humanBytes(package.bytesOwned)])
        }
        return ["OS packages: \(packages.count), owning \(humanBytes(owned)); largest:"]
            + tableLines(rows, rightAligned: [1, 2]).map { "  " + $0 }
    }

    /// Docker's `/bin/sh -c #(nop) ` prefixes say nothing; long RUN lines are cut.
    static func shortCommand(_ createdBy: String?) -> String {
        guard var command = createdBy else { return "(no history)" }
        if command.isEmpty { return "(no command recorded)" }
        for prefix in ["/bin/sh -c #(nop) ", "/bin/sh -c "] where command.hasPrefix(prefix) {
            command = "RUN " + command.dropFirst(prefix.count)
            if prefix.contains("#(nop)") { command = String(command.dropFirst(4)) }
            break
        }
        command = command.split(whereSeparator: \.isNewline).joined(separator: " ")
        return command.count > 70 ? String(command.prefix(69)) + "…" : command
    }
}
