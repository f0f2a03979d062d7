/// Which database a package comes from.
public enum PackageKind: String, Codable, Sendable, CaseIterable {
    /// dpkg: `var/lib/dpkg/status` and `info/`.
    case deb
    /// apk: `lib/apk/db/installed`.
    case apk
    /// A Python distribution: a `*.dist-info` or `*.egg-info` in a site directory.
    case python
}

/// What a package says about other packages, as its database spells it. Kept raw: reading
/// version constraints and markers is the business of whoever builds a dependency graph.
public struct PackageRelations: Sendable, Equatable {
    /// dpkg `Provides`, apk `p:` (space separated there).
    public var provides = ""
    /// dpkg `Depends`, apk `D:`.
    public var depends = ""
    /// dpkg `Pre-Depends`.
    public var preDepends = ""
    /// dpkg `Recommends`.
    public var recommends = ""
    /// Python `Requires-Dist` lines, markers and extras included.
    public var requiresDist: [String] = []

    public init() {}
}

/// One installed package and the files it owns in the tree.
///
/// Paths are tree paths (no leading slash), each resolved through the tree's symlinks, so
/// `/lib/x` listed by dpkg is `usr/lib/x` here when `lib -> usr/lib`. Only non-directory
/// entries present in the tree are in `files`: directories are shared and hold no bytes.
public struct InstalledPackage: Sendable, Equatable {
    public let kind: PackageKind
    public let name: String
    public let version: String
    /// dpkg `Architecture`, apk `A:`; empty for Python.
    public let architecture: String
    public let relations: PackageRelations
    /// dpkg: apt marked it auto-installed (`var/lib/apt/extended_states`).
    public internal(set) var autoInstalled: Bool
    /// Python: the installer was asked for it by name (`REQUESTED`).
    public let requested: Bool
    /// What it installed, outside its own database record; each path once (the readers
    /// drop a path listed twice, or reached through two links).
    public let files: PathList
    /// The directories it lists that the tree has (dpkg's `.list`, apk's `F:` lines): its
    /// own as much as its files, so they stay while it does, emptied or not (`dpkg -V`
    /// reports a listed directory that is missing).
    public let directories: PathList
    /// Its own record in the database, as tree paths: dpkg's `info/<key>.*` files, a
    /// Python metadata directory. Empty for apk, whose record lives inside `installed`.
    public let metadata: [String]
    /// dpkg conffiles, as listed (absolute paths).
    public let conffiles: [String]
    /// Names the record inside its database: dpkg's info stem (`pkg` or `pkg:arch`), apk's
    /// `P:` name, the Python metadata directory's tree path.
    public let key: String
    /// dpkg: the status says `install ok installed`; a stanza left by a removal
    /// (`deinstall ok config-files`) satisfies no dependency. Always true for the others.
    public internal(set) var installed = true
    /// dpkg `Essential: yes`.
    public internal(set) var essential = false
    /// Python: the `INSTALLER` file's content (`pip`), nil without one.
    public internal(set) var installer: String?

    public init(
        kind: PackageKind, name: String, version: String, architecture: String = "",
        relations: PackageRelations = PackageRelations(), autoInstalled: Bool = false, requested: Bool = false,
        files: [String], directories: [String] = [], metadata: [String] = [], conffiles: [String] = [],
        key: String
    ) {
        self.kind = kind
        self.name = name
        self.version = version
        self.architecture = architecture
        self.relations = relations
        self.autoInstalled = autoInstalled
        self.requested = requested
        self.files = PathList(files)
        self.directories = PathList(directories)
        self.metadata = metadata
        self.conffiles = conffiles
        self.key = key
    }

    /// The part of its record that must stay while it does: what its manager reads to list,
    /// verify, upgrade and remove it. dpkg's symbol and shared-library files serve only
    /// `dpkg-shlibdeps` when something is built against it, and debconf templates only a
    /// reconfiguration, so a trace that never read them may take them like any unused file.
    public var recordsToKeep: [String] {
        guard kind == .deb else { return metadata }
        return metadata.filter { path in !Self.buildTimeRecords.contains { path.hasSuffix($0) } }
    }

    static let buildTimeRecords = [".symbols", ".shlibs", ".templates"]

    /// `deb:libc6`, `apk:musl`, `python:pandas`: how reports name it.
    public var label: String { "\(kind.rawValue):\(name)" }
}

/// Tree paths packed into one byte buffer: a package database lists most of an image's
/// files, and one `String` each would cost about twice the bytes of the paths themselves.
public struct PathList: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    private var bytes: [UInt8] = []
    /// Where each path ends in `bytes`.
    private var ends: [Int] = []

    public init<Paths: Sequence>(_ paths: Paths) where Paths.Element == String {
        let paths = Array(paths)
        // Sized once: growing by doubling would leave up to half of each buffer unused.
        bytes.reserveCapacity(paths.reduce(0) { $0 + $1.utf8.count })
        ends.reserveCapacity(paths.count)
        for path in paths {
            bytes.append(contentsOf: path.utf8)
            ends.append(bytes.count)
        }
    }

    public init(arrayLiteral paths: String...) {
        self.init(paths)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { ends.count }

    public subscript(position: Int) -> String {
        let start = position == 0 ? 0 : ends[position - 1]
        return String(decoding: bytes[start..<ends[position]], as: UTF8.self)
    }
}
