import Foundation
import Testing
import WhittlePipeline
import WhittleArchive
import WhittleCommands
import WhittleImage
import WhittleOutput
@testable import WhittleTestSupport

@Suite("Writing the single-layer image")
struct ImageWriterTests {
    static func sampleBuilder() -> TestImageBuilder {
        var first = TestLayer()
        first.directory("bin")
        first.file("bin/app", "#!/bin/sh\necho hi\n", mode: 0o4755, uid: 1234, gid: 5678, mtime: 1_700_000_000)
        first.file("zz-target", "shared")
        first.hardlink("aa-link", to: "zz-target")
        first.file("gone", "deleted later")
        var second = TestLayer()
        second.whiteout("gone")
        second.file(String(repeating: "long-name-", count: 15), "long")
        second.file("café/naïve.txt", "unicode")
        var builder = TestImageBuilder(layers: [first, second])
        builder.extraConfig["x-unknown-field"] = .object(["kept": .bool(true)])
        builder.extraConfig["config"] = .object([
            "Entrypoint": .array([.string("/bin/app")]), "Env": .array([.string("A=1")]),
            "Labels": .object(["team": .string("ml")]), "StopSignal": .string("SIGINT"),
            "Healthcheck": .object(["Test": .array([.string("CMD"), .string("true")])]),
        ])
        return builder
    }

    struct Output {
        let members: [String: [UInt8]]
        let config: JSONValue
        let layer: [(entry: TarEntry, data: [UInt8])]
        let dockerManifest: JSONValue
        let index: JSONValue
    }

