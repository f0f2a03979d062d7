import WhittleArchive
import WhittleImage
#if canImport(Glibc)
import Glibc
import WhittleFiles
#endif

/// Figures about one applied layer, for progress and reports.
public struct LayerSummary: Sendable {
    public let index: Int
    public let entries: Int
    /// Sum of regular file sizes in the layer, uncompressed.
    public let fileBytes: Int64
    public let storedBytes: Int64
    /// How the layer's blob is stored.
    public let compression: LayerCompression
}

/// Applies layers one by one into a `FileTree`, following the image-spec changeset rules
/// with Docker's applier as the reference.
///
/// Contents are never held in memory: an uncompressed layer's file data is addressed in
/// the input file by offset; a compressed layer's file data is copied once to a spool file.
public final class Flattener {
    public let tree = FileTree()
    public private(set) var layers: [LayerSummary] = []
    private let scratch: ScratchDirectory
    private var spool: OpenFile?
    private var spoolEnd: Int64 = 0
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    /// Sees an entry before it is applied, while the tree still shows the layers below it
    /// (analyses such as wasted bytes need that view). Layer numbers are 1-based.
    public typealias EntryObserver = (_ layer: Int, _ entry: TarEntry, _ tree: FileTree) -> Void

    /// Called with each entry before it is applied.
    public var entryObserver: EntryObserver?

    public init(scratch: ScratchDirectory) {
        self.scratch = scratch
    }

    deinit {
        buffer.deallocate()
    }

    /// Applies every layer of `image` in `rootfs.diff_ids` order.
    /// - Parameter verifying: false skips the digest checks and the file data of
    ///   uncompressed layers (see `LayerStream`); true checks every layer's digests.
    public func apply(_ image: SavedImage, verifying: Bool = true,
                      progress: (LayerSummary) -> Void = { _ in }) throws {
        for location in image.layers {
            let summary = try apply(LayerStream(location, verifying: verifying))
            progress(summary)
        }
    }

    /// Applies one layer and checks its digests once it has been read to the end.
    @discardableResult
    public func apply(_ stream: LayerStream) throws -> LayerSummary {
        let layer = stream.location.index + 1
        let direct = stream.directFile
        var entries = 0
        var fileBytes: Int64 = 0
        while let entry = try stream.tar.nextEntry() {
            entries += 1
            let dataStart = stream.tar.consumedBytes
            entryObserver?(layer, entry, tree)
            let components = try cleanPath(entry.path, layer: layer)
            // Docker skips the root's own entry.
            guard let name = components.last else { continue }
            let parentComponents = components.dropLast()
            if name.hasPrefix(".wh.") {
                try applyWhiteout(name, in: parentComponents, layer: layer, entry: entry.path)
                continue
            }
            let parent: Node?
            do {
                parent = try tree.resolveDirectory(parentComponents, createMissingIn: layer)
            } catch FlattenError.notADirectory {
                throw FlattenError.parentNotDirectory(layer: layer, path: entry.path)
            }
            guard let parent else { throw FlattenError.parentNotDirectory(layer: layer, path: entry.path) }
            let existing = parent.children?[name]
            switch entry.kind {
            case .directory:
                if let existing, existing.isDirectory {
                    // Directory over directory merges: lower children stay, upper attributes win.
                    existing.directoryAttributes.overlay(Attributes(entry))
                    existing.layer = layer
                } else {
                    parent.children?[name] = Node(directory: name, attributes: Attributes(entry), layer: layer)
                }
            case .hardlink:
                let inode = try linkedInode(for: entry, layer: layer)
                // Docker applies the link header's owner (and mode and time, unless the
                // target is a symlink) to the shared inode.
                inode.attributes.overlay(Attributes(entry), keepModeAndTime: inode.kind == .symlink)
                inode.isShared = true
                parent.children?[name] = Node(name: name, inode: inode, layer: layer)
            default:
                var content: FileSlice?
                if entry.kind == .regular, entry.size > 0 {
                    fileBytes += entry.size
                    if let direct, !entry.isSparse {
                        content = FileSlice(file: direct.file, offset: direct.baseOffset + dataStart, length: entry.size)
                    } else {
                        content = try spoolData(of: entry, from: stream.tar)
                    }
                }
                parent.children?[name] = Node(name: name, inode: Inode(entry: entry, content: content), layer: layer)
            }
        }
        try stream.verify()
        let summary = LayerSummary(
            index: stream.location.index, entries: entries, fileBytes: fileBytes,
            storedBytes: stream.location.slice.length, compression: stream.compression)
        layers.append(summary)
        return summary
    }

