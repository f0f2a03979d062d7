import WhittleFlatten
import WhittleImage

/// One layer as `inspect` shows it.
public struct LayerReport: Codable, Sendable, Equatable {
    /// 1-based, as `docker history` counts from the bottom.
    public var index: Int
    /// From the config's history entries that made a layer; nil when the history is short.
    public var createdBy: String?
    public var entries: Int
    /// Sum of regular file sizes, uncompressed.
    public var fileBytes: Int64
    /// The blob as stored in the archive (compressed or not).
    public var storedBytes: Int64
    /// `none`, `gzip` or `zstd`.
    public var compression: String
    public var diffID: String

    // Optionals are written as null rather than left out, so the JSON keeps one shape.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(entries, forKey: .entries)
        try container.encode(fileBytes, forKey: .fileBytes)
        try container.encode(storedBytes, forKey: .storedBytes)
        try container.encode(compression, forKey: .compression)
        try container.encode(diffID, forKey: .diffID)
    }
}

/// Sizes of the whole image.
public struct ImageTotals: Codable, Sendable, Equatable {
    public var layers: Int
    public var entries: Int
    /// Every layer's file bytes added up, overwritten and deleted files included.
    public var layerFileBytes: Int64
    public var storedBytes: Int64
    /// The flattened tree: what a single layer would hold.
    public var flattenedFiles: Int
    public var flattenedBytes: Int64
}

/// A named way to remove paths (a profile), given to the inspector as predicates so this
/// module need not know how profiles are written.
///
/// Paths are tree paths without a leading slash. A path is removed when one of the parts
/// removes it: when the part's `remove` matches the path or a directory above it, and its
/// `keep` matches neither.
public struct RemovalRule {
    public struct Part {
        public var remove: (String) -> Bool
        public var keep: (String) -> Bool
        /// False only when no path strictly inside the directory can match `remove`: lets
        /// the walk skip whole subtrees.
        public var removeMayMatchBelow: (String) -> Bool
        /// The same for `keep`.
        public var keepMayMatchBelow: (String) -> Bool
        /// Parts with the same key select the same paths, so one walk serves them all (a
        /// composite profile repeats the parts it includes). Nil: never shared.
        public var key: String?

        public init(remove: @escaping (String) -> Bool, keep: @escaping (String) -> Bool = { _ in false },
                    removeMayMatchBelow: @escaping (String) -> Bool = { _ in true },
                    keepMayMatchBelow: @escaping (String) -> Bool = { _ in true }, key: String? = nil) {
            self.remove = remove
            self.keep = keep
            self.removeMayMatchBelow = removeMayMatchBelow
            self.keepMayMatchBelow = keepMayMatchBelow
            self.key = key
        }
    }

    public var name: String
    public var summary: String
    public var parts: [Part]

    public init(name: String, summary: String = "", parts: [Part]) {
        self.name = name
        self.summary = summary
        self.parts = parts
    }

    /// One part that removes what `remove` matches (with what is below it), keeping nothing.
    public init(name: String, summary: String = "", remove: @escaping (String) -> Bool) {
        self.init(name: name, summary: summary, parts: [Part(remove: remove)])
    }
}

/// What one rule would remove from the flattened tree.
public struct RemovalEstimate: Codable, Sendable, Equatable {
    public var name: String
    public var summary: String
    /// Non-directory entries removed.
    public var files: Int
    /// Bytes freed: a hardlinked file counts only when every one of its names goes.
    public var bytes: Int64
    /// Per package, when package databases were read.
    public var packages: PackageLossSummary?

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(summary, forKey: .summary)
        try container.encode(files, forKey: .files)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(packages, forKey: .packages)
    }
}

/// Everything `whittle inspect` reports.
public struct ImageInspection: Codable, Sendable, Equatable {
    public var image: String
    public var tags: [String]
    public var layers: [LayerReport]
    public var totals: ImageTotals
    public var waste: WasteReport
    /// Nil when no rules were given (no profiles found).
    public var profiles: [RemovalEstimate]?
    /// What each OS package owns; nil unless asked for (it reads file contents).
    public var packages: [PackageLoss]?

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(image, forKey: .image)
        try container.encode(tags, forKey: .tags)
        try container.encode(layers, forKey: .layers)
        try container.encode(totals, forKey: .totals)
        try container.encode(waste, forKey: .waste)
        try container.encode(profiles, forKey: .profiles)
        try container.encode(packages, forKey: .packages)
    }
}

/// Reads an image headers-only and gathers the figures of `ImageInspection`.
///
/// Uncompressed layers are never read past their tar headers: file data is skipped by
/// offset. Compressed layers must be inflated to reach the headers at all. Digests are not
/// checked (that would mean reading every byte); `slim` checks them.
public struct ImageInspector {
    public var path: String
    public var selection: ImageSelection
    /// How many inefficient paths to list.
    public var top: Int
    /// Read dpkg/apk databases to attribute paths to packages (reads those small files).
    public var readPackages: Bool

    public init(path: String, selection: ImageSelection = ImageSelection(), top: Int = 20, readPackages: Bool = false) {
        self.path = path
        self.selection = selection
        self.top = top
        self.readPackages = readPackages
    }

