import Foundation
import WhittleFlatten
import WhittleSelect

/// The flattened tree as the HTML report's treemap draws it: directories with their cells,
/// each cell coloured by what happened to it. Small files are folded, per directory and
/// per category, into one "N small files" cell, and a directory whose whole subtree is
/// small folds into its parent the same way, so the page stays small for any image.
///
/// Bytes count each inode once, as `Selection`'s figures do: a hardlinked inode counts
/// under its first kept name, or, when no name of it stays, under its first removed one.
/// The cells therefore add up to the selection's before, after and removed figures.
public struct Treemap: Encodable, Sendable {
    public struct Category: Encodable, Sendable, Equatable {
        public enum Kind: String, Encodable, Sendable {
            /// Stays in the output (or, for inspect, under every profile).
            case kept
            /// Removed by a rule or a trace (or, for inspect, removable by a profile).
            case removed
        }

        public let name: String
        public let kind: Kind
        public let color: String
    }

    /// One element of the tree. Encoded as arrays to keep the page small:
    /// a directory `[name, [children]]`, a file `[name, bytes, files, category, rule]`
    /// (rule -1 when none), a fold of small files `[name, bytes, files, category]`.
    public indirect enum Cell: Encodable, Sendable {
        case directory(name: String, children: [Cell])
        case file(name: String, bytes: Int64, files: Int, category: Int, rule: Int)
        case folded(bytes: Int64, files: Int, category: Int)

        public func encode(to encoder: Encoder) throws {
            var container = encoder.unkeyedContainer()
            switch self {
            case let .directory(name, children):
                try container.encode(name)
                try container.encode(children)
            case let .file(name, bytes, files, category, rule):
                try container.encode(name)
                try container.encode(bytes)
                try container.encode(files)
                try container.encode(category)
                try container.encode(rule)
            case let .folded(bytes, files, category):
                try container.encode("")
                try container.encode(bytes)
                try container.encode(files)
                try container.encode(category)
            }
        }

        /// Cells the page draws (those with bytes); a directory counts what it holds.
        public var drawnCells: Int {
            switch self {
            case let .directory(_, children): return children.reduce(0) { $0 + $1.drawnCells }
            case let .file(_, bytes, _, _, _), let .folded(bytes, _, _): return bytes > 0 ? 1 : 0
            }
        }
    }

    public let categories: [Category]
    /// Rule labels (`profile:pattern`) that files point at.
    public let rules: [String]
    /// Files below this many bytes are folded.
    public let threshold: Int64
    public let root: Cell

    /// What a name under a removal becomes: a category, and the rule's label if any.
    typealias Decision = (category: String, kind: Category.Kind, rule: String?)

    /// The slim treemap: each file kept (by its trace reason, with a trace), or removed by
    /// the profile (or `cli`, `trace`) whose rule chose it.
    /// - Parameters:
    ///   - removedPrefix: what a removed category's name starts with, before the profile's.
    ///   - keptLabel: the category of what stays, without a trace.
    public init(tree: FileTree, selection: Selection, removedPrefix: String = "removed by ", keptLabel: String = "kept")
    {
        let reasons = Dictionary(
            selection.kept.map { ($0.path, $0.reason.description) }, uniquingKeysWith: { a, _ in a })
        var builder = TreemapBuilder(tree: tree, selection: selection)
        builder.keptDecision = { path in
            (category: reasons[path].map { "kept: \($0)" } ?? keptLabel, kind: .kept, rule: nil)
        }
        builder.removedDecision = { removal in
            (category: removedPrefix + removal.origin.name, kind: .removed, rule: removal.rule)
        }
        self = builder.build()
    }

    init(categories: [Category], rules: [String], threshold: Int64, root: Cell) {
        self.categories = categories
        self.rules = rules
        self.threshold = threshold
        self.root = root
    }

    /// The data as the page embeds it: JSON with `<`, `>` and `&` escaped, so that no
    /// file name can end the script element it sits in. Keys sorted, so that the same image
    /// gives the same page.
    public func embeddedJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(self), as: UTF8.self)
        return json.replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
    }
}

/// Builds a `Treemap` in two walks of the tree: the first finds every inode a kept name
/// holds, the second places every name and folds the small ones.
struct TreemapBuilder {
    private let tree: FileTree
    private let selection: Selection
    private let removalOfPath: [String: Removal]
    var keptDecision: (String) -> Treemap.Decision = { _ in ("kept", .kept, nil) }
    var removedDecision: (Removal) -> Treemap.Decision = { ("removed by \($0.origin.name)", .removed, $0.rule) }
    private var categories: [Treemap.Category] = []
    private var categoryIndex: [String: Int] = [:]
    private var rules: [String] = []
    private var ruleIndex: [String: Int] = [:]
    private var keptInodes = Set<ObjectIdentifier>()
    private var counted = Set<ObjectIdentifier>()
    private var threshold: Int64 = 1

