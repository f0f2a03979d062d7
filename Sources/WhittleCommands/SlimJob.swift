import Foundation
import WhittleCompression
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackageGraph
import WhittlePackages
import WhittleProfiles
import WhittleReport
import WhittleSelect
import WhittleTrace
import WhittleTraceFormat
import WhittleFiles
import WhittleRegistry

/// A removal request loaded: profiles expanded, globs compiled, traces read.
typealias PolicyParts = (
    profiles: [Profile], keep: [PathPattern], remove: [PathPattern],
    traces: [(path: String, document: TraceDocument)], packages: [PackageSpec]
)

/// What to remove: named profiles, a user's profile files, and command-line globs.
public struct RemovalRequest: Sendable {
    public var profiles: [String]
    public var profileFiles: [String]
    public var keep: [String]
    public var remove: [String]
    /// Trace files from `whittle trace`: keep what they show (and its closure), remove the rest.
    public var traces: [String]
    /// `--remove-package` specs (each may be comma-separated): whole packages to remove.
    public var packages: [String]
    /// `--autoremove`: also what only removed packages needed.
    public var autoremove: Bool
    /// `--force`: remove packages that kept ones depend on, and Essential ones.
    public var force: Bool
    /// `--trace-keep`: how far the traces' keep set reaches beyond the files they saw.
    public var traceExtent: TraceKeepSet.Extent

    public init(
        profiles: [String] = [], profileFiles: [String] = [], keep: [String] = [], remove: [String] = [],
        traces: [String] = [], packages: [String] = [], autoremove: Bool = false, force: Bool = false,
        traceExtent: TraceKeepSet.Extent = .packages
    ) {
        self.profiles = profiles
        self.profileFiles = profileFiles
        self.keep = keep
        self.remove = remove
        self.traces = traces
        self.packages = packages
        self.autoremove = autoremove
        self.force = force
        self.traceExtent = traceExtent
    }

    public var isEmpty: Bool {
        profiles.isEmpty && profileFiles.isEmpty && keep.isEmpty && remove.isEmpty && traces.isEmpty
            && packages.isEmpty
    }

    /// Loads the profiles and compiles the globs, before any image is read, so a typo
    /// fails fast.
    func policyParts() throws -> PolicyParts {
        return (
            try loadProfiles(), try keep.map(PathPattern.init), try remove.map(PathPattern.init),
            try traces.map { ($0, try TraceDocument.load(path: $0)) }, try packages.flatMap(PackageSpec.list)
        )
    }

    /// The packages to remove: `--remove-package` first, then each profile's `packages`.
    func packageRequests(_ parts: PolicyParts) -> [WhittlePackageGraph.RemovalRequest] {
        let named =
            parts.packages.isEmpty
            ? []
            : [
                WhittlePackageGraph.RemovalRequest(specs: parts.packages, origin: .commandLine, autoremove: autoremove)
            ]
        return named + parts.profiles.compactMap(\.packageRequest)
    }

    /// The named profiles and the user's files, expanded together: a user's profile joins
    /// the shipped catalog so that its `include`s mean what they mean in a named one.
    private func loadProfiles() throws -> [Profile] {
        let userProfiles = try profileFiles.map(ProfileCatalog.loadFile)
        // Without names or includes there is nothing to look up, and no need for the catalog.
        guard !profiles.isEmpty || userProfiles.contains(where: { !$0.include.isEmpty }) else {
            return userProfiles
        }
        guard let directory = ProfileCatalog.defaultDirectory() else {
            throw SlimJobError.noProfileDirectory
        }
        var catalog = try ProfileCatalog.load(directory: directory)
        for profile in userProfiles {
            catalog = try catalog.adding(profile)
        }
        return try catalog.expand(profiles + userProfiles.map(\.name))
    }
}

enum SlimJobError: Error, CustomStringConvertible {
    case noProfileDirectory
    case cannotWriteReport(path: String, reason: String)
    case cannotSend(reason: String)

    var description: String {
        switch self {
        case .noProfileDirectory:
            return "cannot find the named profiles: set WHITTLE_PROFILES to the Profiles directory"
        case let .cannotWriteReport(path, reason):
            return "cannot write the report to \(path): \(reason)"
        case let .cannotSend(reason):
            return "cannot send the image to standard output: \(reason)"
        }
    }
}

