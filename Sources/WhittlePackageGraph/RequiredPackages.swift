/// What installed packages need, transitively: for a trace, the packages an app used stay
/// with everything they declare they require.
public enum RequiredPackages {
    /// The indices (into `records`) of `roots` and of every installed package their hard
    /// dependencies name, with Python markers evaluated and extras followed. A dependency
    /// nothing installed satisfies is not there to keep.
    public static func closure(of roots: [Int], records: [PackageRecord], environment: PackageEnvironment) -> [Int] {
        let graph = PackageGraph(records: records, environment: environment)
        let allowed = Array(repeating: true, count: records.count)
        let marked = Planner.mark(graph, roots: roots, allowed: allowed, hardOnly: true).marked
        return marked.indices.filter { marked[$0] }
    }
}
