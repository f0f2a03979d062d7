import WhittlePackageGraph

/// A named removal profile: which paths and packages it takes out of an image, which paths
/// it spares, and what that could break. Written as a YAML document (see `Profiles/README.md`).
///
/// A pattern that matches a directory applies to the directory and everything below it,
/// for `remove` and `keep` alike, and `keep` wins over `remove`. whittle's selection applies
/// the `keep` patterns of every profile in a run to the whole run, so a path kept by one
/// profile is not removed by another.
public struct Profile: Sendable {
    /// The name used on the command line and in `include` lists.
    public var name: String
    /// What the profile removes. The first line is the one-line summary.
    public var description: String
    /// What could break. The first line is the one-line summary.
    public var risk: String
    /// Paths to remove.
    public var remove: [PathPattern]
    /// Paths to spare even though a `remove` pattern matches them or a directory above them.
    public var keep: [PathPattern]
    /// Names of other profiles this one stands for (a composite).
    public var include: [String]
    /// Whole packages to remove (format version 2), matched like `--remove-package`; a spec
    /// may match nothing, and a package that something staying needs is spared.
    public var packages: [PackageSpec]
    /// Whether the packages go with what only they needed (format version 2).
    public var autoremove: Bool
    /// The file the profile was read from, if any.
    public var file: String?

    public init(
        name: String, description: String = "", risk: String = "", remove: [PathPattern] = [],
        keep: [PathPattern] = [], include: [String] = [], packages: [PackageSpec] = [],
        autoremove: Bool = false, file: String? = nil
    ) {
        self.name = name
        self.description = description
        self.risk = risk
        self.remove = remove
        self.keep = keep
        self.include = include
        self.packages = packages
        self.autoremove = autoremove
        self.file = file
    }

    /// Whether the profile removes anything itself, rather than only through its includes.
    public var isConcrete: Bool { !remove.isEmpty || !packages.isEmpty }

    /// The profile's packages as a removal request, or nil when it names none.
    public var packageRequest: PackageRemovalRequest? {
        packages.isEmpty ? nil : PackageRemovalRequest(specs: packages, origin: .profile(name), autoremove: autoremove)
    }

    /// The first line of `description`, for tables.
    public var summary: String { firstLine(description) }

    /// The first line of `risk`, for tables.
    public var riskSummary: String { firstLine(risk) }
}

private func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? "")
}
