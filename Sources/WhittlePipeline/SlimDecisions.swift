import WhittleFlatten
import WhittleImage
import WhittlePackageGraph
import WhittlePackages
import WhittleSelect
import WhittleTraceFormat

/// The parts of the selection stage that turn a request into rules: the trace's keep set,
/// the package removal plan, and what the user should be warned of.
extension Slim {
    /// What the merged trace keeps, beyond what it saw; an import it cannot follow is a warning.
    func keepSet(
        for document: TraceDocument, extent: TraceKeepSet.Extent, flattened: Flattened, packages: PackageDatabase,
        warnings: inout [String]
    ) -> TraceKeepSet {
        let keep = TraceKeepSet(
            use: TraceKeepSet.Use(
                paths: document.entries.map(\.path),
                changed: document.entries.filter(\.changesState).map(\.path)),
            tree: flattened.tree, config: flattened.saved.config, packages: packages, extent: extent)
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
    func planRemoval(
        of requests: [PackageRemovalRequest], removal: LoadedRemoval, packages: PackageDatabase, tree: FileTree,
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

    /// A trace recorded on another image (another build of the app, say) may miss files
    /// this image's app needs; the chain IDs tell, whatever layout either was saved in.
    static func foreignTraces(_ traces: [LoadedTrace], chainID: String) -> [String] {
        traces.compactMap { trace in
            guard let other = trace.document.tracedChainIDs.first(where: { $0 != chainID }) else { return nil }
            return """
                \(trace.path) was recorded on another image (layers \(other.prefix(19))…, this one is \
                \(chainID.prefix(19))…): files this image's app needs that the traced one did not touch \
                are removed; trace this image to be sure
                """
        }
    }

    /// Which OS packages (dpkg, apk) lose files to the removals, so users can judge the risk.
    static func packageLosses(_ ownership: PackageOwnership, selection: Selection) -> [PackageLoss] {
        guard !ownership.isEmpty, !selection.removals.isEmpty else { return [] }
        return ownership.losses(removing: selection.removedFiles).packages
    }
}
