import Crypto
import WhittleFiles
import WhittleFlatten

/// Rewrites database files so they list only what stays. Lines and records that do not
/// change are copied as they were, so an untouched package reads exactly as before. One
/// rewriter per thread: its walker remembers where the last listed path was found.
struct DatabaseRewriter {
    let tree: FileTree
    /// Whether a tree path stays in the output.
    let keeps: (String) -> Bool
    private let walker: PathWalker

    init(tree: FileTree, keeps: @escaping (String) -> Bool) {
        self.tree = tree
        self.keeps = keeps
        walker = PathWalker(tree)
    }

    /// Whether the entry a database lists (through the tree's symlinks) is in the output.
    /// An entry the input does not have is not in it either.
    func remains(_ listed: String) -> Bool {
        guard let path = ListedPaths.entry(listed, in: walker) else { return false }
        return keeps(path)
    }

    /// `status` without the paragraphs of packages that go, and with the `Conffiles` of
    /// partial packages naming only conffiles that stay; nil when there is no status.
    func dpkgStatus(removing gone: Set<String>, trimming partial: Set<String>) throws -> String? {
        guard let text = try DatabaseText.read(tree, DpkgDatabase.status) else { return nil }
        let stems = DpkgDatabase.infoFilesByStem(tree)
        var out = ""
        for paragraph in DatabaseText.paragraphs(text) {
            var lines = paragraph.text
            if let name = paragraph.value("Package") {
                let key = DpkgDatabase.stem(
                    name: name, architecture: paragraph.value("Architecture") ?? "",
                    infoFiles: stems)
                if gone.contains(key) { continue }
                if partial.contains(key) { lines = trimmingConffiles(lines) }
            }
            out += lines.joined(separator: "\n") + "\n\n"
        }
        return out
    }

    /// Drops the continuation lines of `Conffiles:` (` /etc/x md5`) whose file is gone, and
    /// the field itself when none stays.
    private func trimmingConffiles(_ lines: [Substring]) -> [Substring] {
        var inConffiles = false
        var kept = lines.filter { line in
            if line.first == " " || line.first == "\t" {
                guard inConffiles, let path = line.split(separator: " ").first else { return true }
                return remains(String(path))
            }
            inConffiles = line.lowercased().hasPrefix("conffiles:")
            return true
        }
        if let field = kept.firstIndex(where: { $0.lowercased().hasPrefix("conffiles:") }),
            kept[field].dropFirst("conffiles:".count).allSatisfy({ $0 == " " }),
            field + 1 == kept.endIndex || !(kept[field + 1].first == " " || kept[field + 1].first == "\t")
        {
            kept.remove(at: field)
        }
        return kept
    }

    /// A partial package's `.list`, `.md5sums` and `.conffiles`, naming what stays.
    func dpkgInfo(_ key: String) throws -> [(String, String)] {
        var files: [(String, String)] = []
        let base = DpkgDatabase.info + "/" + key
        // `.md5sums` names the files `.list` names: each is resolved once.
        var answers: [String: Bool] = [:]
        func remainsOnce(_ listed: String) -> Bool {
            if let known = answers[listed] { return known }
            let answer = remains(listed)
            answers[listed] = answer
            return answer
        }
        if let list = try DatabaseText.read(tree, base + ".list") {
            files.append((base + ".list", keptLines(list) { remainsOnce(String($0)) }))
        }
        if let sums = try DatabaseText.read(tree, base + ".md5sums") {
            // `md5  path`, the path relative to the root.
            files.append(
                (
                    base + ".md5sums",
                    keptLines(sums) { line in
                        // On bytes: `Character` steps were most of this rewrite's cost.
                        let utf8 = line.utf8
                        guard let space = utf8.firstIndex(of: UInt8(ascii: " ")) else { return true }
                        return remainsOnce("/" + Substring(utf8[space...].drop { $0 == UInt8(ascii: " ") }))
                    }
                ))
        }
        if let conffiles = try DatabaseText.read(tree, base + ".conffiles") {
            // A line is a path, or a flag and a path (`remove-on-upgrade /etc/x`).
            files.append(
                (
                    base + ".conffiles",
                    keptLines(conffiles) { line in
                        remainsOnce(String(line.split(separator: " ").last ?? line))
                    }
                ))
        }
        return files
    }

