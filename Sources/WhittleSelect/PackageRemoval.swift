import Foundation
import WhittleFlatten
import WhittlePackageGraph
import WhittlePackages
import WhittleProfiles

extension InstalledPackage {
    /// The package as the removal planner sees it; nil for a dpkg stanza that is not
    /// installed (`deinstall ok config-files`), which satisfies nothing.
    public var graphRecord: PackageRecord? {
        guard installed else { return nil }
        return PackageRecord(
            kind: kind.graphKind, name: name, version: version, architecture: architecture.isEmpty ? nil : architecture,
            provides: relations.provides.isEmpty ? [] : [relations.provides],
            depends: kind == .deb ? relations.depends : "", preDepends: relations.preDepends,
            recommends: relations.recommends, apkDepends: kind == .apk ? relations.depends : "",
            requiresDist: relations.requiresDist, essential: essential, autoInstalled: autoInstalled,
            requested: requested, installer: installer, fileCount: files.count)
    }
}

extension WhittlePackages.PackageKind {
    /// The database reader says `python` where specs and the planner say `pypi`.
    var graphKind: WhittlePackageGraph.PackageKind {
        switch self {
        case .deb: return .deb
        case .apk: return .apk
        case .python: return .pypi
        }
    }
}

/// Whole packages removed: the plan (which packages go, and why) turned into removals of
/// exactly the files each package's own list names. A path several packages own goes only
/// when all of them go; directories are never removed by package.
public struct PackageRemoval: Sendable {
    public let plan: RemovalPlan
    /// Exact tree paths to remove, each with the rule naming its package and reason.
    public let rules: [String: Rule]
    /// Indices into the database's packages of those that go.
    public let removedPackages: Set<Int>

    public init(
        database: PackageDatabase, tree: FileTree, requests: [PackageRemovalRequest],
        autoremove: Bool, force: Bool
    ) throws {
        let vendored = Self.vendoredDistributions(database)
        let installed = database.packages.indices.filter { database.packages[$0].installed && !vendored.contains($0) }
        let records = installed.compactMap { database.packages[$0].graphRecord }
        plan = try RemovalPlan(
            records: records, requests: requests,
            environment: Self.environment(database, records: records),
            autoremove: autoremove, force: force)
        var byRecord: [PackageRecord: Int] = [:]
        for (position, index) in installed.enumerated() { byRecord[records[position]] = index }
        let going = Dictionary(
            plan.removals.compactMap { removal in
                byRecord[removal.record].map { ($0, removal) }
            }, uniquingKeysWith: { first, _ in first })
        removedPackages = Set(going.keys)
        rules = Self.fileRules(database: database, tree: tree, going: going)
    }

    public var isEmpty: Bool { plan.removals.isEmpty }

    /// Python distributions vendored inside another one, their metadata among its files (as
    /// bleach ships `_vendor/html5lib-1.1.dist-info`). No import path reaches them, so pip
    /// neither installs nor checks them: they are no package to name, and what they require
    /// is not required by anything that stays. Their files go with the distribution that
    /// ships them.
    static func vendoredDistributions(_ database: PackageDatabase) -> Set<Int> {
        let python = database.packages.indices.filter { database.packages[$0].kind == .python }
        let shippedDirectories = Set(
            python.flatMap { database.packages[$0].files }.compactMap { path in
                path.lastIndex(of: "/").map { String(path[..<$0]) }
            })
        return Set(python.filter { database.packages[$0].metadata.contains(where: shippedDirectories.contains) })
    }

    /// `package:deb:gcc-12`, or `package:deb:libfoo (autoremoved because of deb:gcc-12)`.
    static func label(_ removal: RemovalPlan.Removal) -> String {
        switch removal.reason {
        case .named: return "package:" + removal.record.spec
        case .autoremoved: return "package:\(removal.record.spec) (\(removal.reason))"
        }
    }

    private static func fileRules(
        database: PackageDatabase, tree: FileTree,
        going: [Int: RemovalPlan.Removal]
    ) -> [String: Rule] {
        guard !going.isEmpty, let pattern = try? PathPattern("**") else { return [:] }
        // A Python distribution that a going dpkg package ships (its metadata is in the
        // package's list, as python3-pip's is) goes with it: it is the same code, not
        // another owner.
        let goingDirectories = Set(
            going.keys.flatMap { database.packages[$0].files }.compactMap { path in
                path.lastIndex(of: "/").map { String(path[..<$0]) }
            })
        var ownersStaying = Set<String>()
        for (index, package) in database.packages.enumerated() where going[index] == nil && package.installed {
            if package.kind == .python, package.metadata.contains(where: goingDirectories.contains) { continue }
            ownersStaying.formUnion(package.files)
        }
        var rules: [String: Rule] = [:]
        for index in going.keys.sorted() {
            let rule = Rule(removingPackage: label(going[index]!), pattern: pattern)
            for path in database.packages[index].files where !ownersStaying.contains(path) && rules[path] == nil {
                guard let node = tree.lookup(path), !node.isDirectory else { continue }
                rules[path] = rule
                for compiled in compiledFiles(of: path, in: tree) where !ownersStaying.contains(compiled) {
                    rules[compiled] = rule
                }
            }
        }
        return rules
    }

    /// `dir/__pycache__/x.cpython-311.pyc` for `dir/x.py`: Debian byte-compiles its Python
    /// modules after unpacking (so no list names them) and removes them with the package,
    /// as `py3clean` does in its prerm.
    static func compiledFiles(of path: String, in tree: FileTree) -> [String] {
        guard path.hasSuffix(".py"), let slash = path.lastIndex(of: "/") else { return [] }
        let directory = String(path[..<slash]) + "/__pycache__"
        let stem = String(path[path.index(after: slash)...].dropLast(3)) + "."
        guard let cache = tree.lookup(directory), cache.isDirectory else { return [] }
        return cache.sortedChildren.filter { !$0.isDirectory && $0.name.hasPrefix(stem) && $0.name.hasSuffix(".pyc") }
            .map { directory + "/" + $0.name }
    }

    /// The dpkg architecture most packages have, and the Python version of the site
    /// directories (`…/python3.11/site-packages`), for markers and `[arch]` restrictions.
    static func environment(_ database: PackageDatabase, records: [PackageRecord]) -> PackageEnvironment {
        let architecture = mostCommon(
            records.compactMap { $0.kind == .deb && $0.architecture != "all" ? $0.architecture : nil })
        let versions = database.packages.filter { $0.kind == .python }.compactMap { package -> String? in
            guard let range = package.key.range(of: #"python3\.[0-9]+"#, options: .regularExpression) else {
                return nil
            }
            return String(package.key[range].dropFirst("python".count))
        }
        let machine = architecture.map(PythonEnvironment.machine(debianArchitecture:)) ?? "x86_64"
        return PackageEnvironment(
            debianArchitecture: architecture,
            python: PythonEnvironment(pythonVersion: mostCommon(versions) ?? "3", machine: machine))
    }

    private static func mostCommon(_ values: [String]) -> String? {
        var counts: [String: Int] = [:]
        for value in values { counts[value, default: 0] += 1 }
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }
}

extension Rule {
    /// The removal of a file of a package that goes as a whole. Like a record's rule, its
    /// pattern is never matched: the policy names the paths exactly.
    init(removingPackage label: String, pattern: PathPattern) {
        action = .remove
        self.pattern = pattern
        origin = .packages
        self.label = label
    }
}
