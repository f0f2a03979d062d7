import WhittleFlatten

extension Selection {
    /// Every non-directory path the selection removes (each file of a removed directory's
    /// subtree), with its size, keyed by tree path (no leading slash).
    ///
    /// Sizes are per name: a hardlinked inode appears under each removed name, even when a
    /// kept name still holds it (unlike `removedBytes`). This is what package losses are
    /// measured with: a package loses a path it lists whichever name keeps the content.
    public func removedFiles(in tree: FileTree) -> [String: Int64] {
        var files: [String: Int64] = [:]
        func collect(_ directory: Node, prefix: String) {
            for child in directory.sortedChildren {
                let path = prefix + "/" + child.name
                if let inode = child.inode { files[path] = inode.size } else { collect(child, prefix: path) }
            }
        }
        for removal in removals {
            guard let node = tree.lookup(removal.path) else { continue }
            if let inode = node.inode {
                files[removal.path] = inode.size
            } else {
                collect(node, prefix: removal.path)
            }
        }
        return files
    }
}
