import Foundation

/// One alternative of a dpkg relationship field, such as `libssl3 (>= 3.0.0)`,
/// `python3:any` or `libc6-dev [amd64 i386]`.
public struct DebianRelation: Sendable, Hashable {
    public var name: String
    /// After ':' (`any`, `native`, or an architecture).
    public var architectureQualifier: String?
    public var constraint: DebianConstraint?
    /// The `[amd64 !i386]` restriction list (Build-Depends style); empty when absent.
    public var architectures: [String]

    public init(
        name: String, architectureQualifier: String? = nil, constraint: DebianConstraint? = nil,
        architectures: [String] = []
    ) {
        self.name = name
        self.architectureQualifier = architectureQualifier
        self.constraint = constraint
        self.architectures = architectures
    }

    /// Whether the `[...]` restriction lets the relation apply on `architecture`; with no
    /// list, or an unknown architecture, it applies.
    public func applies(on architecture: String?) -> Bool {
        guard let architecture, !architectures.isEmpty else { return true }
        func matches(_ item: String) -> Bool {
            item == architecture || item == "any" || item == "linux-any" || item == "any-\(architecture)"
        }
        let negated = architectures.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) }
        if negated.count == architectures.count { return !negated.contains(where: matches) }
        return architectures.contains(where: matches)
    }
}

/// A version restriction: `(>= 1.2)`.
public struct DebianConstraint: Sendable, Hashable {
    public enum Relation: String, Sendable {
        case earlier = "<<", earlierOrEqual = "<=", equal = "=", laterOrEqual = ">=", later = ">>"
    }
    public var relation: Relation
    public var version: String

    public init(_ relation: Relation, _ version: String) {
        self.relation = relation
        self.version = version
    }

    public func isSatisfied(by candidate: String) -> Bool {
        let order = DebianVersion.compare(candidate, version)
        switch relation {
        case .earlier: return order < 0
        case .earlierOrEqual: return order <= 0
        case .equal: return order == 0
        case .laterOrEqual: return order >= 0
        case .later: return order > 0
        }
    }
}

/// dpkg's relationship fields (Depends, Pre-Depends, Recommends, Provides) as written in
/// `/var/lib/dpkg/status`.
public enum DebianRelations {
    /// Comma-separated groups of '|'-separated alternatives: `a (>= 1) | b, c:any`.
    public static func parse(_ field: String) throws -> [[DebianRelation]] {
        try field.split(separator: ",").compactMap { group -> [DebianRelation]? in
            let alternatives = try group.split(separator: "|").map { try relation(String($0), field: field) }
            return alternatives.isEmpty ? nil : alternatives
        }.filter { !$0.isEmpty }
    }

    /// A Provides field: names with an optional `(= version)`.
    public static func parseProvides(_ field: String) throws -> [(name: String, version: String?)] {
        try parse(field).flatMap { group in
            try group.map { relation in
                if let constraint = relation.constraint, constraint.relation != .equal {
                    throw PackageGraphError.invalidSpec(
                        spec: field, reason: "Provides allows only '=' versions, not '\(constraint.relation.rawValue)'")
                }
                return (relation.name, relation.constraint?.version)
            }
        }
    }

