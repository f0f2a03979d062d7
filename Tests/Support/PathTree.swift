import WhittleArchive
// Node and Inode are made only by the flattener; tests that decide by path alone build
// them directly instead of writing and flattening an image.
@testable import WhittleFlatten
import WhittleProfiles
import WhittleSelect

extension FileTree {
    /// A tree holding each of `paths` as an empty regular file, with the directories above
    /// them: all that profiles and globs look at.
    static func holding(_ paths: [String]) -> FileTree {
        let tree = FileTree()
        for path in paths {
            var parent = tree.root
            let components = path.split(separator: "/").map(String.init)
            for name in components.dropLast() {
                let directory = parent.child(named: name)
                    ?? Node(directory: name, attributes: Attributes(permissions: 0o755), layer: 1)
                parent.setChild(directory)
                parent = directory
            }
            guard let name = components.last else { continue }
            let inode = Inode(entry: TarEntry(path: path, kind: .regular, permissions: 0o644), content: nil)
            parent.setChild(Node(name: name, inode: inode, layer: 1))
        }
        return tree
    }
}

/// What `slim`'s `Selector` does to `path` with these profiles and nothing else (no
/// protected paths, no globs): the removal that takes it, itself or a directory above it.
func removal(of path: String, by profiles: [Profile]) -> Removal? {
    let policy = SelectionPolicy(profiles: profiles, keep: [], remove: [], protected: [:])
    let selection = Selector(policy: policy).select(FileTree.holding([path]))
    return selection.removals.first { path == $0.path || path.hasPrefix($0.path + "/") }
}
