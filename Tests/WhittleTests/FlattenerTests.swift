import Testing
import WhittleArchive
import WhittleFlatten
import WhittleImage

@Suite("Flattener: the changeset rules")
struct FlattenerTests {
    @Test("directory over directory merges; the upper attributes win, lower children stay")
    func directoryMerge() throws {
        var lower = TestLayer()
        lower.directory("etc", mode: 0o755, mtime: 10)
        lower.file("etc/a", "a")
        var upper = TestLayer()
        upper.directory("etc", mode: 0o700, uid: 7, mtime: 20)
        upper.file("etc/b", "b")
        let result = try Flattened(TestImageBuilder(layers: [lower, upper]))
        #expect(result.paths == ["etc", "etc/a", "etc/b"])
        let etc = try #require(result.node("etc"))
        #expect(etc.attributes.permissions == 0o700)
        #expect(etc.attributes.uid == 7)
        #expect(etc.attributes.mtimeSeconds == 20)
    }

    @Test("a file replacing a directory removes the lower subtree, and the reverse")
    func replacement() throws {
        var lower = TestLayer()
        lower.directory("data")
        lower.file("data/deep", "x")
        lower.file("plain", "p")
        var upper = TestLayer()
        upper.file("data", "now a file")
        upper.directory("plain")
        upper.file("plain/child", "c")
        let result = try Flattened(TestImageBuilder(layers: [lower, upper]))
        #expect(result.paths == ["data", "plain", "plain/child"])
        #expect(try result.text("data") == "now a file")
    }

    @Test("a whiteout deletes what its name holds when it is met: a lower file or subtree, or an entry its layer wrote before it, as Docker applies entries in order")
    func whiteouts() throws {
        var lower = TestLayer()
        lower.directory("app")
        lower.file("app/old", "old")
        lower.directory("app/cache")
        lower.file("app/cache/x", "x")
        lower.file("app/redone", "lower")
        var upper = TestLayer()
        upper.directory("app")
        upper.file("app/same", "gone")
        upper.whiteout("app/old")
        upper.whiteout("app/cache")
        upper.whiteout("app/same")
        upper.whiteout("app/never-existed")
        upper.whiteout("app/redone")
        upper.file("app/redone", "upper")
        let result = try Flattened(TestImageBuilder(layers: [lower, upper]))
        #expect(result.paths == ["app", "app/redone"])
        #expect(try result.text("app/redone") == "upper")
        #expect(!result.paths.contains { $0.contains(".wh.") })
    }

    @Test("an opaque marker hides every lower child wherever it sits in the layer", arguments: [true, false])
    func opaqueDirectory(markerFirst: Bool) throws {
        var lower = TestLayer()
        lower.directory("d")
        lower.file("d/lower", "l")
        lower.directory("d/sub")
        lower.file("d/sub/lower-child", "lc")
        var upper = TestLayer()
        upper.directory("d")
        if markerFirst { upper.opaque("d") }
        upper.file("d/new", "n")
        upper.directory("d/sub")
        upper.file("d/sub/upper-child", "uc")
        if !markerFirst { upper.opaque("d") }
        let result = try Flattened(TestImageBuilder(layers: [lower, upper]))
        #expect(result.paths == ["d", "d/new", "d/sub", "d/sub/upper-child"])
    }

    @Test("a hardlink whose target a later layer replaces keeps the old content")
    func hardlinkTargetReplaced() throws {
        var first = TestLayer()
        first.file("a", "original")
        first.hardlink("b", to: "a")
        var second = TestLayer()
        second.file("a", "replaced")
        let result = try Flattened(TestImageBuilder(layers: [first, second]))
        #expect(try result.text("a") == "replaced")
        #expect(try result.text("b") == "original")
        #expect(result.node("a")?.inode !== result.node("b")?.inode)
    }

    @Test("a hardlink whose target a later layer deletes keeps the content alive")
    func hardlinkTargetDeleted() throws {
        var first = TestLayer()
        first.file("a", "content")
        first.hardlink("b", to: "a")
        var second = TestLayer()
        second.whiteout("a")
        let result = try Flattened(TestImageBuilder(layers: [first, second]))
        #expect(result.paths == ["b"])
        #expect(try result.text("b") == "content")
    }

