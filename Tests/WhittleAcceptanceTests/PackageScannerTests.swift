import Foundation
import Testing
import WhittlePipeline
import WhittleCommands
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleReport
@testable import WhittleTestSupport

@Suite(
    "Package databases: syft and dpkg agree with the report",
    .enabled(if: syftPath != nil || TestEnvironment.isCI, "needs syft (scripts/install-deps.sh installs it)"))
struct PackageScannerTests {
    @Test("small built image: removals by globs (profiles only) and by a trace")
    func builtImage() throws {
        let directory = try TestDirectory()
        let input = try PackageImage.builder().writeArchive(in: directory.url)
        // syft reads the test builder's archives as empty; the same image flattened by a slim
        // that removes nothing (and so rewrites nothing) is a `docker save` archive it reads.
        let flattened = directory.path("flattened.tar")
        _ = try Slim(input: input, output: flattened, options: WriteOptions()).run()
        let before = try syftInventory("docker-archive:" + flattened)
        #expect(before.contains("deb:tool@2.0") && before.contains("python:app@1.0"), "syft saw \(before)")
        let site = PackageImage.site
        let trace = directory.path("trace.json")
        try TraceFixture.write(paths: ["/usr/bin/tool", "/" + site + "/app/__init__.py"], to: trace)
        let requests = [
            RemovalRequest(remove: [
                "usr/bin/gone", "usr/share/doc", "**/tests", site + "/devtool.py", site + "/odd,name.py",
            ]),
            RemovalRequest(traces: [trace]),
        ]
        for (number, request) in requests.enumerated() {
            let output = directory.path("out-\(number).tar")
            let result = try Slim(input: input, output: output, options: WriteOptions(), removal: request).run()
            let section = try #require(result.report.packageDatabases)
            #expect(!section.removed.isEmpty && !section.partial.isEmpty)
            expectTruthful(input: before, output: try syftInventory("docker-archive:" + output), report: section)
        }
    }

