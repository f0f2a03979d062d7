import Foundation
import Testing
@testable import WhittleCommands
import WhittlePipeline
import WhittleFlatten
import WhittleOutput
import WhittlePackageGraph
import WhittleReport
@testable import WhittleTestSupport

@Suite(
    "Removing whole packages from a real Debian image: syft and dpkg agree",
    .enabled(
        if: (syftPath != nil && TestEnvironment.acceptanceImages != nil) || TestEnvironment.isCI,
        "needs syft and WHITTLE_ACCEPTANCE_IMAGES"))
struct PackageRemovalScannerTests {
    /// nginx and what apt installed only for it (libssl3, iproute2, …) leave the image:
    /// syft's inventory of the output is the input's minus exactly the packages the report
    /// names, and dpkg's audit and verification find nothing newly missing.
    @Test(
        "--remove-package --autoremove on Debian images",
        arguments: [
            ("zoo-nginx.tar", "deb:nginx", ["nginx", "nginx-common", "libssl3"]),
            // python3-pip ships pip's dist-info: the Python distribution goes with the package.
            ("batch-naive.tar", "deb:python3-pip", ["python3-pip", "python3-setuptools", "pip", "setuptools"]),
        ])
    func debian(file: String, spec: String, expected: [String]) throws {
        let image = try #require(
            TestEnvironment.acceptanceImages.map { "\($0)/\(file)" },
            "WHITTLE_ACCEPTANCE_IMAGES is not set (scripts/test.sh sets it under CI=true)")
        let directory = try TestDirectory()
        let before = try syftInventory("docker-archive:" + image)
        let flattened = directory.path("flattened.tar")
        _ = try Slim(input: image, output: flattened, options: WriteOptions()).run()
        let unpackedInput = try TestDirectory()
        let baseline = try dpkgComplaints(root: try unpackLayer(of: flattened, into: unpackedInput))
        try FileManager.default.removeItem(atPath: flattened)

        let output = directory.path("out.tar")
        let result = try Slim(
            input: image, output: output, options: WriteOptions(),
            removal: RemovalRequest(packages: [spec], autoremove: true)
        ).run()
        let section = try #require(result.report.packageDatabases)
        let removed = Set(section.removed.map(\.name))
        #expect(removed.isSuperset(of: expected), "removed \(removed.sorted())")
        // Every package the plan took is reported removed, and only those: no other package lost a file.
        let planned = Set(
            result.selection.removals.compactMap { removal -> String? in
                guard removal.rule.hasPrefix("package:deb:") else { return nil }
                return String(removal.rule.dropFirst("package:deb:".count).prefix { $0 != " " })
            })
        #expect(
            planned == Set(section.removed.filter { $0.kind == "deb" }.map(\.name)),
            "planned \(planned.sorted()), reported \(removed.sorted())")
        #expect(section.partial.isEmpty, "partial: \(section.partial.map(\.name))")
        expectTruthful(input: before, output: try syftInventory("docker-archive:" + output), report: section)
        let unpacked = try TestDirectory()
        let complaints = try dpkgComplaints(root: try unpackLayer(of: output, into: unpacked))
        #expect(
            complaints.subtracting(baseline).isEmpty,
            "dpkg --audit and -V newly say \(complaints.subtracting(baseline).sorted().prefix(10))")
    }
}

@Suite(
    "The python-dev profile on the pandas + scikit-learn batch image",
    .enabled(
        if: (syftPath != nil && TestEnvironment.acceptanceImages != nil && TestEnvironment.isRoot)
            || TestEnvironment.isCI,
        "needs root (chroot), syft and WHITTLE_ACCEPTANCE_IMAGES"))
struct PythonDevProfileTests {
    /// The team's tools, which the job never imports.
    static let tools = ["jupyterlab", "ipython", "pytest", "black", "flake8", "mypy"]
    /// Their console scripts in pip's bin directory.
    static let scripts = [
        "jupyter-lab", "ipython", "pytest", "py.test", "black", "blackd", "flake8", "mypy", "dmypy",
        "mypyc", "stubgen", "stubtest",
    ]
    /// What the job runs on: pandas and scikit-learn and what they require.
    static let job = [
        "pandas", "scikit-learn", "numpy", "scipy", "joblib", "cloudpickle", "narwhals", "threadpoolctl",
        "python-dateutil", "tzdata",
    ]

    /// The distributions of pip's site directories under `root`, by the names of their
    /// `*.dist-info` directories (`scikit_learn-1.5.0.dist-info` is `scikit-learn`).
    static func installedDistributions(root: String) throws -> Set<String> {
        let files = FileManager.default
        var names = Set<String>()
        for lib in try files.contentsOfDirectory(atPath: root + "/usr/local/lib") where lib.hasPrefix("python3") {
            let site = root + "/usr/local/lib/\(lib)/dist-packages"
            for entry in (try? files.contentsOfDirectory(atPath: site)) ?? [] where entry.hasSuffix(".dist-info") {
                names.insert(String(entry.prefix { $0 != "-" }).lowercased().replacingOccurrences(of: "_", with: "-"))
            }
        }
        return names
    }

