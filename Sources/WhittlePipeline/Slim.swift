import Foundation
import WhittleCompression
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackageGraph
import WhittlePackages
import WhittleRegistry
import WhittleSelect
import WhittleTrace
import WhittleTraceFormat

public enum SlimError: Error, CustomStringConvertible {
    case noProfileDirectory
    case cannotSend(reason: String)

    public var description: String {
        switch self {
        case .noProfileDirectory:
            return "cannot find the named profiles: set WHITTLE_PROFILES to the Profiles directory"
        case let .cannotSend(reason):
            return "cannot send the image to standard output: \(reason)"
        }
    }
}

/// One `whittle slim`: read → flatten → select → write, each stage a function that returns
/// its result type (`Flattened`, `Decided`, `Written`), and the report built once from
/// those. A dry run stops after the selection.
///
/// The tree is walked four times: built (the wasted-bytes analysis watches the same stream
/// of entries), decided (down to each decision, never inside a removed subtree), measured
/// (every node once, for every figure of the report and dry run), and written (the kept
/// nodes). Protected paths, the trace's closure and the dpkg and apk databases are lookups,
/// not walks. An image with package databases adds a walk of its directories (finding
/// Python metadata wherever it sits, as scanners do) and a second decide-and-measure (the
/// package step, see `Selector.select(_:policy:packages:removingPackages:listingRemovedFiles:)`).
public struct Slim {
    public var input: String
    /// Nil for a dry run.
    public var output: String?
    public var selection: ImageSelection
    public var options: WriteOptions
    public var removal: RemovalRequest
    /// Run the output the way each trace ran its original, and put it in place only if it
    /// answers the same.
    public var verify: Bool
    /// Credentials and TLS trust for a `docker://` input.
    public var access: RegistryAccess
    /// The same for a `docker://` output; nil for `access`'s.
    public var destinationAccess: RegistryAccess?

    /// `-o -`: the tarball goes to standard output.
    public static let standardOutput = "-"

    public init(
        input: String, output: String?, selection: ImageSelection = ImageSelection(),
        options: WriteOptions, removal: RemovalRequest = RemovalRequest(), verify: Bool = false,
        access: RegistryAccess = RegistryAccess(), destinationAccess: RegistryAccess? = nil
    ) {
        self.input = input
        self.output = output
        self.selection = selection
        self.options = options
        self.removal = removal
        self.verify = verify
        self.access = access
        self.destinationAccess = destinationAccess
    }

    /// Every stage's result, and the report made from them.
    public struct Result {
        public let flattened: Flattened
        public let decided: Decided
        /// Nil in a dry run.
        public let written: Written?
        public let report: SlimReport

        public var selection: Selection { decided.selection }
        /// The flattened input, for reports that draw it.
        public var tree: FileTree { flattened.tree }
        public var warnings: [String] { decided.warnings }
    }

    public func run(progress: any StageProgress = SilentProgress()) throws -> Result {
        // An input cut short or rewritten mid-run is reported as that, whichever stage noticed.
        let local = input == ImageInput.standardInput ? nil : try ImageLocation(parsing: input).localPath
        let snapshot = local.flatMap(FileSnapshot.init(path:))
        do {
            return try runStages(progress: progress)
        } catch {
            guard let local, let snapshot else { throw error }
            throw snapshot.explaining(error, path: local)
        }
    }

    private func runStages(progress: any StageProgress) throws -> Result {
        let removal = try self.removal.load()
        if verify, output != nil { try Tracer.checkPrerequisites() }
        // A directory that cannot take the output is refused before the long work.
        let destination = try output.map(Destination.init)
        try destination?.check()
        let source = try ImageInput(
            argument: input, progress: progress, access: access, platform: selection.platform, hashingMembers: true)
        defer { source.remove() }
        return try source.reading { path in
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let flattened = try flatten(
                path, recordedDigests: source.recordedDigests, scratch: scratch, progress: progress)
            // The last layers' digests are still being taken on the second core while the
            // selection runs and the output is written; it is put in place only once every
            // layer has passed its check.
            let decided = try flattened.besideLayerChecks {
                try decide(flattened, removal: removal, scratch: scratch, progress: progress)
            }
            let written = try destination.map { destination in
                try flattened.besideLayerChecks {
                    try write(
                        flattened, decided, to: destination, traces: removal.traces, scratch: scratch,
                        progress: progress)
                }
            }
            // A dry run's checks; a write has finished them before putting the output in place.
            try flattened.finishLayerChecks()
            return Result(
                flattened: flattened, decided: decided, written: written,
                report: SlimReport(input: input, flattened: flattened, decided: decided, written: written))
        }
    }

    /// Stage one: read every layer and apply it, measuring the waste on the way.
    func flatten(
        _ path: String, recordedDigests: MemberDigests?, scratch: ScratchDirectory, progress: any StageProgress
    ) throws -> Flattened {
        let meter = ByteMeter()
        progress.begin("reading layers", meter: meter)
        return try FlattenedImage.measuringWaste(
            path: path, selection: selection, scratch: scratch, deferringChecks: true, meter: meter,
            recordedDigests: recordedDigests
        ) { layer, count in
            progress.note(Self.layerNote(finished: layer.index, of: count))
        }
    }

