import WhittleArchive
import WhittleCompression
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

/// The digest checks of layers already applied whose hashes are still being taken: each on
/// a thread of its own (`LayerStream`), or by the walk that follows a spooled standard
/// input, in the archive's order rather than the layers'. By default one such thread runs
/// behind the flatten (with the flatten's own, both cores are busy, and each hashing thread
/// holds a buffer, which on the ML image was the margin of its memory limit); one more waits
/// for the oldest.
public final class LayerChecks {
    private var pending: [LayerStream] = []
    private let running: Int

    public init(running: Int = 1) {
        self.running = running
    }

    func add(_ stream: LayerStream) throws {
        pending.append(stream)
        while pending.filter(\.hashesOnItsOwnThread).count > running,
            let oldest = pending.firstIndex(where: \.hashesOnItsOwnThread)
        {
            try pending.remove(at: oldest).verify()
        }
    }

    /// Waits for every pending hash and checks it; the first layer that fails is the error.
    public func finish() throws {
        while !pending.isEmpty { try pending.removeFirst().verify() }
    }
}

/// Applies layers one by one into a `FileTree`, following the image-spec changeset rules
/// with Docker's applier as the reference.
///
/// Contents are never held in memory: an uncompressed layer's file data is addressed in
/// the input file by offset; a compressed layer's file data is copied once to a spool file.
public final class Flattener {
    public let tree = FileTree()
    /// Linux's PATH_MAX: the longest entry name read at all, before it is cleaned and
    /// measured exactly (`FlattenError.maximumPathBytes`).
    public static let maxNameBytes = 4096
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
    /// - Parameter verifying: false skips the digest checks; true checks every layer's
    ///   digests. Either way the file data of uncompressed layers is not read here (see
    ///   `LayerStream`): it is addressed in the input by offset.
    /// - Parameter meter: counts the layers' stored bytes as they are read, for progress.
    /// - Parameter checks: when given, a layer's digests are not waited for once it is
    ///   applied: its check joins `checks`, and the caller finishes them later. The hashing
    ///   then runs beside whatever the caller does next instead of holding up the flatten.
    public func apply(
        _ image: SavedImage, verifying: Bool = true, deferringTo checks: LayerChecks? = nil, meter: ByteMeter? = nil,
        progress: (LayerSummary) -> Void = { _ in }
    ) throws {
        meter?.expect(image.layers.reduce(0) { $0 + $1.slice.length })
        for location in image.layers {
            let stream = try LayerStream(location, verifying: verifying, meter: meter, recorded: image.recordedDigests)
            let summary: LayerSummary
            if let checks {
                summary = try applyEntries(of: stream)
                try checks.add(stream)
            } else {
                summary = try apply(stream)
            }
            progress(summary)
        }
    }

    /// Applies one layer and checks its digests once it has been read to the end.
    @discardableResult
    public func apply(_ stream: LayerStream) throws -> LayerSummary {
        let summary = try applyEntries(of: stream)
        try stream.verify()
        return summary
    }

