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

    /// The first `remove` pattern (in list order) that takes `path` out of the image, or nil
    /// when none applies or a `keep` pattern spares it. A pattern applies when it matches
    /// `path` or one of its ancestor directories.
    ///
    /// A directory this returns a pattern for may still have to stay as the parent of a
    /// kept path below it: ask `keep` patterns with `PathPattern.mayMatchBelow` before
    /// dropping a whole subtree. Each pattern takes one pass over the path, ancestors
    /// included.
    public func removingPattern(for path: String) -> PathPattern? {
        guard !remove.isEmpty else { return nil }
        let found: Int? = withPathBytes(path) { bytes in
            guard let (start, end) = trimmed(bytes) else { return nil }
            // Patterns are read in place through buffers: copying each one out of its array
            // would cost a reference count per pattern.
            return remove.withUnsafeBufferPointer { remove in
                keep.withUnsafeBufferPointer { keep in
                    guard let found = firstMatch(remove, bytes, start, end) else { return nil }
                    return firstMatch(keep, bytes, start, end) == nil ? found : nil
                }
            }
        }
        return found.map { remove[$0] }
    }

    /// The first line of `description`, for tables.
    public var summary: String { firstLine(description) }

    /// The first line of `risk`, for tables.
    public var riskSummary: String { firstLine(risk) }
}

private func firstMatch(_ patterns: UnsafeBufferPointer<PathPattern>, _ bytes: UnsafeBufferPointer<UInt8>,
                        _ start: Int, _ end: Int) -> Int? {
    var index = 0
    while index < patterns.count {
        if patterns[index].matchesSelfOrAncestor(bytes: bytes, start: start, end: end) { return index }
        index += 1
    }
    return nil
}

private func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first ?? "")
}
