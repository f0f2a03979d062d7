import Foundation

/// The modules a source file names in its import statements, read from its text without
/// running it. Statements inside functions count too: a route's handler that imports on
/// first use is exactly the code a probe may never reach. A name computed at run time
/// (`importlib.import_module(name)`, `require(variable)`) cannot be followed: it is
/// returned as dynamic, for the report, and never guessed.
struct ImportStatements: Equatable {
    /// Modules as written: `a.b` in Python (with leading dots for a relative import),
    /// `express`, `./routes/b` or `node:fs` in JavaScript.
    var modules: [String] = []
    /// For Python `from M import x, y`: the names, each of which may be a submodule `M.x`.
    var fromNames: [String: [String]] = [:]
    /// 1-based lines of imports whose module is computed at run time.
    var dynamicLines: [Int] = []
    /// Python: distributions whose metadata the code asks for by a literal name
    /// (`importlib.metadata.version("idna")`, `pkg_resources.get_distribution("x")`).
    var metadataQueries: [String] = []

    /// Python: `import a.b as c, d`, `from .m import (x, y)`, over several lines in parentheses
    /// or after a backslash. Comments are dropped; docstrings seldom start a line with
    /// `import`, and a name they mention that the image lacks resolves to nothing.
    static func python(_ text: String) -> ImportStatements {
        var found = ImportStatements()
        var statement = ""
        var firstLine = 0
        var joined = 0
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = String(rawLine.prefix { $0 != "#" })
            if statement.isEmpty {
                let trimmed = code.trimmingLeadingSpaces()
                if let name = Self.metadataQuery(trimmed) { found.metadataQueries.append(name) }
                guard
                    trimmed.hasPrefix("import ") || trimmed.hasPrefix("from ")
                        || Self.loaderCalls.contains(where: trimmed.contains)
                else { continue }
                statement = trimmed
                firstLine = number + 1
                joined = 0
            } else {
                statement += " " + code
                joined += 1
            }
            let open = statement.filter { $0 == "(" }.count > statement.filter { $0 == ")" }.count
            // A statement continues in parentheses or after a backslash; prose that only
            // looks like one is given up after a few lines.
            if (open || statement.hasSuffix("\\")) && joined < 20 { continue }
            found.readPythonStatement(statement.replacingOccurrences(of: "\\", with: " "), line: firstLine)
            statement = ""
        }
        return found
    }

    /// Calls that load a module by the name given: a literal is followed like an import.
    static let loaderCalls = ["import_module(", "__import__(", "find_spec("]

    /// Calls that read a distribution's metadata by name.
    static let metadataCalls = ["version(", "metadata(", "distribution(", "requires(", "get_distribution("]

    /// The distribution a line asks the metadata of, when it names it literally.
    static func metadataQuery(_ line: String) -> String? {
        for call in metadataCalls {
            var rest = line[...]
            while let range = rest.range(of: call) {
                let before = rest[..<range.lowerBound].last
                rest = rest[range.upperBound...]
                // `metadata.version("x")`, or `version("x")` imported from importlib.metadata:
                // not `sys.version(` or `my_version(`.
                guard before.map({ $0 == "." || $0 == " " || $0 == "(" || $0 == "=" || $0 == "," }) ?? true else {
                    continue
                }
                if let name = literalArgument(after: "", in: String(rest)) { return name }
            }
        }
        return nil
    }

    private mutating func readPythonStatement(_ statement: String, line: Int) {
        for call in Self.loaderCalls where statement.contains(call) {
            if let literal = Self.literalArgument(after: call, in: statement) {
                modules.append(literal)
            } else {
                dynamicLines.append(line)
            }
        }
        let words = statement.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let keyword = words.first else { return }
        if keyword == "import" {
            let list = words.dropFirst().joined(separator: " ")
            for part in list.split(separator: ",") {
                guard let name = part.split(separator: " ").first.map(String.init), Self.isModulePath(name) else {
                    continue
                }
                modules.append(name)
            }
        } else if keyword == "from", words.count >= 4, words[2] == "import", Self.isModulePath(words[1]) {
            let module = words[1]
            modules.append(module)
            let names = words.dropFirst(3).joined(separator: " ")
                .filter { $0 != "(" && $0 != ")" }
                .split(separator: ",")
                .compactMap { $0.split(separator: " ").first.map(String.init) }
                .filter { $0 != "*" && Self.isIdentifier($0) }
            fromNames[module, default: []] += names
        }
    }

    /// JavaScript: `require('x')`, `import … from 'x'`, `import 'x'`, `import('x')` and
    /// `export … from 'x'`.
    static func javaScript(_ text: String) -> ImportStatements {
        var found = ImportStatements()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = String(line)
            for call in ["require(", "import("] where code.contains(call) {
                var rest = code[...]
                while let range = rest.range(of: call) {
                    // `myrequire(` or `.import(` are other functions.
                    let before = rest[..<range.lowerBound].last
                    rest = rest[range.upperBound...]
                    guard before.map({ !$0.isLetter && !$0.isNumber && $0 != "_" && $0 != "." && $0 != "$" }) ?? true
                    else { continue }
                    if let literal = literalArgument(after: "", in: String(rest)) {
                        found.modules.append(literal)
                    } else {
                        found.dynamicLines.append(number + 1)
                    }
                }
            }
            let trimmed = code.trimmingLeadingSpaces()
            if trimmed.hasPrefix("import ") || trimmed.hasPrefix("export ") {
                if let from = trimmed.range(of: " from ") {
                    if let literal = literalArgument(after: "", in: String(trimmed[from.upperBound...])) {
                        found.modules.append(literal)
                    }
                } else if trimmed.hasPrefix("import "), let literal = literalArgument(after: "import ", in: trimmed) {
                    found.modules.append(literal)
                }
            }
        }
        return found
    }

    /// Ruby: `require 'x'`, `require_relative 'x'` (returned as `./x`) and `autoload :X, 'x'`,
    /// at the start of any line, so also inside methods.
    static func ruby(_ text: String) -> ImportStatements {
        var found = ImportStatements()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = String(line).trimmingLeadingSpaces()
            for (keyword, prefix) in [("require_relative", "./"), ("require", "")] where code.hasPrefix(keyword) {
                let rest = code.dropFirst(keyword.count)
                guard rest.first == " " || rest.first == "(" else { continue }
                if let literal = literalArgument(after: "", in: String(rest.drop { $0 == " " || $0 == "(" })) {
                    found.modules.append(prefix + literal)
                } else {
                    found.dynamicLines.append(number + 1)
                }
                break
            }
            if code.hasPrefix("autoload "), let comma = code.firstIndex(of: ","),
                let literal = literalArgument(after: "", in: String(code[code.index(after: comma)...]))
            {
                found.modules.append(literal)
            }
        }
        return found
    }

    /// Perl: `use A::B` and `require A::B` (returned as the file `A/B.pm`), the classes of
    /// `use parent`/`use base`, and `require "file.pl"`; a version (`use 5.010`) is none,
    /// and `require $name` is dynamic.
    static func perl(_ text: String) -> ImportStatements {
        var found = ImportStatements()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = String(line).trimmingLeadingSpaces()
            guard let keyword = ["use ", "require "].first(where: code.hasPrefix) else { continue }
            let rest = String(code.dropFirst(keyword.count)).trimmingLeadingSpaces()
            if rest.hasPrefix("$") {
                found.dynamicLines.append(number + 1)
            } else if let literal = literalArgument(after: "", in: rest) {
                found.modules.append(literal)
            } else {
                let word = String(rest.prefix(while: isPerlNameCharacter))
                guard let first = word.first, first.isLetter || first == "_" else { continue }
                let classes =
                    keyword == "use " && (word == "parent" || word == "base")
                    ? perlClassList(String(rest.dropFirst(word.count))) : [word]
                for name in classes { found.modules.append(name.replacingOccurrences(of: "::", with: "/") + ".pm") }
            }
        }
        return found
    }

    private static func isPerlNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_" || character == ":"
    }

    /// The classes of `use parent qw(A B)` or `use base 'A', 'B'`, without `-norequire`.
    private static func perlClassList(_ text: String) -> [String] {
        let separators: Set<Character> = [" ", "(", ")", "'", "\"", ";", ","]
        let words = text.replacingOccurrences(of: "qw", with: " ").split(whereSeparator: { separators.contains($0) })
        return words.map(String.init).filter { $0.first?.isLetter == true }
    }

    /// The string literal that starts right after `marker` (spaces allowed), or nil when
    /// the argument is anything else.
    static func literalArgument(after marker: String, in text: String) -> String? {
        let start = marker.isEmpty ? text.startIndex : (text.range(of: marker)?.upperBound ?? text.endIndex)
        let rest = text[start...].drop { $0 == " " || $0 == "\t" }
        guard let quote = rest.first, quote == "'" || quote == "\"" || quote == "`" else { return nil }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: quote) else { return nil }
        let literal = String(body[..<end])
        // A template literal with a placeholder is computed.
        return literal.isEmpty || (quote == "`" && literal.contains("${")) ? nil : literal
    }

    static func isIdentifier(_ word: String) -> Bool {
        guard let first = word.first, first.isLetter || first == "_" else { return false }
        return word.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// `a.b.c`, or a relative `..a.b` / `.`.
    static func isModulePath(_ word: String) -> Bool {
        let name = word.drop { $0 == "." }
        return name.isEmpty
            ? !word.isEmpty
            : name.split(separator: ".", omittingEmptySubsequences: false)
                .allSatisfy { isIdentifier(String($0)) }
    }
}

extension String {
    func trimmingLeadingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" })
    }
}
