import WhittleFlatten

/// dpkg's database: `var/lib/dpkg/status` (one paragraph per package), `info/<pkg>.list`
/// (what it installed), `info/<pkg>.md5sums`, `.conffiles` and the maintainer scripts, and
/// apt's `var/lib/apt/extended_states` (which packages were installed automatically).
enum DpkgDatabase {
    static let directory = "var/lib/dpkg"
    static let status = "var/lib/dpkg/status"
    static let info = "var/lib/dpkg/info"
    static let extendedStates = "var/lib/apt/extended_states"

    static func read(_ tree: FileTree) throws -> [InstalledPackage] {
        let infoFiles = infoFilesByStem(tree)
        let paragraphs = try DatabaseText.read(tree, status).map(DatabaseText.paragraphs) ?? []
        let automatic = try autoInstalled(tree)
        var packages: [InstalledPackage] = []
        var described = Set<String>()
        for paragraph in paragraphs {
            guard let name = paragraph.value("Package") else { continue }
            let architecture = paragraph.value("Architecture") ?? ""
            let key = stem(name: name, architecture: architecture, infoFiles: infoFiles)
            described.insert(key)
            var relations = PackageRelations()
            relations.provides = paragraph.value("Provides") ?? ""
            relations.depends = paragraph.value("Depends") ?? ""
            relations.preDepends = paragraph.value("Pre-Depends") ?? ""
            relations.recommends = paragraph.value("Recommends") ?? ""
            let conffiles = (paragraph.value("Conffiles") ?? "").split(separator: "\n").compactMap {
                $0.split(separator: " ").first.map(String.init)
            }
            let listed = try entries(of: key, tree)
            var package = InstalledPackage(
                kind: .deb, name: name, version: paragraph.value("Version") ?? "", architecture: architecture,
                relations: relations,
                autoInstalled: automatic[name].map {
                    $0.contains(architecture) || $0.contains("") || architecture == "all"
                } ?? false,
                files: listed.files, directories: listed.directories, metadata: infoFiles[key] ?? [],
                conffiles: conffiles, key: key)
            package.installed = paragraph.value("Status").map { $0.hasSuffix(" installed") } ?? true
            package.essential = paragraph.value("Essential") == "yes"
            packages.append(package)
        }
        // A list without a status paragraph (a damaged or partial database) still says who
        // owns what.
        for (key, metadata) in infoFiles.sorted(by: { $0.key < $1.key })
        where !described.contains(key) && metadata.contains(info + "/" + key + ".list") {
            // `:amd64.list` or `:.list` names no package: nobody owns what it lists.
            let parts = key.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !parts[0].isEmpty else { continue }
            let listed = try entries(of: key, tree)
            packages.append(
                InstalledPackage(
                    kind: .deb, name: parts[0], version: "", architecture: parts.count > 1 ? parts[1] : "",
                    files: listed.files, directories: listed.directories, metadata: metadata, key: key))
        }
        return packages
    }

    /// `info/` file paths grouped by package: `libc6:amd64.list` belongs to `libc6:amd64`.
    /// Control file names have no dots, so the stem is everything before the last one
    /// (`python3.11.list` is `python3.11`'s, not `python3`'s).
    static func infoFilesByStem(_ tree: FileTree) -> [String: [String]] {
        guard let directory = tree.lookup(info), directory.isDirectory else { return [:] }
        var stems: [String: [String]] = [:]
        for child in directory.sortedChildren where !child.isDirectory {
            guard let dot = child.name.lastIndex(of: "."), dot > child.name.startIndex else { continue }
            stems[String(child.name[..<dot]), default: []].append(info + "/" + child.name)
        }
        return stems
    }

    /// Multi-Arch: same packages name their files `pkg:arch.*`, the others `pkg.*`.
    static func stem(name: String, architecture: String, infoFiles: [String: [String]]) -> String {
        let qualified = name + ":" + architecture
        return infoFiles[qualified] != nil ? qualified : name
    }

    private static func entries(of key: String, _ tree: FileTree) throws -> (files: [String], directories: [String]) {
        guard let text = try DatabaseText.read(tree, info + "/" + key + ".list") else { return ([], []) }
        let lines = DatabaseText.lines(text)
        return ListedPaths.dpkgEntries(lines, in: tree)
    }

    /// The architectures of each package apt marked auto-installed ("" when none is given;
    /// apt names an `all` package under the native architecture).
    private static func autoInstalled(_ tree: FileTree) throws -> [String: Set<String>] {
        guard let text = try DatabaseText.read(tree, extendedStates) else { return [:] }
        var names: [String: Set<String>] = [:]
        for paragraph in DatabaseText.paragraphs(text) where paragraph.value("Auto-Installed") == "1" {
            guard let name = paragraph.value("Package") else { continue }
            names[name, default: []].insert(paragraph.value("Architecture") ?? "")
        }
        return names
    }
}