    /// jupyterlab, ipython, pytest, black, flake8, mypy and what only they needed go, with
    /// their console scripts; the job's distributions stay whole. The job, run chrooted in
    /// the unpacked output, prints what it printed in the original, `pip check` finds no
    /// broken requirement, and syft's inventory loses exactly the reported distributions.
    @Test("batch-naive: --profile python-dev --autoremove keeps the job's output and pip check clean")
    func batchJob() throws {
        let images = try #require(TestEnvironment.acceptanceImages, "WHITTLE_ACCEPTANCE_IMAGES is not set")
        let image = images + "/batch-naive.tar"
        let expected = try String(contentsOfFile: images + "/batch-naive.expected-stdout", encoding: .utf8)
        let directory = try TestDirectory()
        let output = directory.path("out.tar")
        let result = try Slim(
            input: image, output: output, options: WriteOptions(),
            removal: RemovalRequest(profiles: ["python-dev"], autoremove: true)
        ).run()
        let section = try #require(result.report.packageDatabases)
        let removed = Set(section.removed.map { $0.name.lowercased() })
        #expect(removed.isSuperset(of: Self.tools), "not removed: \(Set(Self.tools).subtracting(removed).sorted())")
        let touched = removed.union(section.partial.map { $0.name.lowercased() })
        #expect(
            touched.isDisjoint(with: Self.job), "the job's own lost files: \(touched.intersection(Self.job).sorted())")
        #expect(result.selection.removedBytes > 100_000_000, "removed \(result.selection.removedBytes) bytes")
        expectTruthful(
            input: try syftInventory("docker-archive:" + image),
            output: try syftInventory("docker-archive:" + output), report: section)
        let unpacked = try TestDirectory()
        let root = try unpackLayer(of: output, into: unpacked)
        let installed = try Self.installedDistributions(root: root)
        #expect(
            installed.isSuperset(of: Self.job),
            "the job's distributions missing: \(Set(Self.job).subtracting(installed).sorted())")
        #expect(
            installed.isDisjoint(with: Self.tools),
            "tools still installed: \(installed.intersection(Self.tools).sorted())")
        let leftScripts = Self.scripts.filter { FileManager.default.fileExists(atPath: root + "/usr/local/bin/" + $0) }
        #expect(leftScripts.isEmpty, "console scripts left: \(leftScripts)")
        let printed = try run("/usr/sbin/chroot", [root, "/bin/sh", "-c", "cd /job && python3 /job/batch.py"])
        #expect(printed == expected)
        let check = Result { try run("/usr/sbin/chroot", [root, "python3", "-m", "pip", "check"]) }
        #expect((try? check.get())?.contains("No broken requirements") == true, "pip check: \(check)")
        // No empty pytest/ is left for Python to import as a namespace package.
        let imported = Result { try run("/usr/sbin/chroot", [root, "python3", "-c", "import pytest"]) }
        #expect((try? imported.get()) == nil, "import pytest still works in the output")
    }

    /// make, linux-libc-dev, libpython3-dev, gnupg … keep only their copyright under
    /// `--profile all`: they leave dpkg's database, and syft lists no package whose files
    /// are all docs unless it had nothing else in the input.
    @Test("batch-naive: --profile all leaves no package listed that keeps only its docs")
    func allProfile() throws {
        let images = try #require(TestEnvironment.acceptanceImages, "WHITTLE_ACCEPTANCE_IMAGES is not set")
        let image = images + "/batch-naive.tar"
        let directory = try TestDirectory()
        let flattened = directory.path("flattened.tar")
        _ = try Slim(input: image, output: flattened, options: WriteOptions()).run()
        let unpackedInput = try TestDirectory()
        let inputRoot = try unpackLayer(of: flattened, into: unpackedInput)
        try FileManager.default.removeItem(atPath: flattened)
        let output = directory.path("all.tar")
        let result = try Slim(
            input: image, output: output, options: WriteOptions(),
            removal: RemovalRequest(profiles: ["all"])
        ).run()
        let section = try #require(result.report.packageDatabases)
        let removed = Set(section.removed.map(\.name))
        #expect(
            removed.isSuperset(of: ["make", "linux-libc-dev", "libpython3-dev", "gnupg"]), "removed \(removed.sorted())"
        )
        let after = try syftInventory("docker-archive:" + output)
        expectTruthful(input: try syftInventory("docker-archive:" + image), output: after, report: section)
        let unpacked = try TestDirectory()
        let root = try unpackLayer(of: output, into: unpacked)
        let phantoms = after.filter { $0.hasPrefix("deb:") }.map { String($0.dropFirst(4).prefix { $0 != "@" }) }.filter
        {
            Self.nonDocFiles(of: $0, root: root).isEmpty && !Self.nonDocFiles(of: $0, root: inputRoot).isEmpty
        }
        #expect(phantoms.isEmpty, "syft lists packages that keep only their docs: \(phantoms.sorted())")
    }

    /// The files (not directories) of a dpkg package that `root` holds outside `usr/share/doc`,
    /// as its `info/` list names them.
    static func nonDocFiles(of package: String, root: String) -> [String] {
        let info = root + "/var/lib/dpkg/info"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: info)) ?? []
        guard
            let list = names.first(where: {
                $0 == package + ".list" || ($0.hasPrefix(package + ":") && $0.hasSuffix(".list"))
            }),
            let text = try? String(contentsOfFile: info + "/" + list, encoding: .utf8)
        else { return [] }
        return text.split(separator: "\n").map(String.init).filter { path in
            guard path != "/.", !path.hasPrefix("/usr/share/doc/"),
                let kind = try? FileManager.default.attributesOfItem(atPath: root + path)[.type] as? FileAttributeType
            else {
                return false
            }
            return kind != .typeDirectory
        }
    }
}
