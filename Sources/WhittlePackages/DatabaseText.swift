import WhittleFlatten

/// Why a package database in the image could not be read.
public enum PackageDatabaseError: Error, CustomStringConvertible, Sendable, Equatable {
    case unreadable(path: String, reason: String)
    case tooLarge(path: String, bytes: Int64)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read the package database file '\(path)' in the image: \(reason)"
        case let .tooLarge(path, bytes):
            return "the package database file '\(path)' in the image is implausibly large (\(bytes) bytes); "
                + "is the image damaged?"
        }
    }
}

/// Reading the small text files package databases are made of.
enum DatabaseText {
    /// Database files are small text files; a huge one means a damaged image, not a reason
    /// to read gigabytes.
    static let limit: Int64 = 256 << 20

    /// The text of the regular file at `path`, nil when there is none.
    static func read(_ tree: FileTree, _ path: String) throws -> String? {
        guard let node = tree.lookup(path), let inode = node.inode, inode.kind == .regular else { return nil }
        let bytes: [UInt8]?
        do {
            bytes = try inode.contents(limit: limit)
        } catch {
            throw PackageDatabaseError.unreadable(path: path, reason: "\(error)")
        }
        guard let bytes else { throw PackageDatabaseError.tooLarge(path: path, bytes: inode.size) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lines without their newline (`\n` or `\r\n`: Python's csv module ends `RECORD` lines
    /// with `\r\n`, which Swift counts as one character); a final empty line is not a line.
    static func lines(_ text: String) -> [Substring] {
        // Split on bytes: `Character` splitting was most of the cost of reading a database.
        let newline = UInt8(ascii: "\n")
        let utf8 = text.utf8
        var lines: [Substring] = []
        var start = utf8.startIndex
        while let end = utf8[start...].firstIndex(of: newline) {
            var lineEnd = end
            if lineEnd > start, utf8[utf8.index(before: lineEnd)] == UInt8(ascii: "\r") {
                lineEnd = utf8.index(before: lineEnd)
            }
            lines.append(text[start..<lineEnd])
            start = utf8.index(after: end)
        }
        if start < utf8.endIndex { lines.append(text[start...]) }
        return lines
    }

    /// One `Field: value` paragraph of a deb822 file (dpkg `status`, apt `extended_states`)
    /// or the header block of a Python `METADATA`/`PKG-INFO`: continuation lines (starting
    /// with a space or tab) join the value with newlines. Repeated fields keep every value.
    struct Paragraph {
        var fields: [(name: String, value: String)] = []
        /// The lines as written, so a rewrite can copy a paragraph unchanged.
        var text: [Substring] = []

        func value(_ name: String) -> String? {
            fields.first { $0.name.caseInsensitiveEquals(name) }?.value
        }

        func values(_ name: String) -> [String] {
            fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
        }
    }

    /// Paragraphs separated by blank lines.
    static func paragraphs(_ text: String) -> [Paragraph] {
        var result: [Paragraph] = []
        var current = Paragraph()
        for line in lines(text) {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                if !current.text.isEmpty { result.append(current) }
                current = Paragraph()
                continue
            }
            current.text.append(line)
            add(line, to: &current)
        }
        if !current.text.isEmpty { result.append(current) }
        return result
    }

    /// The header block of an email-style document: everything before the first blank line.
    static func headers(_ text: String) -> Paragraph {
        var header = Paragraph()
        for line in lines(text) {
            if line.isEmpty || line == "\r" { break }
            add(line, to: &header)
        }
        return header
    }

    private static func add(_ line: Substring, to paragraph: inout Paragraph) {
        if line.first == " " || line.first == "\t" {
            guard !paragraph.fields.isEmpty else { return }
            paragraph.fields[paragraph.fields.count - 1].value += "\n" + line.dropFirst()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        paragraph.fields.append((String(line[..<colon]), String(value.hasSuffix("\r") ? value.dropLast() : value)))
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        count == other.count && lowercased() == other.lowercased()
    }
}
