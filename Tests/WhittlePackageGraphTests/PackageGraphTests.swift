import Foundation
import Testing
import WhittlePackageGraph
import WhittleProfiles
@testable import WhittleTestSupport

/// Specs, relationship parsers, markers and removal plans, on strings and database snippets
/// taken from a real Debian 12 image with pandas, scikit-learn, jupyterlab and matplotlib
/// (`PackageGraphFixtures/make_fixtures.py` wrote them).
@Suite("package graph")
struct PackageGraphTests {
    static let python = PythonEnvironment(pythonVersion: "3.11.2", machine: "x86_64")
    static let environment = PackageEnvironment(debianArchitecture: "amd64", python: python)

    // MARK: dpkg relationships

    @Test("dpkg fields: groups, alternatives, versions and architecture qualifiers")
    func debianRelations() throws {
        let groups = try DebianRelations.parse("libc6 (>= 2.34), libssl3 (>= 3.0.0) | libssl1.1, python3:any")
        #expect(groups.count == 3)
        #expect(groups[0] == [DebianRelation(name: "libc6", constraint: DebianConstraint(.laterOrEqual, "2.34"))])
        #expect(groups[1].map(\.name) == ["libssl3", "libssl1.1"])
        #expect(groups[1][0].constraint == DebianConstraint(.laterOrEqual, "3.0.0"))
        #expect(groups[1][1].constraint == nil)
        #expect(groups[2] == [DebianRelation(name: "python3", architectureQualifier: "any")])

        let exact = try DebianRelations.parse("libkrb5support0 (= 1.20.1-2+deb12u5), dpkg (>= 1.15.6~)")
        #expect(exact[0][0].constraint == DebianConstraint(.equal, "1.20.1-2+deb12u5"))
        #expect(exact[1][0].constraint == DebianConstraint(.laterOrEqual, "1.15.6~"))
        // dpkg's old '<' and '>' mean '<=' and '>='.
        #expect(try DebianRelations.parse("foo (< 2)")[0][0].constraint == DebianConstraint(.earlierOrEqual, "2"))

        let restricted = try DebianRelations.parse("libc6-dev [amd64 i386] | libc-dev, libx [!amd64]")
        #expect(restricted[0][0].architectures == ["amd64", "i386"])
        #expect(restricted[0][0].applies(on: "amd64") && !restricted[0][0].applies(on: "arm64"))
        #expect(!restricted[1][0].applies(on: "amd64") && restricted[1][0].applies(on: "arm64"))
        #expect(restricted[0][0].applies(on: nil))

        let provides = try DebianRelations.parseProvides("debconf-2.0, python3-flask (= 2.2.2-3)")
        #expect(provides.map(\.name) == ["debconf-2.0", "python3-flask"])
        #expect(provides.map(\.version) == [nil, "2.2.2-3"])
        #expect(throws: PackageGraphError.self) { try DebianRelations.parse("foo (>= 1") }
        #expect(throws: PackageGraphError.self) { try DebianRelations.parse("foo (~ 1)") }
    }

    @Test("every relationship field of a real status file parses, one group per comma")
    func realStatusFields() throws {
        let stanzas = try PackageGraphFixtures.stanzas("dpkg-status")
        #expect(stanzas.count > 50)
        var parsed = 0
        for stanza in stanzas {
            for key in ["Pre-Depends", "Depends", "Recommends"] {
                guard let field = stanza[key] else { continue }
                let groups = try DebianRelations.parse(field)
                #expect(groups.count == field.split(separator: ",").count, "\(field)")
                #expect(groups.joined().allSatisfy { !$0.name.isEmpty && !$0.name.contains(" ") })
                parsed += 1
            }
            if let provides = stanza["Provides"] { _ = try DebianRelations.parseProvides(provides) }
        }
        #expect(parsed > 80)
    }

    @Test(
        "Debian version order",
        arguments: [
            ("1.0~rc1", "1.0", -1), ("1.0", "1.0", 0), ("1:0.9", "2.0", 1), ("4:12.2.0-3", "4:10.2", 1),
            ("3.11.2-1+b1", "3.11.2-1~", 1), ("1.15.6~", "1.15.6", -1), ("1.2.3a", "1.2.3", 1), ("1.0", "1.0.0", -1),
            ("2.36-9+deb12u9", "2.34", 1), ("1.0-1", "1.0-10", -1), ("010", "10", 0), ("1.0~~", "1.0~", -1),
            ("1.0+dfsg", "1.0-1", 1),
        ])
    func debianVersions(a: String, b: String, order: Int) {
        #expect(DebianVersion.compare(a, b).signum() == order)
        #expect(DebianVersion.compare(b, a).signum() == -order)
    }

