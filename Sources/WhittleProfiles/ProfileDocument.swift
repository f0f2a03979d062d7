import Foundation
import WhittlePackageGraph
import Yams

/// The YAML form of a profile (described in `Profiles/README.md`). Version 1:
///
/// ```yaml
/// version: 1
/// name: pycache
/// description: Python bytecode caches
/// risk: Slower first import
/// remove:
///   - "**/__pycache__"
/// keep: []
/// include: []
/// ```
///
/// Version 2 reads the same keys plus `packages` (whole packages to remove, as
/// `--remove-package` names them) and `autoremove`; a version-1 file means what it always did.
///
/// The document is walked as YAML nodes rather than decoded, so that an unknown key, a
/// wrong type or a bad pattern is reported with its file and line.
enum ProfileDocument {
    /// The newest format, which `missing 'version:'` messages suggest.
    static let currentVersion = 2
    static let versions = [1, 2]
    static let keys = ["version", "name", "description", "risk", "remove", "keep", "include", "packages", "autoremove"]
    /// Keys that only version 2 reads.
    static let packageKeys = ["packages", "autoremove"]

    static func parse(_ text: String, file: String) throws -> Profile {
        let values = try fields(text, file: file)

        // The version comes first: with another version, the other keys may mean other things.
        guard let versionNode = values["version"] else {
            throw ProfileError.malformed(
                file: file,
                reason: """
                    missing 'version: 1' (or 'version: 2' for a profile that names packages); every profile \
                    starts with the format version
                    """)
        }
        guard let version = versionNode.int, versions.contains(version) else {
            throw ProfileError.unsupportedVersion(file: file, version: versionNode.scalar?.string ?? "(not a number)")
        }
        if version < 2, let key = packageKeys.first(where: { values[$0] != nil }), let node = values[key] {
            throw ProfileError.malformed(
                file: file,
                reason: """
                    \(place(node))'\(key)' needs 'version: 2' at the top of the profile (version 1 names only paths)
                    """)
        }

        guard let nameNode = values["name"], let name = nameNode.scalar?.string, !name.isEmpty else {
            throw ProfileError.malformed(file: file, reason: "missing 'name:', the name used to select the profile")
        }
        guard isValidName(name) else {
            throw ProfileError.malformed(
                file: file,
                reason: """
                    \(place(nameNode))name '\(name)' must be lowercase letters, digits, '-', '_' or '.', \
                    starting with a letter or digit
                    """)
        }

        let profile = Profile(
            name: name,
            description: try textValue(values["description"], key: "description", file: file),
            risk: try textValue(values["risk"], key: "risk", file: file),
            remove: try patterns(values["remove"], key: "remove", file: file),
            keep: try patterns(values["keep"], key: "keep", file: file),
            include: try strings(values["include"], key: "include", file: file),
            packages: try packageSpecs(values["packages"], file: file),
            autoremove: try flag(values["autoremove"], key: "autoremove", file: file),
            file: file)
        try checkRemovesSomething(profile, values: values, file: file)
        return profile
    }

    /// The document's top-level keys with their values; unknown and repeated keys are errors.
    private static func fields(_ text: String, file: String) throws -> [String: Node] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ProfileError.malformed(file: file, reason: "not valid YAML: \(error)" + quotingHint(text))
        }
        guard let root, case let .mapping(mapping) = root else {
            throw ProfileError.malformed(
                file: file,
                reason: """
                    expected a mapping with the keys \(keys.joined(separator: ", ")), starting with \
                    'version: \(currentVersion)'
                    """)
        }
        var values: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                throw ProfileError.malformed(file: file, reason: "\(place(keyNode))keys must be plain names")
            }
            guard keys.contains(key) else {
                throw ProfileError.unknownKey(file: file, key: key, line: keyNode.mark?.line)
            }
            guard values[key] == nil else {
                throw ProfileError.malformed(file: file, reason: "\(place(keyNode))key '\(key)' appears twice")
            }
            values[key] = value
        }
        return values
    }

    private static func checkRemovesSomething(_ profile: Profile, values: [String: Node], file: String) throws {
        if profile.remove.isEmpty && profile.include.isEmpty && profile.packages.isEmpty {
            throw ProfileError.malformed(
                file: file,
                reason: """
                    profile '\(profile.name)' removes nothing; give it 'remove' patterns, 'packages' (version 2) \
                    or 'include' other profiles
                    """)
        }
        if profile.autoremove && profile.packages.isEmpty, let node = values["autoremove"] {
            throw ProfileError.malformed(
                file: file,
                reason: """
                    \(place(node))'autoremove' applies to the profile's own 'packages', and it names none
                    """)
        }
    }

    private static func packageSpecs(_ node: Node?, file: String) throws -> [PackageSpec] {
        try items(node, key: "packages", file: file).map { item in
            do {
                return try PackageSpec(item.text)
            } catch let error as PackageGraphError {
                throw ProfileError.malformed(file: file, reason: "\(place(item.node))in 'packages': \(error)")
            }
        }
    }

    private static func flag(_ node: Node?, key: String, file: String) throws -> Bool {
        guard let node, !isNull(node) else { return false }
        guard let value = node.bool else {
            throw ProfileError.malformed(file: file, reason: "\(place(node))'\(key)' must be true or false")
        }
        return value
    }

    private static func textValue(_ node: Node?, key: String, file: String) throws -> String {
        guard let node, !isNull(node) else { return "" }
        guard let value = node.scalar?.string else {
            throw ProfileError.malformed(file: file, reason: "\(place(node))'\(key)' must be text")
        }
        return value
    }

    private static func strings(_ node: Node?, key: String, file: String) throws -> [String] {
        try items(node, key: key, file: file).map(\.text)
    }

    private static func patterns(_ node: Node?, key: String, file: String) throws -> [PathPattern] {
        try items(node, key: key, file: file).map { item in
            do {
                return try PathPattern(item.text)
            } catch let error as ProfileError {
                throw ProfileError.malformed(file: file, reason: "\(place(item.node))in '\(key)': \(error)")
            }
        }
    }

    /// A list of text items; a missing or empty (null) value is an empty list.
    private static func items(_ node: Node?, key: String, file: String) throws -> [(text: String, node: Node)] {
        guard let node, !isNull(node) else { return [] }
        guard case let .sequence(sequence) = node else {
            throw ProfileError.malformed(file: file, reason: "\(place(node))'\(key)' must be a list ('- item' lines)")
        }
        return try sequence.map { item in
            guard let value = item.scalar?.string, !isNull(item) else {
                throw ProfileError.malformed(file: file, reason: "\(place(item))items of '\(key)' must be text")
            }
            return (value, item)
        }
    }

    private static func isNull(_ node: Node) -> Bool {
        // Only a plain `~`, `null` or nothing is null (Yams checks the style); a quoted
        // "null" is text.
        node.null != nil
    }

    private static func place(_ node: Node) -> String {
        node.mark.map { "line \($0.line): " } ?? ""
    }

    private static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func allowed(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        }
        guard let first = bytes.first, allowed(first) else { return false }
        return bytes.allSatisfy {
            allowed($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    /// YAML reads a plain scalar starting with `*` as an alias, the most likely mistake in a
    /// pattern list; say so next to the parser's message.
    private static func quotingHint(_ text: String) -> String {
        let unquotedStar = text.split(separator: "\n").contains { line in
            let item = line.drop { $0 == " " || $0 == "\t" }
            return item.hasPrefix("- *") || item.hasPrefix("-*")
        }
        return unquotedStar ? " (patterns starting with '*' must be quoted, as in - \"**/__pycache__\")" : ""
    }
}
