import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleOutput
import WhittleReport
import WhittleTraceFormat
@testable import WhittleTestSupport

/// Headless Chromium, when installed; under CI=true the browser tests run regardless and
/// fail without it.
private let chromium = TestEnvironment.executable("chromium", "chromium-browser")

private let browserTestsEnabled = chromium != nil || TestEnvironment.isCI

/// Runs headless Chromium on a page and returns its standard output (the DOM for
/// `--dump-dom`). Its chatter on standard error is dropped.
private func browse(_ arguments: [String], in directory: TestDirectory) throws -> String {
    let browser = try #require(chromium, "chromium is not installed (apt-get install chromium)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: browser)
    process.arguments =
        ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + directory.path("profile")]
        + arguments
    let output = directory.path("chromium.out")
    _ = FileManager.default.createFile(atPath: output, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "chromium \(arguments) exited \(process.terminationStatus)")
    return try String(contentsOfFile: output, encoding: .utf8)
}

/// The `data-*` attributes of the element with this id, from a dumped DOM.
private func dataAttributes(of id: String, in dom: String) throws -> [String: String] {
    let tag = try #require(
        dom.range(of: "<[a-z]+ id=\"\(id)\"[^>]*>", options: .regularExpression).map { String(dom[$0]) },
        "no element #\(id) in the page")
    var attributes: [String: String] = [:]
    let pattern = try NSRegularExpression(pattern: "data-([a-z-]+)=\"([^\"]*)\"")
    for match in pattern.matches(in: tag, range: NSRange(tag.startIndex..., in: tag)) {
        if let key = Range(match.range(at: 1), in: tag), let value = Range(match.range(at: 2), in: tag) {
            attributes[String(tag[key])] = String(tag[value])
        }
    }
    return attributes
}