/// One `whittle slim` run: read, flatten, select, then write (or only list, in a dry run).
/// Kept apart from argument parsing so tests can drive it directly.
public struct SlimJob {
    public var input: String
    /// Nil for a dry run.
    public var output: String?
    public var selection: ImageSelection
    public var options: WriteOptions
    public var removal: RemovalRequest
    /// Run the output the way each trace ran its original, and put it in place only if it
    /// answers the same.
    public var verify: Bool
    /// Credentials and TLS trust for `docker://` images, read or written.
    public var access: RegistryAccess

    public init(
        input: String, output: String?, selection: ImageSelection = ImageSelection(),
        options: WriteOptions, removal: RemovalRequest = RemovalRequest(), verify: Bool = false,
        access: RegistryAccess = RegistryAccess()
    ) {
        self.input = input
        self.output = output
        self.selection = selection
        self.options = options
        self.removal = removal
        self.verify = verify
        self.access = access
    }

    public struct Result {
        public let inputLayers: Int
        public let selection: Selection
        /// The flattened input, for reports that draw it.
        public let tree: FileTree
        /// Things the user should know that do not stop the run (a trace of another image).
        public let warnings: [String]
        public var report: SlimReport
        /// Nil in a dry run.
        public let written: WriteResult?
        /// With `verify`: one line per trace the output was checked against.
        public var verified: [String] = []
        /// Where the image went when it left this machine's files: pushed (with its digest) or loaded.
        public var delivered: Delivery?
    }

    public enum Delivery: Sendable {
        case pushed(RegistryReference, digest: String)
        case loaded(engine: String, message: String)
    }

    /// Where `-o` sends the image: the one reading of its argument.
    enum Destination {
        /// A tarball, with the name `docker-archive:PATH:NAME:TAG` gives it.
        case file(String, name: String?)
        case standardOutput
        case registry(RegistryReference)
        case daemon(String)

        init(_ argument: String) throws {
            guard argument != SlimJob.standardOutput else {
                self = .standardOutput
                return
            }
            switch try ImageLocation(parsing: argument) {
            case let .path(path):
                self = .file(path, name: nil)
            case let .local(.dockerArchive, path, name), let .local(.ociArchive, path, name):
                self = .file(path, name: name)
            case let .registry(reference):
                self = .registry(reference)
            case let .daemon(name):
                self = .daemon(name)
            case .local(.ociLayout, _, _):
                throw LocationError.unsupportedOutput(argument)
            }
        }

        /// The name the written image carries when `--tag` gives none: the destination's.
        var tag: String? {
            switch self {
            case let .daemon(name), let .file(_, name?): return name
            case let .registry(reference) where reference.tag != nil: return reference.name
            default: return nil
            }
        }
    }

    /// `-o -`: the tarball goes to standard output.
    public static let standardOutput = "-"

    /// The pipeline: read → flatten → select → write → report. The tree is walked four times:
    /// built (the wasted-bytes analysis watches the same stream of entries), decided (down to
    /// each decision, never inside a removed subtree), measured (every node once, for every
    /// figure of the report and dry run), and written (the kept nodes). Protected paths, the
    /// trace's closure and the dpkg and apk databases are lookups, not walks. An image with
    /// package databases adds a walk of its directories (finding Python metadata wherever it
    /// sits, as scanners do) and a second decide-and-measure (the package step, see
    /// `Selector.select(_:policy:packages:listingRemovedFiles:)`).
    public func run(progress: ProgressDisplay = .silent) throws -> Result {
        // An input cut short or rewritten mid-run is reported as that, whichever stage noticed.
        let local = input == ImageInput.standardInput ? nil : try ImageLocation(parsing: input).localPath
        let snapshot = local.flatMap(FileSnapshot.init(path:))
        do {
            return try runPipeline(progress: progress)
        } catch {
            guard let local, let snapshot else { throw error }
            throw snapshot.explaining(error, path: local)
        }
    }

