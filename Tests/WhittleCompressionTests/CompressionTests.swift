import Foundation
import Testing
import WhittleCompression
@testable import WhittleTestSupport

@Suite("CompressionTests")
struct CompressionTests {

    // MARK: Parallel gzip encoder

    @Test(
        "encoder output decodes back to the input",
        arguments: [
            0, 1, 1000, 128 * 1024, 128 * 1024 + 1, 3 * 128 * 1024 - 7, 1_000_003,
        ])
    func encoderRoundTrip(length: Int) throws {
        let input = sampleData(count: length, seed: UInt64(length))
        let compressed = try gzipEncode(input, threads: 3, writeChunk: 10_007)
        #expect(try decodeGzip(compressed) == input)
    }

    @Test("encoder output is accepted by the gzip tool")
    func encoderOutputPassesGzipTool() throws {
        let gzip = "/usr/bin/gzip"
        guard FileManager.default.isExecutableFile(atPath: gzip) else { return }
        let input = sampleData(count: 700_000, seed: 7)
        let compressed = try gzipEncode(input, threads: 2, writeChunk: 65_536)
        let file = try TemporaryFile(contents: compressed)

        let check = try runTool(gzip, ["-t", file.path])
        #expect(check.status == 0)
        let decoded = try runTool(gzip, ["-dc", file.path])
        #expect(decoded.status == 0)
        #expect(decoded.output == input)
    }

    @Test("encoder output is identical for any thread count and write pattern")
    func encoderIsDeterministic() throws {
        let input = sampleData(count: 900_001, seed: 42)
        let singleThread = try gzipEncode(input, threads: 1, writeChunk: input.count)
        let fourThreads = try gzipEncode(input, threads: 4, writeChunk: 4_093)
        let manyThreads = try gzipEncode(input, threads: 9, writeChunk: 131_072)
        #expect(singleThread == fourThreads)
        #expect(singleThread == manyThreads)
    }

    @Test("encoder writes a fixed gzip header and a correct trailer")
    func encoderFraming() throws {
        let input = Array("hello, hello, hello".utf8)
        let compressed = try gzipEncode(input, threads: 2, writeChunk: 5)
        #expect(Array(compressed.prefix(10)) == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])
        let trailerLength = compressed.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(trailerLength == input.count)
    }

