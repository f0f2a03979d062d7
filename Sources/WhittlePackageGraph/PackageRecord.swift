import Foundation

/// The package systems whose databases whittle reads.
public enum PackageKind: String, Sendable, CaseIterable, Hashable, Comparable {
    /// dpkg packages (`/var/lib/dpkg/status`), on Debian and Ubuntu.
    case deb
    /// Alpine packages (`/lib/apk/db/installed`).
    case apk
    /// Python distributions (`*.dist-info`, `*.egg-info`).
    case pypi

    public static func < (lhs: PackageKind, rhs: PackageKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One installed package as its database describes it, with relationship fields kept raw:
/// the graph parses them, so whoever reads a database only copies text.
///
/// Only installed packages are records: a dpkg stanza whose Status says the package is
/// not installed (`deinstall ok config-files`, `not-installed`) satisfies nothing and must
/// be left out, or removal plans would count it as a provider.
public struct PackageRecord: Sendable, Hashable {
    public var kind: PackageKind
    /// The name as the database spells it. Python names are compared after PEP 503
    /// normalization (`PythonName.normalize`).
    public var name: String
    public var version: String
    /// dpkg's `Architecture` (`amd64`, `all`) or apk's `A:`; nil when unknown.
    public var architecture: String?
    /// What the package also answers to: each element is one dpkg `Provides` field
    /// (`pip, python3-pip (= 23.0)`) or one apk `p:` line (`cmd:pip=23.0-r0 so:libfoo.so.1=1`).
    public var provides: [String]
    /// dpkg `Depends`, `Pre-Depends` and `Recommends` fields as written in the status file.
    public var depends: String
    public var preDepends: String
    public var recommends: String
    /// apk `D:` line (space-separated names, `so:` and `cmd:` names, `!conflicts`).
    public var apkDepends: String
    /// Python `Requires-Dist` values, one per header line of `METADATA`.
    public var requiresDist: [String]
    /// dpkg `Essential: yes`: other packages may rely on it without saying so.
    public var essential: Bool
    /// apt's `/var/lib/apt/extended_states` says `Auto-Installed: 1`; for apk, the package
    /// is not in `/etc/apk/world`.
    public var autoInstalled: Bool
    /// A Python distribution's `REQUESTED` file exists: someone asked for it by name.
    public var requested: Bool
    /// A Python distribution's `INSTALLER` file (`pip`, `uv`); nil when there is none, as for
    /// the distributions Debian's `python3-*` packages install.
    public var installer: String?
    /// How many files and bytes the package owns, when its reader counted them.
    public var fileCount: Int?
    public var byteCount: Int64?

    public init(
        kind: PackageKind, name: String, version: String = "", architecture: String? = nil,
        provides: [String] = [], depends: String = "", preDepends: String = "", recommends: String = "",
        apkDepends: String = "", requiresDist: [String] = [], essential: Bool = false,
        autoInstalled: Bool = false, requested: Bool = false, installer: String? = nil,
        fileCount: Int? = nil, byteCount: Int64? = nil
    ) {
        self.kind = kind
        self.name = name
        self.version = version
        self.architecture = architecture
        self.provides = provides
        self.depends = depends
        self.preDepends = preDepends
        self.recommends = recommends
        self.apkDepends = apkDepends
        self.requiresDist = requiresDist
        self.essential = essential
        self.autoInstalled = autoInstalled
        self.requested = requested
        self.installer = installer
        self.fileCount = fileCount
        self.byteCount = byteCount
    }

    /// `kind:name`, the form `--remove-package` takes and messages use.
    public var spec: String { "\(kind.rawValue):\(name)" }

    /// The name packages of the same kind use to refer to this one.
    var lookupName: String { kind == .pypi ? PythonName.normalize(name) : name }

    /// Installers whose Python distributions may be autoremoved. Others (no INSTALLER, as
    /// with Debian's python3-* packages, or `conda`) belong to another package manager.
    static let pythonInstallers: Set<String> = ["pip", "uv", "poetry", "pdm", "pipenv"]

    /// Whether `--autoremove` may take the package when nothing that stays needs it: apt's
    /// auto-installed mark, apk's absence from the world file, and for Python a distribution
    /// installed by a Python installer without `REQUESTED`.
    public var isAutoremovable: Bool {
        switch kind {
        case .deb, .apk: return autoInstalled && !essential
        case .pypi:
            let installedBy = installer?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            return !requested && installedBy.map(Self.pythonInstallers.contains) == true
        }
    }
}