    private func runPipeline(progress: ProgressDisplay) throws -> Result {
        let parts = try removal.policyParts()
        if verify, output != nil { try Tracer.checkPrerequisites() }
        // A directory that cannot take the output is refused before the long work.
        let destination = try output.map(Destination.init)
        if case let .file(path, _) = destination { try ImageWriter.checkDestination(path) }
        let source = try ImageInput(argument: input, progress: progress, access: access, platform: selection.platform)
        defer { source.remove() }
        return try source.reading { try run(reading: $0, to: destination, parts: parts, progress: progress) }
    }

    private func run(
        reading path: String, to destination: Destination?, parts: PolicyParts,
        progress: ProgressDisplay
    ) throws -> Result {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let readMeter = ByteMeter()
        progress.begin("reading layers", meter: readMeter)
        let (flattened, wasted) = try FlattenedImage.measuringWaste(
            path: path, selection: selection, scratch: scratch, meter: readMeter
        ) { layer, count in
            progress.note(Self.layerNote(finished: layer.index, of: count))
        }
        let image = flattened.image
        let tree = flattened.tree
        let count = image.layers.count
        let protected = ProtectedPaths.find(config: image.config, tree: tree)
        let merged = TraceDocument.merging(parts.traces.map(\.document))
        var warnings = Self.foreignTraces(parts.traces, chainID: image.chainID)
        progress.begin("selecting what to remove")
        // Only a selection can remove anything, so only then are the databases read. Package
        // losses need the removed files listed.
        let requests = removal.packageRequests(parts)
        let selects = !removal.isEmpty || !requests.isEmpty
        let packages = selects ? try PackageDatabase(tree: tree) : PackageDatabase(packages: [])
        let traceKeep = merged.map {
            keepSet(for: $0, image: image, tree: tree, packages: packages, warnings: &warnings)
        }
        var policy = SelectionPolicy(
            profiles: parts.profiles, keep: parts.keep, remove: parts.remove,
            protected: protected, traceKeep: traceKeep)
        var removedPackages = Set<Int>()
        var broken: [PackageSection.Broken] = []
        if !requests.isEmpty {
            (removedPackages, broken) = try planRemoval(
                of: requests, packages: packages, tree: tree, into: &policy, warnings: &warnings)
        }
        let ownership = PackageOwnership(database: packages, tree: tree)
        let decided = Selector.select(
            tree, policy: policy, packages: packages, removingPackages: removedPackages,
            listingRemovedFiles: !ownership.isEmpty)
        let chosen = decided.selection
        // The databases' new content: made in a dry run too, so both report the same sizes.
        let generated = GeneratedContent(tree: tree, scratch: scratch)
        try decided.truth?.rewrite(packages, tree: tree, keeps: chosen.keeps(path:), into: generated)
        var report = SlimReport(
            input: input, layerCount: count, layerContentBytes: flattened.layers.reduce(0) { $0 + $1.fileBytes },
            selection: chosen)
        report.wasted = SlimReport.Waste(
            bytes: wasted.wastedBytes, efficiency: wasted.efficiency, userWastedPercent: wasted.userWastedPercent)
        report.packages = Self.packageLosses(ownership, selection: chosen)
        report.packageDatabases = decided.truth.map { PackageSection(truth: $0, database: packages) }
        report.packageDatabases?.broken = broken
        report.after.bytes += generated.addedBytes
        guard let output, let destination else {
            return Result(
                inputLayers: count, selection: chosen, tree: tree, warnings: warnings, report: report, written: nil)
        }
        let (written, verified, delivered) = try write(
            tree, of: image, keeping: chosen, to: destination, traces: parts.traces, scratch: scratch,
            progress: progress)
        var recorded = output
        if case let .file(path, _) = destination { recorded = path }
        report.recordOutput(path: recorded, tag: written.tag, tarballBytes: written.outputSize)
        var result = Result(
            inputLayers: count, selection: chosen, tree: tree, warnings: warnings, report: report,
            written: written)
        result.verified = verified
        result.delivered = delivered
        if case let .pushed(_, digest)? = delivered { result.report.pushedDigest = digest }
        return result
    }

