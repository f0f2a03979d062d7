import WhittlePipeline
import Foundation
import WhittleAnalysis
import WhittleFlatten
import WhittleImage
import WhittleSelect

/// `--report FILE.html`: one self-contained page (style, data and script inline, nothing
/// fetched) with the figures of the text and JSON reports and a zoomable treemap of the
/// flattened image, coloured by what happened to each file.
public enum HTMLReport {
    /// The page for a `slim` run or dry run: `report` gives every figure, `selection` the
    /// removals, and the tree the treemap.
    public static func slim(_ report: SlimReport, selection: Selection, tree: FileTree) throws -> String {
        let treemap = Treemap(tree: tree, selection: selection)
        var body = ["<h1>whittle slim report</h1>", meta("Input", report.input)]
        if let output = report.output { body.append(meta("Output", output + (report.tag.map { " (\($0))" } ?? ""))) }
        if report.dryRun { body.append("<p class=\"meta\">Dry run: nothing was written.</p>") }
        body += [
            "<h2>Before and after</h2>",
            table(["", "before", "after", "saved"], report.summaryRows, numeric: [1, 2, 3], css: "figures"),
        ]
        body.append(
            treemapSection(
                note:
                    "Each cell is a file, or the files under \(humanBytes(treemap.threshold)) of one directory folded "
                    + "together, sized by its bytes and coloured by what happened to it.",
                kept: "kept", removed: "removed"))
        body += slimSections(report, selection: selection)
        return try page(title: "whittle: \(report.input)", body: body, treemap: treemap)
    }

    /// The page for `inspect`: the image before any slimming, coloured by the first
    /// profile that would remove each file, with what each profile would remove on its own.
    public static func inspection(_ inspection: ImageInspection, treemap: Treemap) throws -> String {
        var body = ["<h1>whittle inspect report</h1>", meta("Image", inspection.image)]
        if !inspection.tags.isEmpty { body.append(meta("Tags", inspection.tags.joined(separator: ", "))) }
        let totals = inspection.totals
        body += [
            "<h2>Sizes</h2>",
            table(
                ["", "value"],
                [
                    ["layers", "\(totals.layers)"], ["entries in layers", "\(totals.entries)"],
                    ["files in layers", humanBytes(totals.layerFileBytes)], ["stored", humanBytes(totals.storedBytes)],
                    ["flattened files", "\(totals.flattenedFiles)"],
                    ["flattened bytes", humanBytes(totals.flattenedBytes)],
                ], numeric: [1], css: "figures"),
        ]
        body.append(
            treemapSection(
                note:
                    "The flattened image. Each cell is a file, or the files under \(humanBytes(treemap.threshold)) of one "
                    + "directory folded together, coloured by the first profile that would remove it "
                    + "(as <code>whittle slim --profile all</code> would).",
                kept: "stays under every profile", removed: "removable"))
        body += inspectionSections(inspection)
        return try page(title: "whittle: \(inspection.image)", body: body, treemap: treemap)
    }

    /// The treemap of an image before slimming: every file either stays under every
    /// profile or is coloured by the profile that `--profile all` would remove it with.
    public static func inspectionTreemap(
        tree: FileTree, config: ImageConfig,
        estimator: RemovalEstimator?
    ) -> Treemap {
        let selection =
            estimator?.combinedSelection(tree: tree, config: config)
            ?? Selector(policy: SelectionPolicy()).select(tree)
        return Treemap(tree: tree, selection: selection, removedPrefix: "", keptLabel: "stays under every profile")
    }

    private static func slimSections(_ report: SlimReport, selection: Selection) -> [String] {
        var out: [String] = []
        func savings(_ title: String, _ first: String, _ rows: [SlimReport.Saving], code: Bool = false) {
            guard !rows.isEmpty else { return }
            out += [
                "<h2>\(escape(title))</h2>",
                table(
                    [first, "entries", "bytes"],
                    rows.map {
                        [
                            code ? "<code>\(escape($0.name))</code>" : escape($0.name), "\($0.entries)",
                            humanBytes($0.bytes),
                        ]
                    }, numeric: [1, 2], escaped: true),
            ]
        }
        savings("Savings per profile", "profile", report.byProfile)
        savings("Savings per rule", "rule", report.byRule, code: true)
        savings("Kept by reason", "reason", report.keptByReason)
        let largest = selection.removals.sorted { ($0.bytes, $1.path) > ($1.bytes, $0.path) }.prefix(25)
        if !largest.isEmpty {
            out += [
                "<h2>Largest removals</h2>",
                table(
                    ["path", "rule", "entries", "bytes"],
                    largest.map {
                        [
                            "<code>/\(escape($0.path))\($0.isDirectory ? "/" : "")</code>",
                            "<code>\(escape($0.rule))</code>",
                            "\($0.entries)", humanBytes($0.bytes),
                        ]
                    }, numeric: [2, 3], escaped: true),
            ]
        }
        savings(
            "Top directories removed", "directory",
            report.topDirectories.map { SlimReport.Saving(name: "/" + $0.name, entries: $0.entries, bytes: $0.bytes) },
            code: true)
        if !report.packages.isEmpty {
            out += [
                "<h2>OS packages that lost files</h2>",
                table(
                    ["package", "files", "bytes"],
                    report.packages.prefix(50).map {
                        [$0.package, "\($0.filesLost)", humanBytes($0.bytesLost)]
                    }, numeric: [1, 2]),
            ]
            if report.packages.count > 50 {
                out.append("<p class=\"note\">… and \(report.packages.count - 50) more.</p>")
            }
        }
        out += wasteSection(
            bytes: report.wasted.wastedBytes, efficiency: report.wasted.efficiency,
            userPercent: report.wasted.userWastedPercent)
        if !report.danglingSymlinks.isEmpty {
            out += [
                "<h2>Dangling symlinks</h2>",
                "<p>\(report.danglingSymlinks.count) kept symlinks point into removals: "
                    + report.danglingSymlinks.prefix(20).map { "<code>/\(escape($0))</code>" }.joined(separator: ", ")
                    + (report.danglingSymlinks.count > 20 ? ", …" : "") + "</p>",
            ]
        }
        return out
    }

