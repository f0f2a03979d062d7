import Foundation
import WhittleArchive
import WhittleFlatten
import CWhittleTrace
#if canImport(Glibc)
    import Glibc
    import WhittleFiles
#endif

/// Writes a flattened tree out as a directory, confined to it: every name is created
/// relative to its parent's directory descriptor with `O_NOFOLLOW`, never through a path
/// string, so no symlink of the image (even one written earlier) can lead outside.
/// Modes, owners, times and xattrs are set as in the image; devices and fifos are made
/// as they are (this needs root; in a user namespace, where no device node can be made,
/// they are left out and counted).
public struct RootWriter {
    public let tree: FileTree

    public init(tree: FileTree) {
        self.tree = tree
    }

    /// Figures about the written root.
    public struct Summary: Sendable {
        public var entries = 0
        public var bytes: Int64 = 0
        /// Device nodes outside /dev left out because a user namespace cannot make them.
        public var skippedDevices = 0
    }

    /// Writes the tree into `directory`, which must exist and be empty.
    @discardableResult
    public func write(into directory: String) throws -> Summary {
        let rootFD = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else { throw TraceError.extraction(path: directory, reason: Self.errnoText()) }
        let extraction = Extraction(rootFD: rootFD, root: tree.root)
        defer { extraction.closeAll() }
        try tree.walk { path, node in try extraction.write(node, at: path) }
        try extraction.finishAll()
        // The root's own attributes.
        try Self.check(fchmod(rootFD, mode_t(tree.root.attributes.permissions & 0o7777)), directory)
        return extraction.summary
    }

    /// The state of one extraction: the directories open from the root down to the current
    /// parent, the first name written of each hardlinked inode, and a copy buffer.
    private final class Extraction {
        let rootFD: Int32
        var stack: [(path: String, fd: Int32, node: Node)]
        var firstNameOfInode: [ObjectIdentifier: String] = [:]
        var summary = Summary()
        let inUserNamespace = UserNamespace.isInsideOne
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

        init(rootFD: Int32, root: Node) {
            self.rootFD = rootFD
            stack = [("", rootFD, root)]
        }

        func closeAll() {
            buffer.deallocate()
            for level in stack.reversed() { close(level.fd) }
            stack.removeAll()
        }

        /// Entries come parents first (the tree's walk order), so a directory is finished
        /// (its attributes set, after its children are in) once the walk leaves it.
        func write(_ node: Node, at path: String) throws {
            let name = node.name
            guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
                throw TraceError.unsafeEntry(path: path, reason: "the name is not a single path component")
            }
            let parentPath = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : ""
            while let top = stack.last, top.path != parentPath {
                guard stack.count > 1 else {
                    throw TraceError.internalFailure("tree walk order: no open parent for \(path)")
                }
                try finishDirectory()
            }
            guard let parent = stack.last?.fd else { throw TraceError.internalFailure("no parent for \(path)") }
            summary.entries += 1
            if node.isDirectory {
                try check(mkdirat(parent, name, 0o700), path)
                let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                try check(fd, path)
                stack.append((path, fd, node))
                return
            }
            guard let inode = node.inode else { return }
            let identity = ObjectIdentifier(inode)
            if let first = firstNameOfInode[identity] {
                // Another name of a hardlinked inode; `first` runs through directories this
                // writer made, so resolving it from the root cannot leave the root.
                try check(linkat(rootFD, first, parent, name, 0), path)
                return
            }
            if try writeFile(inode, named: name, in: parent, path: path), inode.isShared {
                firstNameOfInode[identity] = path
            }
        }

