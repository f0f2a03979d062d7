import Foundation
import Testing
@testable import WhittleCommands
@testable import WhittleProfiles
import WhittleReport
import WhittleFlatten
import WhittleSelect
@testable import WhittleTestSupport

@Suite("ProfilesTests")
struct ProfilesTests {

    // MARK: Path patterns

    @Test(
        "pattern matching",
        arguments: [
            // Literal paths are anchored and whole.
            ("var/lib/apt/lists", "var/lib/apt/lists", true),
            ("var/lib/apt/lists", "var/lib/apt/lists/x", false),
            ("var/lib/apt/lists", "var/lib/apt", false),
            ("var/lib/apt/lists", "x/var/lib/apt/lists", false),
            ("lists", "var/lib/apt/lists", false),
            // A leading slash on the pattern or path changes nothing.
            ("/usr/share/doc", "usr/share/doc", true),
            ("usr/share/doc", "/usr/share/doc", true),
            ("usr/share/doc", "usr/share/doc/", true),
            // Trailing `**`: one or more components.
            ("var/lib/apt/lists/**", "var/lib/apt/lists", false),
            ("var/lib/apt/lists/**", "var/lib/apt/lists/lock", true),
            ("var/lib/apt/lists/**", "var/lib/apt/lists/partial/x", true),
            ("var/lib/apt/lists/**", "var/lib/apt/listsx/a", false),
            ("**", "a", true),
            ("**", "a/b/c", true),
            // Leading `**`: zero or more.
            ("**/__pycache__", "__pycache__", true),
            ("**/__pycache__", "usr/lib/python3/dist-packages/flask/__pycache__", true),
            ("**/__pycache__", "usr/lib/python3/dist-packages/flask/__pycache__/app.cpython-311.pyc", false),
            ("**/__pycache__", "usr/lib/__pycache__x", false),
            ("**/*.pyc", "a.pyc", true),
            ("**/*.pyc", "usr/lib/x/y.pyc", true),
            ("**/*.pyc", "usr/lib/x/y.pyc/z", false),
            ("**/*.pyc", "usr/lib/x/y.py", false),
            // Middle `**`.
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/b", true),
            ("a/**/b", "a/x/y/z/b", true),
            ("a/**/b", "a/x/y/z/b/c", false),
            ("a/**/b", "a", false),
            ("a/**/b", "b", false),
            ("a/**/a", "a", false),
            ("**/site-packages/**/tests", "usr/local/lib/python3.11/site-packages/numpy/tests", true),
            ("**/site-packages/**/tests", "usr/local/lib/python3.11/site-packages/tests", true),
            ("**/site-packages/**/tests", "usr/local/lib/python3.11/site-packages/numpy/testing", false),
            ("**/site-packages/**/tests", "usr/local/lib/python3.11/dist-packages/numpy/tests", false),
            ("a/**/b/**/c", "a/b/c", true),
            ("a/**/b/**/c", "a/x/b/y/b/z/c", true),
            ("a/**/b/**/c", "a/x/c", false),
            ("**/b/c/**/d/**", "x/b/c/d/e", true),
            ("**/b/c/**/d/**", "x/b/c/d", false),
            ("**/b/c/**/d/**", "b/x/c/d/e", false),
            ("a/**/**/b", "a/b", true),
            // `*` stays within one component.
            ("usr/share/locale/*/LC_MESSAGES", "usr/share/locale/de/LC_MESSAGES", true),
            ("usr/share/locale/*/LC_MESSAGES", "usr/share/locale/de/x/LC_MESSAGES", false),
            ("usr/share/locale/*/LC_MESSAGES", "usr/share/locale/LC_MESSAGES", false),
            ("var/cache/apt/*.bin", "var/cache/apt/pkgcache.bin", true),
            ("var/cache/apt/*.bin", "var/cache/apt/archives/x.bin", false),
            ("usr/bin/*gcc*", "usr/bin/gcc", true),
            ("usr/bin/*gcc*", "usr/bin/x86_64-linux-gnu-gcc-12", true),
            ("usr/bin/*gcc*", "usr/bin/g++", false),
            ("usr/bin/*-linux-gnu-*", "usr/bin/x86_64-linux-gnu-ld", true),
            ("usr/bin/*-linux-gnu-*", "usr/bin/perl5.36-x86_64-linux-gnu", false),
            ("a/*b*c", "a/xbyc", true),
            ("a/*b*c", "a/xbycd", false),
            ("a/*aab", "a/aaaab", true),
            ("*", ".hidden", true),
            ("a/*", "a", false),
            // `?` is one character (a whole UTF-8 scalar), never '/'.
            ("usr/lib/locale/C.?tf8", "usr/lib/locale/C.utf8", true),
            ("a/?", "a/é", true),
            ("a/??", "a/é", false),
            ("a/?", "a/", false),
            ("a?b", "a/b", false),
            ("x/*é", "x/café", true),
            // Matching is case-sensitive.
            ("usr/share/Doc", "usr/share/doc", false),
            // The empty path (the root) matches nothing.
            ("**", "", false),
        ])
    func patternMatching(pattern: String, path: String, expected: Bool) throws {
        #expect(try PathPattern(pattern).matches(path) == expected)
    }

