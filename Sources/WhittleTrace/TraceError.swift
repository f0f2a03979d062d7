/// What can go wrong while tracing, each with what to do about it.
public enum TraceError: Error, CustomStringConvertible, Equatable {
    /// The library was called without root; the commands enter a user namespace first.
    case notRoot(euid: UInt32)
    /// Rootless tracing: the caller has no range in /etc/subuid or /etc/subgid.
    case noSubordinateIDs(user: String)
    /// Rootless tracing: newuidmap or newgidmap is not installed.
    case missingIDMapTools
    /// Rootless tracing: the kernel forbids ordinary users to create user namespaces.
    case userNamespacesDisabled(setting: String)
    /// Rootless tracing: entering the user namespace failed at `stage`.
    case userNamespace(stage: String, reason: String, plan: String)
    /// The kernel or libseccomp lacks user notification.
    case seccompUnsupported(apiLevel: Int)
    /// Seccomp user notification with SECCOMP_USER_NOTIF_FLAG_CONTINUE needs Linux 5.5.
    case kernelTooOld(release: String)
    case filter(reason: String)
    /// A namespace or mount step in the child failed.
    case setup(stage: String, reason: String)
    /// The command could not be started inside the root.
    case commandNotFound(command: [String], reason: String)
    case noCommand
    case unsafeEntry(path: String, reason: String)
    case extraction(path: String, reason: String)
    case invalidUser(user: String, reason: String)
    case invalidURL(String)
    case invalidEnvironment(String)
    case invalidProbeCommand(String)
    case invalidTCPTarget(String)
    case unansweredProbe(kind: String, target: String)
    case probeNeedsHostNetwork(url: String)
    case io(path: String, reason: String)
    case internalFailure(String)
    case interrupted

    public var description: String {
        switch self {
        case let .notRoot(euid):
            return "tracing needs root, or a user namespace where this process is root (the whittle command "
                + "enters one by itself for an ordinary user); it runs as uid \(euid)"
        case let .noSubordinateIDs(user):
            return "tracing without root runs the image in a user namespace, which needs subordinate ids for "
                + "'\(user)', and /etc/subuid or /etc/subgid has none. As root, add them, for example: "
                + "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(user) (or the lines "
                + "'\(user):100000:65536' in both files), then run whittle again as \(user); or run it as root"
        case .missingIDMapTools:
            return "tracing without root needs newuidmap and newgidmap to map the image's users onto your "
                + "subordinate ids; install them (Debian and Ubuntu: apt-get install uidmap) or run whittle as root"
        case let .userNamespacesDisabled(setting):
            return "this kernel does not let ordinary users create user namespaces, which tracing without root "
                + "needs; as root, allow them with: sysctl -w \(setting), or run whittle as root"
        case let .userNamespace(stage, reason, plan):
            return "cannot enter a user namespace as \(plan): \(stage) failed: \(reason)"
                + (stage.hasPrefix("new")
                    ? " (check the ranges in /etc/subuid and /etc/subgid, and that "
                        + "newuidmap and newgidmap are setuid root)" : "")
        case let .seccompUnsupported(level):
            return "this kernel or libseccomp lacks seccomp user notification (libseccomp API level \(level), "
                + "5 or more is needed: Linux 5.5+ with CONFIG_SECCOMP_FILTER and libseccomp 2.5+)"
        case let .kernelTooOld(release):
            return "whittle trace needs Linux 5.5 or later (seccomp user notification that lets a syscall "
                + "continue); this kernel is \(release)"
        case let .filter(reason):
            return "cannot build the seccomp filter: \(reason)"
        case let .setup(stage, reason):
            return "cannot set up the traced root: \(stage) failed: \(reason)"
                + (reason.contains("Operation not permitted")
                    ? " (is whittle inside a container without CAP_SYS_ADMIN, or is unprivileged namespace use blocked?)"
                    : "")
        case let .commandNotFound(command, reason):
            return "cannot run \(command.joined(separator: " ")) inside the image: \(reason); "
                + "check the image's Entrypoint/Cmd and PATH, or give the command after --"
        case .noCommand:
            return "the image has neither Entrypoint nor Cmd: give the command to trace after --"
        case let .unsafeEntry(path, reason):
            return "refused to extract '\(path)': \(reason)"
        case let .extraction(path, reason):
            return "cannot extract '\(path)' into the temporary root: \(reason)"
        case let .invalidUser(user, reason):
            return "cannot run as the image's User '\(user)': \(reason)"
        case let .invalidEnvironment(setting):
            return "--env takes KEY=VALUE (or KEY to unset it); got '\(setting)'"
        case let .invalidProbeCommand(command):
            return "--probe-exec takes a command, with any quotes closed; got '\(command)'"
        case let .invalidTCPTarget(target):
            return "--probe-tcp takes HOST:PORT such as 127.0.0.1:5432; got '\(target)'"
        case let .unansweredProbe(kind, target):
            return "the trace's \(kind) probe \(target) never succeeded on the original, so it cannot verify "
                + "anything: trace the original again (its log beside the trace says why it did not answer)"
        case let .invalidURL(url):
            return "--probe-http takes an http:// URL such as http://127.0.0.1:8080/health; got '\(url)'"
        case let .probeNeedsHostNetwork(url):
            return "--probe-http \(url) cannot reach an app with --network none; use --network host"
        case let .io(path, reason):
            return "\(path): \(reason)"
        case .interrupted:
            return "interrupted before the command started; nothing was written"
        case let .internalFailure(reason):
            return "trace failed: \(reason)"
        }
    }
}