    /// `.wh.NAME` deletes NAME; `.wh..wh..opq` hides every lower child of its directory.
    /// Both act on lower layers only, wherever they sit in the layer.
    private func applyWhiteout(_ name: String, in parentComponents: ArraySlice<String>, layer: Int,
                               entry: String) throws {
        if name == ".wh..wh..opq" {
            guard let directory = try tree.resolveDirectory(parentComponents, createMissingIn: layer) else { return }
            hideLowerChildren(of: directory, below: layer)
            return
        }
        // Other `.wh..wh.` names are AUFS bookkeeping with no meaning here.
        if name.hasPrefix(".wh..wh.") { return }
        let target = String(name.dropFirst(".wh.".count))
        // `.wh..` or `.wh...` would name the directory itself or its parent: Docker refuses them.
        guard !target.isEmpty, target != ".", target != ".." else {
            throw FlattenError.invalidWhiteout(layer: layer, path: entry)
        }
        guard let directory = try? tree.resolveDirectory(parentComponents, createMissingIn: nil),
              let victim = directory.children?[target], victim.layer < layer
        else { return }
        directory.children?[target] = nil
    }

    /// Removes children written by lower layers. A child this layer wrote stays, but if it
    /// is a merged directory its own lower children go too, as Docker's applier walks them.
    private func hideLowerChildren(of directory: Node, below layer: Int) {
        guard let children = directory.children else { return }
        for (name, child) in children {
            if child.layer < layer {
                directory.children?[name] = nil
            } else if child.isDirectory {
                hideLowerChildren(of: child, below: layer)
            }
        }
    }

    /// The inode a hardlink names: an earlier entry of this layer or a file of a lower one.
    private func linkedInode(for entry: TarEntry, layer: Int) throws -> Inode {
        let components: [String]
        do {
            components = try cleanPath(entry.linkTarget, layer: layer)
        } catch {
            throw FlattenError.linkEscapesRoot(layer: layer, path: entry.path, target: entry.linkTarget)
        }
        guard let name = components.last,
              let directory = try? tree.resolveDirectory(components.dropLast(), createMissingIn: nil),
              let target = directory.children?[name]
        else {
            throw FlattenError.missingLinkTarget(layer: layer, path: entry.path, target: entry.linkTarget)
        }
        guard let inode = target.inode else {
            throw FlattenError.linkToDirectory(layer: layer, path: entry.path, target: entry.linkTarget)
        }
        return inode
    }

    /// Copies an entry's data to the spool file (compressed layers cannot be read by offset).
    private func spoolData(of entry: TarEntry, from tar: TarReader) throws -> FileSlice {
        let file: OpenFile
        if let spool {
            file = spool
        } else {
            file = try scratch.createFile(named: "spool")
            spool = file
        }
        let start = spoolEnd
        guard let base = buffer.baseAddress else { throw FlattenError.spool("no buffer") }
        while true {
            let count = try tar.readData(into: buffer)
            if count == 0 { break }
            var written = 0
            while written < count {
                let result = pwrite(file.descriptor, base + written, count - written, off_t(spoolEnd))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw FlattenError.spool(String(cString: strerror(errno)))
                }
                written += result
                spoolEnd += Int64(result)
            }
        }
        return FileSlice(file: file, offset: start, length: spoolEnd - start)
    }
}
