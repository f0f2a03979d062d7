// The one lexical normaliser of paths: `.` dropped, `..` folded, empty components and
// leading or trailing slashes gone. Tree paths and archive member names have no leading
// slash. Resolving symlinks is the tree's business (`FileTree.resolve`), not this.

/// `base` with `components` appended and folded; a `..` at the root stays at the root, as
/// the kernel's `/..` does.
public func foldLexically(_ base: String, _ components: [String]) -> String {
    let texts = [base] + components
    // Most paths (a `RECORD` line below its site directory) are folded already: joining is all.
    if texts.allSatisfy(isFolded) {
        let named = texts.filter { !$0.isEmpty }
        return named.count == 1 ? named[0] : named.joined(separator: "/")
    }
    var parts: [String] = []
    for text in texts { _ = appendFolding(text, to: &parts, clamping: true) }
    return parts.joined(separator: "/")
}

/// Whether folding `text` would leave it as it is: no `.`, `..` or empty name, no slash at
/// either end.
private func isFolded(_ text: String) -> Bool {
    var text = text
    return text.withUTF8 { bytes in
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "/") {
            let count = index - start
            if count == 0, !bytes.isEmpty { return false }
            if count == 1, bytes[start] == dot { return false }
            if count == 2, bytes[start] == dot, bytes[start + 1] == dot { return false }
            start = index + 1
        }
        return true
    }
}

/// The components of `path` folded, or nil when a `..` would climb above where it starts
/// (an archive entry or member name that tries to leave its root).
public func lexicalComponents(_ path: String) -> [String]? {
    var parts: [String] = []
    return appendFolding(path, to: &parts, clamping: false) ? parts : nil
}

private func appendFolding(_ text: String, to parts: inout [String], clamping: Bool) -> Bool {
    var text = text
    return text.withUTF8 { bytes in
        for range in componentRanges(bytes) {
            if range.count == 1, bytes[range.lowerBound] == dot { continue }
            if range.count == 2, bytes[range.lowerBound] == dot, bytes[range.lowerBound + 1] == dot {
                guard !parts.isEmpty else {
                    if clamping { continue }
                    return false
                }
                parts.removeLast()
                continue
            }
            parts.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
        }
        return true
    }
}

/// The names of a path, split on its '/' bytes with empty ones dropped, and nothing folded:
/// the tree's walk gives `.` and `..` their meaning among symlinks.
public func pathComponents(_ path: String) -> [String] {
    var path = path
    return path.withUTF8 { bytes in
        componentRanges(bytes).map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
    }
}

private let dot = UInt8(ascii: ".")

/// Where each non-empty name of a path lies. Split on bytes, as the kernel does: `Character`
/// splitting cost more than the rest of applying an entry, and a '/' followed by a
/// combining mark still separates two names.
private func componentRanges(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var start = 0
    for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "/") {
        if index > start { ranges.append(start..<index) }
        start = index + 1
    }
    return ranges
}
