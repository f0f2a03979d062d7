import Foundation

/// The values PEP 508 environment markers test, for the Python inside an image. whittle
/// never runs that Python, so the values are what pip would compute there on Linux.
public struct PythonEnvironment: Sendable, Hashable {
    public var values: [String: String]

    /// - Parameters:
    ///   - pythonVersion: the interpreter's full version (`3.11.2`), or just `3.11` when
    ///     only the site directory's name tells it.
    ///   - machine: `platform.machine()`: `x86_64`, `aarch64`.
    public init(pythonVersion: String, machine: String = "x86_64") {
        let parts = pythonVersion.split(separator: ".")
        let short = parts.prefix(2).joined(separator: ".")
        values = [
            "python_version": short,
            "python_full_version": pythonVersion,
            "implementation_version": pythonVersion,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": machine,
            "platform_release": "",
            "platform_version": "",
        ]
    }

    /// Debian's architecture names turned into `platform.machine()`.
    public static func machine(debianArchitecture: String) -> String {
        [
            "amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "armhf": "armv7l", "ppc64el": "ppc64le",
            "s390x": "s390x",
        ][debianArchitecture] ?? debianArchitecture
    }
}

/// A PEP 508 environment marker: `python_version < "3.11" and extra == "test"`.
public indirect enum PythonMarker: Sendable, Hashable {
    case and(PythonMarker, PythonMarker)
    case or(PythonMarker, PythonMarker)
    case compare(Operand, String, Operand)

    public enum Operand: Sendable, Hashable {
        case variable(String)
        case literal(String)
    }

    /// Old spellings `packaging` still reads.
    static let aliases = [
        "os.name": "os_name", "sys.platform": "sys_platform", "platform.version": "platform_version",
        "platform.machine": "platform_machine", "platform.python_implementation": "platform_python_implementation",
        "python_implementation": "platform_python_implementation",
    ]

    public static func parse(_ text: String) throws -> PythonMarker {
        var parser = MarkerParser(text: text)
        return try parser.parseAll()
    }

    /// Whether the marker mentions `extra`, so that it depends on which extras are asked for.
    public var mentionsExtra: Bool {
        switch self {
        case let .and(a, b), let .or(a, b): return a.mentionsExtra || b.mentionsExtra
        case let .compare(lhs, _, rhs): return lhs == .variable("extra") || rhs == .variable("extra")
        }
    }

    /// Evaluates as `packaging` does: a version comparison when the operator is a version
    /// operator and both sides are versions, else a comparison of the text. `extra` is
    /// compared after name normalization.
    public func evaluate(_ environment: PythonEnvironment, extra: String) -> Bool {
        switch self {
        case let .and(a, b): return a.evaluate(environment, extra: extra) && b.evaluate(environment, extra: extra)
        case let .or(a, b): return a.evaluate(environment, extra: extra) || b.evaluate(environment, extra: extra)
        case let .compare(lhs, op, rhs):
            let isExtra = lhs == .variable("extra") || rhs == .variable("extra")
            func value(_ operand: Operand) -> String {
                switch operand {
                case let .literal(text): return isExtra ? PythonName.normalize(text) : text
                case let .variable(name):
                    return name == "extra" ? PythonName.normalize(extra) : environment.values[name] ?? ""
                }
            }
            return Self.apply(value(lhs), op, value(rhs))
        }
    }

    static func apply(_ lhs: String, _ op: String, _ rhs: String) -> Bool {
        switch op {
        case "in": return rhs.contains(lhs)
        case "not in": return !rhs.contains(lhs)
        case "===": return lhs == rhs
        default: break
        }
        if let version = PythonVersion(lhs), let result = PythonVersion.satisfies(version, op, rhs) {
            return result
        }
        switch op {
        case "==": return lhs == rhs
        case "!=": return lhs != rhs
        case "<": return lhs < rhs
        case "<=": return lhs <= rhs
        case ">": return lhs > rhs
        case ">=": return lhs >= rhs
        default: return false
        }
    }
}

