import Foundation
import WhittleFiles

extension FileTree {
    /// Gives regular files new content: package databases rewritten to list only what a slim
    /// keeps. The bytes are appended to one spool file in `scratch` and each inode points at
    /// its part, so the writer copies them like any other file and nothing stays in memory.
    /// (The generated files are small, a few megabytes at most for a big `status`; the
    /// caller builds each in memory once.) A path that is not a regular file is an error.
    public func replaceContents(_ replacements: [(path: String, bytes: [UInt8])], scratch: ScratchDirectory) throws {
        guard !replacements.isEmpty else { return }
        let spool = try scratch.createFile(named: "generated-content")
        var offset: Int64 = 0
        for (path, bytes) in replacements {
            guard let inode = lookup(path)?.inode, inode.kind == .regular else {
                throw FlattenError.notARegularFile(path: path)
            }
            try bytes.withUnsafeBytes { buffer in
                var done = 0
                while done < buffer.count {
                    let wrote = pwrite(spool.descriptor, buffer.baseAddress! + done, buffer.count - done,
                                       off_t(offset) + off_t(done))
                    if wrote < 0, errno == EINTR { continue }
                    guard wrote > 0 else {
                        throw FileError.cannotOpen(path: spool.path, reason: String(cString: strerror(errno)))
                    }
                    done += wrote
                }
            }
            inode.replaceContent(with: FileSlice(file: spool, offset: offset, length: Int64(bytes.count)))
            offset += Int64(bytes.count)
        }
    }
}