    @Test(
        "mayMatchBelow prunes only subtrees that cannot match",
        arguments: [
            ("var/lib/apt/lists/**", "", true),
            ("var/lib/apt/lists/**", "var", true),
            ("var/lib/apt/lists/**", "var/lib/apt/lists", true),
            ("var/lib/apt/lists/**", "var/lib/apt/lists/partial", true),
            ("var/lib/apt/lists/**", "usr", false),
            ("var/lib/apt/lists/**", "var/lib/dpkg", false),
            ("var/lib/apt/lists", "var/lib/apt", true),
            ("var/lib/apt/lists", "var/lib/apt/lists", false),
            ("usr/share/doc/*/copyright", "usr/share/doc", true),
            ("usr/share/doc/*/copyright", "usr/share/doc/bash", true),
            ("usr/share/doc/*/copyright", "usr/share/doc/bash/examples", false),
            ("usr/share/doc/*/copyright", "usr/share/man", false),
            ("**/__pycache__", "anything/at/all", true),
            ("**/numpy/testing", "usr/lib/python3/dist-packages/numpy", true),
            ("a/**/b", "a/x/y", true),
            ("a/**/b", "c", false),
            ("a/*.d/x", "a/1.d", true),
            ("a/*.d/x", "a/1.e", false),
        ])
    func mayMatchBelow(pattern: String, directory: String, expected: Bool) throws {
        #expect(try PathPattern(pattern).mayMatchBelow(directory) == expected)
    }