    /// A real Debian image, slimmed by a profile and by a trace: syft's inventory matches the
    /// report, and dpkg's own audit and verification find nothing the slim made missing.
    @Test(
        "zoo-nginx (Debian 12): --profile docs and --trace",
        .enabled(if: TestEnvironment.acceptanceImages != nil || TestEnvironment.isCI))
    func debianImage() throws {
        let image = try #require(
            TestEnvironment.acceptanceImages.map { "\($0)/zoo-nginx.tar" },
            "WHITTLE_ACCEPTANCE_IMAGES is not set (scripts/test.sh sets it under CI=true)")
        let directory = try TestDirectory()
        let before = try syftInventory("docker-archive:" + image)
        #expect(before.contains { $0.hasPrefix("deb:nginx@") })
        let trace = directory.path("trace.json")
        try TraceFixture.write(paths: ["/usr/sbin/nginx", "/etc/nginx/nginx.conf", "/etc/nginx/mime.types"], to: trace)
        // What dpkg says of the input as it is (an image may already lack files its lists name).
        let flattened = directory.path("flattened.tar")
        _ = try Slim(input: image, output: flattened, options: WriteOptions()).run()
        let unpackedInput = try TestDirectory()
        let inputRoot = try unpackLayer(of: flattened, into: unpackedInput)
        let baseline = try dpkgComplaints(root: inputRoot)
        let requests = [("docs", RemovalRequest(profiles: ["docs"])), ("trace", RemovalRequest(traces: [trace]))]
        for (name, request) in requests {
            let output = directory.path("\(name).tar")
            let result = try Slim(input: image, output: output, options: WriteOptions(), removal: request).run()
            let section = try #require(result.report.packageDatabases)
            expectTruthful(input: before, output: try syftInventory("docker-archive:" + output), report: section)
            #expect(section.partial.contains { $0.name == "nginx" }, "\(name): nginx should stay, partly")
            let unpacked = try TestDirectory()
            let complaints = try dpkgComplaints(root: try unpackLayer(of: output, into: unpacked))
            #expect(
                complaints.subtracting(baseline).isEmpty,
                "\(name): dpkg --audit and -V newly say \(complaints.subtracting(baseline).sorted().prefix(10))")
        }
    }

    /// The realistic ML image (Debian 12, python3 and pip, pandas, scikit-learn, jupyterlab),
    /// traced running its job and slimmed by that trace, and slimmed by the `tests` profile:
    /// syft agrees with the report, dpkg finds nothing newly missing, and `pip check` (run
    /// in the unpacked tree, chrooted, with pip borrowed where the slim took it) finds no
    /// broken requirement.
    @Test(
        "batch-naive (Debian 12 + pip): --trace and --profile tests",
        .enabled(if: (TestEnvironment.acceptanceImages != nil && TestEnvironment.isRoot) || TestEnvironment.isCI))
    func pythonImage() throws {
        let image = try #require(
            TestEnvironment.acceptanceImages.map { "\($0)/batch-naive.tar" },
            "WHITTLE_ACCEPTANCE_IMAGES is not set (scripts/test.sh sets it under CI=true)")
        let directory = try TestDirectory()
        let before = try syftInventory("docker-archive:" + image)
        #expect(
            before.contains { $0.hasPrefix("python:pandas@") } && before.contains { $0.hasPrefix("python:jupyterlab@") }
        )
        let trace = directory.path("batch.trace.json")
        try run(try whittleExecutable(), ["trace", image, "-o", trace, "--network", "none", "--timeout", "600"])
        let flattened = directory.path("flattened.tar")
        _ = try Slim(input: image, output: flattened, options: WriteOptions()).run()
        let unpackedInput = try TestDirectory()
        let inputRoot = try unpackLayer(of: flattened, into: unpackedInput)
        let baseline = try dpkgComplaints(root: inputRoot)
        try FileManager.default.removeItem(atPath: flattened)

        for (name, request) in [
            ("trace", RemovalRequest(traces: [trace])), ("tests", RemovalRequest(profiles: ["tests"])),
        ] {
            let output = directory.path("\(name).tar")
            let result = try Slim(input: image, output: output, options: WriteOptions(), removal: request).run()
            let section = try #require(result.report.packageDatabases)
            let after = try syftInventory("docker-archive:" + output)
            expectTruthful(input: before, output: after, report: section)
            if name == "trace" {
                #expect(
                    after.contains { $0.hasPrefix("python:pandas@") }
                        && !after.contains { $0.hasPrefix("python:jupyterlab@") },
                    "pandas runs the job, jupyterlab does not")
            }
            let unpacked = try TestDirectory()
            let root = try unpackLayer(of: output, into: unpacked)
            let complaints = try dpkgComplaints(root: root)
            #expect(
                complaints.subtracting(baseline).isEmpty,
                "\(name): dpkg --audit and -V newly say \(complaints.subtracting(baseline).sorted().prefix(10))")
            let check = Result { try pipCheck(root: root, borrowingFrom: inputRoot) }
            #expect((try? check.get())?.contains("No broken requirements") == true, "\(name): pip check: \(check)")
            try FileManager.default.removeItem(atPath: output)
        }
    }
    /// `pip check` in a slimmed tree, which a trace leaves without pip and with only the
    /// standard library modules the job needs: pip and the standard library are borrowed
    /// from the input, placed under /tmp, and put first on the path, so pip runs while it
    /// inspects the distributions the output itself holds (the borrowed ones hold none).
    private func pipCheck(root: String, borrowingFrom input: String) throws -> String {
        let borrowed = root + "/tmp/pip-check"
        try FileManager.default.createDirectory(atPath: borrowed, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: borrowed) }
        try FileManager.default.copyItem(
            atPath: input + "/usr/lib/python3/dist-packages/pip", toPath: borrowed + "/pip")
        try FileManager.default.copyItem(atPath: input + "/usr/lib/python3.11", toPath: borrowed + "/stdlib")
        let start =
            "import sys, runpy; sys.path[:0] = ['/tmp/pip-check', '/tmp/pip-check/stdlib', "
            + "'/tmp/pip-check/stdlib/lib-dynload']; runpy.run_module('pip', run_name='__main__', alter_sys=True)"
        return try run("/usr/sbin/chroot", [root, "/usr/bin/python3", "-c", start, "check"])
    }
}
