import Foundation

/// Python names compared as pip compares them (PEP 503).
public enum PythonName {
    /// Lowercase, with every run of '-', '_' and '.' turned into one '-'.
    public static func normalize(_ name: String) -> String {
        var result = ""
        var inRun = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !inRun { result.append("-") }
                inRun = true
            } else {
                result.append(character)
                inRun = false
            }
        }
        return result
    }
}

/// A PEP 440 version, enough to evaluate environment markers such as
/// `python_version < "3.11"` or `python_full_version >= "3.8.0rc1"`.
struct PythonVersion: Comparable {
    var epoch = 0
    var release: [Int]
    /// Pre-release: (0 for a, 1 for b, 2 for rc, number).
    var pre: (Int, Int)?
    var post: Int?
    var dev: Int?

    /// Nil for text that is not a version (`5.15.0-91-generic`).
    init?(_ text: String) {
        var scanner = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        if scanner.first == "v" { scanner = scanner.dropFirst() }
        if let plus = scanner.firstIndex(of: "+") { scanner = scanner[..<plus] }  // local label: ignored
        if let bang = scanner.firstIndex(of: "!") {
            guard let value = Int(scanner[..<bang]) else { return nil }
            epoch = value
            scanner = scanner[scanner.index(after: bang)...]
        }
        var numbers: [Int] = []
        while let digits = Self.number(&scanner) {
            numbers.append(digits)
            guard scanner.first == ".", scanner.dropFirst().first?.isNumber == true else { break }
            scanner = scanner.dropFirst()
        }
        guard !numbers.isEmpty else { return nil }
        release = numbers
        for (label, kind) in [
            ("alpha", 0), ("beta", 1), ("rc", 2), ("pre", 2), ("preview", 2), ("a", 0), ("b", 1), ("c", 2),
        ] {
            let rest = scanner.drop { $0 == "." || $0 == "-" || $0 == "_" }
            if rest.hasPrefix(label) {
                scanner = rest.dropFirst(label.count).drop { $0 == "." || $0 == "-" || $0 == "_" }
                pre = (kind, Self.number(&scanner) ?? 0)
                break
            }
        }
        for label in ["post", "rev", "r"] {
            let rest = scanner.drop { $0 == "." || $0 == "-" || $0 == "_" }
            if rest.hasPrefix(label) {
                scanner = rest.dropFirst(label.count).drop { $0 == "." || $0 == "-" || $0 == "_" }
                post = Self.number(&scanner) ?? 0
                break
            }
        }
        let rest = scanner.drop { $0 == "." || $0 == "-" || $0 == "_" }
        if rest.hasPrefix("dev") {
            scanner = rest.dropFirst(3).drop { $0 == "." || $0 == "-" || $0 == "_" }
            dev = Self.number(&scanner) ?? 0
        }
        guard scanner.isEmpty else { return nil }
    }

    private static func number(_ scanner: inout Substring) -> Int? {
        let digits = scanner.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int(digits) else { return nil }
        scanner = scanner.dropFirst(digits.count)
        return value
    }

    var isPrerelease: Bool { pre != nil || dev != nil }

    /// The sort key PEP 440 defines: a dev release sorts before its pre-releases, which sort
    /// before the release, which sorts before its post-releases.
    private var key: [Int] {
        let preKey: [Int]
        if let pre {
            preKey = [pre.0, pre.1]
        } else if dev != nil && post == nil {
            preKey = [-1, 0]
        } else {
            preKey = [3, 0]
        }
        let postKey = post.map { [1, $0] } ?? [0, 0]
        let devKey = dev.map { [0, $0] } ?? [1, 0]
        return preKey + postKey + devKey
    }

    static func == (lhs: PythonVersion, rhs: PythonVersion) -> Bool { compare(lhs, rhs) == 0 }
    static func < (lhs: PythonVersion, rhs: PythonVersion) -> Bool { compare(lhs, rhs) < 0 }

    static func compare(_ lhs: PythonVersion, _ rhs: PythonVersion) -> Int {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch ? -1 : 1 }
        let release = compareRelease(lhs.release, rhs.release)
        if release != 0 { return release }
        for (a, b) in zip(lhs.key, rhs.key) where a != b { return a < b ? -1 : 1 }
        return 0
    }

    /// Release segments compared with the shorter padded by zeros: 3.11 == 3.11.0.
    static func compareRelease(_ a: [Int], _ b: [Int]) -> Int {
        for index in 0..<max(a.count, b.count) {
            let left = index < a.count ? a[index] : 0
            let right = index < b.count ? b[index] : 0
            if left != right { return left < right ? -1 : 1 }
        }
        return 0
    }

    /// PEP 440 specifier operators, as `packaging` applies them in markers (pre-releases
    /// allowed). Nil when `op` is not a version operator or `spec` not a version.
    static func satisfies(_ candidate: PythonVersion, _ op: String, _ spec: String) -> Bool? {
        if op == "==" || op == "!=", spec.hasSuffix(".*") {
            guard let prefix = PythonVersion(String(spec.dropLast(2))) else { return nil }
            let padded =
                candidate.release + Array(repeating: 0, count: max(0, prefix.release.count - candidate.release.count))
            let same = candidate.epoch == prefix.epoch && Array(padded.prefix(prefix.release.count)) == prefix.release
            return op == "==" ? same : !same
        }
        guard let version = PythonVersion(spec) else { return nil }
        let order = compare(candidate, version)
        switch op {
        case "==": return order == 0
        case "!=": return order != 0
        case "<=": return order <= 0
        case ">=": return order >= 0
        case "<": return order < 0
        case ">": return order > 0
        case "~=":
            guard version.release.count >= 2, order >= 0 else { return version.release.count >= 2 ? false : nil }
            let prefix = Array(version.release.dropLast())
            let padded = candidate.release + Array(repeating: 0, count: max(0, prefix.count - candidate.release.count))
            return Array(padded.prefix(prefix.count)) == prefix
        default: return nil
        }
    }
}
