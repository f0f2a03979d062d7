import Foundation
import WhittleAnalysis
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleProfiles
import WhittleReport
import WhittleSelect
import WhittleTrace
import WhittleTraceFormat
import WhittleFiles

/// What to remove: named profiles, a user's profile files, and command-line globs.
public struct RemovalRequest: Sendable {
    public var profiles: [String]
    public var profileFiles: [String]
    public var keep: [String]
    public var remove: [String]
    /// Trace files from `whittle trace`: keep what they show (and its closure), remove the rest.
    public var traces: [String]

    public init(profiles: [String] = [], profileFiles: [String] = [], keep: [String] = [], remove: [String] = [],
                traces: [String] = []) {
        self.profiles = profiles
        self.profileFiles = profileFiles
        self.keep = keep
        self.remove = remove
        self.traces = traces
    }

    public var isEmpty: Bool {
        profiles.isEmpty && profileFiles.isEmpty && keep.isEmpty && remove.isEmpty && traces.isEmpty
    }

    /// Loads the profiles and compiles the globs, before any image is read, so a typo
    /// fails fast.
    func policyParts() throws -> (profiles: [Profile], keep: [PathPattern], remove: [PathPattern],
                                  traces: [(path: String, document: TraceDocument)]) {
        return (try loadProfiles(), try keep.map(PathPattern.init), try remove.map(PathPattern.init),
                try traces.map { ($0, try TraceDocument.load(path: $0)) })
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

    var description: String {
        switch self {
        case .noProfileDirectory:
            return "cannot find the named profiles: set WHITTLE_PROFILES to the Profiles directory"
        case let .cannotWriteReport(path, reason):
            return "cannot write the report to \(path): \(reason)"
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

    public init(input: String, output: String?, selection: ImageSelection = ImageSelection(),
                options: WriteOptions, removal: RemovalRequest = RemovalRequest(), verify: Bool = false) {
        self.input = input
        self.output = output
        self.selection = selection
        self.options = options
        self.removal = removal
        self.verify = verify
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
    }

    /// The pipeline: read → flatten → select → write → report. The tree is walked four times:
    /// built (the wasted-bytes analysis watches the same stream of entries), decided (down to
    /// each decision, never inside a removed subtree), measured (every node once, for every
    /// figure of the report and dry run), and written (the kept nodes). Protected paths, the
    /// trace's closure and the dpkg and apk databases are lookups, not walks. An image with
    /// package databases adds a walk of its directories (finding Python metadata wherever it
    /// sits, as scanners do) and a second decide-and-measure (the package step, see
    /// `Selector.select(_:policy:packages:listingRemovedFiles:)`).
    public func run(progress: ((String) -> Void)? = nil) throws -> Result {
        // An input cut short or rewritten mid-run is reported as that, whichever stage noticed.
        let snapshot = FileSnapshot(path: input)
        do {
            return try runPipeline(progress: progress)
        } catch {
            throw snapshot?.explaining(error, path: input) ?? error
        }
    }

    private func runPipeline(progress: ((String) -> Void)?) throws -> Result {
        let parts = try removal.policyParts()
        if verify, output != nil { try Tracer.checkPrerequisites() }
        // A directory that cannot take the output is refused before the long work.
        if let output { try ImageWriter.checkDestination(output) }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        progress?("reading \(input)")
        let waste = WasteAnalyzer()
        let flattened = try FlattenedImage(
            path: input, selection: selection, scratch: scratch, observer: waste.observer
        ) { layer, count in
            progress?("applied layer \(layer.index + 1)/\(count) (\(layer.entries) entries)")
        }
        let image = flattened.image
        let tree = flattened.tree
        let count = image.layers.count
        let protected = ProtectedPaths.find(config: image.config, tree: tree)
        let merged = TraceDocument.merging(parts.traces.map(\.document))
        let traceKeep = merged.map { TraceKeepSet(traced: $0.entries.map(\.path), tree: tree, searchPath: image.config.searchPath) }
        let warnings = Self.foreignTraces(parts.traces, chainID: image.chainID)
        let policy = SelectionPolicy(profiles: parts.profiles, keep: parts.keep, remove: parts.remove,
                                     protected: protected, traceKeep: traceKeep)
        progress?("selecting what to remove")
        // Only a selection can remove anything, so only then are the databases read. Package
        // losses need the removed files listed.
        let packages = policy.isEmpty ? PackageDatabase(packages: []) : try PackageDatabase(tree: tree)
        let ownership = PackageOwnership(database: packages, tree: tree)
        let decided = Selector.select(tree, policy: policy, packages: packages, listingRemovedFiles: !ownership.isEmpty)
        let chosen = decided.selection
        // The databases' new content: computed in a dry run too, so both report the same sizes.
        let rewrites = try decided.truth?.rewrites(packages, tree: tree, keeps: chosen.keeps(path:)) ?? []
        var report = SlimReport(
            input: input, layerCount: count, layerContentBytes: flattened.layers.reduce(0) { $0 + $1.fileBytes },
            selection: chosen)
        let wasted = waste.report()
        report.wasted = SlimReport.Waste(
            bytes: wasted.wastedBytes, efficiency: wasted.efficiency, userWastedPercent: wasted.userWastedPercent)
        report.packages = Self.packageLosses(ownership, selection: chosen)
        report.packageDatabases = decided.truth.map { PackageSection(truth: $0, database: packages) }
        report.after.bytes += rewrites.reduce(Int64(0)) { total, rewrite in
            total + Int64(rewrite.bytes.count) - (tree.lookup(rewrite.path)?.inode?.size ?? 0)
        }
        guard let output else {
            return Result(inputLayers: count, selection: chosen, tree: tree, warnings: warnings, report: report, written: nil)
        }
        progress?("writing \(output)")
        try tree.replaceContents(rewrites, scratch: scratch)
        let target = verify ? Self.stagingPath(for: output) : output
        if verify { Interruption.removeOnInterrupt(target) }
        let written = try ImageWriter().write(
            tree, from: image, to: target, options: options, filter: { _, node in chosen.keeps(node) })
        report.recordOutput(path: output, tag: written.tag, tarballBytes: written.outputSize)
        var result = Result(inputLayers: count, selection: chosen, tree: tree, warnings: warnings, report: report,
                            written: written)
        if verify {
            result.verified = try Self.verify(target, against: parts.traces, thenMoveTo: output, progress: progress)
        }
        return result
    }

    /// Beside the output, hidden, so that only a verified image ever has the output's name.
    static func stagingPath(for output: String) -> String {
        let url = URL(fileURLWithPath: output)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).verifying-\(getpid())").path
    }

    /// Replays each trace on the written image; renames it into place when every one
    /// answers as the original did, and removes it otherwise.
    static func verify(_ staged: String, against traces: [(path: String, document: TraceDocument)],
                       thenMoveTo output: String, progress: ((String) -> Void)?) throws -> [String] {
        var lines: [String] = []
        do {
            for (path, document) in traces {
                progress?("verifying the output against \(path)")
                let outcome = try Verifier(imagePath: staged, trace: document).run()
                guard outcome.passed else { throw VerificationFailure(trace: path, outcome: outcome) }
                lines.append(VerificationFailure.summary(of: outcome, trace: path))
            }
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