    @Test("encoder refuses writes after finish")
    func encoderClosedAfterFinish() throws {
        let sink = MemorySink()
        let encoder = ParallelGzipEncoder(downstream: sink, threads: 1)
        try encoder.finish()
        #expect(throws: CompressionError.encoderClosed) {
            try [UInt8(1)].withUnsafeBytes { try encoder.write($0) }
        }
    }

    // MARK: Gzip decoding

    @Test("concatenated gzip members decode as one stream")
    func multiMemberGzip() throws {
        let first = sampleData(count: 300_000, seed: 1)
        let second = sampleData(count: 5, seed: 2)
        let third = sampleData(count: 200_000, seed: 3)
        let members =
            try gzipEncode(first, threads: 2, writeChunk: 9_999)
            + gzipEncode(second, threads: 1, writeChunk: 1)
            + gzipEncode(third, threads: 2, writeChunk: 50_000)
        #expect(try decodeGzip(members) == first + second + third)
        // Some tools pad the file with zeros after the last member.
        #expect(try decodeGzip(members + [UInt8](repeating: 0, count: 512)) == first + second + third)
    }

    @Test("a gzip stream cut short reports truncation")
    func truncatedGzip() throws {
        let compressed = try gzipEncode(sampleData(count: 400_000, seed: 9), threads: 2, writeChunk: 100_000)
        for length in [0, 5, 10, compressed.count / 2, compressed.count - 4, compressed.count - 1] {
            #expect(throws: CompressionError.truncatedGzip) {
                _ = try decodeGzip(Array(compressed.prefix(length)))
            }
        }
    }

    @Test("corrupt gzip data reports zlib's reason")
    func corruptGzip() throws {
        let input = sampleData(count: 200_000, seed: 11)
        var compressed = try gzipEncode(input, threads: 2, writeChunk: 100_000)
        // Damage the CRC in the trailer: the data inflates but fails the check.
        compressed[compressed.count - 6] ^= 0xff
        #expect(throws: CompressionError.corruptGzip("incorrect data check")) {
            _ = try decodeGzip(compressed)
        }
        #expect(throws: CompressionError.corruptGzip("incorrect header check")) {
            _ = try decodeGzip(Array("this is plain text, not gzip".utf8))
        }
    }

    @Test("data after the last member is rejected")
    func garbageAfterLastMember() throws {
        let compressed = try gzipEncode(Array("abc".utf8), threads: 1, writeChunk: 3)
        #expect(throws: CompressionError.corruptGzip("unexpected data after the end of the last member")) {
            _ = try decodeGzip(compressed + Array("junk".utf8))
        }
        #expect(
            throws: CompressionError.corruptGzip(
                "unexpected data after the zero padding that follows the last member")
        ) {
            _ = try decodeGzip(compressed + [0, 0, 0, 0x1f])
        }
    }

    // MARK: Zstd decoding

    @Test("a zstd frame decodes")
    func zstdDecodes() throws {
        #expect(try decodeZstd(Self.smallZstdFrame) == Self.smallZstdContent)
        // Consecutive frames decode as one stream, as the zstd tool does.
        #expect(
            try decodeZstd(Self.smallZstdFrame + Self.smallZstdFrame)
                == Self.smallZstdContent + Self.smallZstdContent)
    }

    @Test("a zstd stream cut short reports truncation")
    func truncatedZstd() throws {
        for length in [0, 3, 10, Self.smallZstdFrame.count - 1] {
            #expect(throws: CompressionError.truncatedZstd) {
                _ = try decodeZstd(Array(Self.smallZstdFrame.prefix(length)))
            }
        }
    }

    @Test("corrupt zstd data reports libzstd's reason")
    func corruptZstd() throws {
        var badChecksum = Self.smallZstdFrame
        badChecksum[badChecksum.count - 1] ^= 0xff
        #expect(throws: CompressionError.self) { _ = try decodeZstd(badChecksum) }
        do {
            _ = try decodeZstd(Array("plain text, not zstd".utf8))
            Issue.record("expected an error")
        } catch let error as CompressionError {
            guard case .corruptZstd = error else {
                Issue.record("expected corruptZstd, got \(error)")
                return
            }
            #expect(error.description.hasPrefix("corrupt zstd data: "))
        }
    }

    @Test("zstd tool output decodes")
    func zstdToolRoundTrip() throws {
        let zstd = "/usr/bin/zstd"
        guard FileManager.default.isExecutableFile(atPath: zstd) else { return }
        let input = sampleData(count: 1_500_000, seed: 5)
        let file = try TemporaryFile(contents: input)
        let compressed = try runTool(zstd, ["-q", "-c", file.path])
        #expect(compressed.status == 0)
        #expect(try decodeZstd(compressed.output) == input)
    }

    // MARK: Hashing

    @Test("hashing source computes SHA-256 of what passes through")
    func hashingSource() throws {
        let cases: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ]
        for (text, expected) in cases {
            let bytes = Array(text.utf8)
            let hashing = HashingSource(upstream: MemorySource(bytes, chunkSize: 2))
            #expect(try readAll(hashing, bufferSize: 3) == bytes)
            #expect(hashing.hexDigest == expected)
            #expect(hashing.byteCount == Int64(bytes.count))
        }
    }

    @Test("hashing sink forwards bytes and hashes them")
    func hashingSink() throws {
        let memory = MemorySink()
        let hashing = HashingSink(downstream: memory)
        try Array("a".utf8).withUnsafeBytes { try hashing.write($0) }
        try Array("bc".utf8).withUnsafeBytes { try hashing.write($0) }
        #expect(memory.bytes == Array("abc".utf8))
        #expect(hashing.hexDigest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hashing.byteCount == 3)
    }

    @Test("a file range is hashed on a thread of its own, whole or as it grows")
    func fileRangeHasher() throws {
        let contents = sampleData(count: 700_001, seed: 11)
        let file = try TemporaryFile(contents: contents)
        let fd = open(file.path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let offset = 12_345
        let expected = try inlineDigest(Array(contents[offset...]))

        let whole = FileRangeHasher(
            fileDescriptor: fd, offset: Int64(offset),
            available: Int64(contents.count - offset))
        #expect(try whole.finish() == expected)

        let growing = FileRangeHasher(fileDescriptor: fd, offset: Int64(offset))
        for end in stride(from: 0, through: contents.count - offset, by: 99_991) { growing.extend(to: Int64(end)) }
        growing.extend(to: Int64(contents.count - offset))
        #expect(try growing.finish() == expected)

        // Only what was given is hashed: a range closed early is the digest of its part.
        let part = FileRangeHasher(fileDescriptor: fd, offset: 0, available: 3)
        #expect(try part.finish() == (try inlineDigest(Array(contents[0..<3]))))

        let pastEnd = FileRangeHasher(fileDescriptor: fd, offset: Int64(contents.count - 5), available: 10)
        #expect(throws: CompressionError.fileEndedEarly(missingBytes: 5)) { _ = try pastEnd.finish() }
    }

    @Test("a file hashing sink writes through and hashes what it wrote, read back from the file")
    func fileHashingSink() throws {
        let file = try TemporaryFile(contents: Array(repeating: 0xaa, count: 100))
        let fd = open(file.path, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(lseek(fd, 100, SEEK_SET) == 100)
        let data = sampleData(count: 300_007, seed: 5)
        let sink = FileHashingSink(downstream: FileSink(fileDescriptor: fd), fileDescriptor: fd, offset: 100)
        for start in stride(from: 0, to: data.count, by: 65_536) {
            try Array(data[start..<min(start + 65_536, data.count)]).withUnsafeBytes { try sink.write($0) }
        }
        #expect(try sink.finish() == (try inlineDigest(data)))
        #expect(sink.byteCount == Int64(data.count))
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: file.path)))[100...] == data[...])
    }

    /// SHA-256 of `bytes` taken in line, for comparison with the threaded hashers.
    private func inlineDigest(_ bytes: [UInt8]) throws -> String {
        let hashing = HashingSink(downstream: MemorySink())
        try bytes.withUnsafeBytes { try hashing.write($0) }
        return hashing.hexDigest
    }

    // MARK: Files

    @Test("file slices share one descriptor and stop at their range")
    func fileSlices() throws {
        let contents = Array("0123456789abcdefghij".utf8)
        let file = try TemporaryFile(contents: contents)
        let fd = open(file.path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }

        let digits = FileSliceSource(fileDescriptor: fd, offset: 0, length: 10)
        let letters = FileSliceSource(fileDescriptor: fd, offset: 10, length: 10)
        let middle = FileSliceSource(fileDescriptor: fd, offset: 8, length: 4)
        #expect(try readAll(letters, bufferSize: 3) == Array("abcdefghij".utf8))
        #expect(try readAll(digits, bufferSize: 4) == Array("0123456789".utf8))
        #expect(try readAll(middle, bufferSize: 100) == Array("89ab".utf8))

        let pastEnd = FileSliceSource(fileDescriptor: fd, offset: 15, length: 10)
        #expect(throws: CompressionError.fileEndedEarly(missingBytes: 5)) {
            _ = try readAll(pastEnd, bufferSize: 100)
        }
    }

    @Test("file sink writes everything")
    func fileSink() throws {
        let file = try TemporaryFile(contents: [])
        let fd = open(file.path, O_WRONLY | O_TRUNC)
        try #require(fd >= 0)
        let data = sampleData(count: 300_000, seed: 3)
        let sink = FileSink(fileDescriptor: fd)
        try data.withUnsafeBytes { try sink.write($0) }
        close(fd)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: file.path))) == data)

        let closedSink = FileSink(fileDescriptor: -1)
        #expect(throws: CompressionError.writeFailed(errno: EBADF)) {
            try data.withUnsafeBytes { try closedSink.write($0) }
        }
    }

    // MARK: Fixtures

    /// `zstd -19` of `smallZstdContent`, with the frame checksum on.
    private static let smallZstdFrame: [UInt8] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x4b, 0x15, 0x01, 0x00, 0xd8, 0x77, 0x68,
        0x69, 0x74, 0x74, 0x6c, 0x65, 0x20, 0x66, 0x6c, 0x61, 0x74, 0x74, 0x65,
        0x6e, 0x73, 0x20, 0x69, 0x6d, 0x61, 0x67, 0x65, 0x73, 0x3b, 0x20, 0x2e,
        0x0a, 0x01, 0x00, 0xc5, 0xd1, 0x1c, 0x03, 0xa9, 0xac, 0xbe, 0xa1,
    ]
    private static let smallZstdContent = Array(
        "whittle flattens images; whittle flattens images; whittle flattens images.\n".utf8)
}

