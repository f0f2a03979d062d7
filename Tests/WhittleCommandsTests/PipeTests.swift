import Foundation
import Testing
import WhittleImage
@testable import WhittleTestSupport

@Suite("Pipes: - reads the image from standard input, -o - writes the tarball to standard output", .serialized)
struct PipeTests {
    /// The inspect report without the line and field that name the input.
    private func inspectJSON(_ data: Data) throws -> JSONValue {
        var value = try JSONDecoder().decode(JSONValue.self, from: data)
        value["image"] = nil
        return value
    }

    @Test(
        "inspect - equals inspect FILE, from a pipe, a gzip pipe and a redirected file",
        arguments: ["cat %@ |", "gzip -c < %@ |", "< %@"])
    func inspectFromStandardInput(feed: String) throws {
        let whittle = quoted(try whittleExecutable())
        let input = fixture("busybox-app.docker.tar")
        let file = try shell("\(whittle) inspect \(quoted(input)) --format json")
        #expect(file.status == 0, "\(file.stderr)")
        let pipe = feed.replacingOccurrences(of: "%@", with: quoted(input))
        let command =
            pipe.hasPrefix("<")
            ? "\(whittle) inspect - --format json \(pipe)"
            : "\(pipe) \(whittle) inspect - --format json"
        let piped = try shell(command)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try inspectJSON(piped.stdout) == inspectJSON(file.stdout))
        let named = try JSONDecoder().decode(JSONValue.self, from: piped.stdout)["image"]
        #expect(named == .string("-"))

