import Foundation
import Testing
import WhittleFlatten
import WhittleImage
import WhittleFiles
@testable import WhittleTestSupport

@Suite("Reading saved images")
struct SavedImageTests {
    static let layouts = [
        "busybox-app.docker.tar", "busybox-app.oci-gzip.tar",
        "corners.docker.tar", "corners.docker25.tar", "corners.oci.tar", "corners.oci-zstd.tar",
        "corners.oci-v2s2.tar",
    ]

    @Test("every committed fixture layout reads, with its tag and verified layers", arguments: layouts)
    func readsFixture(name: String) throws {
        let scratch = try ScratchDirectory()
        let image = try SavedImage(path: fixture(name), scratch: scratch)
        #expect(image.tags.first?.hasPrefix("whittle-fixture/") == true)
        #expect(!image.layers.isEmpty)
        let flattener = Flattener(scratch: scratch)
        try flattener.apply(image)
        #expect(flattener.layers.count == image.layers.count)
    }

    @Test(
        "every layout of one image flattens to the same tree",
        arguments: [
            ["busybox-app.docker.tar", "busybox-app.oci-gzip.tar"],
            [
                "corners.docker.tar", "corners.docker25.tar", "corners.oci.tar", "corners.oci-zstd.tar",
                "corners.oci-v2s2.tar",
            ],
        ])
    func layoutsAgree(names: [String]) throws {
        var listings: [[String]] = []
        for name in names {
            let scratch = try ScratchDirectory()
            let flattener = Flattener(scratch: scratch)
            try flattener.apply(SavedImage(path: fixture(name), scratch: scratch))
            var listing: [String] = []
            flattener.tree.walk { path, node in
                listing.append("\(path) \(node.attributes.permissions) \(node.inode?.size ?? -1)")
            }
            listings.append(listing)
        }
        #expect(!listings[0].isEmpty)
        for (name, listing) in zip(names, listings).dropFirst() {
            #expect(listing == listings[0], "\(name) flattens unlike \(names[0])")
        }
    }

    @Test("the chain ID names the filesystem: the same in every layout, chained over the diff_ids")
    func chainIDIsLayoutIndependent() throws {
        var ids: [String: String] = [:]
        for name in Self.layouts {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            ids[name] = try SavedImage(path: fixture(name), scratch: scratch).chainID
        }
        #expect(Set(ids.filter { $0.key.hasPrefix("corners.") }.values).count == 1)
        #expect(Set(ids.filter { $0.key.hasPrefix("busybox-app.") }.values).count == 1)
        #expect(ids["corners.docker.tar"] != ids["busybox-app.docker.tar"])

        // OCI image spec: ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = SHA256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let image = try SavedImage(path: fixture("busybox-app.docker.tar"), scratch: scratch)
        #expect(image.layers.count > 1)
        var expected = image.layers[0].diffID
        for layer in image.layers.dropFirst() {
            expected = try run(
                "/bin/sh",
                [
                    "-c", "printf '%s' \"$1\" | sha256sum | cut -d' ' -f1", "sh",
                    "\(expected) \(layer.diffID)",
                ]
            )
            .trimmingCharacters(in: .whitespacesAndNewlines)
            expected = "sha256:" + expected
        }
        #expect(image.chainID == expected)
    }

    @Test("a gzip-compressed docker save reads like the plain one")
    func gzippedOuterTar() throws {
        let directory = try TestDirectory()
        let copy = directory.path("image.tar")
        try FileManager.default.copyItem(atPath: fixture("corners.docker.tar"), toPath: copy)
        try run("/bin/gzip", ["-n", copy])
        let image = try SavedImage(path: copy + ".gz", scratch: try ScratchDirectory())
        #expect(image.tags == ["whittle-fixture/corners:1"])
    }

