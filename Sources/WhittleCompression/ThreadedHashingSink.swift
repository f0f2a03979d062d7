import Crypto
import Foundation

/// Takes bytes only to hash them, on a thread of its own: `write` copies them into one of a
/// few buffers and returns, so the writer keeps producing on its core while the SHA-256 runs
/// on the other. For a digest needed before the bytes can be sent (a tar header that names
/// its own content), where there is no file to hash back from.
public final class ThreadedHashingSink: ByteSink {
    private let queue: BufferQueue

    /// How many bytes have been written so far.
    public private(set) var byteCount: Int64 = 0

    public init() {
        queue = BufferQueue(buffers: 4, capacity: 1 << 20)
        let thread = Thread { [queue] in queue.hashUntilClosed() }
        thread.start()
    }

    deinit {
        queue.close()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            done += queue.fill(from: UnsafeRawBufferPointer(rebasing: bytes[done...]))
        }
        byteCount += Int64(bytes.count)
    }

    /// Waits for everything written to be hashed; lowercase hex of its SHA-256.
    public func finish() -> String {
        queue.close()
        return queue.waitForDigest()
    }
}

/// Buffers going round between the writer, which fills them, and the hashing thread, which
/// empties them in the order they were filled.
private final class BufferQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var free: [UnsafeMutableRawBufferPointer]
    private var filled: [(buffer: UnsafeMutableRawBufferPointer, count: Int)] = []
    private var closed = false
    private var digest: String?

    init(buffers: Int, capacity: Int) {
        free = (0..<buffers).map { _ in .allocate(byteCount: capacity, alignment: 16) }
    }

    /// Copies as much of `bytes` as one free buffer holds; how much that was.
    func fill(from bytes: UnsafeRawBufferPointer) -> Int {
        condition.lock()
        while free.isEmpty { condition.wait() }
        let buffer = free.removeLast()
        condition.unlock()
        let count = min(bytes.count, buffer.count)
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
        condition.lock()
        filled.append((buffer, count))
        condition.broadcast()
        condition.unlock()
        return count
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func hashUntilClosed() {
        var hasher = SHA256()
        while let (buffer, count) = next() {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            condition.lock()
            free.append(buffer)
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        digest = hexString(of: hasher)
        for buffer in free { buffer.deallocate() }
        free = []
        condition.broadcast()
        condition.unlock()
    }

    /// The next filled buffer, or nil once the queue is closed and empty.
    private func next() -> (UnsafeMutableRawBufferPointer, Int)? {
        condition.lock()
        defer { condition.unlock() }
        while filled.isEmpty, !closed { condition.wait() }
        return filled.isEmpty ? nil : filled.removeFirst()
    }

    func waitForDigest() -> String {
        condition.lock()
        defer { condition.unlock() }
        while digest == nil { condition.wait() }
        return digest!
    }
}
