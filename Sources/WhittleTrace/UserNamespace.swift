import CWhittleTrace
import Foundation
import WhittleFiles
#if canImport(Glibc)
    import Glibc
#endif

/// Tracing without root. An ordinary user's whittle runs itself again as root of a user
/// namespace: the image's root is the user, the image's other ids are the user's
/// subordinate ids (`/etc/subuid`, `/etc/subgid`), mapped by the setuid helpers
/// `newuidmap` and `newgidmap`, as rootless podman does. That namespace also has a network
/// of its own with only loopback, so a server may bind port 80 and the probes, which run
/// in the same namespace, reach it.
public enum UserNamespace {
    /// Whether this process runs in a user namespace other than the host's: then no device
    /// node can be made and the host's mounts are locked.
    public static var isInsideOne: Bool {
        guard let map = try? String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8) else { return false }
        let fields = map.split(whereSeparator: \.isWhitespace)
        return fields != ["0", "0", "4294967295"]
    }

    /// As root, returns at once. Otherwise runs this same command again as root of a new
    /// user namespace and exits with its status, or throws what is missing for that.
    public static func reenterUnlessRoot() throws {
        guard geteuid() != 0 else { return }
        let plan = try RootlessPlan.forCurrentUser()
        let arguments = CStringArray(CommandLine.arguments)
        defer { arguments.free() }
        var config = wt_userns_config()
        var stage: Int32 = 0
        var error: Int32 = 0
        let child: pid_t = plan.withCStrings { newuidmap, newgidmap in
            "/proc/self/exe".withCString { executable in
                config.executable = executable
                config.argv = UnsafePointer(arguments.base)
                config.envp = UnsafePointer(environ)
                config.newuidmap = newuidmap
                config.newgidmap = newgidmap
                config.uid = plan.uid
                config.gid = plan.gid
                (config.subuid_start, config.subuid_count) = (plan.uids.start, plan.uids.count)
                (config.subgid_start, config.subgid_count) = (plan.gids.start, plan.gids.count)
                return wt_userns_start(&config, &stage, &error)
            }
        }
        guard child > 0 else {
            throw TraceError.userNamespace(
                stage: String(cString: wt_userns_stage_name(stage)),
                reason: String(cString: strerror(error)), plan: plan.summary)
        }
        // A signal sent to this process is passed on, so the child stops its app and keeps
        // the trace so far; Ctrl-C on the terminal already reached the child itself.
        let status = Interruption.deferring(to: { signal in
            if signal != SIGINT || !fromTerminal() { kill(child, signal) }
        }) { wt_wait_status(child) }
        exit(status < 0 ? 1 : status)
    }
}

/// Whether this process is in its terminal's foreground group: a Ctrl-C there went to the
/// whole group.
private func fromTerminal() -> Bool {
    let group = tcgetpgrp(STDERR_FILENO)
    return group > 0 && group == getpgrp()
}

/// The ids a rootless run maps, and the helpers that map them.
struct RootlessPlan {
    struct Range: Equatable {
        var start: UInt32
        var count: UInt32
    }

    var user: String
    var uid: UInt32
    var gid: UInt32
    var uids: Range
    var gids: Range
    var newuidmap: String
    var newgidmap: String

    var summary: String {
        "\(user) (uid \(uid)) with ids \(uids.start)–\(uids.start &+ uids.count &- 1) and groups "
            + "\(gids.start)–\(gids.start &+ gids.count &- 1)"
    }

    func withCStrings<T>(_ body: (UnsafePointer<CChar>, UnsafePointer<CChar>) -> T) -> T {
        newuidmap.withCString { uidmap in newgidmap.withCString { gidmap in body(uidmap, gidmap) } }
    }

    static func forCurrentUser() throws -> RootlessPlan {
        let uid = geteuid()
        let gid = getegid()
        let user = userName(uid: uid) ?? String(uid)
        try checkUserNamespacesAllowed()
        guard let uids = subordinateRange(in: "/etc/subuid", user: user, id: uid),
            let gids = subordinateRange(in: "/etc/subgid", user: user, id: uid)
        else {
            throw TraceError.noSubordinateIDs(user: user)
        }
        guard let newuidmap = findTool("newuidmap"), let newgidmap = findTool("newgidmap") else {
            throw TraceError.missingIDMapTools
        }
        return RootlessPlan(
            user: user, uid: uid, gid: gid, uids: uids, gids: gids,
            newuidmap: newuidmap, newgidmap: newgidmap)
    }

    /// The first `NAME:START:COUNT` (or `UID:START:COUNT`) line of the caller, as
    /// newuidmap reads it.
    static func subordinateRange(in path: String, user: String, id: UInt32) -> Range? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, fields[0] == user || fields[0] == String(id),
                let start = UInt32(fields[1]), let count = UInt32(fields[2]), count > 0
            else { continue }
            return Range(start: start, count: count)
        }
        return nil
    }

    static func userName(uid: UInt32) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }

    static func findTool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        return directories.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    /// Debian and Ubuntu can switch unprivileged user namespaces off; say so rather than
    /// fail later with a bare EPERM.
    static func checkUserNamespacesAllowed() throws {
        for (path, setting) in [
            ("/proc/sys/kernel/unprivileged_userns_clone", "kernel.unprivileged_userns_clone=1"),
            ("/proc/sys/user/max_user_namespaces", "user.max_user_namespaces=15000"),
        ] {
            guard let value = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            if value.trimmingCharacters(in: .whitespacesAndNewlines) == "0" {
                throw TraceError.userNamespacesDisabled(setting: setting)
            }
        }
    }
}