    init(tree: FileTree, selection: Selection) {
        self.tree = tree
        self.selection = selection
        removalOfPath = Dictionary(selection.removals.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// One cell for every file of at least 1/20000 of the image: some thousands of cells at
    /// most, whatever the number of entries.
    mutating func build() -> Treemap {
        findKeptInodes(tree.root, removed: false)
        threshold = max(1, selection.before.bytes / 20000)
        let root = place(tree.root, name: "", path: "", removal: nil)
        return Treemap(categories: categories, rules: rules, threshold: threshold, root: root.cell)
    }

    private mutating func findKeptInodes(_ node: Node, removed: Bool) {
        for child in node.sortedChildren {
            let gone = removed || !selection.keeps(child)
            if let inode = child.inode {
                if !gone { keptInodes.insert(ObjectIdentifier(inode)) }
            } else {
                findKeptInodes(child, removed: gone)
            }
        }
    }

    private struct Placed {
        var cell: Treemap.Cell
        var bytes: Int64
        /// Per category: bytes and files, for folding the whole subtree into its parent.
        var byCategory: [Int: (bytes: Int64, files: Int)]
    }

    /// A directory's cell: its big files and big subdirectories as cells, the rest folded
    /// per category.
    private mutating func place(_ node: Node, name: String, path: String, removal: Removal?) -> Placed {
        var cells: [Treemap.Cell] = []
        var folded: [Int: (bytes: Int64, files: Int)] = [:]
        var total: [Int: (bytes: Int64, files: Int)] = [:]
        var bytes: Int64 = 0
        for child in node.sortedChildren {
            let childPath = path.isEmpty ? child.name : path + "/" + child.name
            let childRemoval = removal ?? (selection.keeps(child) ? nil : removalOfPath[childPath])
            if let inode = child.inode {
                let (category, rule) = decide(childPath, removal: childRemoval)
                let size = credit(inode, removed: childRemoval != nil)
                bytes += size
                add(&total, category, size, 1)
                if size >= threshold {
                    cells.append(.file(name: child.name, bytes: size, files: 1, category: category, rule: rule))
                } else {
                    add(&folded, category, size, 1)
                }
                continue
            }
            let inner = place(child, name: child.name, path: childPath, removal: childRemoval)
            bytes += inner.bytes
            for (category, sum) in inner.byCategory {
                add(&total, category, sum.bytes, sum.files)
                if inner.bytes < threshold { add(&folded, category, sum.bytes, sum.files) }
            }
            if inner.bytes >= threshold { cells.append(inner.cell) }
        }
        for (category, sum) in folded.sorted(by: { $0.key < $1.key }) {
            cells.append(.folded(bytes: sum.bytes, files: sum.files, category: category))
        }
        return Placed(cell: .directory(name: name, children: cells), bytes: bytes, byCategory: total)
    }

    private func add(_ sums: inout [Int: (bytes: Int64, files: Int)], _ category: Int, _ bytes: Int64, _ files: Int) {
        let sum = sums[category] ?? (0, 0)
        sums[category] = (sum.bytes + bytes, sum.files + files)
    }

    /// The bytes this name is credited with: an inode's size once, under its first kept
    /// name, or under its first removed name when no name of it stays.
    private mutating func credit(_ inode: Inode, removed: Bool) -> Int64 {
        let identity = ObjectIdentifier(inode)
        if removed, keptInodes.contains(identity) { return 0 }
        return counted.insert(identity).inserted ? inode.size : 0
    }

    private mutating func decide(_ path: String, removal: Removal?) -> (category: Int, rule: Int) {
        let decision = removal.map(removedDecision) ?? keptDecision(path)
        let category =
            categoryIndex[decision.category]
            ?? {
                let index = categories.count
                categories.append(
                    Treemap.Category(
                        name: decision.category, kind: decision.kind,
                        color: Self.color(decision.kind, among: categories)))
                categoryIndex[decision.category] = index
                return index
            }()
        guard let label = decision.rule else { return (category, -1) }
        let rule =
            ruleIndex[label]
            ?? {
                rules.append(label)
                ruleIndex[label] = rules.count - 1
                return rules.count - 1
            }()
        return (category, rule)
    }

    /// Cool colours for what stays, warm ones for what goes, in order of first use.
    private static func color(_ kind: Treemap.Category.Kind, among existing: [Treemap.Category]) -> String {
        let palette = kind == .kept ? keptPalette : removedPalette
        let used = existing.filter { $0.kind == kind }.count
        return palette[used % palette.count]
    }

    private static let keptPalette = [
        "#9fb3c8", "#5b8bd0", "#4fa3a5", "#7fb069", "#a48fd1", "#3f6e9e", "#88c0d0", "#6b9080", "#b4a7d6", "#2a9d8f",
    ]
    private static let removedPalette = [
        "#e4572e", "#f3a712", "#d7263d", "#ff8c61", "#b5179e", "#e9c46a", "#9c6644", "#f15bb5", "#c44536", "#ffb703",
    ]
}
