import WhittleFiles
import WhittleFlatten

/// What a selection leaves of one package.
public struct PackageOutcome: Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Every file it owned stays (or it owned none).
        case kept
        /// Some of its files stay: it stays listed, its file list names what remains.
        case partial
        /// Every file it owned goes: it leaves the database.
        case removed
    }

    /// Index into the database's `packages`.
    public let index: Int
    public let state: State
    public let filesLost: Int
    public let bytesLost: Int64
    public let filesKept: Int
}

/// The databases made to tell the truth about a selection: which packages go, which stay
/// partly, which database records leave with them, and the new content of the database
/// files that stay.
///
/// `keeps` says whether a tree path stays in the output. A package is removed when it
/// owned files and none stays, or none but its docs (see `isDocumentation`); a package
/// without files of its own (a metapackage), or with docs only, stays.
public struct PackageTruth: Sendable {
    public let outcomes: [PackageOutcome]

    /// `removing`: indices of packages removed as a whole (`--remove-package`); they leave
    /// the database even when a file they share with a package that stays remains. A package
    /// left with nothing but docs goes the same way: listed, a scanner would report it and
    /// its CVEs although nothing of it can run.
    public init(
        database: PackageDatabase, tree: FileTree, removing: Set<Int> = [], keeps: @escaping (String) -> Bool
    ) {
        // Each package's outcome only reads the tree and the selection: two halves, side by side.
        let packages = database.packages
        let middle = packages.count / 2
        let outcome = { (index: Int) in
            Self.outcome(of: packages[index], index: index, tree: tree, removing: removing, keeps: keeps)
        }
        let (low, high) = sideBySide({ (0..<middle).map(outcome) }, { (middle..<packages.count).map(outcome) })
        outcomes = low + high
    }

    private static func outcome(
        of package: InstalledPackage, index: Int, tree: FileTree, removing: Set<Int>, keeps: (String) -> Bool
    ) -> PackageOutcome {
        var lost = 0
        var bytes: Int64 = 0
        var nonDocs = 0
        var nonDocsKept = 0
        for path in package.files {
            let isDoc = Self.isDocumentation(path)
            if !isDoc { nonDocs += 1 }
            if keeps(path) {
                if !isDoc { nonDocsKept += 1 }
                continue
            }
            lost += 1
            bytes += tree.lookup(path)?.inode?.size ?? 0
        }
        let kept = package.files.count - lost
        let gone = removing.contains(index) || (lost > 0 && kept == 0) || (nonDocs > 0 && nonDocsKept == 0)
        let state: PackageOutcome.State = gone ? .removed : lost == 0 ? .kept : .partial
        return PackageOutcome(index: index, state: state, filesLost: lost, bytesLost: bytes, filesKept: kept)
    }

    /// Docs and licence notices: what Debian Policy (§12.3) forbids a package to need in
    /// order to work. A Python distribution's licence files live in its metadata directory,
    /// its record, which is never among its files.
    static func isDocumentation(_ path: String) -> Bool {
        path.hasPrefix("usr/share/doc/")
    }

    public func outcomes(_ state: PackageOutcome.State) -> [PackageOutcome] {
        outcomes.filter { $0.state == state }
    }

    /// Database records (dpkg `info/` files, Python metadata directories) of removed
    /// packages, with the package's label: they go with it.
    public func recordsToRemove(_ database: PackageDatabase) -> [(path: String, package: String)] {
        outcomes(.removed).flatMap { outcome in
            let package = database.packages[outcome.index]
            return package.metadata.map { ($0, package.label) }
        }
    }

    /// Records of packages that stay: the metadata of a distribution whose code is kept
    /// stays whole (entry points and `importlib.metadata` read it), wherever it sits.
    public func recordsToKeep(_ database: PackageDatabase) -> [String] {
        outcomes.filter { $0.state != .removed }.flatMap { database.packages[$0.index].recordsToKeep }
    }

    /// Directories that packages which stay list: they stay even when emptied, as the
    /// packages' records still name them.
    public func directoriesToKeep(_ database: PackageDatabase) -> [String] {
        outcomes.filter { $0.state != .removed }.flatMap { database.packages[$0.index].directories }
    }

    /// Gives the database files that change their new content, one file at a time, so no
    /// more than one rewritten file per core is in memory.
    public func rewrite(
        _ database: PackageDatabase, tree: FileTree, keeps: @escaping (String) -> Bool,
        into generated: GeneratedContent
    ) throws {
        let removed = Set(outcomes(.removed).map { database.packages[$0.index].key })
        let partial = outcomes(.partial).map { database.packages[$0.index] }
        guard !removed.isEmpty || !partial.isEmpty else { return }
        let rewriter = DatabaseRewriter(tree: tree, keeps: keeps)
        let kinds = Set(outcomes.filter { $0.state != .kept }.map { database.packages[$0.index].kind })
        // dpkg's and apk's files and Python's RECORDs are different files, and each side reads
        // only its own: they are rewritten side by side, each with a rewriter of its own.
        let pythonRewriter = DatabaseRewriter(tree: tree, keeps: keeps)
        let (system, python) = try sideBySide(
            {
                try Self.emitting(into: generated) { emit in
                    try Self.rewriteSystem(rewriter, kinds: kinds, removing: removed, partial: partial, emit: emit)
                }
            },
            {
                try Self.emitting(into: generated) { emit in
                    for package in partial where package.kind == .python {
                        try pythonRewriter.pythonRecord(package.key).forEach(emit)
                    }
                }
            })
        // The MD5 of every rewritten file: a dpkg package that owns one lists its checksum.
        let checksums = system.merging(python) { first, _ in first }
        try Self.emitting(into: generated) { emit in
            try rewriter.updatedChecksumLists(for: checksums, database: database).forEach(emit)
        }
    }

    /// dpkg's status and the `info/` files of partial packages, and apk's database.
    private static func rewriteSystem(
        _ rewriter: DatabaseRewriter, kinds: Set<PackageKind>, removing removed: Set<String>,
        partial: [InstalledPackage], emit: ((path: String, text: String)) throws -> Void
    ) throws {
        let trimmed = { (kind: PackageKind) in Set(partial.filter { $0.kind == kind }.map(\.key)) }
        if kinds.contains(.deb) {
            let partialKeys = trimmed(.deb)
            if let status = try rewriter.dpkgStatus(removing: removed, trimming: partialKeys) {
                try emit((DpkgDatabase.status, status))
            }
            for key in partialKeys.sorted() { try rewriter.dpkgInfo(key).forEach(emit) }
        }
        if kinds.contains(.apk),
            let installed = try rewriter.apkInstalled(removing: removed, trimming: trimmed(.apk))
        {
            try emit((ApkDatabase.installed, installed))
        }
    }

    /// Runs `body` with a function that gives a file its new text; returns the MD5 of each.
    private static func emitting(
        into generated: GeneratedContent, _ body: (((path: String, text: String)) throws -> Void) throws -> Void
    ) throws -> [String: String] {
        var checksums: [String: String] = [:]
        try body { file in
            let bytes = Array(file.text.utf8)
            checksums[file.path] = DatabaseRewriter.md5(bytes)
            try generated.replace(file.path, with: bytes)
        }
        return checksums
    }
}
