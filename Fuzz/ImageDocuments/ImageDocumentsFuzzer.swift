import Foundation
import FuzzSupport
import WhittleFiles
import WhittleImage

// The image readers: any bytes as each document of a saved image in turn, opened through
// `SavedImage` as `slim` opens it:
//   1. `manifest.json` of a `docker save` layout whose config and layer are fine;
//   2. the config of such a layout (named `config.json`, so no digest is checked);
//   3. `index.json` of an OCI layout whose blobs (a manifest, config and layer) are fine;
//   4. the whole archive, an outer tar (or gzip of one) as `docker save` writes it.
// Each document is also decoded as the readers' types directly, and a config written back
// canonically must read again.

private let directory = FuzzDirectory("image")

/// An empty layer (two zero blocks), with a config and an OCI manifest naming it.
private enum Blobs {
    static let layer = [UInt8](repeating: 0, count: 1024)
    static let config = Array(
        """
        {"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},\
        "rootfs":{"type":"layers","diff_ids":["\(sha256Digest(of: layer))"]}}
        """.utf8)
    static let manifest = Array(
        """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json",\
        "digest":"\(sha256Digest(of: config))","size":\(config.count)},\
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar",\
        "digest":"\(sha256Digest(of: layer))","size":\(layer.count)}]}
        """.utf8)
    /// An index naming the manifest: the seed `scripts` cannot write without knowing the digest.
    static let index = Array(
        """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\(sha256Digest(of: manifest))",\
        "size":\(manifest.count),"annotations":{"io.containerd.image.name":"docker.io/library/fuzz:1",\
        "org.opencontainers.image.ref.name":"1"},"platform":{"architecture":"amd64","os":"linux"}}]}
        """.utf8)
    static let dockerManifest = Array(#"[{"Config":"config.json","RepoTags":["fuzz:1"],"Layers":["layer.tar"]}]"#.utf8)
}

private let layouts: (legacy: String, config: String, oci: String) = {
    for blob in [Blobs.layer, Blobs.config, Blobs.manifest] {
        directory.write(blob, to: "oci/blobs/sha256/" + sha256Digest(of: blob).dropFirst("sha256:".count))
    }
    directory.write(Blobs.config, to: "legacy/config.json")
    directory.write(Blobs.layer, to: "legacy/layer.tar")
    directory.write(Blobs.dockerManifest, to: "config/manifest.json")
    directory.write(Blobs.layer, to: "config/layer.tar")
    return (directory.path + "/legacy", directory.path + "/config", directory.path + "/oci")
}()

func fuzzImageDocuments(_ bytes: [UInt8]) {
    decodeDirectly(bytes)
    directory.write(bytes, to: "legacy/manifest.json")
    open(layouts.legacy)
    directory.write(bytes, to: "config/config.json")
    open(layouts.config)
    directory.write(bytes, to: "oci/index.json")
    open(layouts.oci, names: [nil, "fuzz:1"])
    open(directory.write(bytes, to: "archive.tar"), names: [nil, "fuzz:1"], isArchive: true)
}

/// Scratch space is only written for a gzip outer archive: directories share one.
private let sharedScratch: ScratchDirectory = {
    guard let scratch = try? ScratchDirectory() else { fatalError("no scratch directory") }
    return scratch
}()

/// Opens the image at `path` as `slim` does, chosen by each of `names`. An outer archive
/// gets scratch space of its own (a gzip one is inflated into it).
private func open(_ path: String, names: [String?] = [nil], isArchive: Bool = false) {
    for name in names {
        guard let scratch = isArchive ? try? ScratchDirectory() : sharedScratch else {
            fatalError("no scratch directory")
        }
        defer { if isArchive { scratch.remove() } }
        guard let image = try? SavedImage(path: path, selection: ImageSelection(name: name), scratch: scratch) else {
            continue
        }
        _ = image.chainID
        _ = image.config.searchPath
        _ = image.config.platform.description
        _ = try? canonicalJSON(image.rawConfig)
    }
}

private func decodeDirectly(_ bytes: [UInt8]) {
    let data = Data(bytes)
    let decoder = JSONDecoder()
    _ = try? decoder.decode(ImageIndex.self, from: data)
    _ = try? decoder.decode(ImageManifest.self, from: data)
    _ = try? decoder.decode([DockerManifestEntry].self, from: data)
    guard let value = try? decoder.decode(JSONValue.self, from: data) else { return }
    let config = ImageConfig(value)
    _ = config.environmentValue("PATH")
    // The writer carries the config over canonically; what it writes must read again.
    guard let written = try? canonicalJSON(value) else { return }
    guard let again = try? decoder.decode(JSONValue.self, from: Data(written)) else {
        fatalError("a config written canonically does not read again")
    }
    precondition(ImageConfig(again) == config, "a config changes when written canonically and read again")
}

/// Writes the seeds only this harness can make (documents naming its own blobs' digests).
private func writeSeeds(to seedDirectory: String) {
    for (name, bytes) in [
        ("oci-index.json", Blobs.index), ("docker-manifest.json", Blobs.dockerManifest),
        ("config.json", Blobs.config), ("oci-manifest.json", Blobs.manifest),
    ] {
        guard FileManager.default.createFile(atPath: seedDirectory + "/" + name, contents: Data(bytes)) else {
            fatalError("cannot write \(seedDirectory)/\(name)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageDocumentsInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzImageDocuments(fuzzInput(data, size))
    return 0
}

@main
enum Main {
    static func main() {
        #if FUZZING
            runLibFuzzer(fuzzImageDocumentsInput)
        #else
            let arguments = Array(CommandLine.arguments.dropFirst())
            if arguments.first == "--write-seeds", arguments.count == 2 {
                writeSeeds(to: arguments[1])
                return
            }
            replay(arguments, harness: "FuzzImageDocuments", fuzzImageDocuments)
        #endif
    }
}
