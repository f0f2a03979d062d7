import Crypto
import Foundation
import Testing
import WhittleFlatten
import WhittleImage
import WhittleCommands
import WhittleTrace
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
    import WhittleFiles
#endif

/// Tracing needs root; locally without it these tests are skipped, under CI=true they run
/// (and fail with the message naming what is missing).
let canTrace = TestEnvironment.isRoot || TestEnvironment.isCI

/// The app's standard output, captured in a file.
final class CapturedOutput {
    let directory: TestDirectory
    let fd: Int32
    let path: String

    init() throws {
        directory = try TestDirectory()
        path = directory.path("stdout")
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    }

    deinit { close(fd) }

    var text: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}

/// A small image: a static busybox from the host, a few files, symlinks and a script.
func busyboxImage() throws -> TestImageBuilder {
    let busybox = Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/busybox")))
    var base = TestLayer()
    for directory in ["bin", "etc", "app", "app/data", "usr", "usr/lib", "tmp"] { base.directory(directory) }
    base.file("bin/busybox", bytes: busybox)
    base.symlink("bin/sh", to: "busybox")
    base.symlink("bin/cat", to: "/bin/busybox")
    base.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    base.file("etc/group", "root:x:0:\n")
    base.file("app/message.txt", "hello from the trace test\n")
    base.file("app/data/numbers.txt", "1\n2\n3\n")
    base.file("app/unused.txt", "never read\n")
    base.symlink("app/current", to: "data")
    base.symlink("usr/lib/libfake.so.1", to: "../../app/data/numbers.txt")
    base.file(
        "app/run.sh",
        """
        cat /app/message.txt
        cat /app/current/numbers.txt | busybox wc -l
        busybox ls /app/data
        busybox stat -c %s /usr/lib/libfake.so.1
        test -e /app/missing || echo missing
        busybox readlink /app/current
        busybox touch /tmp/created
        busybox mkdir -p /app/newdir
        echo written > /app/newdir/file
        cd /app/data && busybox cat ./numbers.txt > /dev/null
        """, mode: 0o755)
    var builder = TestImageBuilder(layers: [base])
    builder.tag = "whittle-test/trace:1"
    builder.extraConfig["config"] = .object([
        "Entrypoint": .array([.string("/bin/sh"), .string("/app/run.sh")]),
        "Env": .array([.string("PATH=/bin")]),
        "WorkingDir": .string("/app"),
    ])
    return builder
}

/// Mounts under whittle's own temporary directories. Other tests run in parallel (the Docker
/// end-to-end test's engine mounts network namespaces under /tmp/wd.*), so only these say
/// whether a trace left something behind.
func whittleMounts(_ mountinfo: String) -> Set<Substring> {
    Set(
        mountinfo.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].contains("/whittle")
        })
}