    /// What the merged trace keeps, beyond what it saw; an import it cannot follow is a warning.
    private func keepSet(
        for document: TraceDocument, image: SavedImage, tree: FileTree, packages: PackageDatabase,
        warnings: inout [String]
    ) -> TraceKeepSet {
        let keep = TraceKeepSet(
            use: TraceKeepSet.Use(
                paths: document.entries.map(\.path),
                changed: document.entries.filter(\.changesState).map(\.path)),
            tree: tree, config: image.config, packages: packages, extent: removal.traceExtent)
        let dynamic = keep.dynamicImports
        if !dynamic.isEmpty {
            warnings.append(
                """
                \(dynamic.count) import(s) in the app's code name their module at run time, so the keep set \
                cannot follow them; trace the code paths that reach them: \
                \(dynamic.prefix(5).joined(separator: ", "))\(dynamic.count > 5 ? ", …" : "")
                """)
        }
        return keep
    }

    /// The whole packages asked to go, planned before anything is written: a dependent that
    /// stays stops the run here. Their rules join `policy`.
    private func planRemoval(
        of requests: [WhittlePackageGraph.RemovalRequest], packages: PackageDatabase, tree: FileTree,
        into policy: inout SelectionPolicy, warnings: inout [String]
    ) throws -> (removed: Set<Int>, broken: [PackageSection.Broken]) {
        let plan = try PackageRemoval(
            database: packages, tree: tree, requests: requests,
            autoremove: removal.autoremove, force: removal.force)
        policy.packageRecords = plan.rules
        warnings +=
            plan.plan.warnings + plan.plan.brokenDependents.map { "--force leaves \($0) missing" }
            + plan.plan.spared.map { "profile \($0.profile) keeps \($0.record.spec): \($0.reason)" }
        let broken = plan.plan.brokenDependents.map {
            PackageSection.Broken(package: $0.package, requirement: $0.requirement)
        }
        return (plan.removedPackages, broken)
    }

    /// Writes the kept tree, verifies it when asked, and puts it in place: renamed to the
    /// output path, or sent on from the scratch directory (to standard output, a registry or
    /// the engine). The writer fills in the layer's header once the layer's digest is known,
    /// so output that is sent on is assembled in the scratch directory first.
    private func write(
        _ tree: FileTree, of image: SavedImage, keeping chosen: Selection, to destination: Destination,
        traces: [(path: String, document: TraceDocument)], scratch: ScratchDirectory,
        progress: ProgressDisplay
    ) throws -> (WriteResult, verified: [String], delivered: Delivery?) {
        var file: String?
        if case let .file(path, _) = destination { file = path }
        let target = file.map { verify ? Self.stagingPath(for: $0) : $0 } ?? scratch.path + "/output.tar"
        // The scratch directory is removed on an interruption; a staging file beside the output is not.
        if verify, file != nil { Interruption.removeOnInterrupt(target) }
        // The layer tar: kept bytes, plus a header (and on average half a block of padding) per entry.
        let meter = ByteMeter(total: chosen.after.bytes + Int64(chosen.after.files) * 768)
        progress.begin("writing", meter: meter)
        var options = options
        // The engine files the image under the tarball's tag, so the destination's name wins there.
        if case let .daemon(name) = destination { options.tag = name }
        options.tag = options.tag ?? destination.tag
        let written = try ImageWriter().write(
            tree, from: image, to: target, options: options, filter: { _, node in chosen.keeps(node) }, meter: meter)
        var verified: [String] = []
        if verify {
            verified = try Self.verify(target, against: traces, thenMoveTo: file, progress: progress)
        }
        return (
            written, verified,
            try Self.deliver(
                target, size: written.outputSize, to: destination,
                access: access, progress: progress)
        )
    }

    /// Sends a finished tarball on where it is not a file: standard output, a registry, the engine.
    private static func deliver(
        _ path: String, size: Int64, to destination: Destination, access: RegistryAccess,
        progress: ProgressDisplay
    ) throws -> Delivery? {
        switch destination {
        case .file:
            return nil
        case .standardOutput:
            try send(path, size: size, progress: progress)
            return nil
        case let .registry(reference):
            let meter = ByteMeter()
            progress.begin("pushing to \(reference)", meter: meter)
            let digest = try RegistryPush.push(archive: path, to: reference, access: access, meter: meter)
            return .pushed(reference, digest: digest)
        case .daemon:
            let engine = try DockerEngine()
            let meter = ByteMeter(total: size)
            progress.begin("loading into the Docker engine", meter: meter)
            return .loaded(engine: engine.host, message: try engine.load(archive: path, meter: meter))
        }
    }

