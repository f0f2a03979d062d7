import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// The ordinary user the rootless tests run whittle as: `whittle-rootless`, with
/// subordinate ids, made by `scripts/rootless-user.sh` (as root). Its runs happen in a
/// directory it owns, holding its own copy of the whittle executable, since the
/// repository's path may not be open to it.
struct RootlessUser {
    static let name = "whittle-rootless"

    /// Where the user works; removed by the caller's `TestDirectory`.
    let home: String
    let whittle: String

    /// Root can make the user; the user's run needs newuidmap from Debian's uidmap.
    static var available: Bool {
        TestEnvironment.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/newuidmap")
    }

    /// Makes the user when missing and a home for this test inside `work`.
    init(in work: TestDirectory) throws {
        try run("/bin/bash", [repositoryRoot.appendingPathComponent("scripts/rootless-user.sh").path])
        home = work.path("rootless")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        whittle = home + "/whittle"
        try FileManager.default.copyItem(atPath: try whittleExecutable(), toPath: whittle)
        // The test directory itself is root's 0700: let the user through to its home.
        chmod(work.url.path, 0o711)
        try giveAway(home)
    }

    /// Copies `file` into the user's home, readable by it; returns the copy's path.
    func stage(_ file: String) throws -> String {
        let copy = home + "/" + URL(fileURLWithPath: file).lastPathComponent
        try FileManager.default.copyItem(atPath: file, toPath: copy)
        try giveAway(copy)
        return copy
    }

    /// Runs whittle as the user, in its home, with nothing of root's environment but PATH.
    @discardableResult
    func whittle(_ arguments: [String]) throws -> String {
        try run(
            "/usr/bin/setpriv",
            [
                "--reuid=\(Self.name)", "--regid=\(Self.name)", "--clear-groups", "--",
                "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=\(home)", "TMPDIR=\(home)", whittle,
            ] + arguments)
    }

    private func giveAway(_ path: String) throws {
        try run("/bin/chown", ["-R", "\(Self.name):\(Self.name)", path])
    }
}
