/// A named removal profile: which paths it takes out of an image, which it spares, and what
/// that could break. Written as a YAML document (see `Profiles/README.md`).
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
    /// The file the profile was read from, if any.
    public var file: String?

    public init(name: String, description: String = "", risk: String = "", remove: [PathPattern] = [],
                keep: [PathPattern] = [], include: [String] = [], file: String? = nil) {
        self.name = name
        self.description = description
        self.risk = risk
        self.remove = remove
        self.keep = keep
        self.include = include
        self.file = file
    }

    /// The first line of `description`, for tables.
    public var summary: String { firstLine(description) }

    /// The first line of `risk`, for tables.
    public var riskSummary: String { firstLine(risk) }
}

private func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? "")
}
