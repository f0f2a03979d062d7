import WhittleFlatten
import WhittleImage

/// How the image's command runs: from the config's Entrypoint, Cmd, Env, WorkingDir and
/// User, as `docker run` would take them.
public struct RunConfiguration: Sendable, Equatable {
    public var command: [String]
    public var environment: [String]
    public var workingDirectory: String
    public var user: String
    public var uid: UInt32
    public var gid: UInt32
    public var groups: [UInt32]

    /// - Parameter override: the command given after `--`, which replaces Cmd (and the
    ///   Entrypoint, as `docker run --entrypoint` would, so the trace runs exactly it).
    /// - Parameter extraEnvironment: `KEY=VALUE` (or `KEY` alone, which unsets it) laid over
    ///   the image's Env, as `docker run -e` does.
    public init(
        config: ImageConfig, tree: FileTree, override: [String], environment extraEnvironment: [String] = []
    ) throws {
        command = override.isEmpty ? config.entrypoint + config.cmd : override
        guard !command.isEmpty else { throw TraceError.noCommand }
        environment = config.env
        for setting in extraEnvironment {
            let key = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard !key.isEmpty else { throw TraceError.invalidEnvironment(setting) }
            environment.removeAll { $0 == key || $0.hasPrefix(key + "=") }
            if setting.contains("=") { environment.append(setting) }
        }
        if !environment.contains(where: { $0.hasPrefix("PATH=") }) {
            environment.append("PATH=" + ImageConfig.defaultSearchPath)
        }
        if !environment.contains(where: { $0.hasPrefix("HOSTNAME=") }) { environment.append("HOSTNAME=whittle-trace") }
        workingDirectory = config.workingDir.isEmpty ? "/" : config.workingDir
        user = config.user
        (uid, gid, groups) = try Self.resolveUser(user, tree: tree)
        if !environment.contains(where: { $0.hasPrefix("HOME=") }) {
            let home = Self.passwd(tree).first { $0.uid == uid }?.home ?? "/"
            environment.append("HOME=\(home.isEmpty ? "/" : home)")
        }
    }

    struct PasswdEntry {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    static func passwd(_ tree: FileTree) -> [PasswdEntry] {
        lines(of: "etc/passwd", in: tree).compactMap { fields in
            guard fields.count >= 4, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return PasswdEntry(name: fields[0], uid: uid, gid: gid, home: fields.count > 5 ? fields[5] : "/")
        }
    }

    static func groupFile(_ tree: FileTree) -> [(name: String, gid: UInt32, members: [String])] {
        lines(of: "etc/group", in: tree).compactMap { fields in
            guard fields.count >= 3, let gid = UInt32(fields[2]) else { return nil }
            let members = fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : []
            return (fields[0], gid, members)
        }
    }

    static func lines(of path: String, in tree: FileTree) -> [[String]] {
        guard let inode = tree.lookup(path)?.inode, let bytes = try? inode.contents(limit: 16 << 20) else {
            return []
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// `user`, `uid`, `user:group`, `uid:gid`, or empty for root.
    static func resolveUser(_ spec: String, tree: FileTree) throws -> (UInt32, UInt32, [UInt32]) {
        if spec.isEmpty { return (0, 0, [0]) }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        let users = passwd(tree)
        let groups = groupFile(tree)
        var uid: UInt32
        var gid: UInt32
        var name: String?
        if let number = UInt32(parts[0]) {
            uid = number
            let entry = users.first { $0.uid == number }
            gid = entry?.gid ?? 0
            name = entry?.name
        } else if let entry = users.first(where: { $0.name == parts[0] }) {
            uid = entry.uid
            gid = entry.gid
            name = entry.name
        } else {
            throw TraceError.invalidUser(user: spec, reason: "no user '\(parts[0])' in the image's /etc/passwd")
        }
        if parts.count > 1 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else if let group = groups.first(where: { $0.name == parts[1] }) {
                gid = group.gid
            } else {
                throw TraceError.invalidUser(user: spec, reason: "no group '\(parts[1])' in the image's /etc/group")
            }
        }
        var supplementary = [gid]
        if let name, parts.count == 1 {
            for group in groups where group.members.contains(name) && !supplementary.contains(group.gid) {
                supplementary.append(group.gid)
            }
        }
        return (uid, gid, supplementary)
    }
}