    @Test("an image is chosen by name; an unknown name lists what is there")
    func chooseByName() throws {
        let scratch = try ScratchDirectory()
        let chosen = try SavedImage(
            path: fixture("corners.docker.tar"), selection: ImageSelection(name: "whittle-fixture/corners:1"),
            scratch: scratch)
        #expect(chosen.tags == ["whittle-fixture/corners:1"])
        #expect {
            _ = try SavedImage(
                path: fixture("corners.docker.tar"), selection: ImageSelection(name: "nope:1"),
                scratch: scratch)
        } throws: { error in
            "\(error)".contains("no image named 'nope:1'") && "\(error)".contains("whittle-fixture/corners:1")
        }
    }

    @Test("the config's typed view reads what the raw document holds; odd values read as empty")
    func typedConfig() throws {
        let document = try JSONDecoder().decode(
            JSONValue.self,
            from: Data(
                """
                {"architecture": "arm64", "os": "linux", "variant": "v8", "x-unknown": 1,
                 "config": {"Entrypoint": ["/bin/app", 3, "--serve"], "Cmd": null, "User": "app:staff",
                            "WorkingDir": "/srv", "Env": ["A=1", "PATH=/opt/bin:/bin", "A=2"]},
                 "rootfs": {"type": "layers", "diff_ids": ["sha256:aa", "sha256:bb"]},
                 "history": [{"created_by": "ADD x"}, {"created_by": "ENV A=1", "empty_layer": true}, 7]}
                """.utf8))
        let config = ImageConfig(document)
        #expect(config.entrypoint == ["/bin/app", "--serve"])
        #expect(config.cmd.isEmpty)
        #expect(config.user == "app:staff" && config.workingDir == "/srv")
        #expect(config.environmentValue("A") == "1")
        #expect(config.searchPath == ["/opt/bin", "/bin"])
        #expect(config.diffIDs == ["sha256:aa", "sha256:bb"])
        #expect(config.history.map(\.createdBy) == ["ADD x", "ENV A=1", ""])
        #expect(config.history.map(\.emptyLayer) == [false, true, false])
        #expect(config.platform == Platform(architecture: "arm64", os: "linux", variant: "v8"))

        let bare = ImageConfig(.object(["config": .object(["Entrypoint": .string("/bin/app")])]))
        #expect(bare.entrypoint.isEmpty && bare.env.isEmpty && bare.user.isEmpty && bare.workingDir.isEmpty)
        #expect(bare.searchPath == ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        #expect(bare.platform == Platform(architecture: Platform.host.architecture, os: "linux"))
    }

    @Test("a platform the image lacks is named in the error")
    func missingPlatform() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.file("x", "x")
        let layout = try TestImageBuilder(layers: [layer]).writeOCILayout(in: directory.url)
        // Wrap the manifest in a one-platform index, as a multi-platform image would be.
        let indexURL = URL(fileURLWithPath: layout + "/index.json")
        var index = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: indexURL))
        guard case var .object(descriptor)? = index["manifests"]?.arrayValue?.first else {
            Issue.record("no descriptor")
            return
        }
        descriptor["platform"] = .object(["os": .string("linux"), "architecture": .string("amd64")])
        let nested = try canonicalJSON(
            JSONValue.object([
                "schemaVersion": .integer(2), "mediaType": .string(MediaType.ociIndex),
                "manifests": .array([.object(descriptor)]),
            ]))
        let nestedDigest = sha256Digest(of: nested)
        try Data(nested).write(to: URL(fileURLWithPath: layout + "/blobs/sha256/" + nestedDigest.dropFirst(7)))
        index["manifests"] = .array([
            .object([
                "mediaType": .string(MediaType.ociIndex), "digest": .string(nestedDigest),
                "size": .integer(Int64(nested.count)),
            ])
        ])
        try Data(try canonicalJSON(index)).write(to: indexURL)
        let scratch = try ScratchDirectory()
        let found = try SavedImage(
            path: layout, selection: ImageSelection(platform: Platform(architecture: "amd64", os: "linux")),
            scratch: scratch)
        #expect(found.layers.count == 1)
        #expect {
            _ = try SavedImage(
                path: layout, selection: ImageSelection(platform: Platform(architecture: "arm64", os: "linux")),
                scratch: scratch)
        } throws: { error in
            "\(error)".contains("no variant for platform linux/arm64") && "\(error)".contains("linux/amd64")
        }
    }
}

