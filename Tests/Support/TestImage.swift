import Foundation
import Testing
import WhittleArchive
import WhittleImage

/// A layer described in code: entries plus the content of regular files.
struct TestLayer {
    var entries: [(TarEntry, [UInt8])] = []
    var gzip = false

    mutating func directory(_ path: String, mode: UInt32 = 0o755, uid: Int64 = 0, mtime: Int64 = 1_000) {
        entries.append((TarEntry(path: path, kind: .directory, permissions: mode, uid: uid, mtimeSeconds: mtime), []))
    }

    mutating func file(
        _ path: String, _ text: String, mode: UInt32 = 0o644, uid: Int64 = 0, gid: Int64 = 0,
        mtime: Int64 = 1_000, xattrs: [ExtendedAttribute] = []
    ) {
        let bytes = Array(text.utf8)
        entries.append(
            (
                TarEntry(
                    path: path, kind: .regular, permissions: mode, uid: uid, gid: gid, mtimeSeconds: mtime,
                    size: Int64(bytes.count), xattrs: xattrs), bytes
            ))
    }

    mutating func file(_ path: String, bytes: [UInt8], mode: UInt32 = 0o755) {
        entries.append(
            (
                TarEntry(
                    path: path, kind: .regular, permissions: mode, mtimeSeconds: 1_000,
                    size: Int64(bytes.count)), bytes
            ))
    }

    mutating func symlink(_ path: String, to target: String) {
        entries.append(
            (TarEntry(path: path, kind: .symlink, permissions: 0o777, mtimeSeconds: 1_000, linkTarget: target), []))
    }

    mutating func hardlink(_ path: String, to target: String) {
        entries.append(
            (TarEntry(path: path, kind: .hardlink, permissions: 0o644, mtimeSeconds: 1_000, linkTarget: target), []))
    }

    mutating func whiteout(_ path: String) {
        let url = URL(fileURLWithPath: "/" + path)
        let parent = url.deletingLastPathComponent().path.dropFirst()
        let name = ".wh." + url.lastPathComponent
        file(parent.isEmpty ? name : parent + "/" + name, "")
    }

    mutating func opaque(_ directory: String) {
        file(directory + "/.wh..wh..opq", "")
    }

    func tarBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        let writer = try TarWriter(name: "test layer") { out.append(contentsOf: $0) }
        for (entry, data) in entries {
            try writer.writeHeader(entry)
            if !data.isEmpty { try writer.writeData(data) }
        }
        try writer.finish()
        return out
    }
}

/// Builds a saved image on disk (OCI layout directory or a tarred `docker save` layout)
/// from test layers, with correct digests unless told otherwise.
struct TestImageBuilder {
    var layers: [TestLayer]
    var tag = "test/app:1"
    var extraConfig: [String: JSONValue] = [:]
    /// Changes a stored layer blob before its digest is taken (to fake corrupt compression).
    var damageBlob: ((inout [UInt8]) -> Void)?
    /// Overrides every layer's media type.
    var layerMediaType: String?

    /// Writes an OCI layout directory and returns its path.
    func writeOCILayout(in directory: URL) throws -> String {
        let root = directory.appendingPathComponent("oci-\(UUID().uuidString)")
        let blobs = root.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        func store(_ bytes: [UInt8]) throws -> String {
            let digest = sha256Digest(of: bytes)
            try Data(bytes).write(to: blobs.appendingPathComponent(String(digest.dropFirst(7))))
            return digest
        }
        var diffIDs: [JSONValue] = []
        var layerDescriptors: [Descriptor] = []
        for layer in layers {
            let tar = try layer.tarBytes()
            diffIDs.append(.string(sha256Digest(of: tar)))
            var blob = layer.gzip ? try gzip(tar) : tar
            damageBlob?(&blob)
            layerDescriptors.append(
                Descriptor(
                    mediaType: layerMediaType ?? (layer.gzip ? MediaType.ociLayerGzip : MediaType.ociLayer),
                    digest: try store(blob), size: Int64(blob.count)))
        }
        var config: [String: JSONValue] = [
            "architecture": .string("amd64"), "os": .string("linux"),
            "created": .string("2024-01-01T00:00:00Z"),
            "config": .object(["Cmd": .array([.string("/bin/app")])]),
            "rootfs": .object(["type": .string("layers"), "diff_ids": .array(diffIDs)]),
            "history": .array(layers.map { _ in .object(["created_by": .string("test")]) }),
        ]
        for (key, value) in extraConfig { config[key] = value }
        let configBytes = try canonicalJSON(JSONValue.object(config))
        let configDigest = try store(configBytes)
        let manifest = try canonicalJSON(
            JSONValue.object([
                "schemaVersion": .integer(2), "mediaType": .string(MediaType.ociManifest),
                "config": .object([
                    "mediaType": .string(MediaType.ociConfig), "digest": .string(configDigest),
                    "size": .integer(Int64(configBytes.count)),
                ]),
                "layers": .array(
                    layerDescriptors.map { descriptor in
                        .object([
                            "mediaType": .string(descriptor.mediaType ?? ""), "digest": .string(descriptor.digest),
                            "size": .integer(descriptor.size),
                        ])
                    }),
            ]))
        let manifestDigest = try store(manifest)
        let index = try canonicalJSON(
            JSONValue.object([
                "schemaVersion": .integer(2),
                "manifests": .array([
                    .object([
                        "mediaType": .string(MediaType.ociManifest), "digest": .string(manifestDigest),
                        "size": .integer(Int64(manifest.count)),
                        "annotations": .object(["io.containerd.image.name": .string(ImageName.qualified(tag))]),
                    ])
                ]),
            ]))
        try Data(index).write(to: root.appendingPathComponent("index.json"))
        // Docker's manifest.json beside the OCI index (the Docker 25 layout), which lets
        // Docker 20.10 load the image too.
        let dockerManifest = try canonicalJSON(
            JSONValue.array([
                .object([
                    "Config": .string("blobs/sha256/" + configDigest.dropFirst(7)),
                    "RepoTags": .array([.string(tag)]),
                    "Layers": .array(layerDescriptors.map { .string("blobs/sha256/" + $0.digest.dropFirst(7)) }),
                ])
            ]))
        try Data(dockerManifest).write(to: root.appendingPathComponent("manifest.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: root.appendingPathComponent("oci-layout"))
        return root.path
    }

    /// Writes the same image as one tar file (an oci-archive).
    func writeArchive(in directory: URL) throws -> String {
        let layout = try writeOCILayout(in: directory)
        let archive = layout + ".tar"
        try run("/bin/tar", ["-C", layout, "-cf", archive, "."])
        return archive
    }
}

/// A temporary directory for one test, removed afterwards.
final class TestDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let directory = try TestDirectory()
    let path = directory.path("data")
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    try run("/bin/gzip", ["-n", path])
    return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
}

@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    let errorOutput = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailure(
            command: ([executable] + arguments).joined(separator: " "),
            status: process.terminationStatus,
            output: String(decoding: errorOutput + output, as: UTF8.self))
    }
    return String(decoding: output, as: UTF8.self)
}

struct CommandFailure: Error, CustomStringConvertible {
    let command: String
    let status: Int32
    let output: String
    var description: String { "\(command) exited \(status): \(output)" }
}

/// The repository root: this file is Tests/Support/TestImage.swift, three levels below it.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func fixture(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("Fixtures").appendingPathComponent(name).path
}