    /// Stage two: the policy from the request, the trace's keep set and the packages asked to
    /// go, then the selection, and the package databases rewritten to match it.
    func decide(
        _ flattened: Flattened, removal: LoadedRemoval, scratch: ScratchDirectory, progress: any StageProgress
    ) throws -> Decided {
        let tree = flattened.tree
        let image = flattened.saved
        var warnings = Self.foreignTraces(removal.traces, chainID: image.chainID)
        progress.begin("selecting what to remove")
        // Only a selection can remove anything, so only then are the databases read.
        let packages = removal.selects ? try PackageDatabase(tree: tree) : PackageDatabase(packages: [])
        var policy = SelectionPolicy(
            profiles: removal.profiles, keep: removal.keep, remove: removal.remove,
            protected: ProtectedPaths.find(config: image.config, tree: tree),
            traceKeep: TraceDocument.merging(removal.traces.map(\.document)).map {
                keepSet(
                    for: $0, extent: removal.traceExtent, flattened: flattened, packages: packages, warnings: &warnings)
            })
        var removedPackages = Set<Int>()
        var broken: [PackageSection.Broken] = []
        let requests = removal.packageRequests
        if !requests.isEmpty {
            (removedPackages, broken) = try planRemoval(
                of: requests, removal: removal, packages: packages, tree: tree, into: &policy, warnings: &warnings)
        }
        // Package losses need the removed files listed. Who owns what only reads the tree,
        // so it is worked out beside the selection.
        let (decided, ownership) = sideBySide(
            {
                Selector.select(
                    tree, policy: policy, packages: packages, removingPackages: removedPackages,
                    listingRemovedFiles: packages.hasSystemPackages)
            }, { PackageOwnership(database: packages, tree: tree) })
        let generated = GeneratedContent(tree: tree, scratch: scratch)
        try decided.truth?.rewrite(packages, tree: tree, keeps: decided.selection.keeps(path:), into: generated)
        var section = decided.truth.map { PackageSection(truth: $0, database: packages) }
        section?.broken = broken
        return Decided(
            selection: decided.selection, rewrittenDatabases: generated,
            packageLosses: Self.packageLosses(ownership, selection: decided.selection), packageDatabases: section,
            warnings: warnings)
    }

    /// Stage three: writes the kept tree, verifies it when asked, and puts it in place:
    /// renamed to the output path, or sent on from the scratch directory (to standard output,
    /// a registry or the engine). The writer fills in the layer's header once the layer's
    /// digest is known, so output that is sent on is assembled in the scratch directory first,
    /// except on standard output redirected to an empty file, which is written in place.
    func write(
        _ flattened: Flattened, _ decided: Decided, to destination: Destination, traces: [LoadedTrace],
        scratch: ScratchDirectory, progress: any StageProgress
    ) throws -> Written {
        if case .standardOutput = destination, !verify,
            let file = OpenedOutputFile(adopting: STDOUT_FILENO, name: "standard output")
        {
            let written = try writeLayer(flattened, decided, tag: destination, progress: progress) {
                try ImageWriter().write(
                    flattened.tree, from: flattened.saved, into: file, options: $0, filter: $1, meter: $2,
                    beforeCommit: flattened.finishLayerChecks)
            }
            return Written(file: written, output: Self.standardOutput, verified: [], delivery: nil)
        }
        if case .standardOutput = destination, !verify, options.compression == .none, isPipe(STDOUT_FILENO) {
            return try stream(flattened, decided, tag: destination, progress: progress)
        }
        let file = destination.filePath
        let target = file.map { verify ? Self.stagingPath(for: $0) : $0 } ?? scratch.path + "/output.tar"
        // The scratch directory is removed on an interruption; a staging file beside the output is not.
        if verify, file != nil { Interruption.removeOnInterrupt(target) }
        let written = try writeLayer(flattened, decided, tag: destination, progress: progress) {
            try ImageWriter().write(
                flattened.tree, from: flattened.saved, to: target, options: $0, filter: $1, meter: $2,
                beforeCommit: flattened.finishLayerChecks)
        }
        let verified = verify ? try Self.verify(target, against: traces, thenMoveTo: file, progress: progress) : []
        let delivery = try destination.deliver(
            target, size: written.outputSize, access: destinationAccess ?? access, progress: progress)
        return Written(file: written, output: file ?? output ?? target, verified: verified, delivery: delivery)
    }

    /// Standard output a pipe, the layer uncompressed: the tarball is streamed in two passes
    /// over the tree (`ImageWriter.stream`), so the image is not staged in the scratch
    /// directory first, and the reader starts while the layer is still being written.
    private func stream(
        _ flattened: Flattened, _ decided: Decided, tag destination: Destination, progress: any StageProgress
    ) throws -> Written {
        let sending = ByteMeter()
        let written = try Destination.sendingToStandardOutput {
            try writeLayer(flattened, decided, tag: destination, progress: progress) { options, filter, meter in
                try ImageWriter().stream(
                    flattened.tree, from: flattened.saved, to: STDOUT_FILENO, name: "standard output", options: options,
                    filter: filter, meter: meter, sendMeter: sending
                ) {
                    // Every layer has passed its check before the first byte goes out.
                    try flattened.finishLayerChecks()
                    progress.begin("sending to standard output", meter: sending)
                }
            }
        }
        return Written(file: written, output: Self.standardOutput, verified: [], delivery: nil)
    }

    /// Runs `writer` with the options, the filter of kept nodes and a meter, under "writing".
    private func writeLayer(
        _ flattened: Flattened, _ decided: Decided, tag destination: Destination, progress: any StageProgress,
        _ writer: (WriteOptions, @escaping LayerWriter.Filter, ByteMeter) throws -> WriteResult
    ) throws -> WriteResult {
        let chosen = decided.selection
        // The layer tar: kept bytes, plus a header (and on average half a block of padding) per entry.
        let meter = ByteMeter(total: chosen.after.bytes + Int64(chosen.after.files) * 768)
        progress.begin("writing", meter: meter)
        var options = options
        options.tag = destination.tag(given: options.tag, inputTags: flattened.saved.tags)
        return try writer(options, { _, node in chosen.keeps(node) }, meter)
    }
}
