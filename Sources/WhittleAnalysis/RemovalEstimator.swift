import Dispatch
import WhittleFlatten
import WhittleImage
import WhittlePackages
import WhittleProfiles
import WhittleSelect

/// What one profile would remove from the flattened tree.
public struct RemovalEstimate: Codable, Sendable, Equatable {
    public var name: String
    public var summary: String
    /// Non-directory entries removed.
    public var files: Int
    /// Bytes freed: a hardlinked file counts only when every one of its names goes.
    public var bytes: Int64
    /// Per package, when package databases were read.
    public var packages: PackageLossSummary?

    public init(name: String, summary: String, files: Int, bytes: Int64, packages: PackageLossSummary? = nil) {
        self.name = name
        self.summary = summary
        self.files = files
        self.bytes = bytes
        self.packages = packages
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(summary, forKey: .summary)
        try container.encode(files, forKey: .files)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(packages, forKey: .packages)
    }
}

/// What `whittle slim --profile NAME` would remove, for each of several names, without
/// writing anything. It runs `slim`'s selection for each entry on its own: the same
/// `Selector`, with the image's protected paths (entrypoint and what it loads, account
/// files), so each estimate is exactly what a dry run of `slim` would list.
public struct RemovalEstimator {
    /// A profile as `inspect` estimates it: the name and summary shown, and the concrete
    /// profiles that `whittle slim --profile NAME` would select with.
    public typealias NamedProfiles = (name: String, summary: String, profiles: [Profile])

    public let named: [NamedProfiles]

    public init(_ named: [NamedProfiles]) {
        self.named = named
    }

    /// Each profile of `catalog` by name, expanded as `slim` expands `--profile NAME`.
    public init(catalog: ProfileCatalog) throws {
        named = try catalog.names.map { name in
            (name: name, summary: try catalog.profile(named: name).summary, profiles: try catalog.expand([name]))
        }
    }

    /// Every shipped profile (composites such as `safe` included), or nil when no profile
    /// directory is found.
    public static func shipped() throws -> RemovalEstimator? {
        guard let directory = ProfileCatalog.defaultDirectory() else { return nil }
        return try RemovalEstimator(catalog: ProfileCatalog.load(directory: directory))
    }

    /// One estimate per named entry, in order.
    /// - Parameters:
    ///   - config: says what must stay, such as the entrypoint.
    ///   - ownership: who owns what, when package databases were read.
    public func estimate(tree: FileTree, config: ImageConfig, ownership: PackageOwnership?) -> [RemovalEstimate] {
        let protected = ProtectedPaths.find(config: config, tree: tree)
        // Profiles that name packages (python-dev, package-managers) need the databases,
        // read only when asked for (`inspect --packages`): reading them and planning each
        // such profile costs more than the rest of inspect together.
        let names = named.contains { $0.profiles.contains { !$0.packages.isEmpty } }
        let database = names ? ownership?.database : nil
        // The selections only read the tree, so they run side by side.
        let work = SharedWork(estimator: self, tree: tree, count: named.count)
        DispatchQueue.concurrentPerform(iterations: named.count) { index in
            work.slots[index] = work.estimator.estimate(
                work.estimator.named[index], tree: work.tree, protected: protected, ownership: ownership,
                database: database)
        }
        return work.finish()
    }

    /// What the worker threads share. Sound to hand over because from here on the tree is
    /// only read, and each worker writes its own slot.
    private final class SharedWork: @unchecked Sendable {
        let estimator: RemovalEstimator
        let tree: FileTree
        let slots: UnsafeMutableBufferPointer<RemovalEstimate?>

        init(estimator: RemovalEstimator, tree: FileTree, count: Int) {
            self.estimator = estimator
            self.tree = tree
            slots = .allocate(capacity: count)
            slots.initialize(repeating: nil)
        }

        func finish() -> [RemovalEstimate] {
            defer {
                _ = slots.deinitialize()
                slots.deallocate()
            }
            return slots.map { $0! }
        }
    }

    private func estimate(
        _ entry: NamedProfiles, tree: FileTree, protected: [String: KeepReason],
        ownership: PackageOwnership?, database: PackageDatabase?
    ) -> RemovalEstimate {
        var policy = SelectionPolicy(profiles: entry.profiles, keep: [], remove: [], protected: protected)
        // The packages a profile names, through slim's own plan.
        let requests = entry.profiles.compactMap(\.packageRequest)
        let selection: Selection
        if let database, !requests.isEmpty,
            let removal = try? PackageRemoval(
                database: database, tree: tree, requests: requests,
                autoremove: false, force: false)
        {
            policy.packageRecords = removal.rules
            selection =
                Selector.select(
                    tree, policy: policy, packages: database, removingPackages: removal.removedPackages,
                    listingRemovedFiles: ownership != nil
                ).selection
        } else {
            selection = Selector(policy: policy).select(
                tree, listingRemovedFiles: ownership != nil, findingDanglingSymlinks: false)
        }
        let pathsOnly = database == nil && !requests.isEmpty
        return RemovalEstimate(
            name: entry.name,
            summary: entry.summary + (pathsOnly ? " (its paths only: --packages counts its packages)" : ""),
            files: selection.removedEntries, bytes: selection.removedBytes,
            packages: ownership.map { $0.losses(removing: selection.removedFiles) })
    }
}
