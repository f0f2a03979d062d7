import WhittleFlatten

/// apk's database, `lib/apk/db/installed`: one record per package, records separated by a
/// blank line, each line a one-letter field, a colon and a value. `P:` names the package,
/// `V:` its version, `A:` its architecture, `D:` and `p:` its dependencies and provides
/// (space separated); `F:` names a folder (relative to the root), and each `R:` after it a
/// file in that folder, followed by the file's `a:` (owner, mode) and `Z:` (checksum).
enum ApkDatabase {
    static let installed = "lib/apk/db/installed"
    static let directory = "lib/apk/db"

    static func read(_ tree: FileTree) throws -> [InstalledPackage] {
        guard let text = try DatabaseText.read(tree, installed) else { return [] }
        return records(text).compactMap { record in package(record, tree: tree) }
    }

    /// The records of `installed`, each as its lines.
    static func records(_ text: String) -> [[Substring]] {
        var records: [[Substring]] = []
        var current: [Substring] = []
        for line in DatabaseText.lines(text) {
            if line.isEmpty {
                if !current.isEmpty { records.append(current) }
                current = []
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { records.append(current) }
        return records
    }

    /// A line's field letter and value, nil for a line that is not `X:value`.
    static func field(_ line: Substring) -> (Character, Substring)? {
        guard line.count >= 2, line.dropFirst().first == ":", let letter = line.first else { return nil }
        return (letter, line.dropFirst(2))
    }

    private static func package(_ record: [Substring], tree: FileTree) -> InstalledPackage? {
        var name: String?
        var version = ""
        var architecture = ""
        var relations = PackageRelations()
        var folder = ""
        var files: [String] = []
        var directories: [String] = []
        var seen = Set<String>()
        let walker = PathWalker(tree)
        for line in record {
            guard let (letter, value) = field(line) else { continue }
            switch letter {
            case "P": name = String(value)
            case "V": version = String(value)
            case "A": architecture = String(value)
            case "D": relations.depends = String(value)
            case "p": relations.provides = String(value)
            case "F":
                folder = String(value)
                if let path = ListedPaths.directory(folder, in: walker), seen.insert(path).inserted {
                    directories.append(path)
                }
            case "R":
                let listed = folder.isEmpty ? String(value) : folder + "/" + value
                if let path = ListedPaths.file(listed, in: walker), seen.insert(path).inserted { files.append(path) }
            default: continue
            }
        }
        guard let name else { return nil }
        return InstalledPackage(
            kind: .apk, name: name, version: version, architecture: architecture,
            relations: relations, files: files, directories: directories, key: name)
    }
}
