import Foundation
import WhittleAnalysis
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittleProfiles
import WhittleReport
import WhittleSelect
import WhittleTrace

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
        var loaded: [Profile] = []
        if !profiles.isEmpty {
            guard let directory = ProfileCatalog.defaultDirectory() else {
                throw SlimJobError.noProfileDirectory
            }
            loaded += try ProfileCatalog.load(directory: directory).expand(profiles)
        }
        for file in profileFiles { loaded.append(try ProfileCatalog.loadFile(file)) }
        return (loaded, try keep.map(PathPattern.init), try remove.map(PathPattern.init),
                try traces.map { ($0, try TraceDocument.load(path: $0)) })
    }
}

enum SlimJobError: Error, CustomStringConvertible {
    case noProfileDirectory

    var description: String {
        "cannot find the named profiles: set WHITTLE_PROFILES to the Profiles directory"
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

    public init(input: String, output: String?, selection: ImageSelection = ImageSelection(),
                options: WriteOptions, removal: RemovalRequest = RemovalRequest()) {
        self.input = input
        self.output = output
        self.selection = selection
        self.options = options
        self.removal = removal
    }

    public struct Result {
        public let inputLayers: Int
        public let selection: Selection
        /// Things the user should know that do not stop the run (a trace of another image).
        public let warnings: [String]
        public var report: SlimReport
        /// Nil in a dry run.
        public let written: WriteResult?
    }

    public func run(progress: ((String) -> Void)? = nil) throws -> Result {
        let parts = try removal.policyParts()
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        progress?("reading \(input)")
        let image = try SavedImage(path: input, selection: selection, scratch: scratch)
        let flattener = Flattener(scratch: scratch)
        let waste = WasteAnalyzer()
        waste.attach(to: flattener)
        let count = image.layers.count
        try flattener.apply(image) { layer in
            progress?("applied layer \(layer.index + 1)/\(count) (\(layer.entries) entries)")
        }
        let tree = flattener.tree
        let protected = ProtectedPaths.find(config: image.config, tree: tree)
        let merged = TraceDocument.merging(parts.traces.map(\.document))
        let traceKeep = merged.map { TraceKeepSet(traced: $0.existingPaths, tree: tree) }
        let warnings = Self.foreignTraces(parts.traces, chainID: image.chainID)
        let policy = SelectionPolicy(profiles: parts.profiles, keep: parts.keep, remove: parts.remove,
                                     protected: protected, traceKeep: traceKeep)
        progress?("selecting what to remove")
        let chosen = Selector(policy: policy).select(tree)
        var report = SlimReport(
            input: input, layerCount: count, layerContentBytes: flattener.layers.reduce(0) { $0 + $1.fileBytes },
            tree: tree, selection: chosen)
        let wasted = waste.report()
        report.wasted = SlimReport.Waste(
            bytes: wasted.wastedBytes, efficiency: wasted.efficiency, userWastedPercent: wasted.userWastedPercent)
        report.packages = try packageLosses(tree: tree, selection: chosen)
        guard let output else {
            return Result(inputLayers: count, selection: chosen, warnings: warnings, report: report, written: nil)
        }
        progress?("writing \(output)")
        let written = try ImageWriter().write(
            tree, from: image, to: output, options: options, filter: { _, node in chosen.keeps(node) })
        report.recordOutput(path: output, tag: written.tag, tarballBytes: written.outputSize,
                            files: written.layer.nonDirectories, bytes: written.layer.fileBytes)
        return Result(inputLayers: count, selection: chosen, warnings: warnings, report: report, written: written)
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
    private func packageLosses(tree: FileTree, selection: Selection) throws -> [SlimReport.PackageLoss] {
        guard !selection.removals.isEmpty else { return [] }
        let ownership = try PackageOwnership(tree: tree)
        guard !ownership.isEmpty else { return [] }
        return ownership.losses(removing: selection.removedFiles(in: tree)).packages.map {
            SlimReport.PackageLoss(package: $0.package, files: $0.filesLost, bytes: $0.bytesLost)
        }
    }
}