    @Test(
        "invalid patterns are refused with a reason",
        arguments: [
            "", "/", "a//b", "a/", "../etc", "a/../b", "./a", "a**b", "**.pyc", "a/***/b",
            "*.{pyc,pyo}", "[abc]", "a\\*b",
        ])
    func invalidPattern(text: String) {
        do {
            _ = try PathPattern(text)
            Issue.record("'\(text)' should be refused")
        } catch let error as ProfileError {
            guard case let .invalidPattern(pattern, reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(pattern == text)
            #expect(!reason.isEmpty)
            #expect(error.description.contains("'\(text)'"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("patterns compare by meaning, not spelling")
    func patternEquality() throws {
        #expect(try PathPattern("/usr/share/doc") == PathPattern("usr/share/doc"))
        #expect(try PathPattern("a/**/**/b") == PathPattern("a/**/b"))
        #expect(try PathPattern("a/*") != PathPattern("a/**"))
        #expect(try Set([PathPattern("/x"), PathPattern("x")]).count == 1)
        #expect(try PathPattern("/x").description == "/x")
    }

    @Test("the compiled matcher agrees with a plain recursive matcher on generated paths")
    func agreesWithReference() throws {
        let catalog = try ShippedProfiles.catalog()
        var texts = Set(
            try catalog.names.flatMap { name in
                let profile = try catalog.profile(named: name)
                return (profile.remove + profile.keep).map(\.text)
            })
        texts.formUnion([
            "a/**/b/**/c", "**/b/**", "**/a/b/**/c/d", "?", "*é", "a*/**/?b*", "**/*a*/**/tests",
            "**", "a/**", "**/a", "a/*/b", "*/*", "**/__pycache__/**", "usr/**/lib/**/*.a",
        ])
        let patterns = try texts.sorted().map { try PathPattern($0) }
        let names = [
            "usr", "lib", "local", "share", "doc", "python3.11", "python3", "lib64", "site-packages",
            "dist-packages", "numpy", "tests", "test", "testing", "__pycache__", "a", "b", "c", "d",
            "x.pyc", "lib.a", "lists", "var", "apt", "locale", "en_GB", "de", "LC_MESSAGES", "copyright",
            "é", "aé", "node_modules", "@scope", "gems", "spec", "bin", "gcc", "cache", ".cache", "pip",
        ]
        var random = SplitMix64(seed: 7)
        let paths = (0..<700).map { _ in
            (0..<(1 + Int(random.next() % 7))).map { _ in names[Int(random.next() % UInt64(names.count))] }
        }
        var positives = 0
        for pattern in patterns {
            let parts = pattern.text.split(separator: "/").map(String.init)
            for components in paths {
                let path = components.joined(separator: "/")
                let expected = referenceMatch(parts[...], components[...])
                #expect(pattern.matches(path) == expected, "\(pattern) on \(path)")
                if expected {
                    positives += 1
                    for depth in 0..<components.count {
                        let directory = components.prefix(depth).joined(separator: "/")
                        #expect(pattern.mayMatchBelow(directory), "\(pattern) below \(directory)")
                    }
                }
            }
        }
        // The generated cases must exercise matches, not only mismatches.
        #expect(positives > 500)
    }

    @Test("a pattern set finds the same first match as trying each pattern in order")
    func patternSetAgreesWithLinearScan() throws {
        let catalog = try ShippedProfiles.catalog()
        var texts = try catalog.names.flatMap { name in
            let profile = try catalog.profile(named: name)
            return (profile.remove + profile.keep).map(\.text)
        }
        // Shapes the shipped profiles may lack, each keyed differently: last name, ending,
        // one- and two-component heads, and none.
        texts += [
            "a/**/b/**/c", "**/b/**", "?", "*é", "a*/**/?b*", "**", "a/**", "a/*/b", "*/*", "usr/lib/**",
            "usr/*/doc/**", "**/lib.a", "*.pyc",
        ]
        let set = PatternSet(try texts.map { try PathPattern($0) })
        let names = [
            "usr", "lib", "share", "doc", "python3", "site-packages", "tests", "__pycache__", "a", "b", "c",
            "x.pyc", "lib.a", "lists", "var", "apt", "locale", "de", "é", "aé", "bin", "gcc", "cache", "pip",
        ]
        var random = SplitMix64(seed: 11)
        var matched = 0
        for _ in 0..<3000 {
            let depth = 1 + Int(random.next() % 7)
            let path = (0..<depth).map { _ in names[Int(random.next() % UInt64(names.count))] }.joined(separator: "/")
            let expected = set.patterns.firstIndex { $0.matches(path) }
            #expect(set.firstMatch(path) == expected, "\(path)")
            #expect(set.firstMatch("/" + path + "/") == expected, "/\(path)/")
            if expected != nil { matched += 1 }
        }
        #expect(matched > 1000)
        #expect(PatternSet([]).firstMatch("usr") == nil)
    }

    @Test("matching is fast enough for every path of a large image")
    func matchingThroughput() throws {
        let catalog = try ShippedProfiles.catalog()
        let patterns = try catalog.names.flatMap {
            try catalog.profile(named: $0).remove + catalog.profile(named: $0).keep
        }
        let paths = (0..<2_000).map { index in
            "usr/local/lib/python3.11/site-packages/package\(index % 40)/module\(index)/sub/file\(index).py"
        }
        let clock = ContinuousClock()
        var hits = 0
        let elapsed = clock.measure {
            for path in paths {
                for pattern in patterns where pattern.matches(path) { hits += 1 }
            }
        }
        #expect(hits == 0)
        // Debug builds are slow; this only catches pathological slowness (backtracking).
        #expect(elapsed < .seconds(10))
    }

    // MARK: Shipped profiles

    static let required = [
        "apt-cache", "apk-cache", "dnf-cache", "pip-cache", "npm-cache", "pycache", "tests", "docs",
        "locales", "dev-tools", "safe", "all",
    ]

    @Test("every shipped profile parses, and the required ones exist")
    func shippedProfilesLoad() throws {
        let catalog = try ShippedProfiles.catalog()
        for name in Self.required {
            #expect(catalog.names.contains(name), "missing profile \(name)")
        }
        for name in catalog.names {
            let profile = try catalog.profile(named: name)
            #expect(profile.file?.hasSuffix("/\(name).yaml") == true)
            #expect(!profile.summary.isEmpty, "\(name) has no description")
            #expect(!profile.riskSummary.isEmpty, "\(name) has no risk note")
            #expect(profile.summary.count <= 64, "\(name): the description's first line is the table summary")
            #expect(profile.riskSummary.count <= 64, "\(name): the risk's first line is the table summary")
            let expanded = try catalog.expand([name])
            #expect(!expanded.isEmpty)
            #expect(Set(expanded.map(\.name)).count == expanded.count)
            #expect(expanded.allSatisfy { $0.isConcrete })
        }
    }

    @Test("safe holds only profiles that never break an app; all holds every profile")
    func composites() throws {
        let catalog = try ShippedProfiles.catalog()
        let safe = try catalog.expand(["safe"]).map(\.name)
        #expect(safe == ["apt-cache", "apk-cache", "dnf-cache", "pip-cache", "npm-cache", "pycache", "docs"])
        for risky in ["tests", "dev-tools", "locales", "conda-cache", "uv-cache"] {
            #expect(!safe.contains(risky))
        }
        let all = Set(try catalog.expand(["all"]).map(\.name))
        let concrete = try catalog.names.filter { try catalog.profile(named: $0).include.isEmpty }
        #expect(all == Set(concrete))
        // Asking twice for the same profile applies it once.
        #expect(try catalog.expand(["pycache", "safe", "pycache"]).filter { $0.name == "pycache" }.count == 1)
    }

    @Test("the default directory is found from the source tree")
    func defaultDirectory() throws {
        guard TestEnvironment.profilesOverride == nil else { return }
        let directory = try #require(ProfileCatalog.defaultDirectory())
        #expect(FileManager.default.fileExists(atPath: directory + "/pycache.yaml"))
    }

    // MARK: What each profile removes

    // These go through `Selector`, the code `slim` runs, on a tree holding the one path.
    @Test(
        "shipped profiles remove and keep the right paths",
        arguments: [
            // apt-cache
            ("apt-cache", "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", true),
            ("apt-cache", "var/lib/apt/lists/partial", true),
            ("apt-cache", "var/lib/apt/lists", false),
            ("apt-cache", "var/cache/apt/archives/curl_7.88.1-10_amd64.deb", true),
            ("apt-cache", "var/cache/apt/archives/lock", false),
            ("apt-cache", "var/cache/apt/archives/partial", false),
            ("apt-cache", "var/cache/apt/pkgcache.bin", true),
            ("apt-cache", "var/cache/apt/srcpkgcache.bin", true),
            ("apt-cache", "var/lib/dpkg/status-old", true),
            ("apt-cache", "var/lib/dpkg/status", false),
            ("apt-cache", "var/lib/dpkg/info/bash.list", false),
            ("apt-cache", "var/lib/apt/extended_states", false),
            ("apt-cache", "var/cache/debconf/templates.dat-old", true),
            ("apt-cache", "var/cache/debconf/config.dat", false),
            ("apt-cache", "var/log/apt/history.log", true),
            ("apt-cache", "var/log/apt", false),
            ("apt-cache", "var/log/dpkg.log", true),
            // apk-cache, dnf-cache
            ("apk-cache", "var/cache/apk/APKINDEX.5022a8a2.tar.gz", true),
            ("apk-cache", "etc/apk/cache", false),
            ("apk-cache", "lib/apk/db/installed", false),
            ("dnf-cache", "var/cache/dnf/fedora-filenames.solvx", true),
            ("dnf-cache", "var/cache/libdnf5/updates-e042e478e0621ea6/repodata/repomd.xml", true),
            ("dnf-cache", "var/cache/yum/metadata/ubi-9-baseos-rpms/repomd.xml", true),
            ("dnf-cache", "var/log/dnf.librepo.log", true),
            ("dnf-cache", "var/lib/dnf/history.sqlite", false),
            ("dnf-cache", "var/lib/rpm/rpmdb.sqlite", false),
            // pip-cache, npm-cache
            ("pip-cache", "root/.cache/pip/http-v2/a/b/c", true),
            ("pip-cache", "home/app/.cache/pip/wheels/x.whl", true),
            ("pip-cache", "root/.cache/pip", false),
            ("pip-cache", "tmp/pip-install-abc123/numpy/setup.py", true),
            ("pip-cache", "root/.cache/pypoetry/virtualenvs/app-py3.11/bin/python", false),
            ("pip-cache", "usr/local/lib/python3.11/site-packages/pip/_internal/cache.py", false),
            ("npm-cache", "root/.npm/_cacache/index-v5/00/ab", true),
            ("npm-cache", "home/node/.npm/_logs/2024-01-01-debug-0.log", true),
            ("npm-cache", "root/.npm/_npx/1234/node_modules/cowsay/index.js", false),
            ("npm-cache", "usr/local/share/.cache/yarn/v6/npm-left-pad-1.3.0/package.json", true),
            ("npm-cache", "app/.yarn/cache/lodash-npm-4.17.21.zip", false),
            ("npm-cache", "app/node_modules/lodash/index.js", false),
            // pycache
            ("pycache", "usr/lib/python3/dist-packages/flask/__pycache__", true),
            ("pycache", "usr/lib/python3/dist-packages/flask/__pycache__/app.cpython-311.pyc", true),
            ("pycache", "usr/lib/python3/dist-packages/flask/app.py", false),
            ("pycache", "opt/app/sourceless.pyc", false),
            // tests
            ("tests", "usr/local/lib/python3.11/site-packages/numpy/_core/tests/test_api.py", true),
            ("tests", "usr/local/lib/python3.11/site-packages/pandas/tests", true),
            ("tests", "usr/local/lib/python3.11/site-packages/numpy/testing/__init__.py", false),
            ("tests", "usr/local/lib/python3.11/site-packages/numpy/testing/_private/utils.py", false),
            ("tests", "usr/local/lib/python3.11/site-packages/pandas/_testing/__init__.py", false),
            ("tests", "usr/local/lib/python3.11/site-packages/django/test/signals.py", false),
            ("tests", "usr/local/lib/python3.11/site-packages/werkzeug/test.py", false),
            ("tests", "usr/lib/python3/dist-packages/twisted/test/test_x.py", true),
            ("tests", "usr/lib/python3.11/test/support/__init__.py", true),
            ("tests", "usr/local/lib/python3.11/unittest/test/test_case.py", true),
            ("tests", "usr/local/lib/python3.11/unittest/case.py", false),
            ("tests", "usr/local/lib/python3.11/idlelib/idle_test/test_x.py", true),
            ("tests", "usr/lib64/python3.12/site-packages/yaml/tests", true),
            ("tests", "opt/venv/lib/python3.12/site-packages/scipy/special/tests/data/x.npz", true),
            ("tests", "usr/lib/python3/dist-packages/ansible/plugins/test/core.py", false),
            ("tests", "usr/lib/python3/dist-packages/ansible/plugins/test/succeeded.yml", false),
            ("tests", "usr/local/lib/python3.11/site-packages/numpy/testing/tests/test_utils.py", false),
            ("tests", "app/node_modules/qs/test/parse.js", true),
            ("tests", "app/node_modules/@babel/core/test/x.js", true),
            ("tests", "app/node_modules/@scope/test/index.js", false),
            ("tests", "app/node_modules/qs/lib/parse.js", false),
            ("tests", "app/node_modules/qs/lib/test/x.js", false),
            ("tests", "usr/local/bundle/gems/nokogiri-1.16.0/test/x.rb", true),
            ("tests", "usr/local/bundle/gems/rack-3.0.0/lib/rack/test.rb", false),
            ("tests", "usr/local/bundle/specifications/rack-3.0.0.gemspec", false),
            // docs
            ("docs", "usr/share/doc/bash/README.gz", true),
            ("docs", "usr/share/doc/bash/copyright", false),
            ("docs", "usr/share/doc/foo/LICENSE.txt", false),
            ("docs", "usr/share/man/man1/ls.1.gz", true),
            ("docs", "usr/share/man/man1", false),
            ("docs", "usr/share/man/de/man1/ls.1.gz", true),
            ("docs", "usr/share/info/coreutils.info.gz", true),
            ("docs", "usr/share/licenses/bash/COPYING", false),
            ("docs", "usr/share/bash-completion/completions/apt", false),
            // locales
            ("locales", "usr/share/locale/de/LC_MESSAGES/x.mo", true),
            ("locales", "usr/share/locale/pt_BR/LC_MESSAGES/x.mo", true),
            ("locales", "usr/share/locale/en_GB/LC_MESSAGES/x.mo", false),
            ("locales", "usr/share/locale/en/LC_MESSAGES/x.mo", false),
            ("locales", "usr/share/locale/en@quot/LC_MESSAGES/x.mo", false),
            ("locales", "usr/share/locale/locale.alias", false),
            ("locales", "usr/lib/locale/C.utf8/LC_CTYPE", false),
            ("locales", "usr/lib/locale/de_DE.utf8/LC_CTYPE", true),
            ("locales", "usr/lib/locale/en_US.utf8/LC_CTYPE", false),
            ("locales", "usr/lib/locale/locale-archive", false),
            ("locales", "usr/share/i18n/locales/de_DE", true),
            ("locales", "usr/share/i18n/locales/en_US", false),
            ("locales", "usr/share/i18n/locales/iso14651_t1_common", false),
            ("locales", "usr/share/i18n/locales/hi_IN", false),
            ("locales", "usr/share/i18n/SUPPORTED", false),
            ("locales", "usr/local/lib/python3.11/site-packages/django/conf/locale/de/formats.py", false),
            // dev-tools
            ("dev-tools", "usr/lib/gcc/x86_64-linux-gnu/12/cc1", true),
            ("dev-tools", "usr/libexec/gcc/x86_64-alpine-linux-musl/13.2.1/cc1plus", true),
            ("dev-tools", "usr/bin/gcc-12", true),
            ("dev-tools", "usr/bin/x86_64-linux-gnu-ld.bfd", true),
            ("dev-tools", "usr/bin/x86_64-alpine-linux-musl-gcc", true),
            ("dev-tools", "usr/bin/ld", true),
            ("dev-tools", "usr/bin/ld.so", false),
            ("dev-tools", "usr/bin/ldd", false),
            ("dev-tools", "usr/bin/perl5.36-x86_64-linux-gnu", false),
            ("dev-tools", "usr/bin/perl", false),
            ("dev-tools", "usr/include/stdio.h", true),
            ("dev-tools", "usr/local/include/python3.11/Python.h", true),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/libc.a", true),
            ("dev-tools", "usr/local/lib/python3.11/config-3.11-x86_64-linux-gnu/libpython3.11.a", true),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/pkgconfig/zlib.pc", true),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/cmake/Foo/FooConfig.cmake", true),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/libstdc++.so.6", false),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", false),
            ("dev-tools", "lib/x86_64-linux-gnu/libgcc_s.so.1", false),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/libz.so", false),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/libz.so.1", false),
            ("dev-tools", "usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16/coders/png.la", false),
            ("dev-tools", "usr/src/app/main.py", false),
            // conda-cache, uv-cache
            ("conda-cache", "opt/conda/pkgs/numpy-1.26.4-py311h/info/index.json", true),
            ("conda-cache", "opt/conda/lib/python3.11/site-packages/numpy/__init__.py", false),
            ("uv-cache", "root/.cache/uv/wheels-v1/x.whl", true),
            ("uv-cache", "app/.venv/lib/python3.12/site-packages/x.py", false),
        ])
    func shippedProfileDecisions(profile name: String, path: String, removed: Bool) throws {
        let profile = try ShippedProfiles.catalog().profile(named: name)
        #expect((try removal(of: path, by: [profile]) != nil) == removed)
    }

