import WhittlePackages

/// What a slim did to the package databases: packages removed (every file gone, dropped
/// from their database), partial (listed still, their file lists naming what remains), and
/// how many stay whole. Scanners read the same databases, so this is what they will see.
public struct PackageSection: Codable, Sendable, Equatable {
    public struct Change: Codable, Sendable, Equatable {
        /// `deb`, `apk` or `python`.
        public var kind: String
        public var name: String
        public var version: String
        public var architecture: String?
        public var filesLost: Int
        public var bytesLost: Int64
        public var filesKept: Int
    }

    /// A package that stays although `--force` removed one it requires.
    public struct Broken: Codable, Sendable, Equatable {
        /// As a spec names it: `deb:user`, `pypi:tool`.
        public var package: String
        /// The requirement left unmet, as the package writes it (`libssl3 (>= 3.0.0)`).
        public var requirement: String

        public init(package: String, requirement: String) {
            self.package = package
            self.requirement = requirement
        }
    }

    public var removed: [Change]
    public var partial: [Change]
    /// Packages that keep every file.
    public var kept: Int
    /// Kept packages left without something they require by `--force`; empty without it.
    public var broken: [Broken] = []

    public init(truth: PackageTruth, database: PackageDatabase) {
        func changes(_ state: PackageOutcome.State) -> [Change] {
            truth.outcomes(state).map { outcome in
                let package = database.packages[outcome.index]
                return Change(
                    kind: package.kind.rawValue, name: package.name, version: package.version,
                    architecture: package.architecture.isEmpty ? nil : package.architecture,
                    filesLost: outcome.filesLost, bytesLost: outcome.bytesLost, filesKept: outcome.filesKept)
            }.sorted { ($0.kind, $0.name, $0.version) < ($1.kind, $1.name, $1.version) }
        }
        removed = changes(.removed)
        partial = changes(.partial)
        kept = truth.outcomes(.kept).count
    }

    public var isEmpty: Bool { removed.isEmpty && partial.isEmpty }
}