    // MARK: apk

    @Test("apk D: and p: lines: names, so: and cmd: names, no versions, no conflicts")
    func apkRelations() {
        let depends = ApkRelations.dependencies(
            "so:libc.musl-x86_64.so.1 !py3-foo python3~3.12 /bin/sh musl>=1.2.4 pc:zlib")
        #expect(depends == ["so:libc.musl-x86_64.so.1", "python3", "/bin/sh", "musl", "pc:zlib"])
        #expect(
            ApkRelations.provides("cmd:pip3=23.1.2-r0 so:libz.so.1=1.3.1 py3.12:pip=23.1.2-r0 /bin/sh")
                == ["cmd:pip3", "so:libz.so.1", "py3.12:pip", "/bin/sh"])
    }

    // MARK: Python

    @Test("Requires-Dist lines from real METADATA")
    func pythonRequirements() throws {
        let numpy = try PythonRequirement("numpy>=1.22.4; python_version < \"3.11\"")
        #expect(numpy.name == "numpy" && numpy.constraint == ">=1.22.4" && numpy.marker != nil)
        #expect(!numpy.applies(in: Self.python, extras: []))
        let pytest = try PythonRequirement("pytest>=7.3.2; extra == \"test\"")
        #expect(!pytest.applies(in: Self.python, extras: []))
        #expect(pytest.applies(in: Self.python, extras: ["test"]))
        #expect(!pytest.applies(in: Self.python, extras: ["performance"]))
        let zoneinfo = try PythonRequirement("backports.zoneinfo==0.2.1;python_version<'3.9'")
        #expect(zoneinfo.name == "backports-zoneinfo" && !zoneinfo.applies(in: Self.python, extras: []))
        let tzdata = try PythonRequirement("tzdata;python_version>='3.9'")
        #expect(tzdata.applies(in: Self.python, extras: []))
        let server = try PythonRequirement("jupyter_server[test]<3,>=2.4.0")
        #expect(server.name == "jupyter-server" && server.rawName == "jupyter_server")
        #expect(server.extras == ["test"] && server.constraint == "<3,>=2.4.0" && server.marker == nil)
        let old = try PythonRequirement("Jinja2 (>=2.10)")
        #expect(old.name == "jinja2" && old.constraint == "(>=2.10)")
        let url = try PythonRequirement("foo @ https://example.org/a;b/foo.whl ; os_name == \"posix\"")
        #expect(url.name == "foo" && url.constraint == "@ https://example.org/a;b/foo.whl")
        #expect(url.applies(in: Self.python, extras: []))
        #expect(throws: PackageGraphError.self) { try PythonRequirement(">=1.0") }
        #expect(throws: PackageGraphError.self) { try PythonRequirement("foo; python_version <") }
        #expect(throws: PackageGraphError.self) { try PythonRequirement("foo; python_flavour == \"x\"") }
    }

    @Test(
        "environment markers on Linux, CPython 3.11.2, x86_64",
        arguments: [
            ("python_version < \"3.11\"", false), ("python_version >= \"3.11\"", true),
            ("python_version < \"3.15\"", true), ("python_version == \"3.11\"", true),
            ("python_full_version >= \"3.11.3\"", false), ("python_full_version > \"3.11.0rc1\"", true),
            ("python_version ~= \"3.9\"", true), ("python_version == \"3.*\"", true),
            ("python_version != \"3.11.*\"", false),
            ("sys_platform == \"win32\"", false), ("sys_platform == \"linux\"", true),
            ("sys_platform != \"darwin\"", true),
            ("platform_system == \"Linux\"", true), ("os_name == \"nt\"", false), ("os.name == \"posix\"", true),
            ("platform_machine == \"x86_64\"", true), ("platform_machine in \"x86_64 aarch64\"", true),
            ("\"arm\" in platform_machine", false), ("platform_machine not in \"armv7l ppc64le\"", true),
            ("implementation_name == \"cpython\"", true), ("platform_python_implementation == \"PyPy\"", false),
            ("python_version >= \"3.8\" and python_version < \"3.10\" or sys_platform == \"linux\"", true),
            ("python_version >= \"3.8\" and (python_version < \"3.10\" or sys_platform == \"win32\")", false),
            ("sys_platform == \"linux\" and platform_machine == \"aarch64\"", false),
            ("python_version >= \"3.14\" and python_version < \"3.15\"", false),
        ])
    func markers(text: String, expected: Bool) throws {
        let marker = try PythonMarker.parse(text)
        #expect(marker.evaluate(Self.python, extra: "") == expected)
        #expect(!marker.mentionsExtra)
    }

    @Test("extra markers compare normalized names")
    func extraMarkers() throws {
        let marker = try PythonMarker.parse("extra == \"Test_No.Images\" and python_version >= \"3.9\"")
        #expect(marker.mentionsExtra)
        #expect(marker.evaluate(Self.python, extra: "test-no-images"))
        #expect(!marker.evaluate(Self.python, extra: ""))
    }

    @Test(
        "PEP 503 names",
        arguments: [
            ("Jupyter_Server", "jupyter-server"), ("zope.interface", "zope-interface"), ("a--_.b", "a-b"),
            ("scikit-learn", "scikit-learn"), ("PyYAML", "pyyaml"),
        ])
    func pythonNames(name: String, normalized: String) {
        #expect(PythonName.normalize(name) == normalized)
    }

    // MARK: Specs

    @Test("package specs: kinds, globs, lists, Python normalization")
    func specs() throws {
        let gcc = try PackageSpec("deb:gcc-12")
        #expect(gcc.kind == .deb && gcc.pattern == "gcc-12" && gcc.description == "deb:gcc-12" && !gcc.isGlob)
        #expect(gcc.matches(PackageRecord(kind: .deb, name: "gcc-12")))
        #expect(!gcc.matches(PackageRecord(kind: .apk, name: "gcc-12")))
        #expect(!gcc.matches(PackageRecord(kind: .deb, name: "gcc-12-base")))

        let dev = try PackageSpec("deb:*-dev")
        #expect(dev.isGlob && dev.matches(PackageRecord(kind: .deb, name: "libssl-dev")))
        #expect(!dev.matches(PackageRecord(kind: .deb, name: "libssl3")))
        #expect(try PackageSpec("deb:lib?sl3").matches(PackageRecord(kind: .deb, name: "libssl3")))

        let jupyter = try PackageSpec("pypi:Jupyter_*")
        #expect(jupyter.matches(PackageRecord(kind: .pypi, name: "jupyter_core")))
        #expect(jupyter.matches(PackageRecord(kind: .pypi, name: "jupyter-server-terminals")))
        #expect(!jupyter.matches(PackageRecord(kind: .pypi, name: "jupyterlab")))

        let bare = try PackageSpec("pytest")
        #expect(bare.kind == nil)
        #expect(bare.matches(PackageRecord(kind: .pypi, name: "PyTest")))
        #expect(bare.matches(PackageRecord(kind: .deb, name: "pytest")))
        #expect(try PackageSpec("apk:build-base").kind == .apk)

        let list = try PackageSpec.list("deb:gcc-12, pypi:pytest,,apk:build-base ")
        #expect(list.map(\.description) == ["deb:gcc-12", "pypi:pytest", "apk:build-base"])
    }

    @Test(
        "bad specs say what is wrong",
        arguments: [
            ("rpm:gcc", "unknown package kind 'rpm'"), ("pip:pytest", "pypi:NAME"), ("deb:", "names no package"),
            ("pytest>=7", "without a version"), ("black[d]", "without extras"), ("usr/bin/gcc", "not a path"),
            ("deb:a:b", "one kind prefix"), ("deb:gcc 12", "does not occur"),
        ])
    func badSpecs(text: String, message: String) {
        do {
            _ = try PackageSpec(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains(text.trimmingCharacters(in: .whitespaces)) || text.hasSuffix(":"), "\(error)")
        }
    }
}

