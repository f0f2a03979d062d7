import Foundation
import WhittleFiles

/// Gives regular files of a tree new content: package databases rewritten to list only
/// what a slim keeps. Each file's bytes are appended to one spool file in the scratch
/// directory as soon as they are made, and its inode points at its part, so the writer
/// copies them like any other file and no generated file stays in memory. Two threads may
/// replace files at once, as long as they are different files.
public final class GeneratedContent: @unchecked Sendable {
    private let tree: FileTree
    private let scratch: ScratchDirectory
    /// Guards the spool, its end and the count.
    private let lock = NSLock()
    private var spool: OpenFile?
    private var offset: Int64 = 0
    /// New bytes less replaced bytes, over every replacement so far: what the output gains.
    public private(set) var addedBytes: Int64 = 0

    public init(tree: FileTree, scratch: ScratchDirectory) {
        self.tree = tree
        self.scratch = scratch
    }

    /// Replaces the content of the regular file at `path`; reading it through the tree then
    /// gives `bytes`. A path that is not a regular file is an error.
    public func replace(_ path: String, with bytes: [UInt8]) throws {
        guard let inode = tree.lookup(path)?.inode, inode.kind == .regular else {
            throw FlattenError.notARegularFile(path: path)
        }
        lock.lock()
        defer { lock.unlock() }
        let file = try spool ?? scratch.createFile(named: "generated-content")
        spool = file
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let wrote = pwrite(
                    file.descriptor, buffer.baseAddress! + done, buffer.count - done,
                    off_t(offset) + off_t(done))
                if wrote < 0, errno == EINTR { continue }
                guard wrote > 0 else {
                    throw FileError.cannotOpen(path: file.path, reason: String(cString: strerror(errno)))
                }
                done += wrote
            }
        }
        addedBytes += Int64(bytes.count) - inode.size
        inode.replaceContent(with: FileSlice(file: file, offset: offset, length: Int64(bytes.count)))
        offset += Int64(bytes.count)
    }
}
