import WhittleArchive
import WhittleFlatten

/// One path that more than one layer wrote (or deleted), as dive lists it.
public struct InefficientPath: Codable, Sendable, Equatable {
    /// Absolute, as dive prints it: `/var/lib/dpkg/status`.
    public var path: String
    /// How many layers had this path as a leaf (a whiteout counts).
    public var count: Int
    /// The sum over those layers of the path's size; a whiteout adds what it deleted.
    public var cumulativeBytes: Int64

    public init(path: String, count: Int, cumulativeBytes: Int64) {
        self.path = path
        self.count = count
        self.cumulativeBytes = cumulativeBytes
    }
}

/// Wasted space across layers, with dive's definitions, so the figures can be set next to
/// `dive --ci` on the same image.
public struct WasteReport: Codable, Sendable, Equatable {
    /// Sum of `cumulativeBytes` over every path seen in two or more layers (dive's `wastedBytes`).
    public var wastedBytes: Int64
    /// Sum over all paths of their smallest size, over the sum of their cumulative sizes;
    /// 1 when nothing was counted (dive's `efficiency`).
    public var efficiency: Double
    /// `wastedBytes` as a percentage of `userSizeBytes` (dive prints the same); nil when
    /// there are no user bytes.
    public var userWastedPercent: Double?
    /// Sum of the entry sizes of every layer (dive's image `sizeBytes`).
    public var sizeBytes: Int64
    /// The same without the first layer: what the image's own build added.
    public var userSizeBytes: Int64
    /// Per layer, the sum of its entries' sizes.
    public var layerSizes: [Int64]
    /// How many paths were seen in two or more layers, zero-byte ones included.
    public var inefficientPathCount: Int
    /// The largest of those, biggest first (ties by path).
    public var inefficientPaths: [InefficientPath]

    // Written by hand so that a missing percentage is an explicit null: the JSON keeps
    // one shape for scripts.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(wastedBytes, forKey: .wastedBytes)
        try container.encode(efficiency, forKey: .efficiency)
        try container.encode(userWastedPercent, forKey: .userWastedPercent)
        try container.encode(sizeBytes, forKey: .sizeBytes)
        try container.encode(userSizeBytes, forKey: .userSizeBytes)
        try container.encode(layerSizes, forKey: .layerSizes)
        try container.encode(inefficientPathCount, forKey: .inefficientPathCount)
        try container.encode(inefficientPaths, forKey: .inefficientPaths)
    }
}

/// Computes dive's wasted-bytes figures from the layer entries as they stream past.
///
/// Feed it through `Flattener.entryObserver` (see `observer`) and call `endLayer(_:)`
/// after each layer. It keeps its own path-keyed model of the layers instead of reading the
/// flattened tree, because dive's model differs from Docker's applier in ways that show in
/// the figures, and agreement with dive is the point of them:
/// - a path is keyed by its literal name in the tar, never resolved through symlinks;
/// - opaque markers (`.wh..wh..opq`) are ignored, so they delete nothing;
/// - a whiteout of a directory counts the sizes in dive's stacked tree below it, where a
///   file replaced by a directory (or the reverse) keeps the lower children;
/// - a whiteout of a plain file counts 0 bytes (the file's own size was already counted
///   in the layer that wrote it);
/// - a whiteout naming a path missing below ends dive's walk of that layer: the layer's
///   remaining leaves (in dive's sorted order) are not counted, and the missing path
///   counts -1 towards the minimum sizes.
public final class WasteAnalyzer {
    /// Dive's stacked tree of every finished layer.
    private var stacked = ModelNode()
    private var current: (number: Int, tree: ModelNode)?
    private var currentLayerSize: Int64 = 0
    private var finishedLayers = 0
    private var layerSizes: [Int64] = []
    private var statistics: [String: PathStatistics] = [:]
    /// Paths in the order they reached a count of two, as dive collects them.
    private var inefficient: [String] = []

    public init() {}

    /// What to give the flattener (`FlattenedImage`'s `observer`) to feed this analyzer,
    /// which the flattener then keeps alive. Call `endLayer(_:)` after each layer.
    public var observer: Flattener.EntryObserver {
        { layer, entry, _ in self.observe(layer: layer, entry: entry) }
    }

