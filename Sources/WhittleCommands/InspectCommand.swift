import ArgumentParser
import Foundation
import WhittlePipeline
import WhittleAnalysis
import WhittleCompression
import WhittleReport

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

            `-` reads the image from standard input (see IMAGE below).

            Examples:
              whittle inspect app.tar
              docker save app:1 | whittle inspect -
              whittle inspect app.tar --format json
              whittle inspect app.tar --packages --top 50
              whittle inspect app.tar --report app.html
              whittle inspect app.tar --ci
              whittle inspect app.tar --ci --ci-config ci/.dive-ci --ci-rules ci/.whittle-ci.yaml --junit ci.xml

            With --ci, inspect is a gate for CI pipelines: it judges the image by dive's three \
            rules, read from a .dive-ci file in dive's format (--ci-config; default: ./.dive-ci if \
            present, otherwise dive's defaults lowestEfficiency 0.9 and highestUserWastedPercent \
            0.1), and by whittle's own rules on what each profile would remove, read from a \
            .whittle-ci.yaml file (--ci-rules; default: ./.whittle-ci.yaml if present; format in \
            docs/ci-gate.md). It prints PASS, FAIL or SKIP per rule with the figure and threshold, and \
            exits 1 when a rule fails, 2 when a configuration cannot be used, 0 otherwise.
            """)

    @OptionGroup var input: InputOptions

    @Option(help: "Output format: text (default) or json.")
    var format: InspectFormat = .text

    @Option(help: ArgumentHelp("How many inefficient paths to list.", valueName: "n"))
    var top: Int = 20

    @Flag(
        help:
            "Read the package databases (dpkg, apk, Python): what each OS package owns, and what profiles that name packages (python-dev, package-managers) remove by package."
    )
    var packages = false

    @Option(
        help: ArgumentHelp(
            "Also write the report to a file: .json, or .html (a page with a treemap).",
            valueName: "file"))
    var report: String?

    @Flag(help: "Judge the image by CI rules (.dive-ci, .whittle-ci.yaml): exit 1 when one fails.")
    var ci = false

    @Option(
        name: .customLong("ci-config"),
        help: ArgumentHelp(
            "dive's rules, in dive's .dive-ci format (default: ./.dive-ci if present).", valueName: "file"))
    var ciConfig: String?

    @Option(
        name: .customLong("ci-rules"),
        help: ArgumentHelp(
            "whittle's rules, in .whittle-ci.yaml format (default: ./.whittle-ci.yaml if present).", valueName: "file"))
    var ciRules: String?

    @Option(help: ArgumentHelp("With --ci: also write the verdicts as JUnit XML.", valueName: "file"))
    var junit: String?

    @OptionGroup var display: ProgressOptions

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top takes a count of 0 or more; got \(top)") }
        if let report, ![".json", ".html"].contains(where: report.hasSuffix) {
            throw ValidationError("--report takes a file ending in .json or .html; got '\(report)'")
        }
        if !ci, ciConfig != nil || ciRules != nil || junit != nil {
            throw ValidationError("--ci-config, --ci-rules and --junit go with --ci")
        }
    }

    func run() throws {
        let progress = display.display()
        guard ci else {
            print(try output(progress: progress), terminator: "")
            return
        }
        let (text, passed) = try gate(progress: progress)
        print(text, terminator: "")
        if !passed { throw ExitCode(1) }
    }

    /// `--ci`: the verdict lines and whether every rule passed. A configuration that cannot
    /// be used ends the run with exit code 2, before the image is read.
    func gate(progress: ProgressDisplay = .silent) throws -> (text: String, passed: Bool) {
        let estimator = try RemovalEstimator.shipped()
        let gate: CIGate
        do {
            gate = try CIGate.load(diveFile: ciConfig, whittleFile: ciRules, profiles: estimator?.named.map(\.name))
        } catch let error as CIConfigError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let inspection = try inspect(estimator: estimator, progress: progress)
        let results = gate.evaluate(CIFigures(inspection))
        if let junit {
            try writeRequestedFile(
                Data(CIGateRendering.junit(results, image: input.image).utf8), to: junit, what: "the JUnit report")
        }
        return (CIGateRendering.text(results, image: input.image), !results.contains { $0.status == .fail })
    }

    /// The whole report as it would be printed; kept apart from `run()` so tests can read it.
    func output(progress: ProgressDisplay = .silent) throws -> String {
        let report = try inspect(estimator: try RemovalEstimator.shipped(), progress: progress)
        switch format {
        case .json: return String(decoding: try report.json(), as: UTF8.self) + "\n"
        case .text: return report.text(packageLimit: top)
        }
    }

    /// Reads the image (`-`: from standard input), and writes `--report` when asked.
    private func inspect(estimator: RemovalEstimator?, progress: ProgressDisplay) throws -> ImageInspection {
        var treemap: Treemap?
        let wantsMap = report?.hasSuffix(".html") == true
        var inspection: ImageInspection
        do {
            let source = try input.open(progress: progress)
            defer { source.remove() }
            let inspector = ImageInspector(
                path: source.path, selection: try input.selection(), top: top, readPackages: packages)
            let meter = ByteMeter()
            progress.begin("reading layers", meter: meter)
            inspection = try source.reading { _ in
                // After a line per layer ("read layer 3/9", which the byte count already
                // shows), "estimating removals": a phase of its own.
                try inspector.run(
                    estimator: estimator, meter: meter,
                    progress: { message in
                        if message.hasPrefix("estimating") { progress.begin(message) }
                    },
                    examine: { tree, config in
                        if wantsMap {
                            treemap = HTMLReport.inspectionTreemap(tree: tree, config: config, estimator: estimator)
                        }
                    })
            }
            inspection.image = source.name
        } catch {
            progress.finish()
            throw error
        }
        progress.finish()
        if let report {
            let page = try treemap.map { try HTMLReport.inspection(inspection, treemap: $0) }
            try writeRequestedFile(page.map { Data($0.utf8) } ?? inspection.json(), to: report, what: "the report")
        }
        return inspection
    }
}
