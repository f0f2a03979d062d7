import Foundation

/// What every harness shares: a private directory for the files a reader must open by path,
/// and the replay entry point used when a harness is built without libFuzzer.

/// A directory of this process's own, in memory (`/dev/shm`) where the machine has it, so
/// writing each input to a file costs little. Removed when the process exits normally.
public final class FuzzDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String) {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        path = "\(base)/whittle-fuzz-\(label).\(getpid())"
        Self.removeStale(in: base)
        try? FileManager.default.removeItem(atPath: path)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            fatalError("cannot create \(path): \(error)")
        }
        // Spool and scratch files of the code under test go here too.
        setenv("TMPDIR", path, 1)
        atexit { FuzzDirectory.cleanUp() }
        FuzzDirectory.created.append(path)
    }

    /// Writes `bytes` to `name` inside the directory (parents made) and returns the full path.
    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) -> String {
        let file = path + "/" + name
        let parent = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else {
            fatalError("cannot write \(file)")
        }
        return file
    }

    public func subdirectory(_ name: String) -> String {
        let directory = path + "/" + name
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    nonisolated(unsafe) private static var created: [String] = []

    /// A harness that crashed left its directory behind: remove those of processes gone.
    private static func removeStale(in base: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        where name.hasPrefix("whittle-fuzz-") {
            guard let pid = name.split(separator: ".").last.flatMap({ Int32($0) }), kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            try? FileManager.default.removeItem(atPath: base + "/" + name)
        }
    }

    private static func cleanUp() {
        for path in created { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// The bytes libFuzzer hands to `LLVMFuzzerTestOneInput`.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Runs `body` on every file named in `arguments` (a directory stands for the files in it),
/// as libFuzzer would, so that a crash input can be replayed under a debugger or in a
/// plain build: `swift run FuzzLayer crash-1234`.
public func replay(_ arguments: [String], harness: String, _ body: ([UInt8]) -> Void) {
    guard !arguments.isEmpty else {
        FileHandle.standardError.write(
            Data(
                """
                usage: \(harness) FILE|DIRECTORY...
                Runs the \(harness) harness once on each input file, as libFuzzer does. Built with
                -sanitize=fuzzer and -D FUZZING, this program is libFuzzer itself (see scripts/fuzz.sh).

                """.utf8))
        exit(2)
    }
    var count = 0
    for argument in arguments {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
            FileHandle.standardError.write(Data("\(argument): no such file or directory\n".utf8))
            exit(1)
        }
        let files =
            isDirectory.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []).sorted().map {
                argument + "/" + $0
            }
            : [argument]
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            print("\(harness): \(file) (\(data.count) bytes)")
            body(Array(data))
            count += 1
        }
    }
    print("\(harness): \(count) input(s) ran without a crash")
}

#if FUZZING
    /// libFuzzer's own entry point. SwiftPM names an executable's `main` after its module, so
    /// libFuzzer's `main` cannot take over: the harness's `main` hands over to the driver.
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// Runs libFuzzer with this process's arguments and `callback` as the harness; never returns.
    public func runLibFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
    }
#endif
