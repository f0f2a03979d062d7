import WhittleFlatten
import WhittleImage
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

/// Which OS package owns each path of a flattened tree, from dpkg's
/// `var/lib/dpkg/info/*.list` and apk's `lib/apk/db/installed`.
///
/// Paths are kept as the tree names them (no leading slash), found by looking the listed
/// path up through the tree's symlinks: with usrmerge dpkg lists `/lib/x86_64-linux-gnu/…`
/// while the file sits at `usr/lib/x86_64-linux-gnu/…` behind `lib -> usr/lib`. Only
/// non-directory entries are recorded: directories are shared by many packages and hold
/// no bytes of their own.
public struct PackageOwnership: Sendable {
    /// Tree path → owning packages, in the order the databases name them.
    public private(set) var owners: [String: [String]] = [:]
    /// Package → `dpkg` or `apk`.
    public private(set) var managers: [String: String] = [:]
    private var owned: [String: (files: Int, bytes: Int64)] = [:]
    private var sizes: [String: Int64] = [:]

    /// True when the tree has neither database.
    public var isEmpty: Bool { managers.isEmpty }

    /// Reads the package databases of `tree`. A tree without any gives an empty mapping.
    public init(tree: FileTree) throws {
        // A listed path may pass through symlinks (`/lib/x` with `lib -> usr/lib`); the
        // resolver gives the name the tree holds the file under.
        func resolve(_ listed: String) -> (path: String, node: Node)? {
            let resolution = tree.resolve(listed, followFinal: false)
            guard let node = resolution.node, !node.isDirectory, let path = resolution.path else { return nil }
            return (path, node)
        }
        if let info = tree.lookup("var/lib/dpkg/info"), info.isDirectory {
            for child in info.sortedChildren where child.name.hasSuffix(".list") && !child.isDirectory {
                let package = String(child.name.dropLast(".list".count))
                let text = try Self.read(child, path: "var/lib/dpkg/info/\(child.name)")
                managers[package] = "dpkg"
                let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
                // A listed path that has listed children is a directory to dpkg, even where
                // the tree has a symlink (usrmerge's `lib -> usr/lib`): not a file it owns.
                var parents = Set<Substring>()
                for line in lines {
                    var end = line.endIndex
                    while let slash = line[..<end].lastIndex(of: "/"), slash > line.startIndex {
                        guard parents.insert(line[..<slash]).inserted else { break }
                        end = slash
                    }
                }
                for line in lines where !parents.contains(line) {
                    if let (path, node) = resolve(String(line)) { record(path, node: node, package: package) }
                }
            }
        }
        if let installed = tree.lookup("lib/apk/db/installed"), let inode = installed.inode, inode.kind == .regular {
            let text = try Self.read(installed, path: "lib/apk/db/installed")
            var package: String?
            var folder = ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                // A blank line ends a package record.
                if line.isEmpty {
                    package = nil
                    folder = ""
                    continue
                }
                guard line.count >= 2, line.dropFirst().first == ":" else { continue }
                let value = String(line.dropFirst(2))
                switch line.first {
                case "P":
                    package = value
                    managers[value] = "apk"
                case "F": folder = value
                case "R":
                    guard let package else { continue }
                    let listed = folder.isEmpty ? value : folder + "/" + value
                    if let (path, node) = resolve(listed) { record(path, node: node, package: package) }
                default: continue
                }
            }
        }
    }

    private mutating func record(_ path: String, node: Node, package: String) {
        var names = owners[path] ?? []
        guard !names.contains(package) else { return }
        names.append(package)
        owners[path] = names
        let size = node.inode?.size ?? 0
        sizes[path] = size
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

    /// Database files are small text files; a huge one means a damaged image, not a
    /// reason to read gigabytes.
    private static func read(_ node: Node, path: String) throws -> String {
        guard let inode = node.inode else { return "" }
        let bytes: [UInt8]?
        do {
            bytes = try inode.contents(limit: 256 << 20)
        } catch {
            throw AnalysisError.unreadablePackageDatabase(path: path, reason: "\(error)")
        }
        guard let bytes else { throw AnalysisError.packageDatabaseTooLarge(path: path, bytes: inode.size) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
