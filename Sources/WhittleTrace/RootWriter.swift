import Foundation
import WhittleArchive
import WhittleFlatten
import CWhittleTrace
#if canImport(Glibc)
import Glibc
#endif

/// Writes a flattened tree out as a directory, confined to it: every name is created
/// relative to its parent's directory descriptor with `O_NOFOLLOW`, never through a path
/// string, so no symlink of the image (even one written earlier) can lead outside.
/// Modes, owners, times and xattrs are set as in the image; devices and fifos are made
/// as they are (this needs root).
public struct RootWriter {
    public let tree: FileTree

    public init(tree: FileTree) {
        self.tree = tree
    }

    /// Figures about the written root.
    public struct Summary: Sendable {
        public var entries = 0
        public var bytes: Int64 = 0
    }

    /// Writes the tree into `directory`, which must exist and be empty.
    @discardableResult
    public func write(into directory: String) throws -> Summary {
        let rootFD = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else { throw TraceError.extraction(path: directory, reason: Self.errnoText()) }
        // Open directories from the root down to the current parent, with their paths.
        var stack: [(path: String, fd: Int32, node: Node)] = [("", rootFD, tree.root)]
        var firstNameOfInode: [ObjectIdentifier: String] = [:]
        var summary = Summary()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer {
            buffer.deallocate()
            for level in stack.reversed() { close(level.fd) }
        }

        func finishDirectory() throws {
            guard let level = stack.popLast() else { return }
            defer { close(level.fd) }
            let attributes = level.node.attributes
            try Self.check(fchown(level.fd, uid_t(truncatingIfNeeded: attributes.uid),
                                  gid_t(truncatingIfNeeded: attributes.gid)), level.path)
            try Self.check(fchmod(level.fd, mode_t(attributes.permissions & 0o7777)), level.path)
            for xattr in attributes.xattrs { Self.setXattr(fd: level.fd, xattr) }
            var times = Self.times(attributes)
            try Self.check(futimens(level.fd, &times), level.path)
        }

        try tree.walk { path, node in
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
                try Self.check(mkdirat(parent, name, 0o700), path)
                let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                try Self.check(fd, path)
                stack.append((path, fd, node))
                return
            }
            guard let inode = node.inode else { return }
            let identity = ObjectIdentifier(inode)
            if let first = firstNameOfInode[identity] {
                // Another name of a hardlinked inode; `first` runs through directories this
                // writer made, so resolving it from the root cannot leave the root.
                try Self.check(linkat(rootFD, first, parent, name, 0), path)
                return
            }
            let attributes = inode.attributes
            let uid = uid_t(truncatingIfNeeded: attributes.uid)
            let gid = gid_t(truncatingIfNeeded: attributes.gid)
            let permissions = mode_t(attributes.permissions & 0o7777)
            var times = Self.times(attributes)
            switch inode.kind {
            case .regular:
                let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                try Self.check(fd, path)
                defer { close(fd) }
                if let content = inode.content {
                    var offset: Int64 = 0
                    while offset < content.length {
                        let want = Int(min(Int64(buffer.count), content.length - offset))
                        let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want])
                        let got = try content.file.read(at: content.offset + offset, into: slice)
                        guard got == want else {
                            throw TraceError.extraction(path: path, reason: "the image data ends early")
                        }
                        var written = 0
                        while written < got {
                            let n = Glibc.write(fd, buffer.baseAddress.map { $0 + written }, got - written)
                            if n < 0 && errno == EINTR { continue }
                            try Self.check(Int32(n < 0 ? -1 : 0), path)
                            written += n
                        }
                        offset += Int64(got)
                    }
                    summary.bytes += content.length
                }
                try Self.check(fchown(fd, uid, gid), path)
                try Self.check(fchmod(fd, permissions), path)
                for xattr in attributes.xattrs { Self.setXattr(fd: fd, xattr) }
                try Self.check(futimens(fd, &times), path)
            case .symlink:
                try Self.check(symlinkat(inode.linkTarget, parent, name), path)
                try Self.check(fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW), path)
                try Self.check(utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW), path)
            case .characterDevice, .blockDevice, .fifo:
                let type: mode_t = inode.kind == .fifo ? S_IFIFO : (inode.kind == .blockDevice ? S_IFBLK : S_IFCHR)
                let device = dev_t(wt_makedev(inode.deviceMajor, inode.deviceMinor))
                try Self.check(mknodat(parent, name, type | 0o600, inode.kind == .fifo ? 0 : device), path)
                try Self.check(fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW), path)
                // Just made by us and not a symlink, so fchmodat cannot be led elsewhere.
                try Self.check(fchmodat(parent, name, permissions, 0), path)
                try Self.check(utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW), path)
            case .socket, .hardlink, .directory:
                // Sockets are not stored meaningfully in layers; hardlinks and directories
                // were handled above.
                return
            }
            firstNameOfInode[identity] = path
        }
        while stack.count > 1 { try finishDirectory() }
        // The root's own attributes.
        let rootAttributes = tree.root.attributes
        try Self.check(fchmod(rootFD, mode_t(rootAttributes.permissions & 0o7777)), directory)
        stack.removeAll()
        close(rootFD)
        return summary
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
