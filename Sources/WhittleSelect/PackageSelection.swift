import WhittleFlatten
import WhittlePackages
import WhittleProfiles

/// A selection whose package databases tell the truth about it.
public struct PackageAwareSelection {
    public let selection: Selection
    /// Nil when the tree has no package database or nothing was asked to go.
    public let truth: PackageTruth?
}

extension Selector {
    /// Decides in two rounds when the tree has package databases:
    ///
    /// 1. The policy, with the databases protected (so a trace that never read them leaves
    ///    them, and only an explicit `--remove` takes them) and their directories lasting
    ///    even when emptied, decides which files go.
    /// 2. Each package's fate follows from its files: one whose files all went, or all but
    ///    its docs, is removed, and its record (dpkg `info/` files, Python metadata) goes
    ///    with it, as for `removingPackages` (the docs left, licence notices among them,
    ///    stay); the record of one that keeps files is protected whole (entry points and
    ///    `importlib.metadata` read it), and the directories it lists last even when
    ///    emptied. The policy decides again with those, and that is the selection.
    ///
    /// Records are not files of their package, so round 2 changes no package's fate.
    ///
    /// `removingPackages` (indices into `packages`) are removed as a whole whatever stays of
    /// their files: a file they share with a package that stays is that package's.
    public static func select(
        _ tree: FileTree, policy: SelectionPolicy, packages: PackageDatabase,
        removingPackages: Set<Int> = [],
        listingRemovedFiles: Bool = false
    ) -> PackageAwareSelection {
        guard !packages.isEmpty, !policy.isEmpty else {
            return PackageAwareSelection(
                selection: Selector(policy: policy).select(tree, listingRemovedFiles: listingRemovedFiles), truth: nil)
        }
        let databases = packages.protectedPaths(in: tree)
        var policy = policy
        policy.lastingDirectories.formUnion(PackageDatabase.directories)
        var first = policy
        first.protected = protecting(databases, in: policy.protected)
        // Only which paths go matters here; the figures come from the second round.
        let decided = Selector(policy: first).select(tree, findingDanglingSymlinks: false)
        let fate = PackageTruth(database: packages, tree: tree, removing: removingPackages, keeps: decided.keeps(path:))

        let gone = fate.recordsToRemove(packages)
        let goneRecords = Set(gone.map(\.path))
        var second = policy
        second.protected = protecting(
            databases.filter { !goneRecords.contains($0) } + fate.recordsToKeep(packages),
            in: policy.protected)
        second.lastingDirectories.formUnion(fate.directoriesToKeep(packages))
        if let pattern = try? PathPattern("**") {
            for (path, package) in gone where second.packageRecords[path] == nil {
                second.packageRecords[path] = Rule(removingRecordOf: package, pattern: pattern)
            }
        }
        let selection = Selector(policy: second).select(tree, listingRemovedFiles: listingRemovedFiles)
        return PackageAwareSelection(
            selection: selection,
            truth: PackageTruth(
                database: packages, tree: tree, removing: removingPackages, keeps: selection.keeps(path:)))
    }

    private static func protecting(_ paths: [String], in protected: [String: KeepReason]) -> [String: KeepReason] {
        var merged = protected
        for path in paths where merged[path] == nil { merged[path] = .protected(.packages) }
        return merged
    }
}
