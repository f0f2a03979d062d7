import Foundation
import Testing
import WhittleImage
@testable import WhittleRegistry
@testable import WhittleTestSupport

private let ciRun = ProcessInfo.processInfo.environment["CI"] == "true"
private let busybox = "whittle-fixture/busybox-app:1"

@Suite("Image references in skopeo's transport syntax")
struct ImageLocationTests {
    static let digest = "sha256:" + String(repeating: "ab", count: 32)

    @Test(
        "each transport parses into one place",
        arguments: [
            ("app.tar", ImageLocation.path("app.tar")),
            ("./dir:with:colons", .path("./dir:with:colons")),
            ("docker-archive:app.tar", .local(.dockerArchive, path: "app.tar", reference: nil)),
            ("docker-archive:app.tar:app:1", .local(.dockerArchive, path: "app.tar", reference: "app:1")),
            ("oci-archive:/tmp/x.tar", .local(.ociArchive, path: "/tmp/x.tar", reference: nil)),
            ("oci:layout:latest", .local(.ociLayout, path: "layout", reference: "latest")),
            ("docker-daemon:app:1", .daemon("app:1")),
            ("docker-daemon:team/app", .daemon("team/app:latest")),
            (
                "docker://127.0.0.1:5000/app:1",
                .registry(RegistryReference(host: "127.0.0.1:5000", repository: "app", tag: "1", digest: nil))
            ),
            (
                "docker://localhost/team/app",
                .registry(RegistryReference(host: "localhost", repository: "team/app", tag: "latest", digest: nil))
            ),
            (
                "docker://registry.example/app@\(digest)",
                .registry(RegistryReference(host: "registry.example", repository: "app", tag: nil, digest: digest))
            ),
            (
                "docker://alpine:3",
                .registry(
                    RegistryReference(host: "registry-1.docker.io", repository: "library/alpine", tag: "3", digest: nil)
                )
            ),
        ])
    func parses(text: String, expected: ImageLocation) throws {
        #expect(try ImageLocation(parsing: text) == expected)
    }

    @Test("the name an image from a registry carries: Docker Hub's in its short form")
    func names() throws {
        func name(_ text: String) throws -> String {
            guard case let .registry(reference) = try ImageLocation(parsing: text) else { return "" }
            return ImageName.familiar(reference.name)
        }
        #expect(try name("docker://alpine:3") == "alpine:3")
        #expect(try name("docker://docker.io/team/app") == "team/app:latest")
        #expect(try name("docker://127.0.0.1:5000/app:1") == "127.0.0.1:5000/app:1")
    }

    @Test(
        "malformed references are refused with what is wrong",
        arguments: [
            ("docker:app", "docker: is followed by //HOST/REPO"),
            ("docker://Registry.example/App:1", "lowercase"),
            ("docker://registry.example/app@sha256:abc", "64 lowercase hex"),
            ("docker://registry.example//app", "HOST[:PORT]/REPO"),
            ("docker-daemon:", "NAME:TAG"),
        ])
    func refuses(text: String, message: String) {
        #expect { try ImageLocation(parsing: text) } throws: { "\($0)".contains(message) }
    }

    @Test("WWW-Authenticate challenges: Basic and Bearer with quoted parameters")
    func challenges() throws {
        let bearer = try #require(
            AuthChallenge(
                header:
                    #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ))
        #expect(bearer.scheme == "bearer")
        #expect(
            bearer.parameters == [
                "realm": "https://auth.example/token", "service": "registry.example",
                "scope": "repository:a/b:pull,push",
            ])
        let basic = try #require(AuthChallenge(header: #"Basic realm="say \"hi\"""#))
        #expect(basic == AuthChallenge(scheme: "basic", parameters: ["realm": #"say "hi""#]))
    }

