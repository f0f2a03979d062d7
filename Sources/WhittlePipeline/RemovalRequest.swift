import WhittlePackageGraph
import WhittleProfiles
import WhittleSelect
import WhittleTraceFormat

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

    /// Loads the profiles, compiles the globs and reads the traces, before any image is
    /// read, so that a typo fails fast.
    func load() throws -> LoadedRemoval {
        LoadedRemoval(
            profiles: try loadProfiles(), keep: try keep.map(PathPattern.init),
            remove: try remove.map(PathPattern.init),
            traces: try traces.map { LoadedTrace(path: $0, document: try TraceDocument.load(path: $0)) },
            packages: try packages.flatMap(PackageSpec.list), autoremove: autoremove, force: force,
            traceExtent: traceExtent)
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
            throw SlimError.noProfileDirectory
        }
        var catalog = try ProfileCatalog.load(directory: directory)
        for profile in userProfiles {
            catalog = try catalog.adding(profile)
        }
        return try catalog.expand(profiles + userProfiles.map(\.name))
    }
}

/// A trace file, read.
public struct LoadedTrace: Sendable {
    public let path: String
    public let document: TraceDocument
}

/// A removal request loaded: profiles expanded, globs compiled, traces read, package specs parsed.
struct LoadedRemoval {
    let profiles: [Profile]
    let keep: [PathPattern]
    let remove: [PathPattern]
    let traces: [LoadedTrace]
    let packages: [PackageSpec]
    let autoremove: Bool
    let force: Bool
    let traceExtent: TraceKeepSet.Extent

    /// Anything at all to remove: only then are the package databases read.
    var selects: Bool {
        !profiles.isEmpty || !keep.isEmpty || !remove.isEmpty || !traces.isEmpty || !packageRequests.isEmpty
    }

    /// The packages to remove: `--remove-package` first, then each profile's `packages`.
    var packageRequests: [PackageRemovalRequest] {
        let named =
            packages.isEmpty
            ? [] : [PackageRemovalRequest(specs: packages, origin: .commandLine, autoremove: autoremove)]
        return named + profiles.compactMap(\.packageRequest)
    }
}
