import WhittleArchive
import WhittleCompression
import WhittleFiles
import WhittleImage

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
    /// Every path any layer named (or a whiteout pointed at), interned once: the other
    /// structures refer to paths by id.
    private var paths = PathTable()
    /// Dive's stacked tree of every finished layer.
    private var stacked = StackedTree()
    private var currentLayer: Int?
    private var currentTree = LayerTree()
    private var currentLayerSize: Int64 = 0
    private var finishedLayers = 0
    private var layerSizes: [Int64] = []
    /// By path id; nil for a path no layer counted (dive has no entry for it).
    private var statistics: [PathStatistics?] = []
    /// Paths in the order they reached a count of two, as dive collects them.
    private var inefficient: [InefficientRecord] = []

    public init() {}

    /// What to give the flattener (`FlattenedImage`'s `observer`) to feed this analyzer,
    /// which the flattener then keeps alive. Call `endLayer(_:)` after each layer.
    public var observer: Flattener.EntryObserver {
        { layer, entry, _ in self.observe(layer: layer, entry: entry) }
    }

    /// Takes one entry of layer `layer` (1-based, as the flattener counts).
    public func observe(layer: Int, entry: TarEntry) {
        if let currentLayer, currentLayer != layer { endLayer(currentLayer) }
        if currentLayer == nil {
            // Layers with no entries at all still count, as empty trees.
            while finishedLayers + 1 < layer { endLayer(finishedLayers + 1) }
            currentLayer = layer
            currentTree = LayerTree()
        }
        guard let components = diveComponents(entry.path) else { return }
        currentLayerSize += entry.size
        currentTree.add(components, size: entry.size, isDirectory: entry.kind == .directory, paths: &paths)
    }

    /// Finishes layer `layer` (1-based): counts its leaves and stacks it. Layers not seen
    /// before it are finished as empty ones.
    public func endLayer(_ layer: Int) {
        while finishedLayers < layer {
            let number = finishedLayers + 1
            let isCurrent = currentLayer == number
            finish(isCurrent ? currentTree : LayerTree(), isFirst: number == 1)
            layerSizes.append(isCurrent ? currentLayerSize : 0)
            if isCurrent {
                currentLayer = nil
                currentTree = LayerTree()
                currentLayerSize = 0
            }
            finishedLayers = number
        }
    }

    /// The figures so far; an open layer is finished first.
    public func report(top: Int = 20) -> WasteReport {
        if let currentLayer { endLayer(currentLayer) }
        var minimumSum: Int64 = 0
        var cumulativeSum: Int64 = 0
        for case let statistic? in statistics {
            minimumSum += statistic.minimum
            cumulativeSum += statistic.cumulative
        }
        let found = inefficient.compactMap { record in
            statistics[Int(record.path)].map {
                InefficientPath(
                    path: record.spelling ?? paths.displayPath(record.path),
                    count: $0.count, cumulativeBytes: $0.cumulative)
            }
        }
        let wasted = found.reduce(Int64(0)) { $0 + $1.cumulativeBytes }
        let ranked = found.sorted {
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
            inefficientPathCount: found.count, inefficientPaths: Array(ranked.prefix(max(0, top))))
    }

    // MARK: dive's model

    private struct PathStatistics {
        var cumulative: Int64 = 0
        /// -1 until a size is recorded: dive's starting value, which survives for a path
        /// only reached through a whiteout of something missing.
        var minimum: Int64 = -1
        var count = 0
    }

    private struct InefficientRecord {
        var path: Int32
        /// The path as that layer spelled it, kept only when some name has two spellings
        /// that Swift's strings compare equal (dive's model keyed paths by such strings);
        /// otherwise the interned names give the same text.
        var spelling: String?
    }

    /// Counts the leaves of a finished layer tree, then stacks it.
    private func finish(_ tree: LayerTree, isFirst: Bool) {
        let order = tree.childFirstOrder(spellings: paths.names.spellings)
        // Dive compares the first layer's whiteouts against that layer itself. The stacked
        // tree is empty until then and becomes a copy of that layer anyway, so copying it
        // first lets the walk look there.
        if isFirst { stacked.copy(tree, paths: paths) }
        growStatistics()
        walkLeaves: for node in order where tree.isLeaf(node) {
            let leaf = tree.nodes[Int(node)]
            let name = paths.names.spellings[Int(leaf.spelling)]
            guard name.hasPrefix(whiteoutPrefix) else {
                count(leaf.payload.size, at: leaf.path, spelling: { tree.spelledPath(of: node, paths: self.paths) })
                continue
            }
            let targetName = String(name.dropFirst(whiteoutPrefix.count))
            let target = paths.names.intern(targetName)
            let parent = paths.parent(of: leaf.path)
            let targetPath = paths.intern(child: target.name, of: parent)
            growStatistics()
            // Dive looks the target up by name, skipping an empty one (a bare `.wh.`).
            let victim = targetName.isEmpty ? parent : targetPath
            guard let payload = stacked.payload(of: victim) else {
                if statistics[Int(targetPath)] == nil { statistics[Int(targetPath)] = PathStatistics() }
                break walkLeaves
            }
            let size = payload.isDirectory ? stacked.subtreeSize(of: victim, paths: paths) : 0
            count(
                size, at: targetPath,
                spelling: {
                    tree.spelledPath(of: node, paths: self.paths, replacingLastWith: target.spelling)
                })
        }
        stacked.stack(tree, order: order, paths: paths)
    }

    private func growStatistics() {
        if statistics.count < paths.count {
            statistics.append(contentsOf: repeatElement(nil, count: paths.count - statistics.count))
        }
    }

    /// Adds one leaf's size to its path's statistics.
    private func count(_ size: Int64, at path: Int32, spelling: () -> String) {
        var statistic = statistics[Int(path)] ?? PathStatistics()
        statistic.cumulative += size
        if statistic.minimum < 0 || size < statistic.minimum { statistic.minimum = size }
        statistic.count += 1
        if statistic.count == 2 {
            inefficient.append(InefficientRecord(path: path, spelling: paths.names.hasVariants ? spelling() : nil))
        }
        statistics[Int(path)] = statistic
    }
}

