import ArgumentParser
import Foundation
import WhittleReport
import WhittleAnalysis
import WhittleProfiles
import WhittleSelect

enum InspectFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an image's layers, sizes and wasted space, without writing anything.",
        discussion: """
            Reads only tar headers (file data of uncompressed layers is skipped, and digests \
            are not checked), so it takes about as long as `dive --ci` on the same image.

            Wasted bytes and efficiency use dive's definitions: for every path, the sizes of \
            all layers that wrote it (a whiteout counts what it deleted) are added up; paths \
            written by two or more layers are wasted. `bench/dive-compare.sh IMAGE.tar` sets \
            the figures next to dive's.

            Examples:
              whittle inspect app.tar
              whittle inspect app.tar --format json
              whittle inspect app.tar --packages --top 50
            """)

    @OptionGroup var input: InputOptions

    @Option(help: "Output format: text (default) or json.")
    var format: InspectFormat = .text

    @Option(help: ArgumentHelp("How many inefficient paths to list.", valueName: "n"))
    var top: Int = 20

    @Flag(help: "Read dpkg/apk databases to show what each OS package owns (reads those files).")
    var packages = false

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top takes a count of 0 or more; got \(top)") }
    }

    func run() throws {
        print(try output(progress: Progress()), terminator: "")
    }

    /// The whole report as it would be printed; kept apart from `run()` so tests can read it.
    func output(progress: Progress? = nil) throws -> String {
        let inspector = ImageInspector(
            path: input.image, selection: try input.selection(), top: top, readPackages: packages)
        let report: ImageInspection
        do {
            report = try inspector.run(estimator: try RemovalEstimator.shipped(), progress: progress?.update)
        } catch {
            progress?.clear()
            throw error
        }
        progress?.clear()
        switch format {
        case .json: return try Self.json(report)
        case .text: return Self.text(report, limit: top)
        }
    }

    static func json(_ report: ImageInspection) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    /// - Parameter limit: how many packages to list (the inefficient paths are already cut).
    static func text(_ report: ImageInspection, limit: Int = 20) -> String {
        var lines: [String] = []
        let name = report.tags.first.map { "\($0) (\(report.image))" } ?? report.image
        lines.append(name)
        lines.append("")
        lines.append("Layers")
        var rows = [["#", "stored", "files", "entries", "created by"]]
        for layer in report.layers {
            rows.append([
                "\(layer.index)", humanBytes(layer.storedBytes)
                    + (layer.compression == "none" ? "" : " " + layer.compression),
                humanBytes(layer.fileBytes), "\(layer.entries)", shortCommand(layer.createdBy),
            ])
        }
        lines += table(rows, rightAligned: [0, 1, 2, 3]).map { "  " + $0 }
        let totals = report.totals
        lines.append("")
        lines.append("""
            Total: \(totals.layers) layers, \(totals.entries) entries, \(humanBytes(totals.layerFileBytes)) \
            of files in layers, \(humanBytes(totals.storedBytes)) stored
            """)
        lines.append("""
            Flattened: \(totals.flattenedFiles) files, \(humanBytes(totals.flattenedBytes)) \
            (\(humanBytes(totals.layerFileBytes - totals.flattenedBytes)) less than the layers hold)
            """)

        let waste = report.waste
        lines.append("")
        lines.append("Wasted space (dive's definitions)")
        lines.append("  wasted bytes:        \(waste.wastedBytes) (\(humanBytes(waste.wastedBytes)))")
        lines.append("  efficiency:          \(String(format: "%.4f", waste.efficiency * 100)) %")
        lines.append("  user wasted percent: "
            + (waste.userWastedPercent.map { String(format: "%.4f", $0) + " %" } ?? "n/a (no layers above the first)"))
        if waste.inefficientPathCount > 0 {
            let shown = waste.inefficientPaths.count
            lines.append("  Paths written by more than one layer (\(waste.inefficientPathCount)"
                + (shown < waste.inefficientPathCount ? ", largest \(shown) shown" : "") + "):")
            var wasteRows = [["count", "wasted", "path"]]
            for entry in waste.inefficientPaths {
                wasteRows.append(["\(entry.count)", humanBytes(entry.cumulativeBytes), entry.path])
            }
            lines += table(wasteRows, rightAligned: [0, 1]).map { "    " + $0 }
        }

        lines.append("")
        if let profiles = report.profiles {
            lines.append("What each profile would remove from the flattened image (as `whittle slim --profile NAME`)")
            var profileRows = [["profile", "files", "bytes", "share", "removes"]]
            for profile in profiles {
                let share = totals.flattenedBytes > 0
                    ? String(format: "%.1f %%", Double(profile.bytes) / Double(totals.flattenedBytes) * 100) : "-"
                profileRows.append([profile.name, "\(profile.files)", humanBytes(profile.bytes), share, profile.summary])
            }
            lines += table(profileRows, rightAligned: [1, 2, 3]).map { "  " + $0 }
            let lossRows = profiles.filter { !($0.packages?.packages.isEmpty ?? true) }
            for profile in lossRows {
                guard let summary = profile.packages else { continue }
                let hit = summary.packages.prefix(5).map { "\($0.package) (\(humanBytes($0.bytesLost)))" }
                lines.append("    \(profile.name) takes from \(summary.packages.count) packages: "
                    + hit.joined(separator: ", ") + (summary.packages.count > 5 ? ", …" : ""))
            }
        } else {
            lines.append("Profiles: none found (set WHITTLE_PROFILES to the profiles directory).")
        }

        if let packages = report.packages {
            lines.append("")
            if packages.isEmpty {
                lines.append("OS packages: no dpkg or apk database found.")
            } else {
                let owned = packages.reduce(Int64(0)) { $0 + $1.bytesOwned }
                lines.append("OS packages: \(packages.count), owning \(humanBytes(owned)); largest:")
                var packageRows = [["package", "files", "bytes"]]
                for package in packages.prefix(limit) {
                    packageRows.append([package.package, "\(package.filesOwned)", humanBytes(package.bytesOwned)])
                }
                lines += table(packageRows, rightAligned: [1, 2]).map { "  " + $0 }
            }
        }
        return lines.joined(separator: "\n") + "\n"
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

    static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                if column == row.count - 1, !rightAligned.contains(column) { return cell }
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
    }
}
