import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Scratch directories left by runs that were killed outright (SIGKILL, a crash, a power
/// cut), found and removed by the next run.
///
/// Only a directory that is certainly whittle's and certainly abandoned goes: named
/// `whittle.XXXXXX`, a real directory owned by this user, holding the `owner` file, and
/// with its `flock` free (the lock dies with the last process of its run, so a live run
/// keeps its directory, however long it runs). A directory with anything mounted under it
/// is only named, never entered.
public enum StaleScratch {
    public struct Outcome: Sendable {
        /// Each removed directory, with the pid its owner file named.
        public var removed: [(path: String, pid: String)] = []
        /// Abandoned directories left in place, with why.
        public var left: [(path: String, reason: String)] = []
    }

    /// Sweeps `base` once per process, and says on standard error what it removed.
    static func sweepOnce(in base: String) {
        sweepLock.lock()
        defer { sweepLock.unlock() }
        guard !swept.contains(base) else { return }
        swept.insert(base)
        for line in sweep(in: base).lines { report(line) }
    }

    nonisolated(unsafe) private static var swept: Set<String> = []
    private static let sweepLock = NSLock()

    /// Removes the abandoned scratch directories directly under `base`.
    public static func sweep(in base: String) -> Outcome {
        var outcome = Outcome()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        let mounted = mountPoints()
        for name in names.sorted() where isScratchName(name) {
            let path = base + "/" + name
            guard let pid = abandonedOwner(path) else { continue }
            defer { close(pid.lock) }
            if mounted.contains(where: { $0 == path || $0.hasPrefix(path + "/") }) {
                outcome.left.append((path, "something is still mounted under it"))
                continue
            }
            removeTree(path)
            outcome.removed.append((path, pid.owner))
        }
        return outcome
    }

    /// `whittle.` and the six characters mkdtemp chose.
    static func isScratchName(_ name: String) -> Bool {
        name.hasPrefix(ScratchDirectory.prefix) && name.utf8.count == ScratchDirectory.prefix.utf8.count + 6
    }

    /// The owner file's pid and the lock now held on the directory, when it is a marked
    /// scratch directory of this user whose run is gone; nil otherwise.
    private static func abandonedOwner(_ path: String) -> (owner: String, lock: Int32)? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else { return nil }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0,
            let owner = try? String(contentsOfFile: path + "/" + ScratchDirectory.ownerFile, encoding: .utf8)
        else {
            close(descriptor)
            return nil
        }
        return (owner.trimmingCharacters(in: .whitespacesAndNewlines), descriptor)
    }

    /// Every mount point this process sees, from /proc/self/mountinfo (octal escapes undone).
    public static func mountPoints() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? unescapeMountPath(fields[4]) : nil
        }
    }

    private static func unescapeMountPath(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func report(_ line: String) {
        FileHandle.standardError.write(Data(("whittle: " + line + "\n").utf8))
    }
}

extension StaleScratch.Outcome {
    /// One line for what was removed, one for each directory left in place.
    public var lines: [String] {
        var lines: [String] = []
        if !removed.isEmpty {
            let list = removed.map { "\($0.path) (pid \($0.pid))" }.joined(separator: ", ")
            lines.append(
                "removed \(removed.count) temporary director\(removed.count == 1 ? "y" : "ies") "
                    + "left by runs that were killed: \(list)")
        }
        for (path, reason) in left {
            lines.append("left \(path), a temporary directory of a run that was killed: \(reason)")
        }
        return lines
    }
}
