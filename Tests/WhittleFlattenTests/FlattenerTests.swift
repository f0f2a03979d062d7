import Testing
import WhittleArchive
import WhittleFlatten
import WhittleImage
@testable import WhittleTestSupport

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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [lower, upper]))
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [lower, upper]))
        #expect(result.paths == ["data", "plain", "plain/child"])
        #expect(try result.text("data") == "now a file")
    }

    @Test(
        "a whiteout deletes what its name holds when it is met: a lower file or subtree, or an entry its layer wrote before it, as Docker applies entries in order"
    )
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [lower, upper]))
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [lower, upper]))
        #expect(result.paths == ["d", "d/new", "d/sub", "d/sub/upper-child"])
    }

    @Test("a hardlink whose target a later layer replaces keeps the old content")
    func hardlinkTargetReplaced() throws {
        var first = TestLayer()
        first.file("a", "original")
        first.hardlink("b", to: "a")
        var second = TestLayer()
        second.file("a", "replaced")
        let result = try FlattenedTestImage(TestImageBuilder(layers: [first, second]))
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [first, second]))
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [first, second]))
        #expect(try result.text("alias") == "binary")
        #expect(result.node("alias")?.inode === result.node("usr/tool")?.inode)
    }

    @Test("symlinks are kept as they are, dangling or absolute")
    func symlinksKept() throws {
        var layer = TestLayer()
        layer.symlink("abs", to: "/etc/passwd")
        layer.symlink("rel", to: "../../x")
        layer.symlink("dangling", to: "nowhere")
        let result = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [first, second]))
        #expect(result.paths.contains("usr/lib/libx.so"))
        #expect(result.paths.contains("usr/y"))
        #expect(result.node("lib")?.inode?.kind == .symlink)
    }

    @Test(
        "a write through a symlink whose target is missing is refused, naming the entry and the link; below a symlinked directory missing parents are made",
        arguments: [("evil", "/tmp/x"), ("evil", "../../tmp/x"), ("evil", "nowhere"), ("evil", "data/missing")])
    func writeThroughDanglingSymlink(link: String, target: String) throws {
        var lower = TestLayer()
        lower.directory("data")
        lower.directory("tmp")
        lower.symlink(link, to: target)
        var upper = TestLayer()
        upper.file(link + "/pwned", "x")
        #expect {
            _ = try FlattenedTestImage(TestImageBuilder(layers: [lower, upper]))
        } throws: { error in
            "\(error)".contains("layer 2 has an entry '\(link)/pwned'")
                && "\(error)".contains("symlink '\(link)' -> '\(target)'")
        }
        var below = TestLayer()
        below.file("in/new/deeper/f", "f")
        lower.symlink("in", to: "/data")
        let result = try FlattenedTestImage(TestImageBuilder(layers: [lower, below]))
        #expect(result.paths.contains("data/new/deeper/f"))
        #expect(result.node("data/new")?.attributes.permissions == 0o755)
        #expect(!result.paths.contains("tmp/x"))
    }

    @Test("paths Docker can write are taken up to 4094 bytes and names up to 255; longer ones are refused")
    func pathLengths() throws {
        func image(path: String) -> TestImageBuilder {
            var layer = TestLayer()
            let parts = path.split(separator: "/").map(String.init)
            for depth in 1..<parts.count { layer.directory(parts.prefix(depth).joined(separator: "/")) }
            layer.file(path, "x")
            return TestImageBuilder(layers: [layer])
        }
        func path(bytes: Int) -> String {
            let directory = String(repeating: "d", count: 200)
            let count = (bytes - 1) / 201
            let name = String(repeating: "f", count: bytes - count * 201)
            return Array(repeating: directory, count: count).joined(separator: "/") + "/" + name
        }
        #expect(path(bytes: 4094).utf8.count == 4094)
        #expect(try FlattenedTestImage(image(path: path(bytes: 4094))).paths.contains(path(bytes: 4094)))
        #expect { _ = try FlattenedTestImage(image(path: path(bytes: 4095))) } throws: { "\($0)".contains("PATH_MAX") }
        #expect(try FlattenedTestImage(image(path: "a/" + String(repeating: "n", count: 255))).paths.count == 2)
        #expect { _ = try FlattenedTestImage(image(path: "a/" + String(repeating: "n", count: 256))) } throws: {
            "\($0)".contains("NAME_MAX")
        }
    }

    @Test("a layer that lists one name twice is refused, as Docker's layer store refuses it")
    func duplicateNames() throws {
        var layer = TestLayer()
        layer.directory("etc")
        layer.file("etc/a", "one")
        layer.file("./etc//a", "two")
        #expect {
            _ = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        } throws: { "\($0)".contains("lists './etc//a' twice") }
        var distinct = TestLayer()
        distinct.file("a", "1")
        distinct.file("b", "2")
        distinct.whiteout("a")
        #expect(try FlattenedTestImage(TestImageBuilder(layers: [distinct])).paths == ["b"])
    }

    @Test("absolute and ./ names are taken relative to the root")
    func absoluteNames() throws {
        var layer = TestLayer()
        layer.file("/etc-abs", "a")
        layer.file("./dot", "d")
        let result = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        #expect(result.paths == ["dot", "etc-abs"])
    }

    @Test("entries that climb out of the root are refused", arguments: ["../evil", "a/../../evil"])
    func climbingOut(name: String) throws {
        var layer = TestLayer()
        layer.file(name, "x")
        #expect {
            _ = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        } throws: { error in
            "\(error)".contains("climbs out of the image root")
        }
    }

    @Test(
        "a whiteout of '.', '..' or nothing is refused, naming the entry",
        arguments: ["etc/.wh..", "etc/.wh...", "etc/.wh."])
    func whiteoutOfNoSingleFile(name: String) throws {
        var lower = TestLayer()
        lower.file("etc/passwd", "root:x:0:0::/:/bin/sh\n")
        var upper = TestLayer()
        upper.file(name, "")
        #expect {
            _ = try FlattenedTestImage(TestImageBuilder(layers: [lower, upper]))
        } throws: { error in
            "\(error)".contains("whiteout '\(name)'") && "\(error)".contains("refusing it")
        }
    }

    @Test("a hardlink to a path outside the root is refused")
    func hardlinkOutside() throws {
        var layer = TestLayer()
        layer.hardlink("x", to: "../../etc/shadow")
        #expect {
            _ = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        } throws: { error in
            "\(error)".contains("outside the image root")
        }
    }

    @Test("xattrs travel as raw bytes; overlay bookkeeping does not")
    func xattrs() throws {
        let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0xff, 0xfe]
        var layer = TestLayer()
        layer.file(
            "ping", "p",
            xattrs: [
                ExtendedAttribute(name: "security.capability", value: capability),
                ExtendedAttribute(name: "trusted.overlay.origin", value: [1]),
            ])
        let result = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
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
        let result = try FlattenedTestImage(TestImageBuilder(layers: [first, second]), archive: true)
        #expect(try result.text("compressed") == "from a gzip layer")
        #expect(try result.text("plain") == "from a plain layer")
    }
}
