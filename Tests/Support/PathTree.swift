import WhittleFlatten
import WhittleProfiles
import WhittleSelect

extension FileTree {
    /// A tree holding each of `paths` as an empty regular file, with the directories above
    /// them: all that profiles, globs and package records look at. It is flattened from a
    /// one-layer test image, as every tree is.
    static func holding(_ paths: [String]) throws -> FileTree {
        var layer = TestLayer()
        var directories = Set<String>()
        for path in paths {
            let components = path.split(separator: "/").dropLast()
            for end in components.indices {
                let directory = components[...end].joined(separator: "/")
                if directories.insert(directory).inserted { layer.directory(directory) }
            }
            layer.file(path, "")
        }
        return try FlattenedTestImage(TestImageBuilder(layers: [layer])).tree
    }
}

/// What `slim`'s `Selector` does to `path` with these profiles and nothing else (no
/// protected paths, no globs): the removal that takes it, itself or a directory above it.
func removal(of path: String, by profiles: [Profile]) throws -> Removal? {
    let policy = SelectionPolicy(profiles: profiles, keep: [], remove: [], protected: [:])
    let selection = Selector(policy: policy).select(try FileTree.holding([path]))
    return selection.removals.first { path == $0.path || path.hasPrefix($0.path + "/") }
}
