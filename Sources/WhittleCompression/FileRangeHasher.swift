import Crypto
import Foundation

/// SHA-256 of a range of an open file, computed on a thread of its own so hashing runs on
/// the second core: an input layer's bytes while the first core parses its headers, the
/// output layer's while the first core writes the rest of it. The bytes are read back with
/// `pread` (from the page cache, where they just were), so no buffer changes hands between
/// threads, and the hasher's one small buffer is all the memory it costs.
///
/// The range grows: `extend(to:)` says how many bytes from `offset` on are in the file,
/// `finish()` says no more will come and waits for the digest. The descriptor is borrowed
/// and must stay open until `finish()` or `cancel()` returned.
public final class FileRangeHasher: Sendable {
    private let state: HashingThread

    /// Starts hashing at once the `available` bytes already there.
    public init(fileDescriptor: Int32, offset: Int64, available: Int64 = 0) {
        state = HashingThread(descriptor: fileDescriptor, offset: offset, available: available)
        let thread = Thread { [state] in state.run() }
        thread.name = "whittle-sha256"
        thread.start()
    }

    /// A hasher dropped before `finish()` stops its thread.
    deinit {
        state.cancel()
    }

    /// The first `count` bytes of the range are in the file.
    public func extend(to count: Int64) {
        state.extend(to: count)
    }

    /// Waits until every byte given has been hashed; lowercase hex of their SHA-256.
    public func finish() throws -> String {
        try state.finish()
    }
}

/// The hashing thread and what it shares with its owner, each shared field behind `condition`.
private final class HashingThread: @unchecked Sendable {
    private let descriptor: Int32
    private let offset: Int64
    private let condition = NSCondition()
    private var available: Int64
    private var closed = false
    private var cancelled = false
    private var done = false
    private var failure: CompressionError?
    private var digest: String?

    init(descriptor: Int32, offset: Int64, available: Int64) {
        self.descriptor = descriptor
        self.offset = offset
        self.available = max(0, available)
    }

    func extend(to count: Int64) {
        condition.lock()
        if count > available {
            available = count
            condition.signal()
        }
        condition.unlock()
    }

    func finish() throws -> String {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.signal()
        while !done { condition.wait() }
        if let failure { throw failure }
        return digest ?? ""
    }

    func cancel() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        condition.signal()
        while !done { condition.wait() }
    }

    func run() {
        // A quarter of a MiB: large enough that a read costs little beside hashing what it
        // read, small enough that the thread adds nothing to the peak a run is held to.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var position: Int64 = 0
        while let want = nextChunk(after: position, size: buffer.count) {
            do {
                let got = try readFully(
                    UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset + position)
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                position += Int64(got)
            } catch {
                end(failure: error as? CompressionError ?? .readFailed(errno: EIO))
                return
            }
        }
        end(digest: hexString(of: hasher))
    }

    /// How many bytes to hash next (waiting until some are there), or nil when there are no
    /// more: the range was closed and is hashed to its end, or the hash was cancelled.
    private func nextChunk(after position: Int64, size: Int) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, position == available, !closed { condition.wait() }
        if cancelled || position == available { return nil }
        return Int(min(Int64(size), available - position))
    }

    private func readFully(_ buffer: UnsafeMutableRawBufferPointer, at start: Int64) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var got = 0
        while got < buffer.count {
            let count = pread(descriptor, base + got, buffer.count - got, off_t(start) + off_t(got))
            if count < 0 {
                if errno == EINTR { continue }
                throw CompressionError.readFailed(errno: errno)
            }
            if count == 0 { throw CompressionError.fileEndedEarly(missingBytes: Int64(buffer.count - got)) }
            got += count
        }
        return got
    }

    private func end(digest: String? = nil, failure: CompressionError? = nil) {
        condition.lock()
        self.digest = digest
        self.failure = failure
        done = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Forwards bytes to `downstream`, which appends them to an open file from `offset` on, and
/// hashes them back from that file on a thread of its own: the digest of written output
/// (a blob's name in an image) without the writing thread spending its time on SHA-256.
public final class FileHashingSink: ByteSink {
    private let downstream: ByteSink
    private let hasher: FileRangeHasher

    /// How many bytes have been written through so far.
    public private(set) var byteCount: Int64 = 0

    /// - Parameter fileDescriptor: the file `downstream` writes to, open for reading too.
    public init(downstream: ByteSink, fileDescriptor: Int32, offset: Int64) {
        self.downstream = downstream
        hasher = FileRangeHasher(fileDescriptor: fileDescriptor, offset: offset)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try downstream.write(bytes)
        byteCount += Int64(bytes.count)
        hasher.extend(to: byteCount)
    }

    /// Waits for the hash of everything written; lowercase hex of its SHA-256.
    public func finish() throws -> String {
        try hasher.finish()
    }
}