/// Recursive descent over the marker grammar: `or` of `and` of comparisons or
/// parenthesized markers.
private struct MarkerParser {
    let text: String
    var tokens: [String] = []
    var position = 0

    init(text: String) {
        self.text = text
    }

    mutating func parseAll() throws -> PythonMarker {
        tokens = try tokenize(text)
        let marker = try parseOr()
        guard position == tokens.count else { throw failure("unexpected '\(tokens[position])'") }
        return marker
    }

    private func failure(_ reason: String) -> PackageGraphError {
        .invalidSpec(spec: text, reason: "environment marker: \(reason)")
    }

    private mutating func parseOr() throws -> PythonMarker {
        var marker = try parseAnd()
        while position < tokens.count, tokens[position] == "or" {
            position += 1
            marker = .or(marker, try parseAnd())
        }
        return marker
    }

    private mutating func parseAnd() throws -> PythonMarker {
        var marker = try parseAtom()
        while position < tokens.count, tokens[position] == "and" {
            position += 1
            marker = .and(marker, try parseAtom())
        }
        return marker
    }

    private mutating func parseAtom() throws -> PythonMarker {
        guard position < tokens.count else { throw failure("it ends too early") }
        if tokens[position] == "(" {
            position += 1
            let inner = try parseOr()
            guard position < tokens.count, tokens[position] == ")" else { throw failure("'(' without ')'") }
            position += 1
            return inner
        }
        let lhs = try operand()
        guard position < tokens.count else { throw failure("a comparison needs an operator") }
        var op = tokens[position]
        position += 1
        if op == "not" {
            guard position < tokens.count, tokens[position] == "in" else {
                throw failure("'not' must be followed by 'in'")
            }
            position += 1
            op = "not in"
        }
        guard ["<", "<=", "==", "!=", ">=", ">", "~=", "===", "in", "not in"].contains(op) else {
            throw failure("'\(op)' is not a comparison operator")
        }
        return .compare(lhs, op, try operand())
    }

    private mutating func operand() throws -> PythonMarker.Operand {
        guard position < tokens.count else { throw failure("it ends too early") }
        let token = tokens[position]
        position += 1
        if token.hasPrefix("\"") || token.hasPrefix("'") { return .literal(String(token.dropFirst().dropLast())) }
        let name = PythonMarker.aliases[token] ?? token
        guard name == "extra" || PythonEnvironment(pythonVersion: "3").values[name] != nil else {
            throw failure("'\(token)' is not a marker variable")
        }
        return .variable(name)
    }

    /// Far longer than any real marker. The parser and every walk of a marker recurse once
    /// for each nested parenthesis and each `and`/`or`, so a hostile `METADATA` line of
    /// thousands of them would overflow the stack.
    static let maxTokens = 1024

    private func tokenize(_ text: String) throws -> [String] {
        var tokens: [String] = []
        var characters = Substring(text)
        while let first = characters.first {
            guard tokens.count < Self.maxTokens else {
                throw failure("longer than \(Self.maxTokens) tokens; no real marker is")
            }
            if first == " " || first == "\t" {
                characters = characters.dropFirst()
            } else if first == "(" || first == ")" {
                tokens.append(String(first))
                characters = characters.dropFirst()
            } else if first == "\"" || first == "'" {
                guard let close = characters.dropFirst().firstIndex(of: first) else { throw failure("unclosed quote") }
                tokens.append(String(characters[...close]))
                characters = characters[characters.index(after: close)...]
            } else if "<>=!~".contains(first) {
                let op = characters.prefix { "<>=!~".contains($0) }
                tokens.append(String(op))
                characters = characters.dropFirst(op.count)
            } else {
                let word = characters.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
                guard !word.isEmpty else { throw failure("unexpected '\(first)'") }
                tokens.append(String(word))
                characters = characters.dropFirst(word.count)
            }
        }
        return tokens
    }
}
