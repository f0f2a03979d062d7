import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Everything the suite reads from its environment, in one place. Under `CI=true` the tests
/// that need root, the Docker engine, the acceptance images, syft or Chromium run and fail
/// when something is missing; elsewhere they skip without it.
enum TestEnvironment {
    private static let variables = ProcessInfo.processInfo.environment

    /// `CI=true`: nothing that CI installs may be skipped.
    static let isCI = variables["CI"] == "true"
    static let isRoot = geteuid() == 0
    /// Where `bench/build-image.sh` left the acceptance images (scripts/test.sh sets it under CI).
    static let acceptanceImages = variables["WHITTLE_ACCEPTANCE_IMAGES"]
    /// A profiles directory that replaces the shipped one, as `whittle` itself reads it.
    static let profilesOverride = variables["WHITTLE_PROFILES"]
    /// Where the HTML report test leaves its screenshot, to look at.
    static let screenshotPath = variables["WHITTLE_SCREENSHOT"]
    /// Keeps the tracer's working directories of a failing trace test, for debugging.
    static let traceDebugDirectory = variables["WHITTLE_TRACE_DEBUG"]
    /// Runs the trace cost measurement, which is a benchmark, not a test.
    static let traceBenchmark = variables["WHITTLE_TRACE_BENCH"] != nil

    /// The first of `names` found as an executable on `PATH`.
    static func executable(_ names: String...) -> String? {
        for directory in (variables["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            for name in names where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }
}
