import WhittleELF
import WhittleFlatten
import WhittleImage

/// Paths that no profile may remove: without them the image cannot start or log in a user.
public enum ProtectedPaths {
    /// The entrypoint and command programs (found on the image's PATH), everything the
    /// loader needs to start them (symlinks on the way, ELF interpreter, libraries, `#!`
    /// interpreters), and the account files.
    public static func find(config: ImageConfig, tree: FileTree) -> [String: KeepReason] {
        var protected: [String: KeepReason] = [
            "etc/passwd": .protected(.accounts),
            "etc/group": .protected(.accounts),
        ]
        let searchPath = config.searchPath
        let libraryPath = config.environmentValue("LD_LIBRARY_PATH")?.split(separator: ":").map(String.init) ?? []
        let programs = [config.entrypoint.first, config.cmd.first].compactMap { $0 }.compactMap { program in
            locate(program, searchPath: searchPath, tree: tree)
        }
        guard !programs.isEmpty else { return protected }
        let resolver = DependencyResolver(tree: tree, libraryPath: libraryPath, executableSearchPath: searchPath)
        for dependency in resolver.closure(of: programs).dependencies where protected[dependency.path] == nil {
            protected[dependency.path] = .protected(.entrypoint)
        }
        return protected
    }

    /// A program as the runtime finds it: a path, or the first match on PATH.
    static func locate(_ program: String, searchPath: [String], tree: FileTree) -> String? {
        let candidates = program.contains("/") ? [program] : searchPath.map { $0 + "/" + program }
        return candidates.first { tree.resolve($0).node?.inode != nil }.map { candidate in
            String(candidate.drop { $0 == "/" })
        }
    }
}