    static func slim(
        _ builder: TestImageBuilder, tag: String? = nil, compression: OutputCompression = .none,
        in directory: TestDirectory, name: String = "out.tar"
    ) throws -> (String, WriteResult) {
        let input = try builder.writeArchive(in: directory.url)
        let output = directory.path(name)
        let result = try Slim(
            input: input, output: output,
            options: WriteOptions(tag: tag, compression: compression)
        ).run()
        return (output, try #require(result.written?.file))
    }

    static func open(_ path: String) throws -> Output {
        var members: [String: [UInt8]] = [:]
        for (entry, data) in try readTar(path: path) where entry.kind == .regular {
            members[entry.path] = data
        }
        let decode = { (name: String) throws -> JSONValue in
            try JSONDecoder().decode(JSONValue.self, from: Data(members[name] ?? []))
        }
        let manifestList = try decode("manifest.json")
        let entry = try #require(manifestList.arrayValue?.first)
        let config = try decode(try #require(entry["Config"]?.stringValue))
        let layerName = try #require(entry["Layers"]?.arrayValue?.first?.stringValue)
        var layerBytes = try #require(members[layerName])
        if layerBytes.starts(with: [0x1f, 0x8b]) {
            let directory = try TestDirectory()
            let gz = directory.path("layer.gz")
            try Data(layerBytes).write(to: URL(fileURLWithPath: gz))
            try run("/bin/gzip", ["-d", gz])
            layerBytes = Array(try Data(contentsOf: URL(fileURLWithPath: directory.path("layer"))))
        }
        return Output(
            members: members, config: config, layer: try readTar(layerBytes),
            dockerManifest: manifestList, index: try decode("index.json"))
    }

    @Test("the outer tar holds an OCI layout and Docker's manifest.json, all digests right")
    func layout() throws {
        let directory = try TestDirectory()
        let (path, result) = try Self.slim(Self.sampleBuilder(), in: directory)
        let output = try Self.open(path)
        #expect(Set(output.members.keys).isSuperset(of: ["oci-layout", "index.json", "manifest.json"]))
        for (name, bytes) in output.members where name.hasPrefix("blobs/sha256/") {
            #expect(sha256Digest(of: bytes) == "sha256:" + name.dropFirst("blobs/sha256/".count))
        }
        #expect(output.dockerManifest.arrayValue?.first?["RepoTags"] == .array([.string("test/app:1")]))
        #expect(
            output.index["manifests"]?.arrayValue?.first?["annotations"]?["io.containerd.image.name"]
                == .string("docker.io/test/app:1"))
        let diffIDs = output.config["rootfs"]?["diff_ids"]?.arrayValue
        #expect(diffIDs == [.string(result.diffID.description)])
        #expect(result.outputSize == Int64(try Data(contentsOf: URL(fileURLWithPath: path)).count))
    }

    @Test("every config field is kept, unknown ones too, and history has one non-empty entry")
    func configKept() throws {
        let directory = try TestDirectory()
        let (path, _) = try Self.slim(Self.sampleBuilder(), in: directory)
        let config = try Self.open(path).config
        #expect(config["x-unknown-field"] == .object(["kept": .bool(true)]))
        #expect(config["config"]?["Labels"]?["team"] == .string("ml"))
        #expect(config["config"]?["StopSignal"] == .string("SIGINT"))
        #expect(config["config"]?["Healthcheck"]?["Test"]?.arrayValue?.count == 2)
        let history = try #require(config["history"]?.arrayValue)
        #expect(history.count == 3)
        #expect(history.filter { $0["empty_layer"]?.boolValue != true }.count == 1)
    }

    @Test("the layer lists parents first, hardlinks after their file, and no whiteouts")
    func layerOrder() throws {
        let directory = try TestDirectory()
        let (path, _) = try Self.slim(Self.sampleBuilder(), in: directory)
        let layer = try Self.open(path).layer
        let names = layer.map(\.entry.path)
        #expect(!names.contains { $0.contains(".wh.") || $0.hasPrefix("/") || $0.hasPrefix("./") })
        #expect(!names.contains("gone"))
        // The first name of the group in output order becomes the file.
        let link = try #require(layer.first { $0.entry.path == "aa-link" })
        #expect(link.entry.kind == .regular)
        #expect(link.data == Array("shared".utf8))
        let target = try #require(layer.first { $0.entry.path == "zz-target" })
        #expect(target.entry.kind == .hardlink)
        #expect(target.entry.linkTarget == "aa-link")
        for (position, name) in names.enumerated() {
            let parent = (name.hasSuffix("/") ? String(name.dropLast()) : name).split(separator: "/").dropLast().joined(
                separator: "/")
            if !parent.isEmpty { #expect(names[..<position].contains(parent + "/")) }
        }
        let app = try #require(layer.first { $0.entry.path == "bin/app" }).entry
        #expect(app.permissions == 0o4755)
        #expect(app.uid == 1234 && app.gid == 5678)
        #expect(app.mtimeSeconds == 1_700_000_000)
        #expect(names.contains("café/naïve.txt"))
        #expect(names.contains(String(repeating: "long-name-", count: 15)))
    }

    @Test("the same input and flags give the same bytes", arguments: OutputCompression.allCases)
    func reproducible(compression: OutputCompression) throws {
        let directory = try TestDirectory()
        let builder = Self.sampleBuilder()
        let (first, _) = try Self.slim(builder, compression: compression, in: directory, name: "one.tar")
        let (second, _) = try Self.slim(builder, compression: compression, in: directory, name: "two.tar")
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == Data(contentsOf: URL(fileURLWithPath: second)))
    }

    @Test("a gzip layer decompresses to its diff_id and is named by its own digest")
    func gzipLayer() throws {
        let directory = try TestDirectory()
        let (path, result) = try Self.slim(Self.sampleBuilder(), compression: .gzip, in: directory)
        let output = try Self.open(path)
        #expect(result.layerDigest != result.diffID)
        let layerBlob = try #require(output.members["blobs/sha256/" + result.layerDigest.hex])
        #expect(layerBlob.starts(with: [0x1f, 0x8b]))
        #expect(output.layer.contains { $0.entry.path == "bin/app" })
    }

    @Test("the OCI documents the reader decodes are the ones the writer encodes, byte for byte as before")
    func sharedDocuments() throws {
        let layer = Descriptor(mediaType: MediaType.ociLayer, digest: "sha256:11", size: 3)
        let config = Descriptor(mediaType: MediaType.ociConfig, digest: "sha256:22", size: 4)
        let manifest = try canonicalJSON(ImageManifest(config: config, layers: [layer]))
        #expect(
            String(decoding: manifest, as: UTF8.self) == """
                {"config":{"digest":"sha256:22","mediaType":"application/vnd.oci.image.config.v1+json","size":4},\
                "layers":[{"digest":"sha256:11","mediaType":"application/vnd.oci.image.layer.v1.tar","size":3}],\
                "mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}
                """)
        let index = try canonicalJSON(
            ImageIndex(manifests: [
                Descriptor(
                    mediaType: MediaType.ociManifest, digest: "sha256:33", size: 5, annotations: ["a": "b"],
                    platform: Platform(architecture: "amd64", os: "linux"))
            ]))
        #expect(
            String(decoding: index, as: UTF8.self) == """
                {"manifests":[{"annotations":{"a":"b"},"digest":"sha256:33",\
                "mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"amd64","os":"linux"},\
                "size":5}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}
                """)
        let docker = try canonicalJSON([
            DockerManifestEntry(
                config: "blobs/sha256/22", repoTags: ["app:1"],
                layers: ["blobs/sha256/11"])
        ])
        #expect(
            String(decoding: docker, as: UTF8.self)
                == #"[{"Config":"blobs/sha256/22","Layers":["blobs/sha256/11"],"RepoTags":["app:1"]}]"#)
        // And back: what was written reads as it was made.
        let decoded = try JSONDecoder().decode(ImageManifest.self, from: Data(manifest))
        #expect(decoded.config == config && decoded.layers == [layer] && decoded.schemaVersion == 2)
    }

    @Test("--tag names the output; a malformed tag is refused before any work")
    func tagging() throws {
        let directory = try TestDirectory()
        let (path, _) = try Self.slim(Self.sampleBuilder(), tag: "slim/app:v2", in: directory)
        #expect(try Self.open(path).dockerManifest.arrayValue?.first?["RepoTags"] == .array([.string("slim/app:v2")]))
        #expect(throws: OutputError.self) {
            _ = try Self.slim(Self.sampleBuilder(), tag: "Bad Name", in: directory, name: "bad.tar")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("bad.tar")))
    }

    @Test("a failed run leaves no output file and no temporary file beside it")
    func atomicOnFailure() throws {
        let directory = try TestDirectory()
        var builder = Self.sampleBuilder()
        builder.extraConfig["rootfs"] = .object([
            "type": .string("layers"),
            "diff_ids": .array([
                .string("sha256:" + String(repeating: "1", count: 64)),
                .string("sha256:" + String(repeating: "2", count: 64)),
            ]),
        ])
        let input = try builder.writeArchive(in: directory.url)
        let outputDirectory = directory.path("out")
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        #expect(throws: ImageError.self) {
            _ = try Slim(input: input, output: outputDirectory + "/out.tar", options: WriteOptions()).run()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputDirectory).isEmpty)
    }
}