    @Test(
        "keep patterns, which count for the whole run, do not spare other profiles' targets",
        arguments: [
            "usr/local/lib/python3.11/site-packages/numpy/testing/__pycache__/utils.cpython-311.pyc",
            "usr/local/lib/python3.11/site-packages/django/test/__pycache__/client.cpython-311.pyc",
            "usr/local/lib/python3.11/site-packages/pandas/_testing/__pycache__/asserters.cpython-311.pyc",
            "usr/share/doc/libstdc++6/README.gz",
            "usr/share/man/man3/std::vector.3cxx.gz",
            "usr/share/locale/de/LC_MESSAGES/libstdc++.mo",
            "usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h",
            "root/.cache/pip/http-v2/0/1/2",
        ])
    func keepsDoNotLeak(path: String) throws {
        // Every profile's keep patterns are in the policy: none of them may spare the path.
        #expect(try removal(of: path, by: try ShippedProfiles.catalog().expand(["all"])) != nil)
    }

    @Test("a keep pattern spares a path inside a removed directory, and its parent stays reachable")
    func keepInsideRemovedDirectory() throws {
        let docs = try ShippedProfiles.catalog().profile(named: "docs")
        let tree = try FileTree.holding([
            "usr/share/doc/bash/README.gz", "usr/share/doc/bash/copyright", "usr/share/doc/gone/README.gz",
            "usr/share/doc/gone/examples/x",
        ])
        let removals = Selector(policy: SelectionPolicy(profiles: [docs], keep: [], remove: [], protected: [:]))
            .select(tree).removals
        // bash keeps its copyright, so only its README goes; gone keeps nothing and goes whole.
        #expect(removals.map(\.path) == ["usr/share/doc/bash/README.gz", "usr/share/doc/gone"])
        #expect(removals.allSatisfy { $0.rule == "docs:usr/share/doc/**" })
        #expect(removals.last?.isDirectory == true && removals.last?.entries == 2)
        #expect(docs.keep.contains { $0.mayMatchBelow("usr/share/doc/bash") })
        #expect(!docs.keep.contains { $0.mayMatchBelow("usr/share/man/man1") })
    }

