import Foundation
import FuzzSupport
import WhittleELF
import WhittleFiles
import WhittleFlatten
import WhittleImage

// The layer reader and the flattener: any bytes as a layer blob (plain tar, or gzip or
// zstd, sniffed as in a real image), read as `slim` or as `inspect` reads it, applied twice through `SavedImage` and `Flattener`
// so that whiteouts, hardlinks and directory merges also meet a lower layer. The tree is
// then walked, every symlink resolved, and the ELF dependencies of its files followed.

private let directory = FuzzDirectory("layer")
private let image = directory.subdirectory("image")

/// Writes a legacy `docker save` layout around `layer`: two layers with the same blob.
private func writeImage(_ layer: [UInt8]) {
    let diffID = sha256Digest(of: layer)
    let config = """
        {"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sh"]},\
        "rootfs":{"type":"layers","diff_ids":["\(diffID)","\(diffID)"]}}
        """
    let manifest = #"[{"Config":"config.json","RepoTags":["fuzz:latest"],"Layers":["layer.tar","layer.tar"]}]"#
    directory.write(layer, to: "image/layer.tar")
    directory.write(Array(config.utf8), to: "image/config.json")
    directory.write(Array(manifest.utf8), to: "image/manifest.json")
}

func fuzzLayer(_ bytes: [UInt8]) {
    writeImage(bytes)
    guard let scratch = try? ScratchDirectory() else { fatalError("no scratch directory") }
    defer { scratch.remove() }
    guard let saved = try? SavedImage(path: image, scratch: scratch) else {
        fatalError("the fixed image does not open")
    }
    let flattener = Flattener(scratch: scratch)
    // `slim` reads every byte and checks digests; `inspect` reads headers only and skips
    // file data by offset. Inputs of odd length take the second way.
    // A layer that fails part way still leaves a tree: look at it as well.
    _ = try? flattener.apply(saved, verifying: bytes.count % 2 == 0)
    let tree = flattener.tree
    var files: [String] = []
    tree.walk { path, node in
        guard let inode = node.inode else { return }
        if inode.kind == .symlink {
            _ = tree.resolve(path)
            _ = tree.resolve(inode.linkTarget)
        } else if inode.kind == .regular, files.count < 64 {
            files.append(path)
            _ = try? inode.contents(limit: 1 << 16)
        }
        _ = tree.lookup(path)
    }
    _ = try? LoaderCache.load(from: tree)
    _ = DependencyResolver(tree: tree, libraryPath: ["/lib", "/usr/lib"], executableSearchPath: ["/bin", "/usr/bin"])
        .closure(of: files + ["/bin/sh"])
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLayerInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzLayer(fuzzInput(data, size))
    return 0
}

@main
enum Main {
    static func main() {
        #if FUZZING
            runLibFuzzer(fuzzLayerInput)
        #else
            replay(Array(CommandLine.arguments.dropFirst()), harness: "FuzzLayer", fuzzLayer)
        #endif
    }
}