    private static func inspectionSections(_ inspection: ImageInspection) -> [String] {
        var out: [String] = []
        let flattened = inspection.totals.flattenedBytes
        if let profiles = inspection.profiles {
            out += [
                "<h2>What each profile would remove</h2>",
                "<p class=\"note\">Each on its own, as <code>whittle slim --profile NAME</code>.</p>",
                table(
                    ["profile", "files", "bytes", "share", "removes"],
                    profiles.map {
                        [
                            $0.name, "\($0.files)", humanBytes($0.bytes),
                            flattened > 0 ? String(format: "%.1f %%", Double($0.bytes) / Double(flattened) * 100) : "-",
                            $0.summary,
                        ]
                    }, numeric: [1, 2, 3]),
            ]
        }
        out += [
            "<h2>Layers</h2>",
            table(
                ["#", "stored", "files", "entries", "created by"],
                inspection.layers.map {
                    [
                        "\($0.index)",
                        humanBytes($0.storedBytes) + ($0.compression == .none ? "" : " " + $0.compression.rawValue),
                        humanBytes($0.fileBytes), "\($0.entries)", ImageInspection.shortCommand($0.createdBy),
                    ]
                }, numeric: [0, 1, 2, 3]),
        ]
        let waste = inspection.waste
        out += wasteSection(
            bytes: waste.wastedBytes, efficiency: waste.efficiency, userPercent: waste.userWastedPercent)
        if !waste.inefficientPaths.isEmpty {
            out.append(
                table(
                    ["count", "wasted", "path"],
                    waste.inefficientPaths.map {
                        ["\($0.count)", humanBytes($0.cumulativeBytes), "<code>\(escape($0.path))</code>"]
                    }, numeric: [0, 1], escaped: true))
        }
        if let packages = inspection.packages, !packages.isEmpty {
            out += [
                "<h2>OS packages</h2>",
                table(
                    ["package", "files", "bytes"],
                    packages.prefix(50).map {
                        [$0.package, "\($0.filesOwned)", humanBytes($0.bytesOwned)]
                    }, numeric: [1, 2]),
            ]
        }
        return out
    }

    private static func wasteSection(bytes: Int64, efficiency: Double, userPercent: Double?) -> [String] {
        [
            "<h2>Wasted space across the input's layers</h2>",
            table(
                ["", "value"],
                [
                    ["wasted bytes", "\(humanBytes(bytes)) (\(bytes) B)"],
                    ["efficiency", String(format: "%.4f %%", efficiency * 100)],
                    ["user wasted percent", userPercent.map { String(format: "%.4f %%", $0) } ?? "n/a"],
                ], numeric: [1]),
            "<p class=\"note\">dive's definitions, so the figures compare with <code>dive --ci</code>.</p>",
        ]
    }

    private static func treemapSection(note: String, kept: String, removed: String) -> String {
        """
        <h2>Where the bytes are</h2>
        <p class="note">\(note) Click a directory to zoom in; the path above the map, the back-out button or \
        Escape zoom out.</p>
        <p id="totals" data-kept-word="\(escape(kept))" data-removed-word="\(escape(removed))"></p>
        <ul id="legend"></ul>
        <nav id="crumbs"></nav>
        <svg id="treemap" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="treemap"></svg>
        <div id="hover"></div>
        """
    }

    private static func page(title: String, body: [String], treemap: Treemap) throws -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(HTMLTemplate.style)
        </style>
        </head>
        <body>
        <main>
        \(body.joined(separator: "\n"))
        </main>
        <script type="application/json" id="treemap-data">\(try treemap.embeddedJSON())</script>
        <script>
        \(HTMLTemplate.script)
        </script>
        </body>
        </html>

        """
    }

    private static func meta(_ label: String, _ value: String) -> String {
        "<p class=\"meta\">\(escape(label)): <code>\(escape(value))</code></p>"
    }

    /// Rows of cells; numeric columns right-aligned. Cells are escaped unless `escaped`
    /// says the caller already did (to wrap some in `<code>`).
    private static func table(
        _ header: [String], _ rows: [[String]], numeric: Set<Int>, css: String? = nil,
        escaped: Bool = false
    ) -> String {
        func cell(_ tag: String, _ column: Int, _ text: String) -> String {
            "<\(tag)\(numeric.contains(column) ? " class=\"n\"" : "")>\(escaped && tag == "td" ? text : escape(text))</\(tag)>"
        }
        let head = "<tr>" + header.enumerated().map { cell("th", $0, $1) }.joined() + "</tr>"
        let lines = rows.map { "<tr>" + $0.enumerated().map { cell("td", $0, $1) }.joined() + "</tr>" }
        return "<table\(css.map { " class=\"\($0)\"" } ?? "")>\n" + ([head] + lines).joined(separator: "\n")
            + "\n</table>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
