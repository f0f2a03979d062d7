import WhittleFiles
import WhittleFlatten

/// Every package database of a flattened tree, read once: dpkg, apk, and the Python
/// distributions of every site directory. Package records are compact (names, raw relation
/// fields, the tree paths of their files) so that an image with hundreds of packages and
/// a hundred thousand files costs little more than its paths.
public struct PackageDatabase: Sendable {
    public let packages: [InstalledPackage]

    public init(packages: [InstalledPackage]) {
        self.packages = packages
    }

    /// Reads every database of `tree`; a tree without any gives no packages.
    public init(tree: FileTree) throws {
        // The system's records and Python's are read from different files of a tree that
        // no longer changes, so each is read on a core of its own.
        let (system, python) = try sideBySide(
            { try DpkgDatabase.read(tree) + ApkDatabase.read(tree) }, { try PythonDistributions.read(tree) })
        packages = system + python
    }

    public var isEmpty: Bool { packages.isEmpty }

    /// Whether dpkg or apk lists any package: what `PackageOwnership` maps.
    public var hasSystemPackages: Bool { packages.contains { $0.kind != .python } }

    public func packages(of kind: PackageKind) -> [InstalledPackage] {
        packages.filter { $0.kind == kind }
    }

    /// What stays while the package step decides, so a trace that never read the databases
    /// still leaves them for scanners: dpkg's status and the state dpkg needs to run, every
    /// package's `info/` records (those of packages that go are taken afterwards), apk's
    /// database, apt's auto-installed marks, and the release files that say which
    /// distribution the packages belong to. Only an explicit `--remove` takes them.
    public func protectedPaths(in tree: FileTree) -> [String] {
        var paths = Self.fixed.filter { tree.lookup($0) != nil }
        for package in packages where package.kind == .deb { paths += package.recordsToKeep }
        // A release file is often a symlink (`etc/os-release -> ../usr/lib/os-release`).
        for release in Self.releaseFiles {
            let resolution = tree.resolve(release)
            guard let path = resolution.path, resolution.node != nil else { continue }
            paths += [release] + resolution.symlinks + [path]
        }
        return Array(Set(paths)).sorted()
    }

    static let fixed = [
        DpkgDatabase.status, "var/lib/dpkg/available", "var/lib/dpkg/arch", "var/lib/dpkg/diversions",
        "var/lib/dpkg/statoverride", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/lib/dpkg/alternatives",
        "var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend", DpkgDatabase.extendedStates,
        // Says the `info/` names carry `:arch` (Multi-Arch); without it dpkg looks for `libc6.list`.
        "var/lib/dpkg/info/format",
        ApkDatabase.directory, "etc/apk/world", "etc/apk/arch",
    ]

    /// The databases' own directories: they stay even when every record in them goes, as
    /// dpkg opens `info/` whether or not a package is left.
    public static let directories: Set<String> = [DpkgDatabase.directory, DpkgDatabase.info, ApkDatabase.directory]

    static let releaseFiles = ["etc/os-release", "usr/lib/os-release", "etc/debian_version", "etc/alpine-release"]
}