        /// Whether something was written (sockets are not stored meaningfully in layers).
        private func writeFile(_ inode: Inode, named name: String, in parent: Int32, path: String) throws -> Bool {
            let attributes = inode.attributes
            let uid = uid_t(truncatingIfNeeded: attributes.uid)
            let gid = gid_t(truncatingIfNeeded: attributes.gid)
            var times = RootWriter.times(attributes)
            switch inode.kind {
            case .regular:
                let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                try check(fd, path)
                defer { close(fd) }
                if let content = inode.content { try copy(content, to: fd, path: path) }
                try checkOwner(fchown(fd, uid, gid), path, attributes)
                try check(fchmod(fd, mode_t(attributes.permissions & 0o7777)), path)
                for xattr in attributes.xattrs { RootWriter.setXattr(fd: fd, xattr) }
                try check(futimens(fd, &times), path)
            case .symlink:
                try check(symlinkat(inode.linkTarget, parent, name), path)
                try checkOwner(fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW), path, attributes)
                try check(utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW), path)
            case .characterDevice, .blockDevice, .fifo:
                let type: mode_t = inode.kind == .fifo ? S_IFIFO : (inode.kind == .blockDevice ? S_IFBLK : S_IFCHR)
                let device = dev_t(wt_makedev(inode.deviceMajor, inode.deviceMinor))
                if mknodat(parent, name, type | 0o600, inode.kind == .fifo ? 0 : device) != 0 {
                    // The sandbox mounts the image nodev, so such a node would open nothing anyway.
                    guard errno == EPERM, inUserNamespace, inode.kind != .fifo else {
                        throw TraceError.extraction(path: path, reason: RootWriter.errnoText())
                    }
                    // /dev is the sandbox's own, as under Docker: the image's nodes there are never seen.
                    if !path.hasPrefix("dev/") { summary.skippedDevices += 1 }
                    return false
                }
                try check(fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW), path)
                // Just made by us and not a symlink, so fchmodat cannot be led elsewhere.
                try check(fchmodat(parent, name, mode_t(attributes.permissions & 0o7777), 0), path)
                try check(utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW), path)
            case .socket, .hardlink, .directory:
                return false
            }
            return true
        }

        private func copy(_ content: FileSlice, to fd: Int32, path: String) throws {
            do {
                try content.forEachChunk(through: buffer) { chunk in
                    var written = 0
                    while written < chunk.count {
                        let n = Glibc.write(fd, chunk.baseAddress.map { $0 + written }, chunk.count - written)
                        if n < 0 && errno == EINTR { continue }
                        try check(Int32(n < 0 ? -1 : 0), path)
                        written += n
                    }
                }
            } catch FileError.truncated {
                throw TraceError.extraction(path: path, reason: "the image data ends early")
            }
            summary.bytes += content.length
        }

        private func finishDirectory() throws {
            guard let level = stack.popLast() else { return }
            defer { close(level.fd) }
            let attributes = level.node.attributes
            try checkOwner(
                fchown(
                    level.fd, uid_t(truncatingIfNeeded: attributes.uid),
                    gid_t(truncatingIfNeeded: attributes.gid)), level.path, attributes)
            try check(fchmod(level.fd, mode_t(attributes.permissions & 0o7777)), level.path)
            for xattr in attributes.xattrs { RootWriter.setXattr(fd: level.fd, xattr) }
            var times = RootWriter.times(attributes)
            try check(futimens(level.fd, &times), level.path)
        }

        /// Every directory but the root.
        func finishAll() throws {
            while stack.count > 1 { try finishDirectory() }
        }

        private func check(_ result: Int32, _ path: String) throws {
            try RootWriter.check(result, path)
        }

        /// In a user namespace an owner outside the mapped ids fails with EINVAL; say which.
        private func checkOwner(_ result: Int32, _ path: String, _ attributes: Attributes) throws {
            guard result < 0, errno == EINVAL, inUserNamespace else { return try check(result, path) }
            throw TraceError.extraction(
                path: path,
                reason: """
                    it is owned by uid \(attributes.uid), gid \(attributes.gid), outside the ids this user \
                    namespace maps (0 and the range in /etc/subuid and /etc/subgid): give the user a larger range
                    """)
        }
    }

    static func times(_ attributes: Attributes) -> [timespec] {
        let time = timespec(tv_sec: Int(attributes.mtimeSeconds), tv_nsec: Int(attributes.mtimeNanoseconds))
        return [time, time]
    }

    static func setXattr(fd: Int32, _ xattr: ExtendedAttribute) {
        // Best effort: a filesystem without xattrs (or a namespace it refuses) must not
        // stop the trace; security.capability is the one that matters to running.
        _ = xattr.value.withUnsafeBytes { bytes in
            wt_fsetxattr(fd, xattr.name, bytes.baseAddress, UInt(bytes.count))
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func check(_ result: Int32, _ path: String) throws {
        if result < 0 { throw TraceError.extraction(path: path, reason: errnoText()) }
    }
}