    // MARK: Profile documents

    /// A directory of profile files written from `files` (name → text).
    private final class ProfileDirectory {
        let path: String

        init(_ files: [String: String]) throws {
            path =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("whittle-profiles-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (name, text) in files {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name))
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    private static func document(_ name: String, _ body: String = "remove:\n  - \"a/**\"\n") -> String {
        "version: 1\nname: \(name)\ndescription: d\nrisk: r\n" + body
    }

    /// The error loading `text` as `bad.yaml` gives, with that file's path.
    private func loadError(_ text: String) throws -> (ProfileError, String) {
        let directory = try ProfileDirectory(["bad.yaml": text])
        let file = directory.path + "/bad.yaml"
        do {
            _ = try ProfileCatalog.loadFile(file)
        } catch let error as ProfileError {
            return (error, file)
        }
        throw ProfileError.malformed(file: file, reason: "expected an error, but it loaded")
    }

    @Test("a profile file is read with defaults for the optional keys")
    func minimalDocument() throws {
        let directory = try ProfileDirectory(["tiny.yaml": "version: 1\nname: tiny\nremove: [\"x/**\", /y]\n"])
        let profile = try ProfileCatalog.loadFile(directory.path + "/tiny.yaml")
        #expect(profile.name == "tiny")
        #expect(profile.description == "")
        #expect(profile.remove.map(\.text) == ["x/**", "/y"])
        #expect(profile.keep.isEmpty && profile.include.isEmpty)
        #expect(profile.file == directory.path + "/tiny.yaml")
    }

    @Test("an unknown key is named, with its file and line")
    func unknownKey() throws {
        let (error, file) = try loadError(Self.document("bad", "remove:\n  - a\nremvoe:\n  - b\n"))
        #expect(error == .unknownKey(file: file, key: "remvoe", line: 7))
        #expect(error.description.contains("\(file):7"))
        #expect(error.description.contains("'remvoe'"))
    }

    @Test("another format version is refused, naming the file")
    func wrongVersion() throws {
        let (error, file) = try loadError("version: 3\nname: bad\nremove: [a]\n")
        #expect(error == .unsupportedVersion(file: file, version: "3"))
        #expect(error.description.contains(file))
        #expect(error.description.contains("version: 1"))
    }

    @Test(
        "malformed documents are refused, naming the file",
        arguments: [
            ("name: bad\nremove: [a]\n", "missing 'version: 1'"),
            ("version: 1\nremove: [a]\n", "missing 'name:'"),
            ("version: 1\nname: Bad Name\nremove: [a]\n", "must be lowercase"),
            ("version: 1\nname: bad\n", "removes nothing"),
            ("version: 1\nname: bad\nkeep: [a]\n", "removes nothing"),
            ("version: 1\nname: bad\nremove: a/**\n", "'remove' must be a list"),
            ("version: 1\nname: bad\nremove:\n  - [a]\n", "items of 'remove' must be text"),
            ("version: 1\nname: bad\nremove: [a]\nremove: [b]\n", "duplicated key"),
            ("version: 1\nname: bad\nremove:\n  - \"a**b\"\n", "line 4: in 'remove'"),
            ("version: 1\nname: bad\nremove:\n  - **/__pycache__\n", "must be quoted"),
            ("- just\n- a list\n", "expected a mapping"),
            ("version: 1\nname: [unclosed\n", "not valid YAML"),
        ])
    func malformedDocument(text: String, message: String) throws {
        let (error, file) = try loadError(text)
        #expect(error.description.hasPrefix(file), "\(error)")
        #expect(error.description.contains(message), "\(error)")
    }

    @Test("a missing file is an error naming it")
    func missingFile() {
        do {
            _ = try ProfileCatalog.loadFile("/nonexistent/p.yaml")
            Issue.record("expected an error")
        } catch let ProfileError.unreadable(path, reason) {
            #expect(path == "/nonexistent/p.yaml")
            #expect(reason.lowercased().contains("no such file"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a catalog refuses mismatched names, duplicates, unknown includes and cycles")
    func catalogConsistency() throws {
        let mismatched = try ProfileDirectory(["one.yaml": Self.document("two")])
        #expect(throws: ProfileError.self) { try ProfileCatalog.load(directory: mismatched.path) }

        let unknown = try ProfileDirectory(["a.yaml": Self.document("a", "include: [nope]\n")])
        #expect(throws: ProfileError.unknownProfile("nope", known: ["a"], referencedBy: "a")) {
            try ProfileCatalog.load(directory: unknown.path)
        }

        let cycle = try ProfileDirectory([
            "a.yaml": Self.document("a", "include: [b]\n"),
            "b.yaml": Self.document("b", "include: [c]\n"),
            "c.yaml": Self.document("c", "include: [a]\n"),
        ])
        #expect(throws: ProfileError.includeCycle(["a", "b", "c", "a"])) {
            try ProfileCatalog.load(directory: cycle.path)
        }

        let empty = try ProfileDirectory(["README.md": "no profiles"])
        #expect(throws: ProfileError.noProfiles(directory: empty.path)) {
            try ProfileCatalog.load(directory: empty.path)
        }

        let catalog = try ShippedProfiles.catalog()
        #expect(
            throws: ProfileError.duplicateName(
                "pycache",
                files: [
                    ShippedProfiles.directory + "/pycache.yaml", "(built in)",
                ])
        ) {
            try catalog.adding(Profile(name: "pycache", remove: [PathPattern("x")]))
        }
    }

