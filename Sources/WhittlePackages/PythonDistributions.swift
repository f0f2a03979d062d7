import WhittleFiles
import WhittleFlatten

/// Installed Python distributions: every `*.dist-info` and `*.egg-info` in the tree, as
/// scanners find them. A `.dist-info` has `METADATA` (Name, Version, Requires-Dist),
/// `RECORD` (each installed file, relative to the site directory, with hash and size),
/// `REQUESTED` when the installer was asked for it by name, and `INSTALLER`. An
/// `.egg-info` has `PKG-INFO` and, when pip installed it, `installed-files.txt` (relative
/// to the `.egg-info`); a single-file `.egg-info` is a bare `PKG-INFO`.
enum PythonDistributions {
    static func read(_ tree: FileTree) throws -> [InstalledPackage] {
        var found: [(site: String, name: String)] = []
        collect(tree.root, path: "", into: &found)
        return try found.sorted { ($0.site, $0.name) < ($1.site, $1.name) }.compactMap { site, name in
            try distribution(site: site, name: name, tree: tree)
        }
    }

    static func isMetadata(_ name: String) -> Bool {
        name.hasSuffix(".dist-info") || name.hasSuffix(".egg-info")
    }

    /// Every metadata entry below `node`, by its directory. Directories only are entered, and
    /// never a metadata directory itself.
    private static func collect(_ node: Node, path: String, into found: inout [(site: String, name: String)]) {
        for child in node.sortedChildren {
            let name = child.name
            if isMetadata(name), child.isDirectory || child.inode?.kind == .regular {
                found.append((path, name))
            } else if child.isDirectory {
                collect(child, path: path.isEmpty ? name : path + "/" + name, into: &found)
            }
        }
    }

    private static func distribution(site: String, name: String, tree: FileTree) throws -> InstalledPackage? {
        let directory = site.isEmpty ? name : site + "/" + name
        let isDirectory = tree.lookup(directory)?.isDirectory == true
        let metadataFile =
            !isDirectory ? directory : directory + (name.hasSuffix(".dist-info") ? "/METADATA" : "/PKG-INFO")
        guard let text = try DatabaseText.read(tree, metadataFile) else { return nil }
        let headers = DatabaseText.headers(text)
        guard let distributionName = headers.value("Name") else { return nil }
        var relations = PackageRelations()
        relations.requiresDist = headers.values("Requires-Dist")
        let files = isDirectory ? try listedFiles(site: site, directory: directory, tree: tree) : nil
        var distribution = InstalledPackage(
            kind: .python, name: distributionName, version: headers.value("Version") ?? "", relations: relations,
            requested: tree.lookup(directory + "/REQUESTED")?.inode != nil,
            files: try files
                ?? topLevelFiles(site: site, directory: directory, distribution: distributionName, tree: tree),
            metadata: [directory], key: directory)
        if isDirectory, let installer = try DatabaseText.read(tree, directory + "/INSTALLER") {
            distribution.installer = installer.split(whereSeparator: \.isWhitespace).first.map(String.init)
        }
        return distribution
    }

    /// The files `RECORD` or `installed-files.txt` lists, outside the metadata directory;
    /// nil when there is no list.
    private static func listedFiles(site: String, directory: String, tree: FileTree) throws -> [String]? {
        let entries: [String]
        if let record = try DatabaseText.read(tree, directory + "/RECORD") {
            entries = DatabaseText.lines(record).compactMap { recordPath($0) }.map { foldLexically(site, [$0]) }
        } else if let installed = try DatabaseText.read(tree, directory + "/installed-files.txt") {
            entries = DatabaseText.lines(installed).map { foldLexically(directory, [String($0)]) }
        } else {
            return nil
        }
        var seen = Set<String>()
        let walker = PathWalker(tree)
        return entries.compactMap { entry in
            guard let path = ListedPaths.file(entry, in: walker), !path.hasPrefix(directory + "/"),
                seen.insert(path).inserted
            else { return nil }
            return path
        }
    }

    /// Without a file list (Debian strips `RECORD`), the modules `top_level.txt` names, or
    /// the one the distribution's name gives: a package directory, a `.py`, an extension.
    private static func topLevelFiles(
        site: String, directory: String, distribution: String,
        tree: FileTree
    ) throws -> [String] {
        let listed = try DatabaseText.read(tree, directory + "/top_level.txt").map {
            DatabaseText.lines($0).map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
        }
        let modules = listed ?? [distribution.lowercased().replacingAll("-", with: "_").replacingAll(".", with: "_")]
        guard let siteNode = tree.lookup(site), siteNode.isDirectory else { return [] }
        var files: [String] = []
        for child in siteNode.sortedChildren {
            let matches = modules.contains { module in
                child.name == module
                    || (!child.isDirectory
                        && (child.name == module + ".py"
                            || (child.name.hasPrefix(module + ".") && child.name.hasSuffix(".so"))))
            }
            guard matches else { continue }
            let path = site.isEmpty ? child.name : site + "/" + child.name
            if child.isDirectory { appendFiles(below: child, path: path, into: &files) } else { files.append(path) }
        }
        return files
    }

    private static func appendFiles(below node: Node, path: String, into files: inout [String]) {
        for child in node.sortedChildren {
            let childPath = path + "/" + child.name
            if child.isDirectory {
                appendFiles(below: child, path: childPath, into: &files)
            } else {
                files.append(childPath)
            }
        }
    }

    /// The path of one `RECORD` line: a CSV row `path,hash,size`, the path quoted when it
    /// holds a comma or a quote.
    static func recordPath(_ line: Substring) -> String? {
        guard !line.isEmpty else { return nil }
        guard line.first == "\"" else {
            // On bytes: splitting by `Character` was most of the cost of reading a `RECORD`.
            return String(line[..<(line.utf8.firstIndex(of: UInt8(ascii: ",")) ?? line.endIndex)])
        }
        var path = ""
        var index = line.index(after: line.startIndex)
        while index < line.endIndex {
            let character = line[index]
            index = line.index(after: index)
            if character == "\"" {
                guard index < line.endIndex, line[index] == "\"" else { return path }
                index = line.index(after: index)
            }
            path.append(character)
        }
        return path
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
