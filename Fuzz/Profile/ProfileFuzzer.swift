import FuzzSupport
import WhittleProfiles

// The profile reader: any bytes as a `--profile-file`, then every pattern it holds matched
// against paths, and the same bytes taken as one glob (`--keep`/`--remove`).

private let directory = FuzzDirectory("profile")

/// Paths of the shapes the selector asks about.
private let samplePaths = [
    "", "usr", "usr/share/doc/a/README", "usr/lib/python3/__pycache__/x.pyc", "a/b/c/d/e/f/g",
    "var/cache/apt/archives/x.deb", ".hidden/.wh.x", "é/ü/名", "**", "*?[",
]

func fuzzProfile(_ bytes: [UInt8]) {
    let path = directory.write(bytes, to: "profile.yaml")
    if let profile = try? ProfileCatalog.loadFile(path) {
        for pattern in profile.remove + profile.keep { exercise(pattern) }
        if let catalog = try? ProfileCatalog(profiles: [profile]) {
            _ = try? catalog.expand([profile.name])
        }
    }
    // The same bytes as a single glob, the way the command line gives one.
    let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
    if let pattern = try? PathPattern(text) { exercise(pattern) }
}

private func exercise(_ pattern: PathPattern) {
    for path in samplePaths {
        _ = pattern.matches(path)
        _ = pattern.mayMatchBelow(path)
    }
    _ = pattern.matches(pattern.text)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProfileInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzProfile(fuzzInput(data, size))
    return 0
}

@main
enum Main {
    static func main() {
        #if FUZZING
            runLibFuzzer(fuzzProfileInput)
        #else
            replay(Array(CommandLine.arguments.dropFirst()), harness: "FuzzProfile", fuzzProfile)
        #endif
    }
}