    /// `installed` without the records of packages that go; a partial package's record keeps
    /// its `R:` lines (with their `a:` and `Z:`) of files that stay, and its `F:` lines (with
    /// their `M:`) of folders that stay. Nil when there is no database.
    func apkInstalled(removing gone: Set<String>, trimming partial: Set<String>) throws -> String? {
        guard let text = try DatabaseText.read(tree, ApkDatabase.installed) else { return nil }
        var out = ""
        for record in ApkDatabase.records(text) {
            let name = record.lazy.compactMap(ApkDatabase.field).first { $0.0 == "P" }.map { String($0.1) }
            if let name, gone.contains(name) { continue }
            let lines = name.map { partial.contains($0) } == true ? trimmingApk(record) : record
            out += lines.joined(separator: "\n") + "\n\n"
        }
        return out
    }

    private func trimmingApk(_ record: [Substring]) -> [Substring] {
        var folder = ""
        var dropping = false
        return record.filter { line in
            guard let (letter, value) = ApkDatabase.field(line) else { return true }
            switch letter {
            case "F":
                folder = String(value)
                dropping = !remains(folder)
            case "R":
                dropping = !remains(folder.isEmpty ? String(value) : folder + "/" + value)
            case "M", "a", "Z":
                break  // Belongs to the folder or file before it.
            default:
                dropping = false
            }
            return !dropping
        }
    }

    /// A partial distribution's `RECORD` (or `installed-files.txt`), naming what stays. Its
    /// own metadata stays whole, `RECORD`'s own line included.
    func pythonRecord(_ directory: String) throws -> [(String, String)] {
        let site = directory.split(separator: "/").dropLast().joined(separator: "/")
        var files: [(String, String)] = []
        if let record = try DatabaseText.read(tree, directory + "/RECORD") {
            files.append(
                (
                    directory + "/RECORD",
                    keptLines(record) { line in
                        guard let path = PythonDistributions.recordPath(line) else { return true }
                        let full = foldLexically(site, [path])
                        return full.hasPrefix(directory + "/") || remains(full)
                    }
                ))
        }
        if let installed = try DatabaseText.read(tree, directory + "/installed-files.txt") {
            files.append(
                (
                    directory + "/installed-files.txt",
                    keptLines(installed) { line in
                        let full = foldLexically(directory, [String(line)])
                        return full.hasPrefix(directory + "/") || remains(full)
                    }
                ))
        }
        return files
    }

    /// A rewritten file a dpkg package owns (Debian's `python3-pip` ships pip's `RECORD`) has
    /// new content, so the package's `.md5sums` gets its new checksum: `dpkg -V` then finds
    /// the file as the database says. `checksums` are the rewritten files' MD5s; the tree
    /// already holds their new content, a rewritten `.md5sums` included.
    func updatedChecksumLists(
        for checksums: [String: String],
        database: PackageDatabase
    ) throws -> [(path: String, text: String)] {
        var lists: [(path: String, text: String)] = []
        for package in database.packages where package.kind == .deb {
            let owned = Set(
                package.files.filter {
                    checksums[$0] != nil && !$0.hasPrefix(DpkgDatabase.directory + "/")
                })
            guard !owned.isEmpty else { continue }
            let path = DpkgDatabase.info + "/" + package.key + ".md5sums"
            guard let sums = try DatabaseText.read(tree, path) else { continue }
            let updated = DatabaseText.lines(sums).map { line -> String in
                guard let space = line.firstIndex(of: " ") else { return line + "\n" }
                let listed = String(line[space...].drop { $0 == " " })
                guard let file = ListedPaths.file("/" + listed, in: walker), owned.contains(file),
                    let sum = checksums[file]
                else { return line + "\n" }
                return sum + "  " + listed + "\n"
            }.joined()
            lists.append((path, updated))
        }
        return lists
    }

    /// The MD5 of `bytes` in hex, as `.md5sums` lists it.
    static func md5(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(Insecure.MD5.hash(data: bytes).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }

    /// The lines `keep` accepts, each ended by a newline; empty lines are dropped.
    private func keptLines(_ text: String, _ keep: (Substring) -> Bool) -> String {
        var kept = ""
        kept.reserveCapacity(text.utf8.count)
        for line in DatabaseText.lines(text) where !line.isEmpty && keep(line) {
            kept += line
            kept += "\n"
        }
        return kept
    }
}
