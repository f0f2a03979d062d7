import WhittleFlatten
import WhittleFiles

/// The `#!` line of a script, split as the kernel splits it: the interpreter path, then
/// everything else on the line as one argument.
public struct Shebang: Sendable, Equatable {
    /// The interpreter as a tree path: `#!/bin/sh` gives `bin/sh`.
    public let interpreter: String
    /// The rest of the line after the interpreter, trimmed; the kernel passes it as a
    /// single argument.
    public let argument: String?

    public init(interpreter: String, argument: String?) {
        self.interpreter = interpreter
        self.argument = argument
    }

    /// For `#!/usr/bin/env NAME`, the program env looks up through PATH (`python3`), or a
    /// path if the line names one. Options and `VAR=value` settings before it are skipped.
    public var command: String? {
        guard baseName(of: interpreter) == "env", let argument else { return nil }
        var words = argument.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        while let word = words.popFirst() {
            // Without -S, env would get "python3 -u" as one name and fail; taking the first
            // word keeps what the author meant, which is the safer thing to keep.
            if word == "-u" || word == "--unset" || word == "-C" || word == "--chdir" {
                _ = words.popFirst()
            } else if word.hasPrefix("-S"), word.count > 2 {
                return String(word.dropFirst(2))
            } else if word.hasPrefix("-") || word.contains("=") {
                continue
            } else {
                return word
            }
        }
        return nil
    }

    /// The kernel reads this much of a script to find its interpreter (BINPRM_BUF_SIZE).
    static let lineLimit = 256

    /// Parses the start of a file; nil when it is not a `#!` script.
    public static func parse(bytes: [UInt8]) -> Shebang? {
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else { return nil }
        let line = bytes.prefix(lineLimit).dropFirst(2).prefix { $0 != UInt8(ascii: "\n") && $0 != 0 }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let text = line.drop(while: isBlank)
        let interpreter = text.prefix { !isBlank($0) }
        guard !interpreter.isEmpty else { return nil }
        var rest = text.dropFirst(interpreter.count).drop(while: isBlank)
        while let last = rest.last, isBlank(last) { rest = rest.dropLast() }
        let path = String(decoding: interpreter, as: UTF8.self)
        return Shebang(
            interpreter: String(path.drop { $0 == "/" }),
            argument: rest.isEmpty ? nil : String(decoding: rest, as: UTF8.self))
    }

    /// Parses a file of the flattened tree; nil when it is not a `#!` script.
    public static func parse(_ content: FileSlice, name: String) throws -> Shebang? {
        parse(bytes: try ByteReader(content: content, name: name).prefix(at: 0, upTo: lineLimit))
    }
}
