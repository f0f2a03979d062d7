import ArgumentParser
import Foundation
import WhittleAnalysis
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
        case .json: return String(decoding: try report.json(), as: UTF8.self) + "\n"
        case .text: return report.text(packageLimit: top)
        }
    }
}
