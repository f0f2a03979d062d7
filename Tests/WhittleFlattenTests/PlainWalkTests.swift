import Testing
@testable import WhittleFlatten
@testable import WhittleTestSupport

@Suite("Path resolution: the plain walk's shortcut agrees with the full walk")
struct PlainWalkTests {
    /// usrmerge's links, a link in the middle of a path, a final link, a dangling one, a
    /// file used as a directory, names that sort either side of each other.
    static func tree() throws -> FileTree {
        var layer = TestLayer()
        layer.directory("usr/lib/x86_64-linux-gnu")
        layer.file("usr/lib/x86_64-linux-gnu/libc.so.6", "libc")
        layer.symlink("lib", to: "usr/lib")
        layer.symlink("usr/lib/current", to: "x86_64-linux-gnu")
        layer.symlink("usr/lib/dangling", to: "/nowhere")
        layer.file("etc/os-release", "ID=test")
        layer.file("etc/os-release.d", "a file, sorted after os-release")
        layer.directory("app/.hidden")
        layer.file("app/.hidden/x", "x")
        layer.file("app/main.py", "print()")
        return try FlattenedTestImage(TestImageBuilder(layers: [layer])).tree
    }

    static let paths = [
        "", "/", ".", "./", "usr", "/usr/lib/", "usr//lib", "/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/libc.so.6", "./usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/current",
        "usr/lib/current/libc.so.6", "usr/lib/dangling", "usr/lib/dangling/x", "etc/os-release",
        "etc/os-release/x", "etc/os-release.d", "etc/missing", "missing/deeper", "app/.hidden/x",
        "/app/./main.py", "app/../app/main.py", "..", "app/main.py/", ".hidden", "app/.hidden/../main.py",
    ]

    /// Every field of two resolutions agrees.
    static func expectSame(_ one: PathResolution, _ other: PathResolution, _ context: String) {
        #expect(one.outcome == other.outcome, "\(context)")
        #expect(one.path == other.path, "\(context)")
        #expect(one.node === other.node, "\(context)")
        #expect(one.symlinks == other.symlinks, "\(context)")
        #expect(one.existingDirectory == other.existingDirectory, "\(context)")
        #expect(one.reachedPath == other.reachedPath, "\(context)")
        #expect(one.blocker == other.blocker, "\(context)")
    }

    @Test("resolve gives what the full walk gives, for every path, following the final link or not")
    func agrees() throws {
        let tree = try Self.tree()
        for path in Self.paths {
            for followFinal in [true, false] {
                Self.expectSame(
                    tree.resolve(path, followFinal: followFinal),
                    tree.resolveByFullWalk(path, followFinal: followFinal),
                    "\(path) followFinal=\(followFinal)")
            }
            let found = tree.resolveByFullWalk(path, followFinal: false)
            #expect(tree.lookup(path) === (found.outcome == .found ? found.node : nil), "lookup \(path)")
        }
    }

    @Test("a walker that starts where the last path was found gives what resolve gives, in any order")
    func walkerAgrees() throws {
        let tree = try Self.tree()
        // Siblings, a parent after its child, a name sorting beside a remembered directory,
        // and links met after the walker settled in a directory.
        let extra = [
            "usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnuX/a", "usr/lib", "app/main.py", "app/.hidden",
            "app/.hiddenx", "app/.hidden/y", "usr/lib/x86_64-linux-gnu/libc.so.6/z",
        ]
        let orders = [Self.paths + extra, (Self.paths + extra).reversed(), (Self.paths + extra).sorted()]
        for paths in orders {
            for followFinal in [true, false] {
                let walker = PathWalker(tree)
                for path in paths + paths {
                    Self.expectSame(
                        walker.resolve(path, followFinal: followFinal), tree.resolve(path, followFinal: followFinal),
                        "\(path) followFinal=\(followFinal)")
                }
            }
        }
    }

    @Test("the shortcut answers plain paths itself and leaves links, dots and doubled slashes to the full walk")
    func shortcutScope() throws {
        let tree = try Self.tree()
        func isPlain(_ path: String, followFinal: Bool = true) -> Bool {
            if case .notPlain = tree.plainWalk(path, followFinal: followFinal) { return false }
            return true
        }
        #expect(isPlain("/usr/lib/x86_64-linux-gnu/libc.so.6"))
        #expect(isPlain("./etc/os-release"))
        #expect(isPlain("etc/missing"))
        #expect(isPlain("usr/lib/current", followFinal: false))
        #expect(!isPlain("usr/lib/current"))
        #expect(!isPlain("lib/x86_64-linux-gnu/libc.so.6"))
        #expect(!isPlain("app/./main.py"))
        #expect(!isPlain("usr//lib"))
        #expect(!isPlain("etc/os-release/x"))
    }
}