    /// - Parameter rules: what to estimate removals for; nil when there is nothing to
    ///   estimate with (no profiles found), which the report keeps apart from an empty list.
    public func run(rules: [RemovalRule]? = nil, progress: ((String) -> Void)? = nil) throws -> ImageInspection {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        progress?("reading \(path)")
        let image = try SavedImage(path: path, selection: selection, scratch: scratch)
        let flattener = Flattener(scratch: scratch)
        let analyzer = WasteAnalyzer()
        analyzer.attach(to: flattener)
        let history = Self.layerHistory(image.config)
        var layers: [LayerReport] = []
        for location in image.layers {
            let stream = try LayerStream(location, verifying: false)
            let summary = try flattener.apply(stream)
            analyzer.endLayer(location.index + 1)
            progress?("read layer \(location.index + 1)/\(image.layers.count) (\(summary.entries) entries)")
            layers.append(LayerReport(
                index: location.index + 1,
                createdBy: location.index < history.count ? history[location.index] : nil,
                entries: summary.entries, fileBytes: summary.fileBytes, storedBytes: summary.storedBytes,
                compression: Self.name(of: stream.compression), diffID: location.diffID))
        }
        let tree = flattener.tree
        let inodes = InodeCensus(tree)
        let ownership = readPackages ? try PackageOwnership(tree: tree) : nil
        var walks: [String: RemovedNames] = [:]
        let estimates = rules?.map {
            Self.estimate($0, tree: tree, census: inodes, ownership: ownership, walks: &walks)
        }
        return ImageInspection(
            image: path, tags: image.tags, layers: layers,
            totals: ImageTotals(
                layers: layers.count, entries: layers.reduce(0) { $0 + $1.entries },
                layerFileBytes: layers.reduce(0) { $0 + $1.fileBytes },
                storedBytes: layers.reduce(0) { $0 + $1.storedBytes },
                flattenedFiles: inodes.names, flattenedBytes: inodes.bytes),
            waste: analyzer.report(top: top),
            profiles: estimates,
            packages: ownership.map { $0.packageTotals })
    }

    /// `created_by` of the history entries that made a layer, in layer order.
    static func layerHistory(_ config: JSONValue) -> [String] {
        (config["history"]?.arrayValue ?? [])
            .filter { $0["empty_layer"]?.boolValue != true }
            .map { $0["created_by"]?.stringValue ?? "" }
    }

    static func name(of compression: LayerCompression) -> String {
        switch compression {
        case .none: return "none"
        case .gzip: return "gzip"
        case .zstd: return "zstd"
        }
    }

    typealias RemovedNames = [ObjectIdentifier: (path: String, inode: Inode)]

    /// Walks the tree once per part of the rule (unless `walks` has the part already),
    /// parents first, so each path is matched only against its own name: what is above
    /// it is carried down.
    static func estimate(_ rule: RemovalRule, tree: FileTree, census: InodeCensus, ownership: PackageOwnership?,
                         walks: inout [String: RemovedNames]) -> RemovalEstimate
    {
        var removed: RemovedNames = [:]
        for part in rule.parts {
            let names: RemovedNames
            if let key = part.key, let known = walks[key] {
                names = known
            } else {
                names = removedNames(part, tree: tree)
                if let key = part.key { walks[key] = names }
            }
            removed.merge(names) { first, _ in first }
        }

        var namesPerInode: [ObjectIdentifier: Int] = [:]
        var removedSizes: [String: Int64] = [:]
        for (path, inode) in removed.values {
            namesPerInode[ObjectIdentifier(inode), default: 0] += 1
            removedSizes[path] = inode.size
        }
        var bytes: Int64 = 0
        for (inode, count) in namesPerInode where census.linkCount[inode] == count {
            bytes += census.size[inode] ?? 0
        }
        return RemovalEstimate(
            name: rule.name, summary: rule.summary, files: removed.count, bytes: bytes,
            packages: ownership.map { $0.losses(removing: removedSizes) })
    }

    /// The non-directory names one part removes. Order does not matter here, so children
    /// are taken unsorted.
    static func removedNames(_ part: RemovalRule.Part, tree: FileTree) -> RemovedNames {
        var removed: RemovedNames = [:]
        func takeAll(_ node: Node, path: String) {
            for child in (node.children ?? [:]).values {
                let childPath = path + "/" + child.name
                if let inode = child.inode {
                    removed[ObjectIdentifier(child)] = (childPath, inode)
                } else {
                    takeAll(child, path: childPath)
                }
            }
        }
        func walk(_ node: Node, path: String, removedAbove: Bool) {
            for child in (node.children ?? [:]).values {
                let childPath = path.isEmpty ? child.name : path + "/" + child.name
                // A kept path spares everything below it.
                if part.keep(childPath) { continue }
                let isRemoved = removedAbove || part.remove(childPath)
                if let inode = child.inode {
                    if isRemoved { removed[ObjectIdentifier(child)] = (childPath, inode) }
                    continue
                }
                if isRemoved && !part.keepMayMatchBelow(childPath) {
                    takeAll(child, path: childPath)
                } else if isRemoved || part.removeMayMatchBelow(childPath) {
                    walk(child, path: childPath, removedAbove: isRemoved)
                }
            }
        }
        walk(tree.root, path: "", removedAbove: false)
        return removed
    }
}

/// How many names each inode has in the tree, and the bytes of distinct inodes.
struct InodeCensus {
    var linkCount: [ObjectIdentifier: Int] = [:]
    var size: [ObjectIdentifier: Int64] = [:]
    var names = 0
    var bytes: Int64 = 0

    init(_ tree: FileTree) {
        tree.walk { _, node in
            guard let inode = node.inode else { return }
            let key = ObjectIdentifier(inode)
            names += 1
            if linkCount[key] == nil {
                size[key] = inode.size
                bytes += inode.size
            }
            linkCount[key, default: 0] += 1
        }
    }
}
