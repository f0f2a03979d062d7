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

    var isEmpty: Bool { removed.isEmpty && partial.isEmpty }

    /// Lines for the terminal and the dry run; with `limit`, at most that many packages of
    /// each state (the JSON and Markdown list every one).
    func textLines(limit: Int = .max) -> [String] {
        guard !isEmpty else { return ["packages: all \(kept) keep every file"] }
        var lines = [
            "packages: \(removed.count) removed, \(partial.count) partial, \(kept) kept whole"
                + (broken.isEmpty ? "" : " (\(Set(broken.map(\.package)).count) of them broken by --force)")
        ]
        lines += removed.prefix(limit).map {
            "  removed  \($0.kind):\($0.name) \($0.version)  (\($0.filesLost) files, \(humanBytes($0.bytesLost)))"
        }
        if removed.count > limit { lines.append("  … and \(removed.count - limit) more removed") }
        lines += partial.prefix(limit).map {
            "  partial  \($0.kind):\($0.name) \($0.version)  (lost \($0.filesLost) files, \(humanBytes($0.bytesLost)); "
                + "\($0.filesKept) kept)"
        }
        if partial.count > limit { lines.append("  … and \(partial.count - limit) more partial") }
        lines += broken.prefix(limit).map {
            "  broken   \($0.package)  (requires \($0.requirement), removed by --force)"
        }
        if broken.count > limit { lines.append("  … and \(broken.count - limit) more broken") }
        return lines
    }

    func markdownLines() -> [String] {
        var lines = [
            "## Packages", "",
            "\(removed.count) removed, \(partial.count) partial, \(kept) kept whole. Removed packages left their "
                + "databases; partial ones stay listed with only the files that remain.",
        ]
        let rows =
            removed.map { ["removed", $0.kind, $0.name, $0.version, "\($0.filesLost)", "\($0.bytesLost)", "0"] }
            + partial.map {
                ["partial", $0.kind, $0.name, $0.version, "\($0.filesLost)", "\($0.bytesLost)", "\($0.filesKept)"]
            }
        if !rows.isEmpty {
            lines += [
                "",
                markdownTable(["state", "kind", "package", "version", "files lost", "bytes lost", "files kept"], rows),
            ]
        }
        if !broken.isEmpty {
            lines += [
                "", "Broken by `--force`: these packages stay, but a package they require was removed.", "",
                markdownTable(["kept package", "requires"], broken.map { [$0.package, "`\($0.requirement)`"] }),
            ]
        }
        return lines
    }
}