    private static func relation(_ text: String, field: String) throws -> DebianRelation {
        var rest = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        // Build profiles (`<!nocheck>`) say when a build needs something; installed
        // packages never carry them, so they are dropped.
        if let angle = rest.firstIndex(of: "<"), !rest[..<angle].contains("(") {
            rest = rest[..<angle]
        }
        let nameEnd = rest.firstIndex { $0 == " " || $0 == "(" || $0 == "[" || $0 == "\t" } ?? rest.endIndex
        var name = String(rest[..<nameEnd])
        rest = rest[nameEnd...].drop { $0 == " " || $0 == "\t" }
        var qualifier: String?
        if let colon = name.firstIndex(of: ":") {
            qualifier = String(name[name.index(after: colon)...])
            name = String(name[..<colon])
        }
        guard !name.isEmpty else {
            throw PackageGraphError.invalidSpec(spec: field, reason: "an alternative names no package")
        }
        var relation = DebianRelation(name: name, architectureQualifier: qualifier)
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else {
                throw PackageGraphError.invalidSpec(spec: field, reason: "'(' without ')' after \(name)")
            }
            relation.constraint = try constraint(rest[rest.index(after: rest.startIndex)..<close], field: field)
            rest = rest[rest.index(after: close)...].drop { $0 == " " }
        }
        if rest.first == "[", let close = rest.firstIndex(of: "]") {
            relation.architectures = rest[rest.index(after: rest.startIndex)..<close].split(separator: " ").map(
                String.init)
        }
        return relation
    }

    private static func constraint(_ text: Substring, field: String) throws -> DebianConstraint {
        let body = text.trimmingCharacters(in: .whitespaces)
        let operators: [(String, DebianConstraint.Relation)] = [
            ("<<", .earlier), ("<=", .earlierOrEqual), (">=", .laterOrEqual), (">>", .later),
            ("=", .equal), ("<", .earlierOrEqual), (">", .laterOrEqual),  // '<' and '>' are dpkg's old spellings
        ]
        for (symbol, relation) in operators where body.hasPrefix(symbol) {
            let version = body.dropFirst(symbol.count).trimmingCharacters(in: .whitespaces)
            guard !version.isEmpty else { break }
            return DebianConstraint(relation, version)
        }
        throw PackageGraphError.invalidSpec(spec: field, reason: "'(\(body))' is not a version restriction")
    }
}

/// dpkg's version order: `[epoch:]upstream[-revision]`, compared part by part; within a
/// part, runs of non-digits compare with '~' before everything (even the end) and letters
/// before other characters, and runs of digits compare as numbers.
public enum DebianVersion {
    /// Negative, zero or positive as `a` is older than, equal to or newer than `b`.
    public static func compare(_ a: String, _ b: String) -> Int {
        let (epochA, upstreamA, revisionA) = split(a)
        let (epochB, upstreamB, revisionB) = split(b)
        if epochA != epochB { return epochA < epochB ? -1 : 1 }
        let upstream = comparePart(upstreamA, upstreamB)
        return upstream != 0 ? upstream : comparePart(revisionA, revisionB)
    }

    private static func split(_ version: String) -> (Int, [UInt8], [UInt8]) {
        var rest = Substring(version.trimmingCharacters(in: .whitespaces))
        var epoch = 0
        if let colon = rest.firstIndex(of: ":"), let value = Int(rest[..<colon]) {
            epoch = value
            rest = rest[rest.index(after: colon)...]
        }
        guard let dash = rest.lastIndex(of: "-") else { return (epoch, Array(rest.utf8), []) }
        return (epoch, Array(rest[..<dash].utf8), Array(rest[rest.index(after: dash)...].utf8))
    }

    private static func order(_ byte: UInt8?) -> Int {
        guard let byte else { return 0 }
        if byte == UInt8(ascii: "~") { return -1 }
        if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) { return Int(byte) }
        return Int(byte) + 256
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func comparePart(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0, j = 0
        while i < a.count || j < b.count {
            // Non-digit runs, character by character.
            while (i < a.count && !isDigit(a[i])) || (j < b.count && !isDigit(b[j])) {
                let left = i < a.count && !isDigit(a[i]) ? order(a[i]) : 0
                let right = j < b.count && !isDigit(b[j]) ? order(b[j]) : 0
                if left != right { return left < right ? -1 : 1 }
                if i < a.count && !isDigit(a[i]) { i += 1 }
                if j < b.count && !isDigit(b[j]) { j += 1 }
            }
            // Digit runs, as numbers (leading zeros skipped, then length, then digits).
            while i < a.count, a[i] == UInt8(ascii: "0") { i += 1 }
            while j < b.count, b[j] == UInt8(ascii: "0") { j += 1 }
            var endA = i, endB = j
            while endA < a.count, isDigit(a[endA]) { endA += 1 }
            while endB < b.count, isDigit(b[endB]) { endB += 1 }
            if endA - i != endB - j { return endA - i < endB - j ? -1 : 1 }
            while i < endA {
                if a[i] != b[j] { return a[i] < b[j] ? -1 : 1 }
                i += 1
                j += 1
            }
            i = endA
            j = endB
        }
        return 0
    }
}