    @Test("credentials: --creds first, then auth files' auths, then credential helpers as Docker calls them")
    func credentials() throws {
        let work = try TestDirectory()
        let helper = work.path("docker-credential-whittletest")
        try """
        #!/bin/sh
        read host
        if [ "$host" = "helped.example" ]; then echo '{"Username":"helper-user","Secret":"helper-pass"}'; \
        else echo "credentials not found in native keychain"; exit 1; fi
        """.write(toFile: helper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: helper)
        let basic = Data("file-user:file-pass".utf8).base64EncodedString()
        try #"{"auths":{"https://filed.example":{"auth":"\#(basic)"}},"credHelpers":{"helped.example":"whittletest"}}"#
            .write(toFile: work.path("config.json"), atomically: true, encoding: .utf8)
        let environment = [
            "DOCKER_CONFIG": work.url.path, "PATH": work.url.path + ":/usr/bin:/bin", "HOME": work.url.path,
        ]
        let access = RegistryAccess(environment: environment)
        #expect(try access.credential(for: "filed.example") == Credential(username: "file-user", password: "file-pass"))
        #expect(
            try access.credential(for: "helped.example") == Credential(username: "helper-user", password: "helper-pass")
        )
        #expect(try access.credential(for: "other.example") == nil)
        let given = RegistryAccess(credentials: "me:pa:ss", environment: environment)
        #expect(try given.credential(for: "filed.example") == Credential(username: "me", password: "pa:ss"))
        // A credsStore answers for every registry the file has nothing else for.
        let store = work.path("store")
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try #"{"credsStore":"whittletest"}"#.write(toFile: store + "/config.json", atomically: true, encoding: .utf8)
        let stored = RegistryAccess(environment: environment.merging(["DOCKER_CONFIG": store]) { $1 })
        #expect(
            try stored.credential(for: "helped.example") == Credential(username: "helper-user", password: "helper-pass")
        )
        #expect(try stored.credential(for: "other.example") == nil)
        // REGISTRY_AUTH_FILE is read before Docker's file.
        try #"{"auths":{"filed.example":{"username":"podman-user","password":"podman-pass"}}}"#
            .write(toFile: work.path("auth.json"), atomically: true, encoding: .utf8)
        let podman = RegistryAccess(
            environment: environment.merging(["REGISTRY_AUTH_FILE": work.path("auth.json")]) { $1 })
        #expect(
            try podman.credential(for: "filed.example") == Credential(username: "podman-user", password: "podman-pass"))
    }
}

/// whittle driven as a user would, against Debian's registry with TLS from a test CA.
@Suite(
    "Registries and the Docker engine: docker:// and docker-daemon: in and out", .serialized,
    .enabled(if: LocalRegistry.available || ciRun, "needs docker-registry, htpasswd, openssl and skopeo"))
