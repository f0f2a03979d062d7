import WhittleFiles
import WhittleFlatten

/// Listed paths as the tree names them. Databases list paths as installed (`/lib/x`,
/// `./usr/bin/x`, `../../../bin/tool` beside a site directory); the tree's one resolver
/// follows the symlinks on the way (usrmerge's `lib -> usr/lib`), but not a final one:
/// a listed symlink is the package's own file.
enum ListedPaths {
    /// The tree path of the non-directory `listed` names, nil for a directory or nothing.
    static func file(_ listed: String, in tree: FileTree) -> String? {
        let resolution = tree.resolve(listed, followFinal: false)
        guard let node = resolution.node, !node.isDirectory else { return nil }
        return resolution.path
    }

    /// The tree path of whatever `listed` names, directories included.
    static func entry(_ listed: String, in tree: FileTree) -> String? {
        let resolution = tree.resolve(listed, followFinal: false)
        return resolution.node == nil ? nil : resolution.path
    }

    /// The tree path of the directory `listed` names, nil for anything else (the root too).
    static func directory(_ listed: String, in tree: FileTree) -> String? {
        let resolution = tree.resolve(listed, followFinal: false)
        guard resolution.node?.isDirectory == true, let path = resolution.path, !path.isEmpty else { return nil }
        return path
    }

    /// The directories of a dpkg `.list` that the tree has as directories.
    static func dpkgDirectories(_ lines: [Substring], in tree: FileTree) -> [String] {
        var seen = Set<String>()
        return lines.compactMap { line in
            guard let path = directory(String(line), in: tree), seen.insert(path).inserted else { return nil }
            return path
        }
    }

    /// The files of a dpkg `.list`. A listed path that has listed children is a directory
    /// to dpkg, even where the tree has a symlink (usrmerge's `lib -> usr/lib`): not a file
    /// the package owns.
    static func dpkgFiles(_ lines: [Substring], in tree: FileTree) -> [String] {
        var parents = Set<Substring>()
        for line in lines {
            var end = line.endIndex
            while let slash = line[..<end].lastIndex(of: "/"), slash > line.startIndex {
                guard parents.insert(line[..<slash]).inserted else { break }
                end = slash
            }
        }
        var seen = Set<String>()
        return lines.compactMap { line in
            guard !line.isEmpty, !parents.contains(line), let path = file(String(line), in: tree),
                seen.insert(path).inserted
            else { return nil }
            return path
        }
    }
}