    @Test("an unknown profile name lists the known ones")
    func unknownProfileName() throws {
        let catalog = try ShippedProfiles.catalog()
        do {
            _ = try catalog.profile(named: "pycahce")
            Issue.record("expected an error")
        } catch let error as ProfileError {
            #expect(error.description.contains("'pycahce'"))
            #expect(error.description.contains("pycache"))
            #expect(error.description.contains("dev-tools"))
        }
        #expect(throws: ProfileError.self) { try catalog.expand(["safe", "nope"]) }
    }

    @Test("a composite's keep patterns are carried by the profiles it includes")
    func compositeKeeps() throws {
        let base = try ShippedProfiles.catalog()
        let user = Profile(name: "mine", keep: [try PathPattern("usr/share/locale/de/**")], include: ["all"])
        let catalog = try base.adding(user)
        for request in [["mine"], ["locales", "mine"]] {
            let locales = try #require(try catalog.expand(request).first { $0.name == "locales" })
            #expect(locales.keep.contains(try PathPattern("usr/share/locale/de/**")))
            #expect(try removal(of: "usr/share/locale/de/LC_MESSAGES/x.mo", by: [locales]) == nil)
            #expect(try removal(of: "usr/share/locale/fr/LC_MESSAGES/x.mo", by: [locales]) != nil)
        }
        // Without the composite, the shipped profile is unchanged.
        let plain = try #require(try catalog.expand(["locales"]).first)
        #expect(try removal(of: "usr/share/locale/de/LC_MESSAGES/x.mo", by: [plain]) != nil)
    }