    @Test("a hardlink may name a file from a lower layer")
    func hardlinkAcrossLayers() throws {
        var first = TestLayer()
        first.directory("usr")
        first.file("usr/tool", "binary", mode: 0o755)
        var second = TestLayer()
        second.hardlink("alias", to: "usr/tool")
        let result = try Flattened(TestImageBuilder(layers: [first, second]))
        #expect(try result.text("alias") == "binary")
        #expect(result.node("alias")?.inode === result.node("usr/tool")?.inode)
    }

    @Test("symlinks are kept as they are, dangling or absolute")
    func symlinksKept() throws {
        var layer = TestLayer()
        layer.symlink("abs", to: "/etc/passwd")
        layer.symlink("rel", to: "../../x")
        layer.symlink("dangling", to: "nowhere")
        let result = try Flattened(TestImageBuilder(layers: [layer]))
        #expect(result.node("abs")?.inode?.linkTarget == "/etc/passwd")
        #expect(result.node("rel")?.inode?.linkTarget == "../../x")
        #expect(result.node("dangling")?.inode?.kind == .symlink)
    }

    @Test("entries under a symlinked directory land in its target, confined to the root")
    func writesThroughSymlinkedParent() throws {
        var first = TestLayer()
        first.directory("usr")
        first.directory("usr/lib")
        first.symlink("lib", to: "usr/lib")
        first.symlink("escape", to: "../../../usr")
        var second = TestLayer()
        second.file("lib/libx.so", "x")
        second.file("escape/y", "y")
        let result = try Flattened(TestImageBuilder(layers: [first, second]))
        #expect(result.paths.contains("usr/lib/libx.so"))
        #expect(result.paths.contains("usr/y"))
        #expect(result.node("lib")?.inode?.kind == .symlink)
    }

    @Test("absolute and ./ names are taken relative to the root")
    func absoluteNames() throws {
        var layer = TestLayer()
        layer.file("/etc-abs", "a")
        layer.file("./dot", "d")
        let result = try Flattened(TestImageBuilder(layers: [layer]))
        #expect(result.paths == ["dot", "etc-abs"])
    }

    @Test("entries that climb out of the root are refused", arguments: ["../evil", "a/../../evil"])
    func climbingOut(name: String) throws {
        var layer = TestLayer()
        layer.file(name, "x")
        #expect {
            _ = try Flattened(TestImageBuilder(layers: [layer]))
        } throws: { error in
            "\(error)".contains("climbs out of the image root")
        }
    }

    @Test("a whiteout of '.', '..' or nothing is refused, naming the entry",
          arguments: ["etc/.wh..", "etc/.wh...", "etc/.wh."])
    func whiteoutOfNoSingleFile(name: String) throws {
        var lower = TestLayer()
        lower.file("etc/passwd", "root:x:0:0::/:/bin/sh\n")
        var upper = TestLayer()
        upper.file(name, "")
        #expect {
            _ = try Flattened(TestImageBuilder(layers: [lower, upper]))
        } throws: { error in
            "\(error)".contains("whiteout '\(name)'") && "\(error)".contains("refusing it")
        }
    }

    @Test("a hardlink to a path outside the root is refused")
    func hardlinkOutside() throws {
        var layer = TestLayer()
        layer.hardlink("x", to: "../../etc/shadow")
        #expect {
            _ = try Flattened(TestImageBuilder(layers: [layer]))
        } throws: { error in
            "\(error)".contains("outside the image root")
        }
    }

    @Test("xattrs travel as raw bytes; overlay bookkeeping does not")
    func xattrs() throws {
        let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0xff, 0xfe]
        var layer = TestLayer()
        layer.file("ping", "p", xattrs: [
            ExtendedAttribute(name: "security.capability", value: capability),
            ExtendedAttribute(name: "trusted.overlay.origin", value: [1]),
        ])
        let result = try Flattened(TestImageBuilder(layers: [layer]))
        let attributes = try #require(result.node("ping")).attributes
        #expect(attributes.xattrs == [ExtendedAttribute(name: "security.capability", value: capability)])
    }

    @Test("gzip layers and tarred archives flatten like plain layouts")
    func gzipLayersInArchive() throws {
        var first = TestLayer()
        first.gzip = true
        first.file("compressed", "from a gzip layer")
        var second = TestLayer()
        second.file("plain", "from a plain layer")
        let result = try Flattened(TestImageBuilder(layers: [first, second]), archive: true)
        #expect(try result.text("compressed") == "from a gzip layer")
        #expect(try result.text("plain") == "from a plain layer")
    }
}