/// The test fixtures turned into records, as the package database readers would.
enum PackageGraphFixtures {
    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("PackageGraphFixtures/\(name)").path
    }

    /// RFC 822-style stanzas; continuation lines are joined to their field.
    static func stanzas(_ name: String) throws -> [[String: String]] {
        let text = try String(contentsOfFile: path(name), encoding: .utf8)
        return text.components(separatedBy: "\n\n").compactMap { block in
            var fields: [String: String] = [:]
            var last: String?
            for line in block.split(separator: "\n") {
                if line.first == " ", let last {
                    fields[last, default: ""] += "\n" + line
                } else if let colon = line.firstIndex(of: ":") {
                    let key = String(line[..<colon])
                    fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    last = key
                }
            }
            return fields.isEmpty ? nil : fields
        }
    }

    /// dpkg status plus apt's auto-installed marks.
    static func debRecords() throws -> [PackageRecord] {
        let auto = Set(
            try stanzas("extended_states").filter { $0["Auto-Installed"] == "1" }.compactMap { $0["Package"] })
        return try stanzas("dpkg-status").map { fields in
            PackageRecord(
                kind: .deb, name: fields["Package"]!, version: fields["Version"] ?? "",
                architecture: fields["Architecture"], provides: fields["Provides"].map { [$0] } ?? [],
                depends: fields["Depends"] ?? "", preDepends: fields["Pre-Depends"] ?? "",
                recommends: fields["Recommends"] ?? "", essential: fields["Essential"] == "yes",
                autoInstalled: auto.contains(fields["Package"]!))
        }
    }

    /// The `pypi-metadata` blocks: `# REQUESTED`, `# INSTALLER: pip`, then METADATA headers.
    static func pypiRecords() throws -> [PackageRecord] {
        let text = try String(contentsOfFile: path("pypi-metadata"), encoding: .utf8)
        return text.components(separatedBy: "\n\n").compactMap { block in
            var record = PackageRecord(kind: .pypi, name: "")
            for line in block.split(separator: "\n") {
                let value =
                    line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if line == "# REQUESTED" { record.requested = true }
                if line.hasPrefix("# INSTALLER:") { record.installer = value }
                if line.hasPrefix("Name:") { record.name = value }
                if line.hasPrefix("Version:") { record.version = value }
                if line.hasPrefix("Requires-Dist:") { record.requiresDist.append(value) }
            }
            return record.name.isEmpty ? nil : record
        }
    }
}

