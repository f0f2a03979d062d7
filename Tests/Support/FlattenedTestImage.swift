import Foundation
import WhittleFlatten
import WhittleImage
import WhittleFiles

/// A test image flattened in memory, with helpers to look at the result.
final class FlattenedTestImage {
    let directory: TestDirectory
    let scratch: ScratchDirectory
    let image: SavedImage
    let flattener: Flattener

    init(_ builder: TestImageBuilder, archive: Bool = false) throws {
        directory = try TestDirectory()
        scratch = try ScratchDirectory()
        let path = archive ? try builder.writeArchive(in: directory.url) : try builder.writeOCILayout(in: directory.url)
        image = try SavedImage(path: path, scratch: scratch)
        flattener = Flattener(scratch: scratch)
        try flattener.apply(image)
    }

    var tree: FileTree { flattener.tree }

    /// Every path in the tree, in output order.
    var paths: [String] {
        var all: [String] = []
        tree.walk { path, _ in all.append(path) }
        return all
    }

    func node(_ path: String) -> Node? { tree.lookup(path) }

    func text(_ path: String) throws -> String? {
        guard let inode = node(path)?.inode else { return nil }
        guard let content = inode.content else { return "" }
        var bytes = [UInt8](repeating: 0, count: Int(content.length))
        _ = try bytes.withUnsafeMutableBytes { try content.file.read(at: content.offset, into: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
