import Foundation

/// What a removal plan needs to know about the image beyond its packages.
public struct PackageEnvironment: Sendable, Hashable {
    /// dpkg's native architecture (`amd64`), for `[arch]` restrictions; nil when unknown.
    public var debianArchitecture: String?
    /// The values Python's environment markers test.
    public var python: PythonEnvironment

    public init(debianArchitecture: String? = nil, python: PythonEnvironment) {
        self.debianArchitecture = debianArchitecture
        self.python = python
    }
}

/// The installed packages with their relationships resolved to installed packages: for
/// each package, its dependency groups, each satisfied by any one of its targets.
struct PackageGraph {
    /// An installed package that satisfies a dependency, with the Python extras asked of it.
    struct Target: Hashable {
        var index: Int
        var extras: Set<String> = []
    }

    /// One dependency: `a (>= 1) | b` for dpkg, one `D:` name for apk, one `Requires-Dist`.
    struct Group {
        /// As written, for messages.
        var text: String
        /// Depends, Pre-Depends, apk `D:` and `Requires-Dist` are hard; Recommends are not,
        /// but apt's autoremove counts them as needs.
        var isHard: Bool
        /// Installed packages satisfying any alternative; empty when nothing installed does
        /// (then the image was already without it, and no removal can break it).
        var targets: [Target]
        /// For Python, the requirement whose marker decides whether it applies.
        var requirement: PythonRequirement?
    }

    let records: [PackageRecord]
    let environment: PackageEnvironment
    private(set) var groups: [[Group]] = []
    /// Relationship fields that could not be read; those dependencies are not followed.
    private(set) var warnings: [String] = []

    private var byName: [PackageKind: [String: [Int]]] = [:]
    private var debProviders: [String: [(index: Int, version: String?)]] = [:]
    private var apkProviders: [String: [Int]] = [:]

    init(records: [PackageRecord], environment: PackageEnvironment) {
        self.records = records
        self.environment = environment
        index()
        groups = records.indices.map { resolve($0) }
    }

    /// The groups of `index` that apply when its dependents ask for `extras` (Python only).
    func applicableGroups(_ index: Int, extras: Set<String>) -> [Group] {
        groups[index].filter { group in
            group.requirement.map { $0.applies(in: environment.python, extras: extras) } ?? true
        }
    }

    private mutating func index() {
        for (index, record) in records.enumerated() {
            byName[record.kind, default: [:]][record.lookupName, default: []].append(index)
            for field in record.provides {
                switch record.kind {
                case .deb:
                    do {
                        for provided in try DebianRelations.parseProvides(field) {
                            debProviders[provided.name, default: []].append((index, provided.version))
                        }
                    } catch {
                        warnings.append("\(record.spec): cannot read Provides '\(field)': \(error)")
                    }
                case .apk:
                    for name in ApkRelations.provides(field) { apkProviders[name, default: []].append(index) }
                case .pypi:
                    break
                }
            }
        }
    }

    private mutating func resolve(_ index: Int) -> [Group] {
        let record = records[index]
        switch record.kind {
        case .deb:
            return debGroups(record.preDepends, hard: true, of: index)
                + debGroups(record.depends, hard: true, of: index)
                + debGroups(record.recommends, hard: false, of: index)
        case .apk:
            return ApkRelations.dependencies(record.apkDepends).map { name in
                let targets = (byName[.apk]?[name] ?? []) + (apkProviders[name] ?? [])
                return Group(
                    text: name, isHard: true, targets: unique(targets.filter { $0 != index }.map { Target(index: $0) }))
            }
        case .pypi:
            return record.requiresDist.compactMap { line in
                do {
                    let requirement = try PythonRequirement(line)
                    // A distribution may require its own extras (`dask[array]; extra == "complete"`):
                    // that edge only widens the extras asked of it.
                    let targets = (byName[.pypi]?[requirement.name] ?? [])
                        .filter { $0 != index || !requirement.extras.isEmpty }
                        .map { Target(index: $0, extras: Set(requirement.extras)) }
                    return Group(
                        text: line.trimmingCharacters(in: .whitespaces), isHard: true, targets: targets,
                        requirement: requirement)
                } catch {
                    warnings.append("\(record.spec): cannot read Requires-Dist '\(line)': \(error)")
                    return nil
                }
            }
        }
    }

    private mutating func debGroups(_ field: String, hard: Bool, of index: Int) -> [Group] {
        guard !field.isEmpty else { return [] }
        do {
            return try DebianRelations.parse(field).compactMap { alternatives in
                let applicable = alternatives.filter { $0.applies(on: environment.debianArchitecture) }
                guard !applicable.isEmpty else { return nil }
                let targets = applicable.flatMap(debSatisfiers).filter { $0 != index }
                return Group(
                    text: alternatives.map(\.description).joined(separator: " | "), isHard: hard,
                    targets: unique(targets.map { Target(index: $0) }))
            }
        } catch {
            warnings.append("\(records[index].spec): cannot read '\(field)': \(error)")
            return []
        }
    }

    /// Installed packages that satisfy one alternative: by name (with a version that meets
    /// the restriction), or through Provides. An unversioned Provides never satisfies a
    /// versioned dependency, as in dpkg.
    private func debSatisfiers(_ relation: DebianRelation) -> [Int] {
        var result: [Int] = []
        for index in byName[.deb]?[relation.name] ?? [] {
            let record = records[index]
            let qualifier = relation.architectureQualifier
            let architectureFits =
                qualifier == nil || qualifier == "any" || qualifier == "native"
                || record.architecture == qualifier || record.architecture == "all"
            if architectureFits, relation.constraint?.isSatisfied(by: record.version) ?? true {
                result.append(index)
            }
        }
        for provider in debProviders[relation.name] ?? [] {
            guard let constraint = relation.constraint else {
                result.append(provider.index)
                continue
            }
            if let version = provider.version, constraint.isSatisfied(by: version) { result.append(provider.index) }
        }
        return result
    }
}

private func unique(_ targets: [PackageGraph.Target]) -> [PackageGraph.Target] {
    var seen = Set<PackageGraph.Target>()
    return targets.filter { seen.insert($0).inserted }
}

extension DebianRelation: CustomStringConvertible {
    public var description: String {
        var text = name + (architectureQualifier.map { ":" + $0 } ?? "")
        if let constraint { text += " (\(constraint.relation.rawValue) \(constraint.version))" }
        if !architectures.isEmpty { text += " [\(architectures.joined(separator: " "))]" }
        return text
    }
}