    // MARK: The profiles command

    @Test("profiles list prints every profile with its summary and risk")
    func listCommand() throws {
        let catalog = try ShippedProfiles.catalog()
        let table = try ProfileListing.table(catalog)
        let lines = table.split(separator: "\n")
        #expect(lines.count == catalog.names.count + 1)
        #expect(lines[0].hasPrefix("NAME"))
        for name in catalog.names {
            let profile = try catalog.profile(named: name)
            let line = try #require(lines.first { $0.hasPrefix(name + " ") })
            #expect(line.contains(profile.summary))
            #expect(line.contains(profile.riskSummary))
        }
    }

    @Test("profiles show prints the file, and a composite's expansion")
    func showCommand() throws {
        let catalog = try ShippedProfiles.catalog()
        let pycache = try ProfileListing.show("pycache", in: catalog)
        #expect(pycache.contains("name: pycache"))
        #expect(pycache.contains("\"**/__pycache__\""))
        let safe = try ProfileListing.show("safe", in: catalog)
        #expect(
            safe.contains("# 'safe' expands to: apt-cache, apk-cache, dnf-cache, pip-cache, npm-cache, pycache, docs"))
        #expect(throws: ProfileError.self) { try ProfileListing.show("nope", in: catalog) }
    }

    @Test("profiles show with an unknown name fails through the command")
    func showCommandFails() throws {
        let directory = ShippedProfiles.directory
        var command = try ProfilesCommand.parseAsRoot(["show", "nope", "--profiles-dir", directory])
        #expect(throws: ProfileError.self) { try command.run() }
    }
}

/// The pattern semantics written as directly as possible, to check the compiled matcher.
private func referenceMatch(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
    guard let first = pattern.first else { return path.isEmpty }
    if first == "**" {
        // At the end, one or more components; elsewhere, zero or more.
        if pattern.count == 1 { return !path.isEmpty }
        return (0...path.count).contains { referenceMatch(pattern.dropFirst(), path.dropFirst($0)) }
    }
    guard let component = path.first,
        referenceGlob(Array(first.unicodeScalars)[...], Array(component.unicodeScalars)[...])
    else { return false }
    return referenceMatch(pattern.dropFirst(), path.dropFirst())
}

private func referenceGlob(_ pattern: ArraySlice<Unicode.Scalar>, _ name: ArraySlice<Unicode.Scalar>) -> Bool {
    guard let first = pattern.first else { return name.isEmpty }
    if first == "*" {
        return (0...name.count).contains { referenceGlob(pattern.dropFirst(), name.dropFirst($0)) }
    }
    guard let character = name.first, first == "?" || first == character else { return false }
    return referenceGlob(pattern.dropFirst(), name.dropFirst())
}

/// A small deterministic generator, so generated cases are the same on every run.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
