import Foundation

/// Asks for `descriptor`'s pipe to be as large as an unprivileged process may make it (a
/// mebibyte by default): the process on the other side then waits far less often for this
/// one, and a gigabyte crosses in far fewer wake-ups. Best effort: nothing changes when it
/// is no pipe or the limit is lower.
public func enlargePipe(_ descriptor: Int32) {
    let limit = (try? String(contentsOfFile: "/proc/sys/fs/pipe-max-size", encoding: .utf8))
        .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    _ = fcntl(descriptor, setPipeSize, min(limit ?? 1 << 20, 1 << 24))
}

/// `F_SETPIPE_SZ` (Linux's `F_LINUX_SPECIFIC_BASE + 7`), which the Glibc module leaves out.
private let setPipeSize: Int32 = 1031

/// Whether `descriptor` is a pipe or a socket: a stream that cannot seek back.
public func isPipe(_ descriptor: Int32) -> Bool {
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { return false }
    return info.st_mode & S_IFMT == S_IFIFO || info.st_mode & S_IFMT == S_IFSOCK
}