/// Removal plans: dependents, force, autoremove, virtual packages, extras, profiles.
@Suite("removal plan")
struct RemovalPlanTests {
    static let environment = PackageGraphTests.environment

    static func deb(
        _ name: String, depends: String = "", recommends: String = "", provides: String? = nil,
        auto: Bool = false, version: String = "1.0"
    ) -> PackageRecord {
        PackageRecord(
            kind: .deb, name: name, version: version, architecture: "amd64",
            provides: provides.map { [$0] } ?? [], depends: depends, recommends: recommends,
            autoInstalled: auto)
    }

    static func pypi(_ name: String, _ requires: [String] = [], requested: Bool = false) -> PackageRecord {
        PackageRecord(
            kind: .pypi, name: name, version: "1.0", requiresDist: requires, requested: requested,
            installer: "pip")
    }

    static func plan(
        _ records: [PackageRecord], _ specs: String, autoremove: Bool = false, force: Bool = false,
        profile: String? = nil
    ) throws -> RemovalPlan {
        let origin: PackageRemovalRequest.Origin = profile.map { .profile($0) } ?? .commandLine
        return try RemovalPlan(
            records: records, requests: [PackageRemovalRequest(specs: try PackageSpec.list(specs), origin: origin)],
            environment: environment, autoremove: autoremove, force: force)
    }

    static func removed(_ plan: RemovalPlan) -> Set<String> { Set(plan.removals.map(\.record.spec)) }