    private func applyEntries(of stream: LayerStream) throws -> LayerSummary {
        let layer = stream.location.index + 1
        let direct = stream.directFile
        var entries = 0
        var fileBytes: Int64 = 0
        var listed = ListedNames()
        var expansion = Expansion(limit: stream.location.inflationLimit, layer: stream.location)
        while let entry = try stream.tar.nextEntry() {
            entries += 1
            let dataStart = stream.tar.consumedBytes
            // Docker cannot write a name longer than PATH_MAX, and one a hundred thousand
            // components deep would overflow the stack of every walk of the tree.
            guard entry.path.utf8.count <= Self.maxNameBytes else {
                throw FlattenError.pathTooLong(layer: layer, path: entry.path, bytes: entry.path.utf8.count)
            }
            entryObserver?(layer, entry, tree)
            let components = try cleanPath(entry.path, layer: layer)
            guard listed.insert(entry.path, components) else {
                throw FlattenError.duplicateEntry(layer: layer, path: entry.path)
            }
            // Docker skips the root's own entry.
            guard let name = components.last else { continue }
            let parentComponents = components.dropLast()
            if name.hasPrefix(".wh.") {
                try applyWhiteout(name, in: parentComponents, layer: layer, entry: entry.path)
                continue
            }
            try checkLength(components, layer: layer, entry: entry.path)
            let parent = try directory(parentComponents, layer: layer, entry: entry.path)
            switch entry.kind {
            case .directory:
                if let existing = parent.child(named: name), existing.isDirectory {
                    // Directory over directory merges: lower children stay, upper attributes win.
                    existing.directoryAttributes.overlay(Attributes(entry))
                    existing.layer = layer
                } else {
                    parent.setChild(Node(directory: name, attributes: Attributes(entry), layer: layer))
                }
            case .hardlink:
                try applyHardlink(entry, named: name, in: parent, components: components, layer: layer)
            default:
                var content: FileSlice?
                if entry.kind == .regular, entry.size > 0 {
                    fileBytes += entry.size
                    if let direct, !entry.isSparse {
                        content = FileSlice(
                            file: direct.file, offset: direct.baseOffset + dataStart, length: entry.size)
                    } else {
                        try expansion.spool(entry.size)
                        content = try spoolData(of: entry, from: stream.tar)
                    }
                }
                parent.setChild(Node(name: name, inode: Inode(entry: entry, content: content), layer: layer))
            }
        }
        let summary = LayerSummary(
            index: stream.location.index, entries: entries, fileBytes: fileBytes,
            storedBytes: stream.location.slice.length, compression: stream.compression)
        layers.append(summary)
        return summary
    }

    private func applyHardlink(
        _ entry: TarEntry, named name: String, in parent: Node, components: [String],
        layer: Int
    ) throws {
        // Docker removes what the name held before it links, so a link to its own name, or
        // to a path below it, finds nothing.
        parent.removeChild(named: name)
        let inode = try linkedInode(for: entry, components: components, layer: layer)
        // Docker applies the link header's owner (and mode and time, unless the target is a
        // symlink) to the shared inode.
        inode.attributes.overlay(Attributes(entry), keepModeAndTime: inode.kind == .symlink)
        inode.isShared = true
        parent.setChild(Node(name: name, inode: inode, layer: layer))
    }

    /// The directory an entry goes in, missing ones made as Docker makes them. Whatever
    /// stops the walk is reported for the entry. With `followFinal` false, a symlink in the
    /// directory's place gives nil.
    private func reach(
        _ components: ArraySlice<String>, layer: Int, entry: String,
        followFinal: Bool
    ) throws -> Node? {
        do {
            return try tree.resolveDirectory(components, createMissingIn: layer, followFinal: followFinal)
        } catch DirectoryProblem.notADirectory(let blocker) {
            throw FlattenError.parentNotDirectory(layer: layer, path: entry, blocker: blocker)
        } catch DirectoryProblem.symlinkLoop {
            throw FlattenError.parentInSymlinkLoop(layer: layer, path: entry)
        } catch DirectoryProblem.danglingLink(let link, let target) {
            throw FlattenError.throughDanglingSymlink(layer: layer, path: entry, link: link, target: target)
        } catch DirectoryProblem.tooDeep {
            throw FlattenError.tooDeep(layer: layer, path: entry)
        }
    }

    private func directory(_ components: ArraySlice<String>, layer: Int, entry: String) throws -> Node {
        guard let node = try reach(components, layer: layer, entry: entry, followFinal: true) else {
            throw FlattenError.parentNotDirectory(layer: layer, path: entry, blocker: components.last ?? "")
        }
        return node
    }

    /// Names Docker cannot create are refused: the applier opens "/" + the name in a chroot.
    private func checkLength(_ components: [String], layer: Int, entry: String) throws {
        var bytes = components.count - 1
        for component in components {
            let count = component.utf8.count
            guard count <= FlattenError.maximumNameBytes else {
                throw FlattenError.nameTooLong(layer: layer, path: entry, bytes: count)
            }
            bytes += count
        }
        guard bytes <= FlattenError.maximumPathBytes else {
            throw FlattenError.pathTooLong(layer: layer, path: entry, bytes: bytes)
        }
    }

