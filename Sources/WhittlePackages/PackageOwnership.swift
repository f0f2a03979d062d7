import WhittleFlatten
import WhittleFiles

/// What removing some paths takes away from one OS package.
public struct PackageLoss: Codable, Sendable, Equatable {
    public var package: String
    /// Which database named it: `dpkg` or `apk`.
    public var manager: String
    public var filesLost: Int
    public var bytesLost: Int64
    /// Everything the package owns in the tree, for scale.
    public var filesOwned: Int
    public var bytesOwned: Int64

    public init(package: String, manager: String, filesLost: Int, bytesLost: Int64, filesOwned: Int, bytesOwned: Int64)
    {
        self.package = package
        self.manager = manager
        self.filesLost = filesLost
        self.bytesLost = bytesLost
        self.filesOwned = filesOwned
        self.bytesOwned = bytesOwned
    }
}

/// Per-package losses, plus what no package owns.
public struct PackageLossSummary: Codable, Sendable, Equatable {
    /// Largest `bytesLost` first, ties by name; packages that lose nothing are left out.
    public var packages: [PackageLoss]
    public var unownedFilesLost: Int
    public var unownedBytesLost: Int64
}

/// Which OS package owns each path of a flattened tree, from the dpkg and apk records of
/// the one package database reader (`PackageDatabase`).
///
/// Paths are the tree's (no leading slash): the reader resolved each listed path through
/// the tree's symlinks (with usrmerge dpkg lists `/lib/x86_64-linux-gnu/…` while the file
/// sits at `usr/lib/x86_64-linux-gnu/…`), and kept only non-directory entries: directories
/// are shared by many packages and hold no bytes of their own. The packages' own file lists
/// are the only map from path to package; no second index of every path is built.
/// Packages are named by their database key (`libc6:amd64` for a Multi-Arch: same package).
public struct PackageOwnership: Sendable {
    /// Package → `dpkg` or `apk`.
    public private(set) var managers: [String: String] = [:]
    private var owned: [String: (files: Int, bytes: Int64)] = [:]
    /// The databases read: what the package-level profile estimates plan with.
    public let database: PackageDatabase

    /// True when the tree has neither database.
    public var isEmpty: Bool { !database.hasSystemPackages }

    /// Reads the package databases of `tree`. A tree without any gives an empty mapping.
    public init(tree: FileTree) throws {
        self.init(database: try PackageDatabase(tree: tree), tree: tree)
    }

    /// The OS packages of a database already read from `tree`.
    public init(database: PackageDatabase, tree: FileTree) {
        self.database = database
        for package in database.packages where package.kind != .python {
            managers[package.key] = package.kind == .deb ? "dpkg" : "apk"
            var total = owned[package.key] ?? (0, 0)
            for path in package.files {
                guard let node = tree.lookup(path) else { continue }
                total.files += 1
                total.bytes += node.inode?.size ?? 0
            }
            owned[package.key] = total
        }
    }

    /// The OS packages owning `path` (with or without a leading slash, as the tree names
    /// it), in database order. Looks through every list: for tests and single questions.
    public func packages(owning path: String) -> [String] {
        let path = Self.normalize(path)
        return osPackages.filter { $0.files.contains(path) }.map(\.key)
    }

    /// Sums what removing `removed` (tree path → bytes) takes from each package. A path
    /// owned by several packages (dpkg diversions, shared files) counts for each.
    public func losses(removing listed: [String: Int64]) -> PackageLossSummary {
        let removed = Dictionary(
            listed.map { (Self.normalize($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        var lost: [String: (files: Int, bytes: Int64)] = [:]
        var owners = Set<String>()
        for package in osPackages {
            for path in package.files {
                guard let bytes = removed[path] else { continue }
                owners.insert(path)
                var total = lost[package.key] ?? (0, 0)
                total.files += 1
                total.bytes += bytes
                lost[package.key] = total
            }
        }
        let unowned = removed.filter { !owners.contains($0.key) }
        let packages = lost.map { name, total in
            PackageLoss(
                package: name, manager: managers[name] ?? "", filesLost: total.files, bytesLost: total.bytes,
                filesOwned: owned[name]?.files ?? 0, bytesOwned: owned[name]?.bytes ?? 0)
        }.sorted {
            $0.bytesLost != $1.bytesLost ? $0.bytesLost > $1.bytesLost : $0.package < $1.package
        }
        return PackageLossSummary(
            packages: packages, unownedFilesLost: unowned.count,
            unownedBytesLost: unowned.values.reduce(0, +))
    }

    private var osPackages: LazyFilterSequence<[InstalledPackage]> {
        database.packages.lazy.filter { $0.kind != .python }
    }

    /// Every package with how much it owns in the tree, largest first.
    public var packageTotals: [PackageLoss] {
        managers.keys.map { name in
            let total = owned[name] ?? (0, 0)
            return PackageLoss(
                package: name, manager: managers[name] ?? "", filesLost: 0, bytesLost: 0,
                filesOwned: total.files, bytesOwned: total.bytes)
        }.sorted { $0.bytesOwned != $1.bytesOwned ? $0.bytesOwned > $1.bytesOwned : $0.package < $1.package }
    }

    /// Package lists name paths as `/usr/bin/x` or `./usr/bin/x`; the tree names them `usr/bin/x`.
    static func normalize(_ path: String) -> String {
        foldLexically("", [path])
    }

}