private let whiteoutPrefix = ".wh."
private let opaquePrefix = ".wh..wh.."

/// Names interned once. Ids are keyed the way Swift compares strings (canonical
/// equivalence), as the string-keyed dictionaries of dive's model in this file always were;
/// the exact bytes of a differently spelled but equal name are kept apart, since dive's
/// order and printed paths follow a layer's own spelling.
struct NameTable {
    private(set) var spellings: [String] = []
    /// The id of the first spelling of each name.
    private var firstSpelling: [String: Int32] = [:]
    /// Further spellings of a name, by its first spelling's id; rare.
    private var variants: [Int32: [Int32]] = [:]

    var hasVariants: Bool { !variants.isEmpty }

    /// The name's id, if it was ever interned.
    func lookup(_ text: String) -> Int32? { firstSpelling[text] }

    /// The name's id (its first spelling's) and the id of these exact bytes.
    mutating func intern(_ text: String) -> (name: Int32, spelling: Int32) {
        guard let name = firstSpelling[text] else {
            let name = append(text)
            firstSpelling[text] = name
            return (name, name)
        }
        if spellings[Int(name)].utf8.elementsEqual(text.utf8) { return (name, name) }
        for variant in variants[name, default: []] where spellings[Int(variant)].utf8.elementsEqual(text.utf8) {
            return (name, variant)
        }
        let variant = append(text)
        variants[name, default: []].append(variant)
        return (name, variant)
    }

    private mutating func append(_ text: String) -> Int32 {
        spellings.append(text)
        return Int32(spellings.count - 1)
    }
}

/// Every path as a parent id and a name id; id 0 is the root. Children are linked so a
/// subtree can be walked without a dictionary per node.
struct PathTable {
    static let root: Int32 = 0
    var names = NameTable()
    private var parents: [Int32] = [-1]
    private var nameIDs: [Int32] = [-1]
    private var firstChildren: [Int32] = [-1]
    private var nextSiblings: [Int32] = [-1]
    private var index: [UInt64: Int32] = [:]

    var count: Int { parents.count }

    func parent(of path: Int32) -> Int32 { parents[Int(path)] }

    func child(of parent: Int32, named name: Int32) -> Int32? {
        index[Self.key(parent, name)]
    }

    mutating func intern(child name: Int32, of parent: Int32) -> Int32 {
        if let existing = index[Self.key(parent, name)] { return existing }
        let path = Int32(parents.count)
        parents.append(parent)
        nameIDs.append(name)
        firstChildren.append(-1)
        nextSiblings.append(firstChildren[Int(parent)])
        firstChildren[Int(parent)] = path
        index[Self.key(parent, name)] = path
        return path
    }

