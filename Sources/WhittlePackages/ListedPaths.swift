import WhittleFiles
import WhittleFlatten

/// Listed paths as the tree names them. Databases list paths as installed (`/lib/x`,
/// `./usr/bin/x`, `../../../bin/tool` beside a site directory); the tree's one resolver
/// follows the symlinks on the way (usrmerge's `lib -> usr/lib`), but not a final one:
/// a listed symlink is the package's own file. A list is resolved with one `PathWalker`,
/// as its paths come directory by directory.
enum ListedPaths {
    /// The tree path of the non-directory `listed` names, nil for a directory or nothing.
    static func file(_ listed: String, in walker: PathWalker) -> String? {
        let resolution = walker.resolve(listed, followFinal: false)
        guard let node = resolution.node, !node.isDirectory else { return nil }
        return resolution.path
    }

    /// The tree path of whatever `listed` names, directories included.
    static func entry(_ listed: String, in walker: PathWalker) -> String? {
        let resolution = walker.resolve(listed, followFinal: false)
        return resolution.node == nil ? nil : resolution.path
    }

    /// The tree path of the directory `listed` names, nil for anything else (the root too).
    static func directory(_ listed: String, in walker: PathWalker) -> String? {
        let resolution = walker.resolve(listed, followFinal: false)
        guard resolution.node?.isDirectory == true, let path = resolution.path, !path.isEmpty else { return nil }
        return path
    }

    /// The files and the directories of a dpkg `.list`, each listed path resolved once. A
    /// listed path that has listed children is a directory to dpkg, even where the tree has
    /// a symlink (usrmerge's `lib -> usr/lib`): not a file the package owns.
    static func dpkgEntries(_ lines: [Substring], in tree: FileTree) -> (files: [String], directories: [String]) {
        var parents = Set<Substring>()
        for line in lines {
            var end = line.endIndex
            while let slash = line[..<end].lastIndex(of: "/"), slash > line.startIndex {
                guard parents.insert(line[..<slash]).inserted else { break }
                end = slash
            }
        }
        var files: [String] = []
        var directories: [String] = []
        var seen = Set<String>()
        let walker = PathWalker(tree)
        for line in lines where !line.isEmpty {
            let resolution = walker.resolve(String(line), followFinal: false)
            guard let node = resolution.node, let path = resolution.path else { continue }
            if node.isDirectory {
                if !path.isEmpty, seen.insert(path).inserted { directories.append(path) }
            } else if !parents.contains(line), seen.insert(path).inserted {
                files.append(path)
            }
        }
        return (files, directories)
    }
}
