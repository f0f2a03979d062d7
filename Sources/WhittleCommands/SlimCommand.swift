import ArgumentParser
import Foundation
import WhittleOutput

extension OutputCompression: ExpressibleByArgument {}

struct SlimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "Flatten an image into a single-layer image tarball.",
        discussion: """
            The output is written under a temporary name and renamed into place, so a failed \
            run leaves nothing behind. The same input and flags always give the same bytes.

            Examples:
              whittle slim app.tar -o app-slim.tar
              whittle slim app.tar -o app-slim.tar --tag app:slim
              whittle slim oci-app.tar -o app-slim.tar --compression gzip
              whittle slim multi.tar --image web:1.2 --platform linux/arm64 -o web-slim.tar
            """)

    @OptionGroup var input: InputOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the image tarball.", valueName: "out.tar"))
    var output: String

    @Option(help: ArgumentHelp("Name of the output image (default: the input's first tag).", valueName: "name:tag"))
    var tag: String?

    @Option(help: "How to store the layer: none (default, fastest) or gzip (smaller, uses every core).")
    var compression: OutputCompression = .none

    func run() throws {
        // Only what shapes the content goes into the history: paths would make the same
        // input written to two places differ.
        let recorded = compression == .none ? "whittle slim" : "whittle slim --compression \(compression.rawValue)"
        let job = SlimJob(
            input: input.image, output: output, selection: try input.selection(),
            options: WriteOptions(tag: tag, compression: compression, createdBy: recorded,
                                  comment: "flattened by whittle"))
        let progress = Progress()
        let result: SlimJob.Result
        do {
            result = try job.run(progress: progress.update)
        } catch {
            progress.clear()
            throw error
        }
        progress.clear()
        let written = result.written
        print("""
            wrote \(written.path) (\(written.tag)): \(result.inputLayers) layers flattened into 1, \
            \(written.layer.entries) entries, \(formatBytes(written.layer.fileBytes)) of files, \
            \(formatBytes(written.outputSize)) tarball
            load it with: docker load -i \(written.path)
            """)
    }
}
