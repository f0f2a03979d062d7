import WhittleFlatten
import WhittleImage
import WhittleProfiles
import WhittleSelect

extension RemovalEstimator {
    /// One selection with every concrete profile the estimator knows, in the order first
    /// named, as `whittle slim --profile all` selects: each removal names the first profile
    /// whose rule matched. `inspect`'s treemap colours the image with it.
    public func combinedSelection(tree: FileTree, config: ImageConfig) -> Selection {
        var seen = Set<String>()
        let profiles = named.flatMap(\.profiles).filter { seen.insert($0.name).inserted }
        let policy = SelectionPolicy(
            profiles: profiles, keep: [], remove: [],
            protected: ProtectedPaths.find(config: config, tree: tree))
        return Selector(policy: policy).select(tree)
    }
}
