import ArgumentParser
import Foundation
import WhittleOutput
import WhittleRegistry
import WhittleReport
import WhittlePipeline
import WhittleSelect
import WhittleTrace

extension OutputCompression: ExpressibleByArgument {}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct SlimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "Flatten an image into one layer, removing what the app does not need.",
        discussion: """
            With no profile and no glob, slim only flattens. Profiles name known waste (see \
            `whittle profiles list`); --keep beats every removal, and the entrypoint, its \
            interpreter and libraries, /etc/passwd and /etc/group survive every profile \
            unless an explicit --remove names them.

            The output is written under a temporary name and renamed into place, so a failed \
            run leaves nothing behind. The same input and flags always give the same bytes. \
            With --verify (root, or subordinate ids without it), the output is first run the way each --trace ran the \
            original and asked the same probes; it is put in place only if it answers the same \
            (see `whittle verify --help`).

            Pipes: `-` as the image reads it from standard input, and `-o -` writes the tarball \
            to standard output, so `docker save app | whittle slim - -o - | docker load` \
            works without image files of your own. Both ends go through a temporary file in \
            $TMPDIR (the input because `docker save` writes its manifest after the layers; \
            the output because the layer is named by its digest, known only once it is \
            written), removed at the end, failed runs included. With `-o -`, standard output carries only the tarball: \
            the report goes to standard error (or --report); with --dry-run nothing is \
            written there and the listing goes to standard error.

            Examples:
              whittle slim app.tar -o app-slim.tar
              whittle slim app.tar -o app-slim.tar --profile safe --tag app:slim
              whittle slim app.tar --dry-run --profile apt-cache,pycache,docs
              whittle slim app.tar --dry-run --profile tests --format json > removals.json
              whittle slim app.tar -o slim.tar --profile safe \\
                  --remove '/opt/big/**' --keep '/opt/big/needed'
              whittle slim app.tar -o slim.tar --profile safe --report report.md
              whittle slim app.tar --dry-run --profile all --report report.html
              whittle trace app.tar -o app.trace.json \\
                  --probe-http http://127.0.0.1:8080/health
              whittle slim app.tar -o slim.tar --trace app.trace.json --dry-run
              whittle slim app.tar --dry-run --remove-package deb:python3-pip --autoremove
              whittle slim app.tar -o slim.tar --profile python-dev --autoremove
              whittle slim app.tar -o slim.tar --trace app.trace.json --verify
              whittle slim oci-app.tar -o app-slim.tar --compression gzip
              whittle slim multi.tar --image web:1.2 --platform linux/arm64 -o web-slim.tar
              docker save app:1 | whittle slim - -o - --profile safe | docker load
              whittle slim app.tar -o slim.tar --progress plain    # for CI logs
              whittle slim docker://registry.example/app:1 -o docker://registry.example/app:1-slim \\
                  --profile safe --digestfile app.digest
              whittle slim docker-daemon:app:1 -o docker-daemon:app:slim --profile safe

            Images in registries and the Docker engine are named as skopeo names them (see \
            docs/registries.md): a push sends the layer and config first and the manifest last, \
            so a failed push leaves the tag where it was.
            """)

    @OptionGroup var input: InputOptions

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Where to write the image (not needed with --dry-run): a tarball, - for standard output, "
                + "docker://HOST/REPO:TAG to push, docker-daemon:NAME:TAG to load into the Docker engine, "
                + "or oci:DIR[:REF] for a new OCI layout directory.",
            valueName: "out.tar"))
    var output: String?

    @Option(
        help: ArgumentHelp(
            "With -o docker://…: also write the pushed manifest's digest to this file.",
            valueName: "file"))
    var digestfile: String?

    @Option(help: ArgumentHelp("Name of the output image (default: the input's first tag).", valueName: "name:tag"))
    var tag: String?

    @Option(help: "How to store the layer: none (default, fastest) or gzip (smaller, uses every core).")
    var compression: OutputCompression = .none

    @Option(
        name: .customLong("profile"), parsing: .singleValue,
        help: ArgumentHelp(
            "Removal profiles to apply, comma-separated or repeated (see `whittle profiles list`).",
            valueName: "a,b,…"))
    var profiles: [String] = []

    @Option(
        name: .customLong("profile-file"), parsing: .singleValue,
        help: ArgumentHelp(
            "A profile file of your own (the format of Profiles/README.md); may be repeated.", valueName: "file.yaml"))
    var profileFiles: [String] = []

    @Option(
        name: .customLong("keep"), parsing: .singleValue,
        help: ArgumentHelp(
            "Keep paths matching this glob, whatever removes them (*, ** and ?; anchored at /).", valueName: "glob"))
    var keep: [String] = []

    @Option(
        name: .customLong("remove"), parsing: .singleValue,
        help: ArgumentHelp(
            "Remove paths matching this glob, protected ones included.", valueName: "glob"))
    var remove: [String] = []

    @Option(
        name: .customLong("trace"), parsing: .singleValue,
        help: ArgumentHelp(
            "Keep only what this trace (from `whittle trace`) shows the app uses, plus its closure; may be repeated.",
            valueName: "trace.json"))
    var traces: [String] = []

    @Option(
        name: .customLong("trace-keep"),
        help: ArgumentHelp(
            """
            With --trace: packages (default) keeps each language package the app used whole (Python, \
            Node.js, Ruby gems, Composer, Perl), with what it requires, the modules its imports name, and every directory it \
            wrote into; files keeps only the files the trace saw and their loader closure, which is \
            smaller but risks code paths the probes did not reach: an unprobed route, a table, \
            metadata read later.
            """, valueName: "packages|files"))
    var traceKeep: TraceKeepSet.Extent = .packages

    @Option(
        name: .customLong("remove-package"), parsing: .singleValue,
        help: ArgumentHelp(
            "Remove whole packages: deb:NAME, apk:NAME, pypi:NAME or a bare NAME, globs allowed (deb:*-dev); "
                + "comma-separated or repeated. Exactly the files each package's own list names go.",
            valueName: "spec,…"))
    var removePackages: [String] = []

    @Flag(help: "With --remove-package or a profile's packages: also remove what only the removed packages needed.")
    var autoremove = false

    @Flag(help: "Remove the named packages even when packages that stay depend on them, or they are Essential.")
    var force = false

    @Flag(help: "Run the output as each --trace ran the original, and keep it only if it answers the same.")
    var verify = false

    @Flag(name: .customLong("dry-run"), help: "List every removal with its size and rule; write no image.")
    var dryRun = false

    @Option(help: "Output format of the dry-run list and the report on stdout: text or json.")
    var format: OutputFormat = .text

    @Option(
        help: ArgumentHelp(
            "Also write the before/after report to a file: .json, .md, or .html (a page with a treemap).",
            valueName: "file"))
    var report: String?

    @Option(
        name: .customLong("src-creds"),
        help: ArgumentHelp("Credentials for a docker:// image read, in place of --creds.", valueName: "user:password"))
    var sourceCredentials: String?

    @Option(
        name: .customLong("dest-creds"),
        help: ArgumentHelp(
            "Credentials for -o docker://…, in place of --creds: another registry, another account.",
            valueName: "user:password"))
    var destinationCredentials: String?

    @OptionGroup var display: ProgressOptions

    /// `-o -`: standard output is the tarball's, so everything else goes to standard error.
    var writesToStandardOutput: Bool { output == Slim.standardOutput }

    func validate() throws {
        if output == nil, !dryRun {
            throw ValidationError("missing -o/--output OUT.tar (or use --dry-run to only list removals)")
        }
        if verify, traces.isEmpty || dryRun {
            throw ValidationError(
                "--verify replays the traces on the written image: it needs --trace and -o, not --dry-run")
        }
        if autoremove || force, removePackages.isEmpty, profiles.isEmpty, profileFiles.isEmpty {
            throw ValidationError(
                "--autoremove and --force act on packages: name them with --remove-package SPEC "
                    + "(or a profile with packages:, such as --profile python-dev)")
        }
        if destinationCredentials != nil, !(output ?? "").hasPrefix("docker://") || dryRun {
            throw ValidationError("--dest-creds is for a push: it needs -o docker://HOST/REPO:TAG")
        }
        if sourceCredentials != nil, !input.image.hasPrefix("docker://") {
            throw ValidationError("--src-creds is for a pull: it needs an image docker://HOST/REPO[:TAG]")
        }
        if digestfile != nil, !(output ?? "").hasPrefix("docker://") || dryRun {
            throw ValidationError("--digestfile records a push: it needs -o docker://HOST/REPO:TAG")
        }
        if let output {
            do {
                try Slim.checkOutput(output)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        if let report, ![".json", ".md", ".html"].contains(where: report.hasSuffix) {
            throw ValidationError("--report takes a file ending in .json, .md or .html; got '\(report)'")
        }
        if writesToStandardOutput, !dryRun, isatty(STDOUT_FILENO) == 1 {
            throw ValidationError(
                """
                -o - writes an image tarball to standard output, which is a terminal here: pipe it \
                (… -o - | docker load) or redirect it (… -o - > app-slim.tar)
                """)
        }
    }

    func run() throws {
        // --verify runs the output in the trace sandbox: without root, in a user namespace.
        if verify { try UserNamespace.reenterUnlessRoot() }
        let names = profiles.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        // Only what shapes the content goes into the history: paths would make the same
        // input written to two places differ.
        var recorded = "whittle slim"
        if compression != .none { recorded += " --compression \(compression.rawValue)" }
        if !names.isEmpty { recorded += " --profile " + names.joined(separator: ",") }
        for glob in keep { recorded += " --keep '\(glob)'" }
        for glob in remove { recorded += " --remove '\(glob)'" }
        if !traces.isEmpty { recorded += " --trace" }
        if !traces.isEmpty, traceKeep != .packages { recorded += " --trace-keep \(traceKeep.rawValue)" }
        if !removePackages.isEmpty { recorded += " --remove-package " + removePackages.joined(separator: ",") }
        if autoremove { recorded += " --autoremove" }
        if force { recorded += " --force" }
        let job = Slim(
            input: input.image, output: dryRun ? nil : output, selection: try input.selection(),
            options: WriteOptions(
                tag: tag, compression: compression, createdBy: recorded,
                comment: "flattened by whittle"),
            removal: RemovalRequest(
                profiles: names, profileFiles: profileFiles, keep: keep, remove: remove,
                traces: traces, packages: removePackages, autoremove: autoremove, force: force,
                traceExtent: traceKeep),
            verify: verify, access: input.registry.access(credentials: sourceCredentials),
            destinationAccess: input.registry.access(credentials: destinationCredentials))
        let progress = display.display()
        let result: Slim.Result
        do {
            result = try job.run(progress: progress)
        } catch {
            progress.finish()
            throw error
        }
        progress.finish()
        if let digestfile, case let .pushed(_, digest)? = result.written?.delivery {
            try writeRequestedFile(Data((digest + "\n").utf8), to: digestfile, what: "the digest")
        }
        try show(result)
    }

    /// The report (or dry-run listing) on standard output, or on standard error when
    /// standard output is the tarball's.
    private func show(_ result: Slim.Result) throws {
        let print: (String) -> Void =
            writesToStandardOutput
            ? { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } : { Swift.print($0) }
        for warning in result.warnings { say("warning: \(warning)") }
        for line in result.written?.verified ?? [] { say(line) }
        if let report { try write(result, to: report) }
        if dryRun {
            let listing = DryRunListing(result.selection, packages: result.report.packageDatabases)
            switch format {
            case .text: print(listing.text())
            case .json: print(String(decoding: try listing.json(), as: UTF8.self))
            }
            return
        }
        switch format {
        case .json:
            print(String(decoding: try result.report.json(), as: UTF8.self))
        case .text:
            guard let written = result.written else { return }
            print(result.report.text())
            print(
                "\n"
                    + Self.whereItWent(
                        written, layers: result.report.before.layers, toStandardOutput: writesToStandardOutput))
        }
    }

    /// The last lines of a real run: where the image went, and the command that uses it.
    private static func whereItWent(_ written: Written, layers: Int, toStandardOutput: Bool) -> String {
        let file = written.file
        let summary = "\(layers) layers flattened into 1, \(file.outputSize) bytes"
        switch written.delivery {
        case let .pushed(reference, digest)?:
            return """
                pushed \(reference) (\(file.tag)): \(summary)
                digest: \(digest)
                pull it with: docker pull \(reference.host)/\(reference.repository)@\(digest)
                """
        case let .loaded(engine, message)?:
            return """
                loaded into the Docker engine at \(engine): \(message); \(summary)
                run it with: docker run \(file.tag)
                """
        case let .unpacked(directory)?:
            return """
                wrote the OCI layout \(directory) (\(file.tag)): \(summary)
                read it with: whittle inspect oci:\(directory)
                """
        case nil where toStandardOutput:
            return "sent \(file.tag) to standard output: \(summary)"
        case nil:
            return """
                wrote \(written.output) (\(file.tag)): \(summary)
                load it with: docker load -i \(written.output)
                """
        }
    }

    private func write(_ result: Slim.Result, to path: String) throws {
        let report = result.report
        let data =
            path.hasSuffix(".md")
            ? Data(report.markdown().utf8)
            : path.hasSuffix(".html")
                ? Data(try HTMLReport.slim(report, selection: result.selection, tree: result.tree).utf8)
                : try report.json()
        try writeRequestedFile(data, to: path, what: "the report")
    }
}

extension TraceKeepSet.Extent: ExpressibleByArgument {}
