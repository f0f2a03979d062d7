import Foundation
import Testing
import WhittleFiles

/// A test's directory, with a private TMPDIR for the runs it starts.
struct FaultWork {
    let directory: TestDirectory
    let temporaryDirectory: String
    var url: URL { directory.url }

    init() throws {
        directory = try TestDirectory()
        temporaryDirectory = directory.path("tmp")
        try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: false)
    }

    func path(_ name: String) -> String { directory.path(name) }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temporaryDirectory
        return environment
    }

    /// Runs whittle to its end.
    func whittle(_ arguments: [String]) throws -> (status: Int32, errors: String) {
        let process = try start(arguments)
        process.waitUntilExit()
        return (process.terminationStatus, errors(of: process))
    }

    /// Starts whittle with its standard output and error in files (a pipe nobody reads
    /// could stall it); with `shell`, through `sh -c shell whittle arguments…`, which execs it.
    func start(shell: String? = nil, _ arguments: [String]) throws -> Process {
        let process = Process()
        let whittle = try whittleExecutable()
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shell, whittle] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: whittle)
            process.arguments = arguments
        }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: path("stdout"), contents: nil)
        _ = FileManager.default.createFile(atPath: path("stderr"), contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: path("stdout")))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: path("stderr")))
        try process.run()
        return process
    }

    func errors(of process: Process) -> String {
        (try? String(contentsOfFile: path("stderr"), encoding: .utf8)) ?? ""
    }

    func leftIn(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    func leftInTemporaryDirectory() throws -> [String] {
        try leftIn(temporaryDirectory)
    }

    /// Waits until the process holds a file open in `directory` (named or not yet named)
    /// with more than 4 MiB in it: the layer is being written.
    func waitForStagingFile(in directory: String, of process: Process) throws {
        let descriptors = "/proc/\(process.processIdentifier)/fd"
        try waitFor("the output to be written", process: process) {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: descriptors)) ?? []
            return fds.contains { fd in
                let link = descriptors + "/" + fd
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link),
                    target.hasPrefix(directory + "/")
                else { return false }
                var info = stat()
                return stat(link, &info) == 0 && info.st_size > 4 << 20
            }
        }
    }

    /// Polls `condition` while the process runs; fails if it ends first or a minute passes.
    func waitFor(_ what: String, process: Process, _ condition: () throws -> Bool) throws {
        for _ in 0..<6000 {
            if try condition() { return }
            guard process.isRunning else {
                throw CommandFailure(
                    command: "whittle, waiting for \(what)", status: process.terminationStatus,
                    output: errors(of: process))
            }
            usleep(10_000)
        }
        process.terminate()
        throw CommandFailure(command: "whittle, waiting for \(what)", status: -1, output: errors(of: process))
    }
}

/// A tmpfs mounted for one test.
struct Mount {
    let path: String

    init(tmpfsAt path: String, options: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try run("/bin/mount", ["-t", "tmpfs", "-o", options, "whittle-fault-test", path])
        self.path = path
    }

    func unmount() {
        _ = try? run("/bin/umount", [path])
    }
}

/// Every process below `pid`, from each process's parent in /proc/PID/stat.
func descendants(of pid: Int32) -> [Int32] {
    var parents: [Int32: Int32] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let child = Int32(name),
            let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // After the command name: state, then the parent's pid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { parents[child] = parent }
    }
    var found: [Int32] = []
    var frontier = [pid]
    while let next = frontier.popLast() {
        let children = parents.filter { $0.value == next }.map(\.key)
        found += children
        frontier += children
    }
    return found
}

/// Running, or at least not a zombie waiting to be reaped.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        for index in stride(from: 0, to: count - 7, by: 8) {
            buffer.storeBytes(of: generator.next(), toByteOffset: index, as: UInt64.self)
        }
    }
    return bytes
}

/// An OCI archive big enough that slimming it with gzip takes seconds: a small gzip layer
/// (so a spool file exists in the scratch directory) and 160 MiB of random files, made with
/// the system's tar and gzip rather than in memory.
func bigImage(in work: FaultWork) throws -> String {
    let root = work.path("big")
    let blobs = root + "/blobs/sha256"
    try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
    let small = work.path("small-root")
    let large = work.path("large-root")
    try FileManager.default.createDirectory(atPath: small + "/etc", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: large + "/data", withIntermediateDirectories: true)
    try Data("root:x:0:0:root:/root:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: small + "/etc/passwd"))
    try Data(randomBytes(1 << 20)).write(to: URL(fileURLWithPath: small + "/etc/blob"))
    for part in 0..<4 {
        try run("/bin/sh", ["-c", "head -c 40M /dev/urandom > '\(large)/data/part-\(part)'"])
    }
    let tarFlags = "--owner=0 --group=0 --numeric-owner --mtime=@1000 --sort=name"
    try run("/bin/sh", ["-c", "tar \(tarFlags) -C '\(small)' -c etc | gzip -n -1 > '\(root)/small'"])
    try run("/bin/sh", ["-c", "tar \(tarFlags) -C '\(large)' -cf '\(root)/large' data"])
    try FileManager.default.removeItem(atPath: large)
    func store(_ file: String) throws -> (digest: String, size: Int) {
        let hex = String(try run("/usr/bin/sha256sum", [file]).prefix(64))
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0
        try FileManager.default.moveItem(atPath: file, toPath: blobs + "/" + hex)
        return ("sha256:" + hex, size)
    }
    let smallDiffID = "sha256:" + String(try run("/bin/sh", ["-c", "gzip -dc '\(root)/small' | sha256sum"]).prefix(64))
    let smallBlob = try store(root + "/small")
    let largeBlob = try store(root + "/large")
    func write(_ text: String, to name: String) throws -> (digest: String, size: Int) {
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + name))
        return try store(root + "/" + name)
    }
    let config = try write(
        """
        {"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},\
        "rootfs":{"type":"layers","diff_ids":["\(smallDiffID)","\(largeBlob.digest)"]}}
        """, to: "config")
    let manifest = try write(
        """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(config.digest)","size":\(config.size)},\
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(smallBlob.digest)","size":\(smallBlob.size)},\
        {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(largeBlob.digest)","size":\(largeBlob.size)}]}
        """, to: "manifest")
    try Data(
        """
        {"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "digest":"\(manifest.digest)","size":\(manifest.size),\
        "annotations":{"io.containerd.image.name":"docker.io/test/big:1"}}]}
        """.utf8
    ).write(to: URL(fileURLWithPath: root + "/index.json"))
    try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: root + "/oci-layout"))
    let archive = work.path("big.tar")
    try run("/bin/tar", ["-C", root, "-cf", archive, "."])
    try FileManager.default.removeItem(atPath: root)
    try FileManager.default.removeItem(atPath: small)
    return archive
}