    /// Calls `visit` with each path directly below `path`, in no particular order.
    func forEachChild(of path: Int32, _ visit: (Int32) -> Void) {
        var child = firstChildren[Int(path)]
        while child >= 0 {
            visit(child)
            child = nextSiblings[Int(child)]
        }
    }

    /// Absolute, names as first spelled: `/var/lib/dpkg/status`.
    func displayPath(_ path: Int32) -> String {
        var components: [String] = []
        var node = path
        while node > Self.root {
            components.append(names.spellings[Int(nameIDs[Int(node)])])
            node = parents[Int(node)]
        }
        return "/" + components.reversed().joined(separator: "/")
    }

    private static func key(_ parent: Int32, _ name: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: parent)) << 32 | UInt64(UInt32(bitPattern: name))
    }
}

/// What dive keeps on a node: its entry's size and whether it is a directory.
struct Payload {
    var size: Int64 = 0
    var isDirectory = false
}

/// One layer as dive's per-layer tree: a node per path the layer names, missing parents
/// included with an empty payload (not a directory).
struct LayerTree {
    struct Node {
        var payload = Payload()
        var path: Int32
        /// This layer's spelling of the node's name (its first one).
        var spelling: Int32
        var firstChild: Int32 = -1
        var nextSibling: Int32 = -1
    }

    private(set) var nodes: [Node] = [Node(path: PathTable.root, spelling: -1)]
    private var nodeOfPath: [Int32: Int32] = [PathTable.root: 0]

    func isLeaf(_ node: Int32) -> Bool { nodes[Int(node)].firstChild < 0 }

    /// Dive's `AddPath`: missing parents get an empty payload, the last node gets this one
    /// (a later entry for the same path replaces it); names starting `.wh..wh..` are never
    /// created, so such an entry adds nothing.
    mutating func add(_ components: [String], size: Int64, isDirectory: Bool, paths: inout PathTable) {
        var node: Int32 = 0
        for text in components {
            if text.hasPrefix(opaquePrefix) { return }
            let name = paths.names.intern(text)
            let path = paths.intern(child: name.name, of: nodes[Int(node)].path)
            if let existing = nodeOfPath[path] {
                node = existing
                continue
            }
            let child = Int32(nodes.count)
            nodes.append(Node(path: path, spelling: name.spelling, nextSibling: nodes[Int(node)].firstChild))
            nodes[Int(node)].firstChild = child
            nodeOfPath[path] = child
            node = child
        }
        guard node != 0 else { return }
        nodes[Int(node)].payload = Payload(size: size, isDirectory: isDirectory)
    }

    /// Every node but the root, children before parents, siblings in byte order of their
    /// names as Go's `sort.Strings` orders them: the order of dive's `VisitDepthChildFirst`.
    func childFirstOrder(spellings: [String]) -> [Int32] {
        var order: [Int32] = []
        order.reserveCapacity(nodes.count)
        appendChildFirst(below: 0, to: &order, spellings: spellings)
        return order
    }

    private func appendChildFirst(below node: Int32, to order: inout [Int32], spellings: [String]) {
        var children: [Int32] = []
        var child = nodes[Int(node)].firstChild
        while child >= 0 {
            children.append(child)
            child = nodes[Int(child)].nextSibling
        }
        // Siblings are linked newest first, and layers list a directory's names in order, so
        // reversed they are usually sorted already: checking costs one comparison each.
        children.reverse()
        let precedes = { (left: Int32, right: Int32) in
            compareNameBytes(
                spellings[Int(self.nodes[Int(left)].spelling)],
                spellings[Int(self.nodes[Int(right)].spelling)]) < 0
        }
        if !zip(children, children.dropFirst()).allSatisfy(precedes) { children.sort(by: precedes) }
        for child in children {
            appendChildFirst(below: child, to: &order, spellings: spellings)
            order.append(child)
        }
    }

    /// The node's path as this layer spells it, optionally with another last name.
    func spelledPath(of node: Int32, paths: PathTable, replacingLastWith last: Int32? = nil) -> String {
        var components: [String] = []
        var current = node
        while current > 0 {
            let spelling = current == node ? (last ?? nodes[Int(current)].spelling) : nodes[Int(current)].spelling
            components.append(paths.names.spellings[Int(spelling)])
            current = nodeOfPath[paths.parent(of: nodes[Int(current)].path)] ?? 0
        }
        return "/" + components.reversed().joined(separator: "/")
    }
}

/// Dive's stacked tree of the finished layers, by path id: nil for a path it does not
/// hold. A held path's parents are always held.
struct StackedTree {
    private var payloads: [Payload?] = [Payload()]

