import Foundation
import WhittleImage

/// An image holding something for every named profile to remove, plus what must stay, with
/// a static busybox as its program so that it runs in Docker after slimming. Built in code:
/// the expectations below are written by hand, not derived from whittle.
enum BloatImage {
    /// Paths each profile must remove (directories stand for their subtrees).
    static let removedBy: [String: [String]] = [
        "apt-cache": [
            "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
            "var/cache/apt/archives/curl_7.88_amd64.deb", "var/cache/apt/pkgcache.bin",
            "var/lib/dpkg/status-old",
        ],
        "apk-cache": ["var/cache/apk/APKINDEX.1a2b.tar.gz"],
        "dnf-cache": ["var/cache/dnf/fedora/packages/x.rpm"],
        "pip-cache": ["root/.cache/pip/http/a/b/blob", "home/app/.cache/pip/wheels/w.whl"],
        "npm-cache": ["root/.npm/_cacache/index-v5/entry"],
        "pycache": ["usr/lib/python3/dist-packages/flask/__pycache__/app.cpython-311.pyc"],
        "tests": ["usr/local/lib/python3.11/site-packages/requests/tests/test_api.py"],
        "docs": ["usr/share/doc/curl/README.gz", "usr/share/man/man1/curl.1.gz", "usr/share/info/curl.info.gz"],
        "locales": ["usr/share/locale/de/LC_MESSAGES/curl.mo"],
        "dev-tools": [
            "usr/bin/gcc-12", "usr/lib/gcc/x86_64-linux-gnu/12/cc1", "usr/include/stdio.h",
            "usr/lib/x86_64-linux-gnu/libfoo.a", "usr/lib/x86_64-linux-gnu/pkgconfig/foo.pc",
        ],
    ]

    /// Paths that must survive every profile.
    static let alwaysKept = [
        "bin/busybox", "bin/sh", "etc/passwd", "etc/group", "app/message.txt", "app/LICENSE",
        "usr/local/lib/python3.11/site-packages/numpy/testing/__init__.py",
        "usr/local/lib/python3.11/site-packages/pandas/_testing/__init__.py",
        "usr/local/lib/python3.11/site-packages/requests/api.py",
        "usr/share/locale/en_GB/LC_MESSAGES/curl.mo",
        "usr/share/doc/curl/copyright",
        "usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        // Sourceless: Python imports a .pyc outside __pycache__ when no .py is beside it.
        "usr/lib/python3/dist-packages/sourceless.pyc",
    ]

    static let message = "slimmed and still running\n"

    static func builder() throws -> TestImageBuilder {
        let busybox = Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/busybox")))
        var base = TestLayer()
        for directory in ["bin", "etc", "app", "root", "home", "home/app", "tmp"] { base.directory(directory) }
        base.file("bin/busybox", bytes: busybox)
        base.symlink("bin/sh", to: "busybox")
        base.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
        base.file("etc/group", "root:x:0:\napp:x:1000:\n")
        base.file("app/message.txt", message)
        var bloat = TestLayer()
        for (_, paths) in removedBy.sorted(by: { $0.key < $1.key }) {
            for path in paths { addWithParents(path, to: &bloat) }
        }
        for path in alwaysKept where !path.hasPrefix("bin/") && !path.hasPrefix("etc/") && !path.hasPrefix("app/") {
            addWithParents(path, to: &bloat)
        }
        // Layers list the directories they change, as Docker's own do; otherwise Docker's
        // applier stamps them with the time of loading.
        bloat.directory("app")
        // A kept name hardlinked to a removed doc: the content must move to the kept name.
        bloat.hardlink("app/LICENSE", to: "usr/share/doc/curl/README.gz")
        // A kept symlink into removed docs: counted as dangling.
        bloat.symlink("app/manual", to: "/usr/share/man/man1/curl.1.gz")
        var builder = TestImageBuilder(layers: [base, bloat])
        builder.tag = "whittle-test/bloat:1"
        builder.extraConfig["config"] = .object([
            "Entrypoint": .array([.string("/bin/busybox"), .string("cat"), .string("/app/message.txt")]),
            "Env": .array([.string("PATH=/bin")]),
        ])
        return builder
    }

    private static func addWithParents(_ path: String, to layer: inout TestLayer) {
        let parts = path.split(separator: "/").map(String.init)
        for depth in 1..<parts.count {
            let directory = parts[..<depth].joined(separator: "/")
            if !layer.entries.contains(where: { $0.0.path == directory }) { layer.directory(directory) }
        }
        layer.file(path, "content of /\(path)\n" + String(repeating: "x", count: 1000))
    }
}
