// The one lexical normaliser of paths: `.` dropped, `..` folded, empty components and
// leading or trailing slashes gone. Tree paths and archive member names have no leading
// slash. Resolving symlinks is the tree's business (`FileTree.resolve`), not this.

/// `base` with `components` appended and folded; a `..` at the root stays at the root, as
/// the kernel's `/..` does.
public func foldLexically(_ base: String, _ components: [String]) -> String {
    var parts: [String] = []
    for text in [base] + components { _ = appendFolding(text, to: &parts, clamping: true) }
    return parts.joined(separator: "/")
}

/// The components of `path` folded, or nil when a `..` would climb above where it starts
/// (an archive entry or member name that tries to leave its root).
public func lexicalComponents(_ path: String) -> [String]? {
    var parts: [String] = []
    return appendFolding(path, to: &parts, clamping: false) ? parts : nil
}

private func appendFolding(_ text: String, to parts: inout [String], clamping: Bool) -> Bool {
    for part in text.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." {
            guard !parts.isEmpty else {
                if clamping { continue }
                return false
            }
            parts.removeLast()
            continue
        }
        parts.append(String(part))
    }
    return true
}