// MARK: - Helpers

/// Compressible but not trivial: words from a small vocabulary mixed with noise, like a tar.
private func sampleData(count: Int, seed: UInt64) -> [UInt8] {
    let words = ["layer", "whittle", "/usr/lib/", "sha256:", "{\"config\":", "\n", " ", "0000644"]
        .map { Array($0.utf8) }
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 16)
    while bytes.count < count {
        let roll = next()
        if roll % 4 == 0 {
            bytes.append(UInt8(truncatingIfNeeded: next()))
        } else {
            bytes += words[Int(roll % UInt64(words.count))]
        }
    }
    return Array(bytes.prefix(count))
}

private func gzipEncode(_ input: [UInt8], threads: Int, writeChunk: Int) throws -> [UInt8] {
    let sink = MemorySink()
    let encoder = ParallelGzipEncoder(downstream: sink, level: 6, threads: threads)
    try input.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + writeChunk, all.count)
            try encoder.write(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            offset = end
        }
    }
    try encoder.finish()
    return sink.bytes
}

/// Odd chunk sizes on both sides, so stream boundaries land everywhere.
private func decodeGzip(_ compressed: [UInt8]) throws -> [UInt8] {
    try readAll(GzipDecodingSource(upstream: MemorySource(compressed, chunkSize: 3_001)), bufferSize: 4_999)
}

private func decodeZstd(_ compressed: [UInt8]) throws -> [UInt8] {
    try readAll(ZstdDecodingSource(upstream: MemorySource(compressed, chunkSize: 3_001)), bufferSize: 4_999)
}

private func readAll(_ source: ByteSource, bufferSize: Int) throws -> [UInt8] {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: bufferSize)
    while true {
        let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        if count == 0 { return result }
        result += buffer[0..<count]
    }
}

private final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private let chunkSize: Int
    private var offset = 0

    init(_ bytes: [UInt8], chunkSize: Int) {
        self.bytes = bytes
        self.chunkSize = chunkSize
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, chunkSize, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes[offset..<(offset + count)].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return count
    }
}

private final class MemorySink: ByteSink {
    private(set) var bytes: [UInt8] = []

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        bytes += chunk
    }
}

/// A file in the temporary directory, removed when the value goes away.
private final class TemporaryFile {
    let path: String

    init(contents: [UInt8]) throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("whittle-compression-\(UUID().uuidString)").path
        try Data(contents).write(to: URL(fileURLWithPath: path))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs a tool and collects its standard output (read while it runs, so large output can't block it).
private func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: [UInt8]) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, Array(output))
}