    /// Copies the finished tarball to standard output: with sendfile(2), which spares a copy
    /// through user space, or by reads and writes where the kernel cannot. A reader that goes
    /// away (SIGPIPE) is an error like any other, so the scratch directory is still removed.
    private static func send(_ path: String, size: Int64, progress: ProgressDisplay) throws {
        let file = try OpenFile(path: path)
        let meter = ByteMeter(total: size)
        progress.begin("sending to standard output", meter: meter)
        signal(SIGPIPE, SIG_IGN)
        var sent: Int64 = 0
        while sent < size {
            let count = sendfile(STDOUT_FILENO, file.descriptor, nil, Int(min(size - sent, 1 << 24)))
            if count < 0, errno == EINTR { continue }
            if count < 0, sent == 0, errno == EINVAL || errno == ENOSYS { break }
            guard count > 0 else {
                throw SlimJobError.cannotSend(reason: count == 0 ? "\(path) ended early" : Self.sendFailure(errno))
            }
            sent += Int64(count)
            meter.add(count)
        }
        guard sent < size else { return }
        let sink = MeteredSink(downstream: FileSink(fileDescriptor: STDOUT_FILENO), meter: meter)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        do {
            try FileSlice(file: file, offset: 0, length: size).forEachChunk(through: buffer) { try sink.write($0) }
        } catch CompressionError.writeFailed(let code) {
            throw SlimJobError.cannotSend(reason: Self.sendFailure(code))
        }
    }

    private static func sendFailure(_ code: Int32) -> String {
        String(cString: strerror(code)) + (code == EPIPE ? " (the command reading the pipe stopped)" : "")
    }

    /// The layer being read, once layer `finished` (0-based) is done: `2/4`.
    static func layerNote(finished: Int, of count: Int) -> String {
        "\(min(finished + 2, count))/\(count)"
    }

    /// Beside the output, hidden, so that only a verified image ever has the output's name.
    static func stagingPath(for output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).verifying-\(getpid())"
        ).path
    }

    /// Replays each trace on the written image; renames it into place when every one
    /// answers as the original did, and removes it otherwise.
    /// With no `output`, the staged file stays where it is for the caller to send on.
    static func verify(
        _ staged: String, against traces: [(path: String, document: TraceDocument)],
        thenMoveTo output: String?, progress: ProgressDisplay
    ) throws -> [String] {
        var lines: [String] = []
        do {
            for (path, document) in traces {
                progress.begin("verifying the output against \(path)")
                let outcome = try Verifier(imagePath: staged, trace: document).run()
                guard outcome.passed else { throw VerificationFailure(trace: path, outcome: outcome) }
                lines.append(VerificationFailure.summary(of: outcome, trace: path))
            }
            guard let output else { return lines }
            try Interruption.settle(staged) {
                guard rename(staged, output) == 0 else {
                    throw OutputError.writeFailed(path: output, reason: String(cString: strerror(errno)))
                }
            }
        } catch {
            Interruption.settle(staged) { _ = unlink(staged) }
            throw error
        }
        return lines
    }

    /// A trace recorded on another image (another build of the app, say) may miss files
    /// this image's app needs; the chain IDs tell, whatever layout either was saved in.
    static func foreignTraces(_ traces: [(path: String, document: TraceDocument)], chainID: String) -> [String] {
        traces.compactMap { path, document in
            guard let other = document.tracedChainIDs.first(where: { $0 != chainID }) else { return nil }
            return """
                \(path) was recorded on another image (layers \(other.prefix(19))…, this one is \
                \(chainID.prefix(19))…): files this image's app needs that the traced one did not touch \
                are removed; trace this image to be sure
                """
        }
    }

    /// Which OS packages (dpkg, apk) lose files to the removals, so users can judge the risk.
    private static func packageLosses(_ ownership: PackageOwnership, selection: Selection) -> [SlimReport.PackageLoss] {
        guard !ownership.isEmpty, !selection.removals.isEmpty else { return [] }
        return ownership.losses(removing: selection.removedFiles).packages.map {
            SlimReport.PackageLoss(package: $0.package, files: $0.filesLost, bytes: $0.bytesLost)
        }
    }
}