@Suite("Bad input is refused with a message that names the problem")
struct BadInputTests {
    private func expectFailure(
        _ path: String, mentioning text: String,
        selection: ImageSelection = ImageSelection()
    ) throws {
        let scratch = try ScratchDirectory()
        #expect {
            let image = try SavedImage(path: path, selection: selection, scratch: scratch)
            try Flattener(scratch: scratch).apply(image)
        } throws: { error in
            let message = "\(error)"
            if !message.contains(text) { Issue.record("message '\(message)' does not mention '\(text)'") }
            return true
        }
    }

    @Test func notATar() throws {
        let directory = try TestDirectory()
        let path = directory.path("junk.tar")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }).write(to: URL(fileURLWithPath: path))
        try expectFailure(path, mentioning: "is not a saved image")
    }

    @Test func missingFile() throws {
        try expectFailure("/nonexistent/image.tar", mentioning: "no such file")
    }

    @Test func truncatedArchive() throws {
        let directory = try TestDirectory()
        let path = directory.path("cut.tar")
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("busybox-app.docker.tar")))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        try expectFailure(path, mentioning: "truncated")
    }

    @Test func missingManifest() throws {
        let directory = try TestDirectory()
        let path = directory.path("empty-image.tar")
        let folder = directory.path("content")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: folder + "/README"))
        try run("/bin/tar", ["-C", folder, "-cf", path, "."])
        try expectFailure(path, mentioning: "neither manifest.json nor index.json")
    }

    @Test func missingBlob() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.file("x", "x")
        let layout = try TestImageBuilder(layers: [layer]).writeOCILayout(in: directory.url)
        let image = try SavedImage(path: layout, scratch: try ScratchDirectory())
        try FileManager.default.removeItem(atPath: layout + "/" + image.layers[0].name)
        try expectFailure(layout, mentioning: "has no blobs/sha256/")
    }

    @Test func digestMismatch() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.file("x", "some content")
        let layout = try TestImageBuilder(layers: [layer]).writeOCILayout(in: directory.url)
        let image = try SavedImage(path: layout, scratch: try ScratchDirectory())
        let blob = URL(fileURLWithPath: layout + "/" + image.layers[0].name)
        var bytes = try Data(contentsOf: blob)
        bytes[600] ^= 0xff
        try bytes.write(to: blob)
        try expectFailure(layout, mentioning: "digest mismatch for blobs/sha256/")
    }

    @Test func corruptGzip() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.gzip = true
        layer.file("x", String(repeating: "compressible ", count: 500))
        var builder = TestImageBuilder(layers: [layer])
        builder.damageBlob = { bytes in
            for index in 20..<40 { bytes[index] ^= 0x5a }
        }
        try expectFailure(try builder.writeOCILayout(in: directory.url), mentioning: "layer 1 is corrupt")
    }

    @Test func unknownMediaType() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.file("x", "x")
        var builder = TestImageBuilder(layers: [layer])
        builder.layerMediaType = "application/x-mystery"
        try expectFailure(
            try builder.writeOCILayout(in: directory.url), mentioning: "unknown media type 'application/x-mystery'")
    }

    @Test func wrongDiffID() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.file("x", "x")
        var builder = TestImageBuilder(layers: [layer])
        builder.extraConfig["rootfs"] = .object([
            "type": .string("layers"), "diff_ids": .array([.string("sha256:" + String(repeating: "0", count: 64))]),
        ])
        try expectFailure(try builder.writeOCILayout(in: directory.url), mentioning: "does not match its diff_id")
    }

    @Test("a layer that inflates past its limit is refused, naming the option; ratio 0 lifts the limit")
    func inflationLimit() throws {
        let directory = try TestDirectory()
        var layer = TestLayer()
        layer.gzip = true
        layer.file("zeros", String(repeating: "\u{0}", count: 1 << 20))
        let layout = try TestImageBuilder(layers: [layer]).writeOCILayout(in: directory.url)
        // 1 MiB of zeros in about a kilobyte: past 10 times its stored size, or 64 KiB.
        let tight = ImageSelection(inflation: InflationLimit(ratio: 10, floor: 64 << 10))
        try expectFailure(layout, mentioning: "--max-inflation", selection: tight)
        let scratch = try ScratchDirectory()
        let image = try SavedImage(
            path: layout, selection: ImageSelection(inflation: InflationLimit(ratio: 0)),
            scratch: scratch)
        try Flattener(scratch: scratch).apply(image)
        // Headers alone inflate too: the decompressed stream is counted as it is read.
        var headers = TestLayer()
        headers.gzip = true
        for index in 0..<2_000 { headers.file("empty-\(index)", "") }
        let headersOnly = try TestImageBuilder(layers: [headers]).writeOCILayout(in: directory.url)
        try expectFailure(
            headersOnly, mentioning: "--max-inflation",
            selection: ImageSelection(inflation: InflationLimit(ratio: 4, floor: 0)))
        #expect(InflationLimit(ratio: 100).maximum(forStored: 1 << 30) == 100 << 30)
        #expect(InflationLimit(ratio: 100).maximum(forStored: 1000) == InflationLimit.defaultFloor)
        #expect(InflationLimit(ratio: 0).maximum(forStored: 1000) == nil)
        #expect(InflationLimit(ratio: .max).maximum(forStored: 1000) == nil)
    }

    @Test("an archive compressed whole is held to the same inflation limit as its layers")
    func inflatedArchive() throws {
        let directory = try TestDirectory()
        let path = directory.path("corners.tar")
        try FileManager.default.copyItem(atPath: fixture("corners.docker.tar"), toPath: path)
        try run("/bin/gzip", ["-n", path])
        let tight = ImageSelection(inflation: InflationLimit(ratio: 2, floor: 0))
        try expectFailure(path + ".gz", mentioning: "--max-inflation", selection: tight)
        _ = try SavedImage(path: path + ".gz", scratch: try ScratchDirectory())
    }

    @Test("JSON nesting is measured by a flat scan, strings skipped, before any reader recurses into it")
    func deeplyNestedConfig() throws {
        #expect(jsonNesting(of: Array("[[[]]]".utf8), exceeds: 2))
        #expect(!jsonNesting(of: Array("[[[]]]".utf8), exceeds: 3))
        // Brackets inside strings, escaped quotes included, do not count.
        #expect(!jsonNesting(of: Array(#"{"a":"[[[[\"[[[["}"#.utf8), exceeds: 1))
        // 100,000 levels: a flat scan, no recursion (the corpus runs such a config through slim).
        let deep =
            Array(repeating: UInt8(ascii: "["), count: 100_000) + Array(repeating: UInt8(ascii: "]"), count: 100_000)
        #expect(jsonNesting(of: deep, exceeds: maximumJSONDepth))
    }

    @Test("more layers than Docker loads are refused before any is read")
    func tooManyLayers() throws {
        let directory = try TestDirectory()
        var layers: [TestLayer] = []
        for index in 0...maximumLayerCount {
            var layer = TestLayer()
            layer.file("f\(index)", "\(index)")
            layers.append(layer)
        }
        try expectFailure(
            try TestImageBuilder(layers: layers).writeOCILayout(in: directory.url),
            mentioning: "Docker loads at most 125")
        layers.removeLast()
        let flattened = try FlattenedTestImage(TestImageBuilder(layers: layers))
        #expect(flattened.paths.count == maximumLayerCount)
    }
}
