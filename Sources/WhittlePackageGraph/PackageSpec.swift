import Foundation

/// A `--remove-package` argument or a profile's `packages` item: an optional kind and a
/// name glob, as in `deb:gcc-12`, `deb:*-dev`, `pypi:jupyter*`, `apk:build-base`, or a bare
/// `pytest` that matches packages of any kind.
///
/// `*` matches any run of characters and `?` one character. Python names match after
/// PEP 503 normalization of both sides, so `pypi:Jupyter_Core` matches `jupyter-core`.
public struct PackageSpec: Sendable, Hashable, CustomStringConvertible {
    /// Nil: any kind.
    public let kind: PackageKind?
    /// The name glob as written (after the kind).
    public let pattern: String
    private let pythonPattern: String

    /// Parses one spec. Throws for an empty name, an unknown kind, or characters no package
    /// name has (version constraints, extras, paths).
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var name = Substring(trimmed)
        var kind: PackageKind?
        if let colon = trimmed.firstIndex(of: ":") {
            let prefix = String(trimmed[..<colon])
            guard let known = PackageKind(rawValue: prefix.lowercased()) else {
                throw PackageGraphError.unknownKind(spec: trimmed, kind: prefix)
            }
            kind = known
            name = trimmed[trimmed.index(after: colon)...]
        }
        guard !name.isEmpty else { throw PackageGraphError.invalidSpec(spec: text, reason: "it names no package") }
        if let bad = name.first(where: { !Self.allowed($0) }) {
            throw PackageGraphError.invalidSpec(spec: trimmed, reason: Self.explain(bad))
        }
        self.kind = kind
        pattern = String(name)
        pythonPattern = PythonName.normalize(pattern)
    }

    /// Parses a comma-separated list (`deb:gcc-12,pypi:pytest`); empty items are ignored.
    public static func list(_ text: String) throws -> [PackageSpec] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map(PackageSpec.init)
    }

    public var description: String { kind.map { "\($0.rawValue):\(pattern)" } ?? pattern }

    public var isGlob: Bool { pattern.contains("*") || pattern.contains("?") }

    public func matches(_ record: PackageRecord) -> Bool {
        if let kind, kind != record.kind { return false }
        if record.kind == .pypi {
            return globMatches(Array(pythonPattern.unicodeScalars), Array(record.lookupName.unicodeScalars))
        }
        return globMatches(Array(pattern.unicodeScalars), Array(record.name.unicodeScalars))
    }

    /// Letters, digits and the punctuation dpkg, apk and Python names use, plus the wildcards.
    /// apk names may hold ':' and '/' (`so:libz.so.1`, `/bin/sh`), but those name what a
    /// package provides, not a package.
    private static func allowed(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "+-._*?".contains(character))
    }

    private static func explain(_ character: Character) -> String {
        switch character {
        case "<", ">", "=", "~", "!", "(":
            return "give a package name without a version ('\(character)' is not part of a name)"
        case "[":
            return "give a distribution name without extras ('[' is not part of a name)"
        case "/":
            return "give a package name, not a path; --remove takes paths"
        case ":":
            return "write at most one kind prefix, such as deb:NAME"
        default:
            return "'\(character)' does not occur in package names"
        }
    }
}

/// `*` and `?` over Unicode scalars; a `*` remembers where it started so a failed attempt
/// resumes one character later.
func globMatches(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
    var p = 0, t = 0, starP = -1, starT = 0
    while t < text.count {
        if p < pattern.count, pattern[p] == "*" {
            starP = p
            starT = t
            p += 1
        } else if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
            p += 1
            t += 1
        } else if starP >= 0 {
            p = starP + 1
            starT += 1
            t = starT
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == "*" { p += 1 }
    return p == pattern.count
}