        let text = try shell("\(whittle) inspect \(quoted(input))")
        let pipedText = try shell(pipe.hasPrefix("<") ? "\(whittle) inspect - \(pipe)" : "\(pipe) \(whittle) inspect -")
        let body = { (data: Data) in String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst() }
        #expect(Array(body(pipedText.stdout)) == Array(body(text.stdout)))
        #expect(String(decoding: pipedText.stdout, as: UTF8.self).hasPrefix("whittle-fixture/busybox-app:1 (-)"))
    }

    @Test("slim - -o - writes exactly the bytes slim FILE -o OUT writes, only those on stdout, and leaves no spool")
    func slimThroughPipes() throws {
        let whittle = quoted(try whittleExecutable())
        let work = try TestDirectory()
        let spool = work.path("tmp")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let input = quoted(fixture("corners.docker.tar"))
        let reference = work.path("file.tar")
        let file = try shell("\(whittle) slim \(input) -o \(quoted(reference)) --profile safe --compression gzip")
        #expect(file.status == 0, "\(file.stderr)")
        let piped = work.path("piped.tar")
        let run = try shell(
            "cat \(input) | \(whittle) slim - -o - --profile safe --compression gzip > \(quoted(piped))",
            environment: ["TMPDIR": spool])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: piped, andPath: reference))
        // The report went to standard error.
        #expect(run.stderr.contains("sent whittle-fixture/corners:1 to standard output"))
        #expect(run.stderr.contains("bytes (uncompressed)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool) == [])

        // --format json with -o -: the JSON report on stderr, the tarball alone on stdout.
        let json = try shell(
            "cat \(input) | \(whittle) slim - -o - --profile safe --compression gzip --format json",
            environment: ["TMPDIR": spool])
        #expect(json.status == 0)
        #expect(json.stdout == (try Data(contentsOf: URL(fileURLWithPath: reference))))
        #expect(json.stderr.contains("\"outputTarballBytes\""))
    }

    @Test(
        "-o - gives the same bytes into an empty file (in place), a pipe, a file opened with <> or >> (staged)",
        arguments: [
            ("cat %@ |", "> %@", true, ""), ("cat %@ |", "| cat > %@", false, ""),
            ("cat %@ |", "1<> %@", false, "old"), ("cat %@ |", ">> %@", false, "old old"),
            ("python3 -c \(Self.socketFeed) %@", "> %@", true, ""),
        ])
    func slimToStandardOutput(feed: String, output: String, inPlace: Bool, before: String) throws {
        let whittle = quoted(try whittleExecutable())
        let work = try TestDirectory()
        let input = fixture("corners.docker25.tar")
        let reference = work.path("file.tar")
        let file = try shell("\(whittle) slim \(quoted(input)) -o \(quoted(reference)) --profile safe")
        #expect(file.status == 0, "\(file.stderr)")
        let out = work.path("out.tar")
        try Data(before.utf8).write(to: URL(fileURLWithPath: out))
        let command =
            feed.replacingOccurrences(of: "%@", with: quoted(input))
            + " \(whittle) slim - -o - --profile safe --progress plain "
            + output.replacingOccurrences(of: "%@", with: quoted(out))
        let run = try shell(command, environment: ["TMPDIR": work.path("")])
        #expect(run.status == 0, "\(run.stderr)")
        // Only `>>` keeps what was there; `<>` writes over it from the start.
        let kept = output.hasPrefix(">>") ? Data(before.utf8) : Data()
        let expected = kept + (try Data(contentsOf: URL(fileURLWithPath: reference)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == expected)
        #expect(run.stderr.contains("sending to standard output") != inPlace, "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path("")).sorted() == ["file.tar", "out.tar"])
    }

    /// Runs the rest of the command line with a socket as standard input, fed the file named
    /// last: a stream the kernel will not splice from.
    private static let socketFeed = quoted(
        """
        import socket, subprocess, sys
        ours, theirs = socket.socketpair()
        child = subprocess.Popen(sys.argv[2:], stdin=theirs)
        theirs.close()
        ours.sendall(open(sys.argv[1], "rb").read())
        ours.close()
        sys.exit(child.wait())
        """)

    @Test(
        "a layer corrupted in a piped archive is refused, naming the layer, and nothing is written",
        arguments: [
            ("corners.docker.tar", "layer 1 does not match its diff_id"),
            ("corners.docker25.tar", "digest mismatch for blobs/sha256/efbbd748"),
        ])
    func corruptLayerFromStandardInput(name: String, message: String) throws {
        let whittle = quoted(try whittleExecutable())
        let work = try TestDirectory()
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
        // Flips a byte of a file's content inside the first (uncompressed) layer.
        let layer = try #require(
            try readTar(bytes).first { $0.entry.path.hasSuffix(".tar") || $0.entry.path.contains("efbbd748") })
        let content = try #require(try readTar(layer.data).first { $0.entry.path.hasSuffix("attrs/keep") }).data
        let at = try #require(Self.offset(of: content, in: bytes))
        bytes[at] ^= 0x20
        let corrupt = work.path("corrupt.tar")
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        // A pipe too: the layer is streamed only after every layer passed its check.
        let outputs = [
            "-o \(quoted(work.path("out.tar")))", "-o - > \(quoted(work.path("stdout.tar")))",
            "-o - | cat > \(quoted(work.path("piped.tar")))",
        ]
        for output in outputs {
            let run = try shell(
                "cat \(quoted(corrupt)) | \(whittle) slim - \(output)",
                environment: ["TMPDIR": work.path("")])
            #expect(run.status == 1)
            #expect(run.stderr.contains(message), "\(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: work.path("out.tar")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: work.path("stdout.tar"))).isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: work.path("piped.tar"))).isEmpty)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: work.path("")).sorted() == [
                "corrupt.tar", "piped.tar", "stdout.tar",
            ])
    }

    private static func offset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    @Test("--dry-run with -o - writes nothing to stdout and lists the removals on stderr")
    func dryRunToStandardOutput() throws {
        let whittle = quoted(try whittleExecutable())
        let run = try shell(
            "cat \(quoted(fixture("corners.docker.tar"))) | \(whittle) slim - -o - --profile safe --dry-run")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        let listing = try shell("\(whittle) slim \(quoted(fixture("corners.docker.tar"))) --profile safe --dry-run")
        #expect(run.stderr.contains(String(decoding: listing.stdout, as: UTF8.self).trimmingCharacters(in: .newlines)))
    }

    @Test(
        "bad input on stdin: an error naming standard input, no output, and the spool removed",
        arguments: [
            ("head -c 3000 %@ |", "standard input"),
            ("true |", "standard input was empty"),
            ("echo not an image | gzip |", "standard input is not a saved image"),
            ("gzip -c < %@ | head -c 5000 |", "cannot read the image from standard input"),
        ])
    func badStandardInput(feed: String, message: String) throws {
        let whittle = quoted(try whittleExecutable())
        let work = try TestDirectory()
        let spool = work.path("tmp")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let pipe = feed.replacingOccurrences(of: "%@", with: quoted(fixture("corners.docker.tar")))
        let run = try shell(
            "\(pipe) \(whittle) slim - -o \(quoted(work.path("out.tar")))",
            environment: ["TMPDIR": spool])
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!run.stderr.contains(spool), "the message names the spool file: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool) == [])
        #expect(!FileManager.default.fileExists(atPath: work.path("out.tar")))
    }

    @Test("a reader that stops early is an error naming it, and the temporary files go")
    func readerStops() throws {
        let whittle = quoted(try whittleExecutable())
        let work = try TestDirectory()
        let spool = work.path("tmp")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let run = try shell(
            """
            cat \(quoted(fixture(DemoImage.file))) | \(whittle) slim - -o - 2> \(quoted(work.path("err"))) | head -c 1000 \
            > /dev/null; echo "${PIPESTATUS[1]}"
            """, environment: ["TMPDIR": spool])
        #expect(String(decoding: run.stdout, as: UTF8.self) == "1\n")
        let said = try String(contentsOfFile: work.path("err"), encoding: .utf8)
        #expect(said.contains("cannot send the image to standard output: Broken pipe"), "\(said)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool) == [])
    }

    @Test("-o - refuses a terminal, and - refuses a terminal on stdin")
    func refusesTerminals() throws {
        let whittle = try whittleExecutable()
        let input = fixture("corners.docker.tar")
        let toTerminal = try shell("script -qfec \(quoted("\(whittle) slim \(input) -o -")) /dev/null")
        #expect(toTerminal.status != 0)
        let said = String(decoding: toTerminal.stdout, as: UTF8.self)
        #expect(said.contains("standard output, which is a terminal"), "\(said)")
        #expect(!said.contains("manifest.json"))
        let fromTerminal = try shell("script -qfec \(quoted("\(whittle) inspect -")) /dev/null")
        #expect(fromTerminal.status != 0)
        #expect(String(decoding: fromTerminal.stdout, as: UTF8.self).contains("standard input, which is a terminal"))
    }

    @Test(
        "docker save X | whittle slim - -o - --profile safe | docker load, and the loaded image runs",
        .enabled(if: PrivateDockerEngine.available || PrivateDockerEngine.required))
    func dockerPipeline() throws {
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        let whittle = quoted(try whittleExecutable())
        try engine.docker("load", "-q", "-i", fixture(DemoImage.file))
        let original = try engine.docker("run", "--rm", "--network", "none", DemoImage.tag)
        #expect(original == DemoImage.output)
        let docker = "docker -H \(quoted(engine.host))"
        let work = try TestDirectory()
        let run = try shell(
            """
            \(docker) save \(DemoImage.tag) | \(whittle) slim - -o - --profile safe --tag whittle-e2e/piped:1 \
            | \(docker) load
            """, environment: ["TMPDIR": work.path("")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(String(decoding: run.stdout, as: UTF8.self).contains("whittle-e2e/piped:1"))
        #expect(run.stderr.contains("apt-cache"))
        let slimmed = try engine.docker("run", "--rm", "--network", "none", "whittle-e2e/piped:1")
        #expect(slimmed == original)
        let sizes = try engine.docker("image", "inspect", "--format", "{{.Size}}", DemoImage.tag, "whittle-e2e/piped:1")
            .split(separator: "\n").compactMap { Int64($0) }
        #expect(sizes.count == 2 && sizes[1] * 10 < sizes[0] * 6, "sizes \(sizes)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path("")) == [])
    }
}