    static func dependentsError(_ body: () throws -> RemovalPlan) -> [RemovalPlan.Dependent]? {
        do {
            _ = try body()
        } catch let PackageGraphError.dependents(_, dependents, _) {
            return dependents
        } catch {
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    @Test("removing a library that kept packages need stops with the dependents, direct and transitive")
    func dependentsOfLibssl() throws {
        let records = try PackageGraphFixtures.debRecords()
        do {
            _ = try Self.plan(records, "deb:libssl3")
            Issue.record("expected the dependents error")
        } catch let error as PackageGraphError {
            guard case let .dependents(removing, dependents, suggestion) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(removing == ["deb:libssl3"])
            let names = Set(dependents.map(\.package))
            // Direct: they name libssl3 in Depends.
            #expect(dependents.contains(.init(package: "deb:openssl", requirement: "libssl3 (>= 3.0.9)")))
            #expect(names.contains("deb:libcurl4"))
            // Transitive: curl needs libcurl4 (= ...), which needs libssl3.
            #expect(names.contains("deb:curl"))
            #expect(!names.contains("deb:libc6") && !names.contains("deb:zlib1g"))
            #expect(suggestion.first == "deb:libssl3" && Set(suggestion.dropFirst()) == names)
            let message = error.description
            #expect(message.contains("cannot remove deb:libssl3"))
            #expect(message.contains("deb:openssl requires libssl3 (>= 3.0.9)"))
            #expect(message.contains("--remove-package deb:libssl3,"))
            #expect(message.contains("--force"))
        }
    }

    @Test("--force removes anyway and lists what is left broken")
    func force() throws {
        let records = try PackageGraphFixtures.debRecords()
        let plan = try Self.plan(records, "deb:libssl3", force: true)
        #expect(Self.removed(plan) == ["deb:libssl3"])
        #expect(plan.removals[0].reason == .named(spec: "deb:libssl3", origin: .commandLine))
        #expect(plan.brokenDependents.contains { $0.package == "deb:openssl" })
        #expect(plan.brokenDependents.contains { $0.package == "deb:curl" })
        #expect(plan.warnings.isEmpty)
    }

    @Test("a dependency cycle between removed packages is no obstacle")
    func removingDependentsTogether() throws {
        let records = try PackageGraphFixtures.debRecords()
        let plan = try Self.plan(records, "deb:curl,deb:libcurl4")
        #expect(Self.removed(plan) == ["deb:curl", "deb:libcurl4"])
        #expect(plan.brokenDependents.isEmpty)
    }

    @Test("autoremove on a real image: python3-pip takes its auto-installed dependencies and Recommends")
    func autoremovePip() throws {
        let records = try PackageGraphFixtures.debRecords()
        #expect(Self.removed(try Self.plan(records, "deb:python3-pip")) == ["deb:python3-pip"])
        let plan = try Self.plan(records, "deb:python3-pip", autoremove: true)
        let removed = Self.removed(plan)
        // Depends, auto-installed, needed by nothing else.
        #expect(
            removed.isSuperset(of: [
                "deb:python3-pip", "deb:python3-setuptools", "deb:python3-wheel",
                "deb:python3-pkg-resources",
            ]))
        // Only pip recommended it: apt's autoremove takes it too.
        #expect(removed.contains("deb:build-essential"))
        // Auto-installed, but python3-dev (installed by name) depends on it.
        #expect(!removed.contains("deb:python3-distutils") && !removed.contains("deb:python3-lib2to3"))
        // Installed by name, or needed by what stays.
        for kept in ["deb:python3", "deb:python3-dev", "deb:ca-certificates", "deb:libc6", "deb:openssl"] {
            #expect(!removed.contains(kept), "\(kept)")
        }
        let setuptools = try #require(plan.removals.first { $0.record.name == "python3-setuptools" })
        #expect(setuptools.reason == .autoremoved(because: "deb:python3-pip", neededBy: "deb:python3-pip"))
        let resources = try #require(plan.removals.first { $0.record.name == "python3-pkg-resources" })
        #expect(resources.reason == .autoremoved(because: "deb:python3-pip", neededBy: "deb:python3-setuptools"))
        #expect("\(resources.reason)" == "autoremoved because of deb:python3-pip (needed by deb:python3-setuptools)")
        #expect(plan.removals.first?.record.name == "python3-pip", "named packages come first")
    }

    @Test("a Recommends of a package that stays keeps an auto-installed package, as apt's default does")
    func recommendsKeep() throws {
        let records = [
            Self.deb("app", recommends: "helper"),
            Self.deb("tool", depends: "helper, only-tool"),
            Self.deb("helper", auto: true),
            Self.deb("only-tool", auto: true),
        ]
        let plan = try Self.plan(records, "deb:tool", autoremove: true)
        #expect(Self.removed(plan) == ["deb:tool", "deb:only-tool"])
        // Recommends are not hard: removing what a package that stays recommends is allowed.
        #expect(Self.removed(try Self.plan(records, "deb:helper,deb:tool")) == ["deb:helper", "deb:tool"])
    }

    @Test("autoremove reaches a fixed point: chains and cycles go, shared and unrelated packages stay")
    func autoremoveFixedPoint() throws {
        let records = [
            Self.deb("tool", depends: "a"),
            Self.deb("a", depends: "b", auto: true),
            Self.deb("b", depends: "c, a", auto: true),  // a and b need each other
            Self.deb("c", auto: true),
            Self.deb("d", depends: "shared", auto: true),  // already unneeded before: apt would take it
            Self.deb("app", depends: "shared"),
            Self.deb("shared", auto: true),
            Self.deb("orphan", auto: true),
        ]
        let plan = try Self.plan(records, "deb:tool,deb:app", autoremove: true)
        #expect(Self.removed(plan) == ["deb:tool", "deb:app", "deb:a", "deb:b", "deb:c"])
        // `d` needed nothing removed and stays, so `shared` stays for it; so does the orphan.
        let chain = try #require(plan.removals.first { $0.record.name == "c" })
        #expect(chain.reason == .autoremoved(because: "deb:tool", neededBy: "deb:b"))
    }

    @Test("virtual packages: a dependency on a provided name holds while one provider stays")
    func virtualPackages() throws {
        let records = [
            Self.deb("app", depends: "mail-transport-agent, python3:any, libfoo (>= 2)"),
            Self.deb("exim4", provides: "mail-transport-agent"),
            Self.deb("postfix", provides: "mail-transport-agent"),
            Self.deb("python3", version: "3.11.2-1"),
            Self.deb("libfoo2", provides: "libfoo (= 2.1)"),
            Self.deb("libfoo-compat", provides: "libfoo"),  // unversioned: cannot satisfy (>= 2)
        ]
        #expect(Self.removed(try Self.plan(records, "deb:exim4")) == ["deb:exim4"])
        let both = Self.dependentsError { try Self.plan(records, "deb:exim4,deb:postfix") }
        #expect(both == [.init(package: "deb:app", requirement: "mail-transport-agent")])
        let versioned = Self.dependentsError { try Self.plan(records, "deb:libfoo2") }
        #expect(versioned == [.init(package: "deb:app", requirement: "libfoo (>= 2)")])
        let qualified = Self.dependentsError { try Self.plan(records, "deb:python3") }
        #expect(qualified == [.init(package: "deb:app", requirement: "python3:any")])
    }

    @Test("alternatives: a group holds while any alternative stays; versions choose among them")
    func alternatives() throws {
        let records = [
            Self.deb("app", depends: "libssl3 (>= 3.0.0) | libssl1.1"),
            Self.deb("libssl3", version: "3.0.17-1~deb12u3"),
            Self.deb("libssl1.1", version: "1.1.1w-0"),
            Self.deb("old", depends: "libssl3 (>= 4.0) | libssl1.1"),
        ]
        #expect(Self.removed(try Self.plan(records, "deb:libssl1.1,deb:old")) == ["deb:libssl1.1", "deb:old"])
        // libssl3 3.0 does not meet (>= 4.0): only libssl1.1 satisfies old.
        let dependents = Self.dependentsError { try Self.plan(records, "deb:libssl1.1") }
        #expect(dependents == [.init(package: "deb:old", requirement: "libssl3 (>= 4.0) | libssl1.1")])
        #expect(
            Self.dependentsError { try Self.plan(records, "deb:libssl*") }?.map(\.package) == ["deb:app", "deb:old"])
    }

