import Foundation
import Yams

/// A CI configuration that cannot be used; the message names the file, the key and the value.
public enum CIConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notYAML(path: String, reason: String)
    case badValue(path: String, key: String, value: String, expected: String)
    case unknownKey(path: String, key: String, known: [String])
    case badVersion(path: String, found: String)
    case unknownProfile(path: String, name: String, known: [String])

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read the CI configuration \(path): \(reason)"
        case let .notYAML(path, reason):
            return "\(path) is not a YAML mapping: \(reason)"
        case let .badValue(path, key, value, expected):
            return "\(path): \(key) is '\(value)'; expected \(expected)"
        case let .unknownKey(path, key, known):
            return "\(path): unknown key '\(key)' (known: \(known.joined(separator: ", ")))"
        case let .badVersion(path, found):
            return "\(path): version is \(found); this whittle reads version 1"
        case let .unknownProfile(path, name, known) where known.isEmpty:
            return
                "\(path) names profile '\(name)', but no profiles were found: set WHITTLE_PROFILES to the Profiles directory"
        case let .unknownProfile(path, name, known):
            return "\(path): no profile named '\(name)' (known: \(known.joined(separator: ", ")))"
        }
    }
}

extension CIGate {
    /// dive's default file name, and whittle's.
    public static let diveFileName = ".dive-ci"
    public static let whittleFileName = ".whittle-ci.yaml"

    /// The gate from a `.dive-ci` file and a `.whittle-ci.yaml` file. A file named
    /// explicitly must exist; a default one (in `directory`) is read when present. Without
    /// a dive file, dive's defaults apply, as `dive --ci` applies them.
    /// - Parameter profiles: the profile names rules may name; nil when none were found.
    public static func load(
        diveFile: String?, whittleFile: String?, directory: String = ".",
        profiles: [String]?
    ) throws -> CIGate {
        var rules: [(rule: CIRule, source: String)] = []
        if let (path, text) = try read(diveFile, default: directory + "/" + diveFileName) {
            rules += try diveRules(yaml: text, path: path).map { ($0, path) }
        } else {
            rules += diveDefaults.map { ($0, "dive's defaults") }
        }
        if let (path, text) = try read(whittleFile, default: directory + "/" + whittleFileName) {
            rules += try whittleRules(yaml: text, path: path, profiles: profiles).map { ($0, path) }
        }
        return CIGate(rules: rules)
    }

    private static func read(_ explicit: String?, default path: String) throws -> (String, String)? {
        let chosen = explicit ?? path
        if explicit == nil, !FileManager.default.fileExists(atPath: chosen) { return nil }
        do {
            return (
                explicit ?? (chosen.hasPrefix("./") ? String(chosen.dropFirst(2)) : chosen),
                try String(contentsOfFile: chosen, encoding: .utf8)
            )
        } catch {
            let reason = FileManager.default.fileExists(atPath: chosen) ? "not readable as UTF-8 text" : "no such file"
            throw CIConfigError.unreadable(path: chosen, reason: reason)
        }
    }

    /// dive's three rules under `rules:`, each a number, a size, or `disabled`; a rule left
    /// out keeps dive's default, and other keys are ignored, as dive ignores them.
    public static func diveRules(yaml: String, path: String) throws -> [CIRule] {
        let root = try mapping(yaml, path: path)
        let section = root?["rules"]
        let isNull = section?.scalar.map { ["", "~", "null"].contains($0.string) } ?? false
        if let section, section.mapping == nil, !isNull {
            throw CIConfigError.notYAML(path: path, reason: "'rules' must be a mapping")
        }
        func value(_ key: String, _ fallback: String) throws -> String? {
            guard let node = section?[key] else { return fallback == "disabled" ? nil : fallback }
            guard let text = node.scalar?.string else {
                throw CIConfigError.badValue(path: path, key: "rules.\(key)", value: "\(node)", expected: "a scalar")
            }
            return text == "disabled" ? nil : text
        }
        let efficiency = try value("lowestEfficiency", "0.9").map { try ratio($0, key: "rules.lowestEfficiency", path) }
        let wasted = try value("highestWastedBytes", "disabled").map {
            guard let bytes = ByteSize.parse($0) else {
                throw CIConfigError.badValue(
                    path: path, key: "rules.highestWastedBytes", value: $0,
                    expected: "a size such as 20MB, 512KiB or 1000, or disabled")
            }
            return bytes
        }
        let userWasted = try value("highestUserWastedPercent", "0.1").map {
            try ratio($0, key: "rules.highestUserWastedPercent", path)
        }
        return [.lowestEfficiency(efficiency), .highestWastedBytes(wasted), .highestUserWastedPercent(userWasted)]
    }