    /// Takes one entry of layer `layer` (1-based, as the flattener counts).
    public func observe(layer: Int, entry: TarEntry) {
        if let current, current.number != layer { endLayer(current.number) }
        if current == nil {
            // Layers with no entries at all still count, as empty trees.
            while finishedLayers + 1 < layer { endLayer(finishedLayers + 1) }
            current = (layer, ModelNode())
        }
        guard let components = diveComponents(entry.path), let tree = current?.tree else { return }
        currentLayerSize += entry.size
        tree.add(components, size: entry.size, isDirectory: entry.kind == .directory)
    }

    /// Finishes layer `layer` (1-based): counts its leaves and stacks it. Layers not seen
    /// before it are finished as empty ones.
    public func endLayer(_ layer: Int) {
        while finishedLayers < layer {
            let number = finishedLayers + 1
            let tree: ModelNode
            if let current, current.number == number {
                tree = current.tree
            } else {
                tree = ModelNode()
            }
            finish(tree, isFirst: number == 1)
            layerSizes.append(current?.number == number ? currentLayerSize : 0)
            if current?.number == number {
                current = nil
                currentLayerSize = 0
            }
            finishedLayers = number
        }
    }

    /// The figures so far; an open layer is finished first.
    public func report(top: Int = 20) -> WasteReport {
        if let current { endLayer(current.number) }
        var minimumSum: Int64 = 0
        var cumulativeSum: Int64 = 0
        for statistic in statistics.values {
            minimumSum += statistic.minimum
            cumulativeSum += statistic.cumulative
        }
        let paths = inefficient.compactMap { path in
            statistics[path].map { InefficientPath(path: path, count: $0.count, cumulativeBytes: $0.cumulative) }
        }
        let wasted = paths.reduce(Int64(0)) { $0 + $1.cumulativeBytes }
        let ranked = paths.sorted {
            $0.cumulativeBytes != $1.cumulativeBytes
                ? $0.cumulativeBytes > $1.cumulativeBytes
                : $0.path.utf8.lexicographicallyPrecedes($1.path.utf8)
        }
        let size = layerSizes.reduce(0, +)
        let userSize = size - (layerSizes.first ?? 0)
        return WasteReport(
            wastedBytes: wasted,
            efficiency: cumulativeSum == 0 ? 1 : Double(minimumSum) / Double(cumulativeSum),
            userWastedPercent: userSize == 0 ? nil : Double(wasted) / Double(userSize) * 100,
            sizeBytes: size, userSizeBytes: userSize, layerSizes: layerSizes,
            inefficientPathCount: paths.count, inefficientPaths: Array(ranked.prefix(max(0, top))))
    }

    // MARK: dive's model

    private struct PathStatistics {
        var cumulative: Int64 = 0
        /// -1 until a size is recorded: dive's starting value, which survives for a path
        /// only reached through a whiteout of something missing.
        var minimum: Int64 = -1
        var count = 0
    }

    /// Counts the leaves of a finished layer tree, then stacks it.
    private func finish(_ tree: ModelNode, isFirst: Bool) {
        // Dive compares the first layer's whiteouts against that layer itself.
        let lower = isFirst ? tree.copy() : stacked
        walkLeaves: for (components, leaf) in tree.leavesInDiveOrder() {
            let isWhiteout = components.last?.hasPrefix(whiteoutPrefix) ?? false
            let path = diveDisplayPath(components)
            var size: Int64 = 0
            if isWhiteout {
                guard let victim = lower.node(at: diveTarget(components)) else {
                    if statistics[path] == nil { statistics[path] = PathStatistics() }
                    break walkLeaves
                }
                if victim.isDirectory { size = victim.subtreeSize }
            } else {
                size = leaf.size
            }
            var statistic = statistics[path] ?? PathStatistics()
            statistic.cumulative += size
            if statistic.minimum < 0 || size < statistic.minimum { statistic.minimum = size }
            statistic.count += 1
            if statistic.count == 2 { inefficient.append(path) }
            statistics[path] = statistic
        }
        if isFirst { stacked = tree.copy() }
        stacked.stack(tree)
    }
}

private let whiteoutPrefix = ".wh."
private let opaquePrefix = ".wh..wh.."

