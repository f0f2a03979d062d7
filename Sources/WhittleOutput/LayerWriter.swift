import WhittleArchive
import WhittleCompression
import WhittleFlatten
import WhittleImage
import WhittleFiles

/// Figures about a written layer.
public struct LayerWriteSummary: Sendable {
    public var entries = 0
    public var regularFiles = 0
    /// Entries that are not directories: files, links, devices, fifos.
    public var nonDirectories = 0
    /// Sum of regular file sizes written (each hardlinked inode once).
    public var fileBytes: Int64 = 0
}

/// Writes a `FileTree` as one layer tar: parents before children, siblings in byte order,
/// the first written name of a hardlink group as the file and later names as links to it,
/// no whiteouts, and only values taken from the input, so the bytes are reproducible.
public struct LayerWriter {
    /// Says whether a path is written; returning false for a directory skips its subtree.
    public typealias Filter = (_ path: String, _ node: Node) -> Bool

    public init() {}

    public func write(_ tree: FileTree, to sink: ByteSink, filter: Filter? = nil) throws -> LayerWriteSummary {
        var summary = LayerWriteSummary()
        var firstNames: [ObjectIdentifier: String] = [:]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let tar = try TarWriter(name: "output layer") { try sink.write($0) }

        func visit(_ node: Node, prefix: String) throws {
            for child in node.sortedChildren {
                let path = prefix.isEmpty ? child.name : prefix + "/" + child.name
                if let filter, !filter(path, child) { continue }
                summary.entries += 1
                guard let inode = child.inode else {
                    try tar.writeHeader(header(path + "/", kind: .directory, attributes: child.attributes))
                    try visit(child, prefix: path)
                    continue
                }
                summary.nonDirectories += 1
                let identity = ObjectIdentifier(inode)
                if let first = firstNames[identity] {
                    var link = header(path, kind: .hardlink, attributes: inode.attributes)
                    link.linkTarget = first
                    try tar.writeHeader(link)
                    continue
                }
                // Only a hardlinked inode can come back under another name.
                if inode.isShared { firstNames[identity] = path }
                var entry = header(path, kind: inode.kind, attributes: inode.attributes)
                entry.size = inode.size
                entry.linkTarget = inode.linkTarget
                entry.deviceMajor = inode.deviceMajor
                entry.deviceMinor = inode.deviceMinor
                try tar.writeHeader(entry)
                if inode.kind == .regular {
                    summary.regularFiles += 1
                    summary.fileBytes += inode.size
                    if let content = inode.content { try copy(content, to: tar, buffer: buffer) }
                }
            }
        }
        try visit(tree.root, prefix: "")
        try tar.finish()
        return summary
    }

    private func header(_ path: String, kind: TarEntryKind, attributes: Attributes) -> TarEntry {
        TarEntry(
            path: path, kind: kind, permissions: attributes.permissions, uid: attributes.uid, gid: attributes.gid,
            mtimeSeconds: attributes.mtimeSeconds, mtimeNanoseconds: attributes.mtimeNanoseconds,
            xattrs: attributes.xattrs.sorted { $0.name < $1.name })
    }

    private func copy(_ content: FileSlice, to tar: TarWriter, buffer: UnsafeMutableRawBufferPointer) throws {
        do {
            try content.forEachChunk(through: buffer) { try tar.writeData($0) }
        } catch FileError.truncated {
            throw OutputError.inputChanged(path: content.file.path)
        }
    }
}