    /// whittle's own rules (`.whittle-ci.yaml`, version 1): per profile, limits on what it
    /// would remove. Every key is checked, so a typo fails the gate instead of passing it.
    public static func whittleRules(yaml: String, path: String, profiles known: [String]?) throws -> [CIRule] {
        guard let root = try mapping(yaml, path: path) else { return [] }
        try checkKeys(root, ["version", "profiles"], prefix: "", path: path)
        let version = root["version"]?.scalar?.string ?? "(missing)"
        guard version == "1" else { throw CIConfigError.badVersion(path: path, found: version) }
        guard let profiles = root["profiles"] else { return [] }
        guard let entries = profiles.mapping else {
            throw CIConfigError.notYAML(path: path, reason: "'profiles' must map profile names to limits")
        }
        var rules: [CIRule] = []
        for (nameNode, limits) in entries {
            let name = nameNode.scalar?.string ?? "\(nameNode)"
            guard let known, known.contains(name) else {
                throw CIConfigError.unknownProfile(path: path, name: name, known: known ?? [])
            }
            guard let limits = limits.mapping else {
                throw CIConfigError.notYAML(path: path, reason: "profiles.\(name) must map limits to values")
            }
            try checkKeys(Node.mapping(limits), limitKeys, prefix: "profiles.\(name).", path: path)
            for (keyNode, valueNode) in limits {
                let key = keyNode.scalar?.string ?? ""
                rules.append(
                    .profile(
                        name,
                        try limit(
                            key, valueNode.scalar?.string ?? "\(valueNode)",
                            at: "profiles.\(name).\(key)", path)))
            }
        }
        return rules
    }

    private static let limitKeys = ["maxRemovableBytes", "maxRemovableFiles", "maxRemovableShare"]

    private static func limit(
        _ key: String, _ text: String, at name: String, _ path: String
    ) throws -> CIRule.ProfileLimit {
        switch key {
        case "maxRemovableBytes":
            guard let bytes = ByteSize.parse(text) else {
                throw CIConfigError.badValue(
                    path: path, key: name, value: text, expected: "a size such as 20MB, 512KiB or 0")
            }
            return .maxRemovableBytes(bytes)
        case "maxRemovableFiles":
            guard let files = Int(text), files >= 0 else {
                throw CIConfigError.badValue(path: path, key: name, value: text, expected: "a count of 0 or more")
            }
            return .maxRemovableFiles(files)
        default:
            return .maxRemovableShare(try ratio(text, key: name, path))
        }
    }

    private static func mapping(_ yaml: String, path: String) throws -> Node? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw CIConfigError.notYAML(path: path, reason: "\(error)")
        }
        guard let node else { return nil }
        guard node.mapping != nil else {
            throw CIConfigError.notYAML(path: path, reason: "the top level is not a mapping")
        }
        return node
    }

    private static func checkKeys(_ node: Node, _ known: [String], prefix: String, path: String) throws {
        let keys = node.mapping.map { Array($0.keys) } ?? []
        for key in keys {
            let text = key.scalar?.string ?? "\(key)"
            if !known.contains(text) { throw CIConfigError.unknownKey(path: path, key: prefix + text, known: known) }
        }
    }

    /// A ratio from 0 to 1, as dive requires of its two ratio rules.
    private static func ratio(_ text: String, key: String, _ path: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value >= 0, value <= 1 else {
            throw CIConfigError.badValue(
                path: path, key: key, value: text, expected: "a ratio from 0 to 1, or disabled")
        }
        return value
    }
}

/// Sizes written as dive reads them (go-humanize's `ParseBytes`): a number (commas
/// allowed), optional spaces, and a unit, case-insensitive. `kB`, `MB`, `GB`… and
/// `k`, `m`, `g`… are powers of 1000; `KiB`, `MiB`, `GiB`… and `ki`, `mi`, `gi`… of 1024;
/// none or `b` means bytes. `20MB` is 20,000,000 bytes.
public enum ByteSize {
    private static let units: [String: Double] = {
        var table: [String: Double] = ["": 1, "b": 1]
        for (power, letter) in ["k", "m", "g", "t", "p", "e"].enumerated() {
            table[letter] = pow(1000, Double(power + 1))
            table[letter + "b"] = pow(1000, Double(power + 1))
            table[letter + "i"] = pow(1024, Double(power + 1))
            table[letter + "ib"] = pow(1024, Double(power + 1))
        }
        return table
    }()

    public static func parse(_ text: String) -> Int64? {
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == "." || $0 == ",") }
        let unit = text.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard let value = Double(number.replacingOccurrences(of: ",", with: "")), let scale = units[unit] else {
            return nil
        }
        let bytes = value * scale
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}