    @Test("apk: so: and cmd: names resolve through p: lines")
    func apk() throws {
        let records = [
            PackageRecord(kind: .apk, name: "app", apkDepends: "so:libcrypto.so.3 cmd:sh !app-legacy"),
            PackageRecord(kind: .apk, name: "libcrypto3", provides: ["so:libcrypto.so.3=3.3.2-r0"]),
            PackageRecord(kind: .apk, name: "busybox-binsh", provides: ["cmd:sh=1.36.1-r29 /bin/sh"]),
            PackageRecord(kind: .apk, name: "build-base", apkDepends: "binutils", autoInstalled: false),
            PackageRecord(kind: .apk, name: "binutils", autoInstalled: true),
        ]
        #expect(
            Self.dependentsError { try Self.plan(records, "apk:libcrypto3") }
                == [.init(package: "apk:app", requirement: "so:libcrypto.so.3")])
        #expect(Self.dependentsError { try Self.plan(records, "apk:busybox-binsh") }?.map(\.package) == ["apk:app"])
        #expect(
            Self.removed(try Self.plan(records, "apk:build-base", autoremove: true)) == [
                "apk:build-base", "apk:binutils",
            ])
    }

    @Test("Python: markers and extras decide which requirements count")
    func pythonExtras() throws {
        let records = [
            Self.pypi(
                "pandas", ["numpy>=1.22.4", "tzdata; sys_platform == \"win32\"", "pytest>=7.3.2; extra == \"test\""],
                requested: true),
            Self.pypi("numpy"), Self.pypi("tzdata"), Self.pypi("pytest"),
            Self.pypi("uvicorn", ["h11>=0.8", "httptools>=0.6.3; extra == \"standard\""]),
            Self.pypi("h11"), Self.pypi("httptools"),
            Self.pypi("web-app", ["Uvicorn[Standard]"], requested: true),
        ]
        // pandas needs pytest only for its "test" extra, tzdata only on Windows.
        #expect(Self.removed(try Self.plan(records, "pypi:pytest,pypi:tzdata")) == ["pypi:pytest", "pypi:tzdata"])
        #expect(
            Self.dependentsError { try Self.plan(records, "pypi:numpy") } == [
                .init(package: "pypi:pandas", requirement: "numpy>=1.22.4")
            ])
        // web-app asks for uvicorn[standard], so uvicorn's "standard" requirements count...
        let extra = Self.dependentsError { try Self.plan(records, "pypi:httptools") }
        #expect(extra?.first == .init(package: "pypi:uvicorn", requirement: "httptools>=0.6.3; extra == \"standard\""))
        #expect(extra?.map(\.package) == ["pypi:uvicorn", "pypi:web-app"])
        // ...and once web-app goes too, uvicorn's extra is asked for by nobody.
        let plan = try Self.plan(records, "pypi:web-app,pypi:httptools")
        #expect(Self.removed(plan) == ["pypi:web-app", "pypi:httptools"])
    }

    @Test("Python: an extra that asks for the distribution's own extras counts them too")
    func selfExtras() throws {
        let records = [
            Self.pypi("app", ["dask[complete]>=2024"], requested: true),
            Self.pypi(
                "dask",
                [
                    "dask[array,dataframe]; extra == \"complete\"", "numpy>=1.24; extra == \"array\"",
                    "pandas>=2; extra == \"dataframe\"", "bokeh; extra == \"diagnostics\"",
                ]),
            Self.pypi("numpy"), Self.pypi("pandas"), Self.pypi("bokeh"),
        ]
        // dask loses numpy through the extras app asks for, and app then loses dask.
        #expect(
            Self.dependentsError { try Self.plan(records, "pypi:numpy") } == [
                .init(package: "pypi:dask", requirement: "numpy>=1.24; extra == \"array\""),
                .init(package: "pypi:app", requirement: "dask[complete]>=2024"),
            ])
        #expect(Self.removed(try Self.plan(records, "pypi:bokeh")) == ["pypi:bokeh"])
        #expect(Self.removed(try Self.plan(records, "pypi:dask,pypi:app")) == ["pypi:dask", "pypi:app"])
    }

    @Test("an unreadable dependency is reported as a warning, and the rest of the plan still holds")
    func unreadableFields() throws {
        let records = [
            Self.pypi("app", ["numpy; python_version <", "pandas"], requested: true), Self.pypi("numpy"),
            Self.pypi("pandas"),
            Self.deb("tool", depends: "libfoo (>= 1"), Self.deb("libfoo"),
        ]
        let plan = try Self.plan(records, "pypi:numpy,deb:libfoo")
        #expect(Self.removed(plan) == ["pypi:numpy", "deb:libfoo"])
        #expect(plan.warnings.count == 2)
        #expect(
            plan.warnings.contains { $0.hasPrefix("pypi:app: cannot read Requires-Dist 'numpy; python_version <'") })
        #expect(plan.warnings.contains { $0.hasPrefix("deb:tool: cannot read 'libfoo (>= 1'") })
        #expect(
            Self.dependentsError { try Self.plan(records, "pypi:pandas,pypi:numpy") }
                == [.init(package: "pypi:app", requirement: "pandas")])
    }

    @Test("Python autoremove takes only distributions without REQUESTED that pip installed")
    func pythonAutoremove() throws {
        var debianOwned = Self.pypi("six")
        debianOwned.installer = nil
        let records = [
            Self.pypi("black", ["click>=8.0.0", "pathspec>=0.9.0", "six"], requested: true),
            Self.pypi("click"), Self.pypi("pathspec", requested: true), debianOwned,
            Self.pypi("flask", ["click>=8.1.3"], requested: true),
        ]
        let plan = try Self.plan(records, "pypi:black", autoremove: true)
        // click stays for flask, pathspec was asked for by name, six belongs to Debian.
        #expect(Self.removed(plan) == ["pypi:black"])
        let alone = try Self.plan(records.filter { $0.name != "flask" }, "pypi:black", autoremove: true)
        #expect(Self.removed(alone) == ["pypi:black", "pypi:click"])
    }

    @Test("profiles spare what a package that stays needs; the command line does not")
    func profileSparing() throws {
        let records = [
            Self.pypi("app", ["ipython>=8"], requested: true),
            Self.pypi("ipython", ["jedi"], requested: true), Self.pypi("jedi"),
            Self.pypi("pytest", ["pluggy"], requested: true), Self.pypi("pluggy"),
        ]
        let plan = try Self.plan(
            records, "pypi:ipython,pypi:pytest,pypi:nose*", autoremove: true, profile: "python-dev")
        #expect(Self.removed(plan) == ["pypi:pytest", "pypi:pluggy"])
        #expect(plan.spared.map(\.record.name) == ["ipython"])
        #expect(plan.spared.first?.reason == "pypi:app requires ipython>=8")
        #expect(plan.spared.first?.profile == "python-dev")
        #expect(plan.removals.first?.reason == .named(spec: "pypi:pytest", origin: .profile("python-dev")))
        #expect(Self.dependentsError { try Self.plan(records, "pypi:ipython") } != nil)
    }

    @Test("specs that match nothing: an error on the command line, nothing in a profile")
    func noMatch() throws {
        let records = try PackageGraphFixtures.debRecords()
        do {
            _ = try Self.plan(records, "deb:python3-pip,deb:curl-13,pypi:curl")
            Issue.record("expected an error")
        } catch let error as PackageGraphError {
            #expect(error == .noMatch(specs: ["deb:curl-13", "pypi:curl"], similar: ["deb:curl", "deb:libcurl4"]))
            #expect(error.description.contains("no installed package matches 'deb:curl-13', 'pypi:curl'"))
            #expect(error.description.contains("deb:curl, deb:libcurl4"))
        }
        #expect(try Self.plan(records, "pypi:pytest", profile: "python-dev").removals.isEmpty)
    }

    @Test("Essential packages need --force on the command line and are spared by profiles")
    func essential() throws {
        let records = try PackageGraphFixtures.debRecords()
        #expect(throws: PackageGraphError.essential(["deb:dpkg"])) { try Self.plan(records, "deb:dpkg") }
        let profile = try Self.plan(records, "deb:dpkg,deb:apt", profile: "package-managers")
        #expect(Self.removed(profile) == ["deb:apt"])
        #expect(profile.spared.map(\.record.name) == ["dpkg"])
        let forced = try Self.plan(records, "deb:dpkg", force: true)
        #expect(Self.removed(forced) == ["deb:dpkg"])
        #expect(!forced.brokenDependents.isEmpty, "tar and others pre-depend on dpkg")
    }

    @Test("python-dev on a real image: notebooks and REPLs go, what pandas, scikit-learn and matplotlib need stays")
    func pythonDevOnRealImage() throws {
        let records = try PackageGraphFixtures.pypiRecords()
        #expect(records.count > 100)
        let profile = try ShippedProfiles.catalog().profile(named: "python-dev")
        let request = try #require(profile.packageRequest)
        let plan = try RemovalPlan(records: records, requests: [request], environment: Self.environment)
        let removed = Self.removed(plan)
        func removal(_ name: String) -> RemovalPlan.Removal? {
            plan.removals.first { PythonName.normalize($0.record.name) == name }
        }
        for name in ["jupyterlab", "jupyter-server", "jupyter-core", "ipython", "ipykernel", "notebook-shim"] {
            guard let item = removal(name), case let .named(_, origin) = item.reason else {
                Issue.record("\(name) is named by the profile")
                continue
            }
            #expect(origin == .profile("python-dev"))
        }
        // Pulled in only by the notebook stack.
        for name in ["tornado", "pyzmq", "jedi", "parso", "debugpy", "terminado", "nbconvert", "prompt-toolkit"] {
            guard case .autoremoved = removal(name)?.reason else {
                Issue.record("\(name) should be autoremoved")
                continue
            }
        }
        for name in [
            "pandas", "scikit-learn", "matplotlib", "numpy", "scipy", "joblib", "threadpoolctl",
            "python-dateutil", "tzdata", "pillow", "packaging", "pyparsing", "contourpy", "kiwisolver",
            "fonttools", "cycler",
        ] {
            #expect(removal(name) == nil, "\(name) must stay")
        }
        // python-dateutil 4 no longer requires six; only rfc3339-validator (Jupyter's) did.
        #expect(
            removal("six")?.reason == .autoremoved(because: "pypi:jupyter-events", neededBy: "pypi:rfc3339-validator"))
        // As `pip check` would: every requirement of what stays is still installed.
        let keptNames = Set(records.filter { !removed.contains($0.spec) }.map { PythonName.normalize($0.name) })
        for record in records where !removed.contains(record.spec) {
            for line in record.requiresDist {
                let requirement = try PythonRequirement(line)
                guard requirement.applies(in: Self.environment.python, extras: []),
                    records.contains(where: { PythonName.normalize($0.name) == requirement.name })
                else { continue }
                #expect(keptNames.contains(requirement.name), "\(record.name) requires \(line)")
            }
        }
        // Distributions asked for by name go only when the profile names them.
        for item in plan.removals where item.record.requested {
            guard case .named = item.reason else {
                Issue.record("\(item.record.name) was requested but autoremoved")
                continue
            }
        }
        #expect(plan.spared.isEmpty && plan.warnings.isEmpty)
    }
}
