import WhittleFlatten
import WhittleImage
import WhittleFiles
import WhittlePackages

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

    public init(package: String, manager: String, filesLost: Int, bytesLost: Int64, filesOwned: Int, bytesOwned: Int64) {
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
/// Paths are kept as the tree names them (no leading slash): the reader resolved each
/// listed path through the tree's symlinks (with usrmerge dpkg lists `/lib/x86_64-linux-gnu/…`
/// while the file sits at `usr/lib/x86_64-linux-gnu/…`). Only non-directory entries are
/// recorded: directories are shared by many packages and hold no bytes of their own.
/// Packages are named by their database key (`libc6:amd64` for a Multi-Arch: same package).
public struct PackageOwnership: Sendable {
    /// Tree path → owning packages, in the order the databases name them.
    public private(set) var owners: [String: [String]] = [:]
    /// Package → `dpkg` or `apk`.
    public private(set) var managers: [String: String] = [:]
    private var owned: [String: (files: Int, bytes: Int64)] = [:]
    /// The databases read: what the package-level profile estimates plan with.
    public let database: PackageDatabase

    /// True when the tree has neither database.
    public var isEmpty: Bool { managers.isEmpty }

    /// Reads the package databases of `tree`. A tree without any gives an empty mapping.
    public init(tree: FileTree) throws {
        self.init(database: try PackageDatabase(tree: tree), tree: tree)
    }

    /// The OS packages of a database already read from `tree`.
    public init(database: PackageDatabase, tree: FileTree) {
        self.database = database
        for package in database.packages where package.kind != .python {
            managers[package.key] = package.kind == .deb ? "dpkg" : "apk"
            for path in package.files {
                if let node = tree.lookup(path) { record(path, node: node, package: package.key) }
            }
        }
    }

    private mutating func record(_ path: String, node: Node, package: String) {
        var names = owners[path] ?? []
        guard !names.contains(package) else { return }
        names.append(package)
        owners[path] = names
        let size = node.inode?.size ?? 0
        var total = owned[package] ?? (0, 0)
        total.files += 1
        total.bytes += size
        owned[package] = total
    }

    /// The packages owning `path` (with or without a leading slash, as the tree names it).
    public func packages(owning path: String) -> [String] {
        owners[Self.normalize(path)] ?? []
    }

    /// Sums what removing `removed` (tree path → bytes) takes from each package. A path
    /// owned by several packages (dpkg diversions, shared files) counts for each.
    public func losses(removing removed: [String: Int64]) -> PackageLossSummary {
        var lost: [String: (files: Int, bytes: Int64)] = [:]
        var unownedFiles = 0
        var unownedBytes: Int64 = 0
        for (rawPath, bytes) in removed {
            let names = owners[Self.normalize(rawPath)] ?? []
            if names.isEmpty {
                unownedFiles += 1
                unownedBytes += bytes
            }
            for name in names {
                var total = lost[name] ?? (0, 0)
                total.files += 1
                total.bytes += bytes
                lost[name] = total
            }
        }
        let packages = lost.map { name, total in
            PackageLoss(package: name, manager: managers[name] ?? "", filesLost: total.files, bytesLost: total.bytes,
                        filesOwned: owned[name]?.files ?? 0, bytesOwned: owned[name]?.bytes ?? 0)
        }.sorted {
            $0.bytesLost != $1.bytesLost ? $0.bytesLost > $1.bytesLost : $0.package < $1.package
        }
        return PackageLossSummary(packages: packages, unownedFilesLost: unownedFiles, unownedBytesLost: unownedBytes)
    }

    /// Every package with how much it owns in the tree, largest first.
    public var packageTotals: [PackageLoss] {
        managers.keys.map { name in
            let total = owned[name] ?? (0, 0)
            return PackageLoss(package: name, manager: managers[name] ?? "", filesLost: 0, bytesLost: 0,
                               filesOwned: total.files, bytesOwned: total.bytes)
        }.sorted { $0.bytesOwned != $1.bytesOwned ? $0.bytesOwned > $1.bytesOwned : $0.package < $1.package }
    }

    /// Package lists name paths as `/usr/bin/x` or `./usr/bin/x`; the tree names them `usr/bin/x`.
    static func normalize(_ path: String) -> String { foldLexically("", [path]) }

}