/// A node of dive's per-layer and stacked trees: a payload (size, directory or not) and
/// children, which a new payload never removes.
final class ModelNode {
    var children: [String: ModelNode] = [:]
    var size: Int64 = 0
    var isDirectory = false

    /// Dive's `AddPath`: missing parents get an empty payload (not a directory), the last
    /// node gets this one; names starting `.wh..wh..` are never created.
    func add<C: Collection>(_ components: C, size: Int64, isDirectory: Bool) where C.Element == String {
        var node = self
        for name in components {
            if let child = node.children[name] {
                node = child
            } else {
                if name.hasPrefix(opaquePrefix) { return }
                let child = ModelNode()
                node.children[name] = child
                node = child
            }
        }
        guard node !== self else { return }
        node.size = size
        node.isDirectory = isDirectory
    }

    func node<C: Collection>(at components: C) -> ModelNode? where C.Element == String {
        var node = self
        for name in components where !name.isEmpty {
            guard let child = node.children[name] else { return nil }
            node = child
        }
        return node
    }

    func remove(_ components: [String]) {
        guard let name = components.last, let parent = node(at: components.dropLast()) else { return }
        parent.children[name] = nil
    }

    /// This node's payload size plus every descendant's.
    var subtreeSize: Int64 {
        children.values.reduce(size) { $0 + $1.subtreeSize }
    }

    func copy() -> ModelNode {
        let copy = ModelNode()
        copy.size = size
        copy.isDirectory = isDirectory
        for (name, child) in children { copy.children[name] = child.copy() }
        return copy
    }

    /// Children in byte order of their names, as Go's `sort.Strings` orders them.
    var sortedChildren: [(String, ModelNode)] {
        children.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// Every node below this one, children before parents, siblings in byte order: the
    /// order of dive's `VisitDepthChildFirst`.
    func visitChildFirst(_ prefix: [String] = [], _ visit: ([String], ModelNode) -> Void) {
        for (name, child) in sortedChildren {
            let components = prefix + [name]
            child.visitChildFirst(components, visit)
            visit(components, child)
        }
    }

    func leavesInDiveOrder() -> [([String], ModelNode)] {
        var leaves: [([String], ModelNode)] = []
        visitChildFirst { components, node in
            if node.children.isEmpty { leaves.append((components, node)) }
        }
        return leaves
    }

    /// Dive's `Stack`: every node of `upper`, children first; a whiteout removes its
    /// target, anything else is added over what is there.
    func stack(_ upper: ModelNode) {
        upper.visitChildFirst { components, node in
            if components.last?.hasPrefix(whiteoutPrefix) ?? false {
                remove(diveTarget(components))
            } else {
                add(components, size: node.size, isDirectory: node.isDirectory)
            }
        }
    }
}

/// The path a whiteout leaf stands for: its own name without `.wh.`.
func diveTarget(_ components: [String]) -> [String] {
    guard let last = components.last else { return components }
    return components.dropLast() + [String(last.dropFirst(whiteoutPrefix.count))]
}

/// How dive names a leaf: absolute, a whiteout under the name it deletes.
func diveDisplayPath(_ components: [String]) -> String {
    let isWhiteout = components.last?.hasPrefix(whiteoutPrefix) ?? false
    let names = isWhiteout ? diveTarget(components) : components
    // Names are never empty (but a bare `.wh.`'s target), so dive's `//` clean-up has
    // nothing to do here.
    return "/" + names.joined(separator: "/")
}

/// An entry name cleaned as Go's `path.Clean` does, split into names; nil for the root
/// entry (`.` or `./`), which dive skips.
func diveComponents(_ name: String) -> [String]? {
    // Split on bytes: `Character` splitting costs more than the rest of the analysis.
    let utf8 = name.utf8
    let slash = UInt8(ascii: "/")
    let dot = UInt8(ascii: ".")
    let rooted = utf8.first == slash
    var parts: [String] = []
    for part in utf8.split(separator: slash, omittingEmptySubsequences: true) {
        if part.count == 1, part.first == dot { continue }
        if part.count == 2, part.allSatisfy({ $0 == dot }) {
            if let last = parts.last, last != ".." {
                parts.removeLast()
            } else if !rooted {
                parts.append("..")
            }
            continue
        }
        parts.append(String(Substring(part)))
    }
    if parts.isEmpty && !rooted { return nil }
    return parts
}