struct RegistryTests {
    private func whittle(
        _ arguments: String, environment: [String: String] = [:]
    ) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let result = try shell("\(quoted(try whittleExecutable())) \(arguments)", environment: environment)
        return (result.status, String(decoding: result.stdout, as: UTF8.self), result.stderr)
    }

    private func sameBytes(_ a: String, _ b: String) -> Bool {
        FileManager.default.contentsEqual(atPath: a, andPath: b)
    }

    @Test("pull by tag and by digest gives exactly the bytes slim gives from the saved file")
    func pullByTagAndDigest() throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let work = try TestDirectory()
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let reference = work.path("from-file.tar")
        let file = try whittle(
            "slim \(quoted(fixture("busybox-app.docker.tar"))) -o \(quoted(reference)) --tag t:1 --profile safe")
        #expect(file.status == 0, "\(file.stderr)")
        let byTag = work.path("by-tag.tar")
        let pulled = try whittle(
            "slim \(registry.reference("app:1")) -o \(quoted(byTag)) --tag t:1 --profile safe \(registry.whittleFlags)")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(sameBytes(byTag, reference))
        let digest = try registry.digest(of: "app:1")
        let byDigest = work.path("by-digest.tar")
        let pinned = try whittle(
            "slim \(registry.reference("app@" + digest)) -o \(quoted(byDigest)) --tag t:1 --profile safe \(registry.whittleFlags)"
        )
        #expect(pinned.status == 0, "\(pinned.stderr)")
        #expect(sameBytes(byDigest, reference))
        // inspect reads the same way, and names the image by its reference.
        let inspected = try whittle("inspect \(registry.reference("app:1")) \(registry.whittleFlags)")
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(inspected.stdout.contains(registry.reference("app:1")))
    }

    @Test("a registry that asks for a client certificate: --cert-dir's *.cert and *.key answer it")
    func clientCertificate() throws {
        let registry = try LocalRegistry(requireClientCertificate: true)
        defer { registry.stop() }
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let work = try TestDirectory()
        // The same CA without the client's certificate: the registry ends the handshake.
        let caOnly = work.path("ca-only")
        try FileManager.default.createDirectory(atPath: caOnly, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: registry.certificates + "/ca.crt", toPath: caOnly + "/ca.crt")
        let credentials = "--creds \(registry.user):\(registry.password)"
        let refused = try whittle(
            "slim \(registry.reference("app:1")) -o \(quoted(work.path("refused.tar"))) --cert-dir \(quoted(caOnly)) \(credentials)"
        )
        #expect(refused.status != 0)
        #expect(refused.stderr.contains(registry.host), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work.path("refused.tar")))
        let expected = work.path("expected.tar")
        #expect(
            try whittle("slim \(quoted(fixture("busybox-app.docker.tar"))) -o \(quoted(expected)) --tag t:1").status
                == 0)
        let pulled = work.path("pulled.tar")
        let answered = try whittle(
            "slim \(registry.reference("app:1")) -o \(quoted(pulled)) --tag t:1 \(registry.whittleFlags)")
        #expect(answered.status == 0, "\(answered.stderr)")
        #expect(sameBytes(pulled, expected))
    }

    @Test("--src-creds and --dest-creds: from one registry to another, each with its own account")
    func twoAccounts() throws {
        let source = try LocalRegistry(user: "reader", password: "source-secret")
        defer { source.stop() }
        let target = try LocalRegistry(user: "writer", password: "target-secret")
        defer { target.stop() }
        try source.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        // One --cert-dir trusts both registries' CAs.
        let work = try TestDirectory()
        let trust = work.path("trust")
        try FileManager.default.createDirectory(atPath: trust, withIntermediateDirectories: false)
        for (name, registry) in [("source", source), ("target", target)] {
            try FileManager.default.copyItem(atPath: registry.certificates + "/ca.crt", toPath: "\(trust)/\(name).crt")
        }
        let slim = "slim \(source.reference("app:1")) -o \(target.reference("app:slim")) --cert-dir \(quoted(trust))"
        // --creds alone is the source's account, which the target refuses: nothing is pushed.
        let refused = try whittle("\(slim) --creds reader:source-secret")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains(target.host), "\(refused.stderr)")
        let pushed = try whittle("\(slim) --src-creds reader:source-secret --dest-creds writer:target-secret")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let inspected = try run(
            "/usr/bin/skopeo",
            ["inspect", "--cert-dir", trust, "--creds", "writer:target-secret", target.reference("app:slim")])
        #expect(inspected.contains("\"Layers\""), "\(inspected)")
    }

    @Test("a multi-platform index: --platform chooses, the host's platform is the default, a missing one is named")
    func multiPlatform() throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let work = try TestDirectory()
        let layout = try multiPlatformLayout(in: work)
        try run(
            "/usr/bin/skopeo",
            [
                "--insecure-policy", "copy", "-q", "--all", "--dest-cert-dir", registry.certificates,
                "--dest-creds", "\(registry.user):\(registry.password)", "oci:\(layout.index)",
                registry.reference("multi:1"),
            ])
        for (platform, single) in [("linux/arm64", layout.arm64), ("linux/amd64", layout.amd64)] {
            let expected = work.path("expected-\(platform.split(separator: "/")[1]).tar")
            #expect(try whittle("slim \(quoted(single)) -o \(quoted(expected)) --tag t:1").status == 0)
            let got = work.path("got-\(platform.split(separator: "/")[1]).tar")
            let pulled = try whittle(
                "slim \(registry.reference("multi:1")) --platform \(platform) -o \(quoted(got)) --tag t:1 \(registry.whittleFlags)"
            )
            #expect(pulled.status == 0, "\(pulled.stderr)")
            #expect(sameBytes(got, expected))
        }
        let host = work.path("host.tar")
        #expect(
            try whittle("slim \(registry.reference("multi:1")) -o \(quoted(host)) --tag t:1 \(registry.whittleFlags)")
                .status == 0)
        #expect(sameBytes(host, work.path("expected-amd64.tar")))
        let missing = try whittle(
            "slim \(registry.reference("multi:1")) --platform linux/s390x -o \(quoted(work.path("none.tar"))) \(registry.whittleFlags)"
        )
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no variant for linux/s390x") && missing.stderr.contains("linux/arm64"))
        #expect(!FileManager.default.fileExists(atPath: work.path("none.tar")))
    }

    @Test(
        "failures name the registry, the step and the status, and leave no output",
        arguments: [
            ("wrong password", "HTTP 401"), ("unknown tag", "check the repository name and the tag"),
            ("digest mismatch", "hashes to"), ("untrusted CA", "--cert-dir"),
        ])
    func failures(kind: String, message: String) throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        let work = try TestDirectory()
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        var image = registry.reference("app:1")
        var flags = registry.whittleFlags
        switch kind {
        case "wrong password":
            flags = "--cert-dir \(quoted(registry.certificates)) --creds \(registry.user):wrong"
        case "unknown tag":
            image = registry.reference("app:nope")
        case "digest mismatch":
            try corruptLargestBlob(of: registry, in: work)
        default:
            flags = "--creds \(registry.user):\(registry.password)"
        }
        let output = work.path("out.tar")
        let failed = try whittle("slim \(image) -o \(quoted(output)) \(flags)", environment: ["TMPDIR": work.url.path])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains(message), "\(failed.stderr)")
        #expect(failed.stderr.contains(registry.host), "\(failed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.url.path) == [])
    }

    @Test("a push with a wrong password changes nothing: the tag stays where it was")
    func failedPushLeavesTheTag() throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let before = try registry.digest(of: "app:1")
        let failed = try whittle(
            "slim \(registry.reference("app:1")) -o \(registry.reference("app:1")) --profile safe "
                + "--cert-dir \(quoted(registry.certificates)) --creds \(registry.user):wrong")
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("HTTP 401"))
        #expect(try registry.digest(of: "app:1") == before)
    }

    @Test("a registry that dies mid-upload: an error naming the upload, and the tag where it was")
    func diesMidUpload() throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let before = try registry.digest(of: "app:1")
        // The slimmed layer is about 2 MB; the connection dies after 512 KiB of it.
        let proxy = try ScriptServer(
            script: "dying_proxy.py",
            arguments: [String(registry.host.split(separator: ":")[1]), String(512 << 10)])
        defer { proxy.stop() }
        let failed = try whittle(
            "slim \(registry.reference("app:1")) -o docker://127.0.0.1:\(proxy.port)/app:1 "
                + "--profile safe \(registry.whittleFlags)")
        #expect(failed.status != 0)
        #expect(
            failed.stderr.contains("127.0.0.1:\(proxy.port)") && failed.stderr.contains("broke (upload blob"),
            "\(failed.stderr)")
        #expect(try registry.digest(of: "app:1") == before)
    }

    @Test("behind a proxy that refuses large bodies (413), a blob goes up in PATCH parts")
    func uploadInParts() throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let proxy = try ScriptServer(
            script: "size_limit_proxy.py",
            arguments: [
                String(registry.host.split(separator: ":")[1]), registry.certificates + "/ca.crt",
                registry.directory.path("server.crt"), registry.directory.path("server.key"), String(1 << 20),
            ])
        defer { proxy.stop() }
        let pushed = try whittle(
            "slim \(registry.reference("app:1")) -o docker://127.0.0.1:\(proxy.port)/app:parts "
                + "--profile safe --format json \(registry.whittleFlags)")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let report = try JSONDecoder().decode(JSONValue.self, from: Data(pushed.stdout.utf8))
        // The layer (about 2 MB) could only have passed the proxy in parts of at most 1 MiB.
        #expect(
            report["outputTarballBytes"].flatMap { if case let .integer(bytes) = $0 { bytes } else { nil } } ?? 0 > 1
                << 20)
        #expect(report["pushedDigest"] == .string(try registry.digest(of: "app:parts")))
    }

    @Test(
        "registry to registry with Basic auth; the engine pulls the result and it answers as the original",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func pushThenEnginePulls() throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try pushRoundTrip(registry)
    }

    @Test(
        "registry to registry with token auth from the registry's realm",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func tokenAuth() throws {
        let issuer = try TokenIssuer(user: "whittle", password: "not-a-secret")
        defer { issuer.stop() }
        let registry = try LocalRegistry(auth: .token(issuer))
        defer { registry.stop() }
        try pushRoundTrip(registry)
        let refused = try whittle(
            "inspect \(registry.reference("app:1")) --cert-dir \(quoted(registry.certificates)) "
                + "--creds \(registry.user):wrong")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("issue a token") && refused.stderr.contains("HTTP 401"), "\(refused.stderr)")
    }

    @Test("a token that has run out is renewed once from the realm, and the pull goes on")
    func expiredTokenRenewed() throws {
        let issuer = try TokenIssuer(user: "whittle", password: "not-a-secret", expireFirst: true)
        defer { issuer.stop() }
        let registry = try LocalRegistry(auth: .token(issuer))
        defer { registry.stop() }
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let inspected = try whittle("inspect \(registry.reference("app:1")) \(registry.whittleFlags)")
        #expect(inspected.status == 0, "\(inspected.stderr)")
        #expect(inspected.stdout.contains("whittle-fixture") || inspected.stdout.contains(registry.host))
    }

    @Test("-o docker-archive:PATH:NAME:TAG writes PATH and names the image NAME:TAG")
    func namedArchiveOutput() throws {
        let work = try TestDirectory()
        let output = work.path("named.tar")
        let written = try whittle("slim \(quoted(fixture("corners.oci.tar"))) -o docker-archive:\(output):named/app:7")
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stdout.contains("wrote \(output) (named/app:7)"))
        let inspected = try whittle("inspect oci-archive:\(output)")
        #expect(inspected.stdout.hasPrefix("named/app:7 (oci-archive:\(output))"))
    }

    @Test(
        "docker-daemon: in and out through the engine's socket, with no docker CLI on PATH",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func daemonInAndOut() throws {
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        try engine.docker("load", "-q", "-i", fixture("busybox-app.docker.tar"))
        let environment = ["DOCKER_HOST": engine.host, "PATH": "/nonexistent"]
        let slimmed = try whittle(
            "slim docker-daemon:\(busybox) -o docker-daemon:whittle-fixture/busybox-app:slim "
                + "--profile safe", environment: environment)
        #expect(slimmed.status == 0, "\(slimmed.stderr)")
        #expect(slimmed.stdout.contains("loaded into the Docker engine"))
        let answer = try engine.docker("run", "--rm", "--network", "none", "whittle-fixture/busybox-app:slim")
        #expect(answer == (try String(contentsOfFile: fixture("busybox-app.expected-output.txt"), encoding: .utf8)))
        let layers = try engine.docker(
            "image", "inspect", "--format", "{{len .RootFS.Layers}}",
            "whittle-fixture/busybox-app:slim")
        #expect(layers.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let missing = try whittle("inspect docker-daemon:no-such/image:1", environment: environment)
        #expect(missing.status != 0)
        #expect(
            missing.stderr.contains("HTTP 404") && missing.stderr.contains("export no-such/image:1"),
            "\(missing.stderr)")
    }

    // MARK: helpers

    /// Pulls app:1, slims it, pushes app:slim with --digestfile; the engine pulls the pushed
    /// image by that digest and runs it with the original's answer.
    private func pushRoundTrip(_ registry: LocalRegistry) throws {
        let work = try TestDirectory()
        try registry.seed(fixture("busybox-app.docker.tar"), as: "app:1")
        let digestFile = work.path("digest")
        let pushed = try whittle(
            "slim \(registry.reference("app:1")) -o \(registry.reference("app:slim")) --profile safe "
                + "--digestfile \(quoted(digestFile)) \(registry.whittleFlags)")
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let digest = try String(contentsOfFile: digestFile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(try registry.digest(of: "app:slim") == digest)
        #expect(pushed.stdout.contains("digest: \(digest)"))
        // The same input and flags push the same manifest again, and the JSON report names it.
        let again = try whittle(
            "slim \(registry.reference("app:1")) -o \(registry.reference("app:again")) --profile safe "
                + "--format json \(registry.whittleFlags)")
        #expect(again.status == 0, "\(again.stderr)")
        let report = try JSONDecoder().decode(JSONValue.self, from: Data(again.stdout.utf8))
        #expect(report["pushedDigest"] == .string(digest))

        // dockerd counts registries on 127.0.0.0/8 as insecure (TLS without the certificate
        // check) unless told otherwise, so the engine takes the test CA's registry as it is.
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let config = work.path("docker-config")
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["DOCKER_CONFIG"] = config
        let docker = { (arguments: [String]) in
            try run(
                "/usr/bin/env", ["docker", "-H", engine.host] + arguments,
                environment: environment)
        }
        try docker(["login", "-u", registry.user, "-p", registry.password, registry.host])
        let image = "\(registry.host)/app@\(digest)"
        try docker(["pull", "-q", image])
        let answer = try docker(["run", "--rm", "--network", "none", image])
        #expect(answer == (try String(contentsOfFile: fixture("busybox-app.expected-output.txt"), encoding: .utf8)))
    }

    /// Overwrites the biggest blob in the registry's storage with as many other bytes: the
    /// registry serves it as it is, so only the client's check can notice.
    private func corruptLargestBlob(of registry: LocalRegistry, in work: TestDirectory) throws {
        let listing = try run(
            "/usr/bin/find",
            [
                registry.directory.path("data/docker/registry/v2/blobs"), "-name", "data",
                "-type", "f", "-printf", "%s %p\\n",
            ])
        let largest = listing.split(separator: "\n").compactMap { line -> (Int, String)? in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let size = Int(parts[0]) else { return nil }
            return (size, String(parts[1]))
        }.max { $0.0 < $1.0 }
        let (size, path) = try #require(largest)
        try Data(repeating: 0x5a, count: size).write(to: URL(fileURLWithPath: path))
    }

    /// An OCI layout holding one image for linux/amd64 and another for linux/arm64 under one
    /// index, and each alone.
    private func multiPlatformLayout(in work: TestDirectory) throws -> (index: String, amd64: String, arm64: String) {
        func image(_ architecture: String) throws -> String {
            var layer = TestLayer()
            layer.file("etc/arch", architecture + "\n")
            var builder = TestImageBuilder(layers: [layer])
            builder.extraConfig["architecture"] = .string(architecture)
            return try builder.writeOCILayout(in: work.url)
        }
        let amd64 = try image("amd64"), arm64 = try image("arm64")
        let combined = work.path("multi")
        try FileManager.default.createDirectory(atPath: combined + "/blobs/sha256", withIntermediateDirectories: true)
        var manifests: [Descriptor] = []
        for (layout, architecture) in [(amd64, "amd64"), (arm64, "arm64")] {
            for blob in try FileManager.default.contentsOfDirectory(atPath: layout + "/blobs/sha256")
            where !FileManager.default.fileExists(atPath: combined + "/blobs/sha256/" + blob) {
                try FileManager.default.copyItem(
                    atPath: layout + "/blobs/sha256/" + blob,
                    toPath: combined + "/blobs/sha256/" + blob)
            }
            let index = try JSONDecoder().decode(
                ImageIndex.self, from: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
            var descriptor = try #require(index.manifests.first)
            descriptor.annotations = nil
            descriptor.platform = Platform(architecture: architecture, os: "linux")
            manifests.append(descriptor)
        }
        // index.json names one image index, which names the two manifests (as skopeo --all wants it).
        let inner = try JSONEncoder().encode(ImageIndex(manifests: manifests))
        let innerDigest = sha256Digest(of: Array(inner))
        try inner.write(to: URL(fileURLWithPath: combined + "/blobs/sha256/" + innerDigest.dropFirst(7)))
        try JSONEncoder().encode(
            ImageIndex(manifests: [
                Descriptor(mediaType: MediaType.ociIndex, digest: innerDigest, size: Int64(inner.count))
            ])
        ).write(to: URL(fileURLWithPath: combined + "/index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: combined + "/oci-layout"))
        return (combined, amd64, arm64)
    }
}
