import WhittlePipeline

/// How the package section reads in the terminal, the dry run and Markdown.
extension PackageSection {
    /// Lines for the terminal and the dry run; with `limit`, at most that many packages of
    /// each state (the JSON and Markdown list every one).
    func textLines(limit: Int = .max) -> [String] {
        guard !isEmpty else { return ["packages: all \(kept) keep every file"] }
        var lines = [
            "packages: \(removed.count) removed, \(partial.count) partial, \(kept) kept whole"
                + (broken.isEmpty ? "" : " (\(Set(broken.map(\.package)).count) of them broken by --force)")
        ]
        lines += removed.prefix(limit).map {
            "  removed  \($0.kind):\($0.name) \($0.version)  (\($0.filesLost) files, \(humanBytes($0.bytesLost)))"
        }
        if removed.count > limit { lines.append("  … and \(removed.count - limit) more removed") }
        lines += partial.prefix(limit).map {
            "  partial  \($0.kind):\($0.name) \($0.version)  (lost \($0.filesLost) files, \(humanBytes($0.bytesLost)); "
                + "\($0.filesKept) kept)"
        }
        if partial.count > limit { lines.append("  … and \(partial.count - limit) more partial") }
        lines += broken.prefix(limit).map {
            "  broken   \($0.package)  (requires \($0.requirement), removed by --force)"
        }
        if broken.count > limit { lines.append("  … and \(broken.count - limit) more broken") }
        return lines
    }

    func markdownLines() -> [String] {
        var lines = [
            "## Packages", "",
            "\(removed.count) removed, \(partial.count) partial, \(kept) kept whole. Removed packages left their "
                + "databases; partial ones stay listed with only the files that remain.",
        ]
        let rows =
            removed.map { ["removed", $0.kind, $0.name, $0.version, "\($0.filesLost)", "\($0.bytesLost)", "0"] }
            + partial.map {
                ["partial", $0.kind, $0.name, $0.version, "\($0.filesLost)", "\($0.bytesLost)", "\($0.filesKept)"]
            }
        if !rows.isEmpty {
            lines += [
                "",
                markdownTable(["state", "kind", "package", "version", "files lost", "bytes lost", "files kept"], rows),
            ]
        }
        if !broken.isEmpty {
            lines += [
                "", "Broken by `--force`: these packages stay, but a package they require was removed.", "",
                markdownTable(["kept package", "requires"], broken.map { [$0.package, "`\($0.requirement)`"] }),
            ]
        }
        return lines
    }
}