    func payload(of path: Int32) -> Payload? {
        Int(path) < payloads.count ? payloads[Int(path)] : nil
    }

    /// Every node of `tree` (the root aside) with its payload.
    mutating func copy(_ tree: LayerTree, paths: PathTable) {
        grow(to: paths.count)
        for node in tree.nodes.dropFirst() { payloads[Int(node.path)] = node.payload }
    }

    /// Dive's `Stack`: every node of `tree`, children first; a whiteout removes its
    /// target, anything else is added over what is there.
    mutating func stack(_ tree: LayerTree, order: [Int32], paths: PathTable) {
        grow(to: paths.count)
        for node in order {
            let layerNode = tree.nodes[Int(node)]
            let name = paths.names.spellings[Int(layerNode.spelling)]
            if name.hasPrefix(whiteoutPrefix) {
                remove(
                    named: String(name.dropFirst(whiteoutPrefix.count)),
                    below: paths.parent(of: layerNode.path), paths: paths)
            } else {
                add(layerNode.path, payload: layerNode.payload, paths: paths)
            }
        }
    }

    /// Adds `path` with this payload; missing parents get an empty one.
    private mutating func add(_ path: Int32, payload: Payload, paths: PathTable) {
        var ancestor = paths.parent(of: path)
        while ancestor >= 0, payloads[Int(ancestor)] == nil {
            payloads[Int(ancestor)] = Payload()
            ancestor = paths.parent(of: ancestor)
        }
        payloads[Int(path)] = payload
    }

    /// Drops the child `name` of `parent` with everything below it, if held.
    private mutating func remove(named name: String, below parent: Int32, paths: PathTable) {
        // A name never interned was never held.
        guard let nameID = paths.names.lookup(name), let path = paths.child(of: parent, named: nameID),
            payloads[Int(path)] != nil
        else { return }
        var pending = [path]
        while let next = pending.popLast() {
            payloads[Int(next)] = nil
            paths.forEachChild(of: next) { child in
                if payloads[Int(child)] != nil { pending.append(child) }
            }
        }
    }

    /// The path's payload size plus that of every held path below it.
    func subtreeSize(of path: Int32, paths: PathTable) -> Int64 {
        var total: Int64 = 0
        var pending = [path]
        while let next = pending.popLast() {
            total += payloads[Int(next)]?.size ?? 0
            paths.forEachChild(of: next) { child in
                if Int(child) < payloads.count, payloads[Int(child)] != nil { pending.append(child) }
            }
        }
        return total
    }

    private mutating func grow(to count: Int) {
        if payloads.count < count { payloads.append(contentsOf: repeatElement(nil, count: count - payloads.count)) }
    }
}

/// An entry name cleaned as Go's `path.Clean` does, split into names; nil for the root
/// entry (`.` or `./`), which dive skips.
func diveComponents(_ name: String) -> [String]? {
    let rooted = name.utf8.first == UInt8(ascii: "/")
    var parts: [String] = []
    for part in pathComponents(name) {
        if part == "." { continue }
        if part == ".." {
            if let last = parts.last, last != ".." {
                parts.removeLast()
            } else if !rooted {
                parts.append("..")
            }
            continue
        }
        parts.append(part)
    }
    if parts.isEmpty && !rooted { return nil }
    return parts
}

extension FlattenedImage {
    /// Reads and flattens an image while measuring its wasted space with dive's definitions
    /// (`WasteAnalyzer`). The analysis is dropped once its figures are taken, before the
    /// caller's later stages (selection, package databases) build their own structures.
    public static func measuringWaste(
        path: String, selection: ImageSelection, scratch: ScratchDirectory, verifying: Bool = true,
        deferringChecks: Bool = false, top: Int = 20, meter: ByteMeter? = nil, recordedDigests: MemberDigests? = nil,
        progress: (_ layer: LayerSummary, _ layerCount: Int) -> Void = { _, _ in }
    ) throws -> Flattened {
        let analyzer = WasteAnalyzer()
        let flattened = try FlattenedImage(
            path: path, selection: selection, scratch: scratch, verifying: verifying,
            deferringChecks: deferringChecks, observer: analyzer.observer, meter: meter,
            recordedDigests: recordedDigests
        ) { layer, count in
            // Each finished layer's own tree is counted and let go at once.
            analyzer.endLayer(layer.index + 1)
            progress(layer, count)
        }
        return Flattened(image: flattened, waste: analyzer.report(top: top))
    }
}