private func count(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// The treemap data a page embeds, decoded as plain JSON (not through whittle's types).
private func embeddedTreemap(_ page: String) throws -> [String: Any] {
    let start = try #require(page.range(of: "<script type=\"application/json\" id=\"treemap-data\">"))
    let end = try #require(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
    let json = Data(page[start.upperBound..<end.lowerBound].utf8)
    return try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
}

/// Cells with bytes below a directory of the embedded tree: what the page must draw.
private func cellsWithBytes(_ node: [Any]) -> Int {
    if node.count == 2, let children = node[1] as? [[Any]] { return children.reduce(0) { $0 + cellsWithBytes($1) } }
    return ((node[1] as? NSNumber)?.int64Value ?? 0) > 0 ? 1 : 0
}

private func child(_ node: [Any], named name: String) -> [Any]? {
    (node[1] as? [[Any]])?.first { $0.count == 2 && ($0[0] as? String) == name }
}

private func runWhittle(_ arguments: [String]) throws {
    var command = try WhittleCommand.parseAsRoot(arguments)
    try command.run()
}

@Suite("The HTML report")
struct HTMLReportTests {
    @Test("the treemap's cells add up to the selection's figures, hardlinks counted once")
    func treemapAddsUp() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let job = Slim(
            input: input, output: nil, options: WriteOptions(),
            removal: RemovalRequest(profiles: ["all"]))
        let result = try job.run()
        let treemap = Treemap(tree: result.tree, selection: result.selection)
        var kept = (files: 0, bytes: Int64(0)), removed = (files: 0, bytes: Int64(0))
        func add(_ cell: Treemap.Cell) {
            switch cell {
            case let .directory(_, children): children.forEach(add)
            case let .file(_, bytes, files, category, _), let .folded(bytes, files, category):
                if treemap.categories[category].kind == .kept {
                    kept = (kept.files + files, kept.bytes + bytes)
                } else {
                    removed = (removed.files + files, removed.bytes + bytes)
                }
            }
        }
        add(treemap.root)
        #expect(kept.files == result.report.after.files && kept.bytes == result.report.after.bytes)
        #expect(removed.files == result.report.removedEntries && removed.bytes == result.report.removedBytes)
        #expect(kept.bytes + removed.bytes == result.report.before.bytes)
        // Every profile that removed something has its own colour.
        let removedCategories = Set(treemap.categories.filter { $0.kind == .removed }.map(\.name))
        #expect(removedCategories == Set(result.report.byProfile.map { "removed by \($0.name)" }))
        #expect(Set(treemap.categories.map(\.color)).count == treemap.categories.count)
    }

    @Test("with a trace, kept files are coloured by their reason, and each reason adds up to the report's")
    func traceReasons() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let trace = directory.path("app.trace.json")
        let document = TraceDocument(
            image: "x.tar", command: ["/bin/busybox"],
            entries: [
                .init(path: "/bin/sh", operations: ["execve"], existed: true),
                .init(path: "/app/message.txt", operations: ["openat"], existed: true),
            ])
        try JSONEncoder().encode(document).write(to: URL(fileURLWithPath: trace))
        let job = Slim(input: input, output: nil, options: WriteOptions(), removal: RemovalRequest(traces: [trace]))
        let result = try job.run()
        let treemap = Treemap(tree: result.tree, selection: result.selection)
        var bytes: [String: Int64] = [:], files: [String: Int] = [:]
        func add(_ cell: Treemap.Cell) {
            switch cell {
            case let .directory(_, children): children.forEach(add)
            case let .file(_, size, count, category, _), let .folded(size, count, category):
                bytes[treemap.categories[category].name, default: 0] += size
                files[treemap.categories[category].name, default: 0] += count
            }
        }
        add(treemap.root)
        #expect(!result.report.keptByReason.isEmpty)
        for reason in result.report.keptByReason {
            #expect(
                bytes["kept: \(reason.name)"] == reason.bytes && files["kept: \(reason.name)"] == reason.entries,
                "\(reason.name)")
        }
        #expect(bytes["removed by trace"] == result.report.removedBytes)
    }

    @Test("file names cannot end the page's script: <, > and & are escaped in the embedded data")
    func embeddedDataIsEscaped() throws {
        let directory = try TestDirectory()
        var builder = try BloatImage.builder()
        var layer = TestLayer()
        layer.file("app/<!--<script>&amp;.txt", String(repeating: "x", count: 300_000))
        builder.layers.append(layer)
        let input = try builder.writeArchive(in: directory.url)
        let page = directory.path("page.html")
        try runWhittle(["slim", input, "--dry-run", "--profile", "docs", "--report", page])
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let data = try embeddedTreemap(html)
        let root = try #require(data["root"] as? [Any])
        let app = try #require(child(root, named: "app"))
        let names = (app[1] as? [[Any]] ?? []).compactMap { $0.first as? String }
        #expect(names.contains("<!--<script>&amp;.txt"))
        #expect(!html.contains("<!--<script>") && count("<script", in: html) == 2)
    }

    @Test(
        "Chromium draws the slim treemap, its totals equal the JSON report's, and zooming redraws a directory",
        .enabled(if: browserTestsEnabled, "chromium is not installed; runs under CI=true"))
    func slimPageInChromium() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let page = directory.path("report.html"), json = directory.path("report.json")
        try runWhittle(["slim", input, "--dry-run", "--profile", "all", "--report", page])
        try runWhittle(["slim", input, "--dry-run", "--profile", "all", "--report", json])
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let before = try #require(report["before"] as? [String: Any]),
            after = try #require(report["after"] as? [String: Any])

        let dom = try browse(["--dump-dom", URL(fileURLWithPath: page).absoluteString], in: directory)
        let totals = try dataAttributes(of: "totals", in: dom)
        #expect(totals["before-bytes"] == "\(before["bytes"] ?? "")")
        #expect(totals["before-files"] == "\(before["files"] ?? "")")
        #expect(totals["after-bytes"] == "\(after["bytes"] ?? "")")
        #expect(totals["after-files"] == "\(after["files"] ?? "")")
        #expect(totals["removed-bytes"] == "\(report["removedBytes"] ?? "")")
        #expect(totals["removed-files"] == "\(report["removedEntries"] ?? "")")

        let data = try embeddedTreemap(String(contentsOfFile: page, encoding: .utf8))
        let root = try #require(data["root"] as? [Any])
        let drawn = count("<rect class=\"cell\"", in: dom)
        #expect(drawn > 0 && drawn == cellsWithBytes(root) && totals["cells"] == "\(drawn)")
        // A legend entry per colour: kept, and each profile that removed something.
        #expect(count("<li data-category=", in: dom) == (data["categories"] as? [Any])?.count)

        // Zoomed into /usr (as a click does), only its cells are drawn, with a way back out.
        let usr = try #require(child(root, named: "usr"))
        let zoomed = try browse(["--dump-dom", URL(fileURLWithPath: page).absoluteString + "#/usr"], in: directory)
        #expect(try dataAttributes(of: "totals", in: zoomed)["view"] == "/usr")
        #expect(count("<rect class=\"cell\"", in: zoomed) == cellsWithBytes(usr))
        #expect(zoomed.contains("id=\"back-out\""))

        let screenshot = TestEnvironment.screenshotPath ?? directory.path("report.png")
        _ = try browse(
            [
                "--screenshot=" + screenshot, "--window-size=1200,900", "--hide-scrollbars",
                URL(fileURLWithPath: page).absoluteString,
            ], in: directory)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 1000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    }

    @Test(
        "Chromium draws inspect's treemap of the whole flattened image, and its share for --profile all",
        .enabled(if: browserTestsEnabled, "chromium is not installed; runs under CI=true"))
    func inspectPageInChromium() throws {
        let directory = try TestDirectory()
        let input = try BloatImage.builder().writeArchive(in: directory.url)
        let page = directory.path("inspect.html"), json = directory.path("inspect.json")
        try runWhittle(["inspect", input, "--report", page])
        try runWhittle(["inspect", input, "--report", json])
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let totals = try #require(report["totals"] as? [String: Any])
        let all = try #require((report["profiles"] as? [[String: Any]])?.first { $0["name"] as? String == "all" })

        let dom = try browse(["--dump-dom", URL(fileURLWithPath: page).absoluteString], in: directory)
        let drawn = try dataAttributes(of: "totals", in: dom)
        #expect(drawn["before-bytes"] == "\(totals["flattenedBytes"] ?? "")")
        #expect(drawn["before-files"] == "\(totals["flattenedFiles"] ?? "")")
        #expect(drawn["removed-bytes"] == "\(all["bytes"] ?? "")")
        #expect(drawn["removed-files"] == "\(all["files"] ?? "")")
        let root = try #require(try embeddedTreemap(String(contentsOfFile: page, encoding: .utf8))["root"] as? [Any])
        #expect(count("<rect class=\"cell\"", in: dom) == cellsWithBytes(root))
        #expect(dom.contains("What each profile would remove"))
    }
}