    /// `.wh.NAME` deletes NAME as it stands when the marker is met (a lower file, or one
    /// this layer wrote before it, as Docker applies entries in order); `.wh..wh..opq` hides
    /// every lower child of its directory, wherever it sits in the layer. The directory is
    /// reached as any entry's, made when missing.
    private func applyWhiteout(
        _ name: String, in parentComponents: ArraySlice<String>, layer: Int,
        entry: String
    ) throws {
        if name == ".wh..wh..opq" {
            // Docker walks the directory without following a symlink in its place: nothing hides.
            guard let holder = try reach(parentComponents, layer: layer, entry: entry, followFinal: false)
            else { return }
            hideLowerChildren(of: holder, below: layer)
            return
        }
        // Other `.wh..wh.` names are AUFS bookkeeping with no meaning here.
        if name.hasPrefix(".wh..wh.") { return }
        let target = String(name.dropFirst(".wh.".count))
        // `.wh..` or `.wh...` would name the directory itself or its parent: Docker refuses them.
        guard !target.isEmpty, target != ".", target != ".." else {
            throw FlattenError.invalidWhiteout(layer: layer, path: entry)
        }
        let holder = try directory(parentComponents, layer: layer, entry: entry)
        holder.removeChild(named: target)
    }

    /// Removes children written by lower layers. A child this layer wrote stays, but if it
    /// is a merged directory its own lower children go too, as Docker's applier walks them.
    private func hideLowerChildren(of directory: Node, below layer: Int) {
        directory.removeChildren { $0.layer < layer }
        for child in directory.sortedChildren where child.isDirectory {
            hideLowerChildren(of: child, below: layer)
        }
    }

    /// The inode a hardlink names: an earlier entry of this layer or a file of a lower one.
    private func linkedInode(for entry: TarEntry, components: [String], layer: Int) throws -> Inode {
        let target: [String]
        do {
            target = try cleanPath(entry.linkTarget, layer: layer)
        } catch {
            throw FlattenError.linkEscapesRoot(layer: layer, path: entry.path, target: entry.linkTarget)
        }
        guard let name = target.last,
            let directory = try? tree.resolveDirectory(target.dropLast(), createMissingIn: nil),
            let node = directory.child(named: name)
        else {
            if target.starts(with: components) {
                throw FlattenError.linkReplacesTarget(layer: layer, path: entry.path, target: entry.linkTarget)
            }
            throw FlattenError.missingLinkTarget(layer: layer, path: entry.path, target: entry.linkTarget)
        }
        guard let inode = node.inode else {
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

/// The names one layer has listed, compared as Docker's layer store compares them (cleaned
/// lexically, a leading '/' kept), to refuse a name listed twice. Two independent 64-bit
/// hashes of each name's bytes stand for it, so a layer of many entries costs 16 bytes each.
struct ListedNames {
    private struct Key: Hashable {
        let first: Int
        let second: Int
    }

    private var seen = Set<Key>()

    /// False when the name was listed before.
    mutating func insert(_ raw: String, _ components: [String]) -> Bool {
        var first = Hasher()
        var second = Hasher()
        first.combine(1 as UInt8)
        second.combine(2 as UInt8)
        let absolute = raw.hasPrefix("/")
        first.combine(absolute)
        second.combine(absolute)
        for component in components {
            var text = component
            text.withUTF8 { bytes in
                first.combine(bytes: UnsafeRawBufferPointer(bytes))
                second.combine(bytes: UnsafeRawBufferPointer(bytes))
            }
            // A component never holds '/': it ends one unambiguously.
            first.combine(0x2f as UInt8)
            second.combine(0x2f as UInt8)
        }
        return seen.insert(Key(first: first.finalize(), second: second.finalize())).inserted
    }
}

/// How much of one layer has been spooled, against the limit on how far it may expand.
struct Expansion {
    let limit: Int64?
    let layer: LayerLocation
    private var spooled: Int64 = 0

    init(limit: Int64?, layer: LayerLocation) {
        self.limit = limit
        self.layer = layer
    }

    /// Counts `bytes` about to be spooled; refuses them, before a byte is written, when they
    /// would take the layer past its limit (a gzip bomb, a sparse file of terabytes).
    mutating func spool(_ bytes: Int64) throws {
        spooled += bytes
        if let limit, spooled > limit {
            throw ImageError.inflationLimit(
                what: "layer \(layer.index + 1) (\(layer.name))", limit: limit,
                stored: layer.slice.length)
        }
    }
}
