import CZlib
import Foundation

/// Gzip-compresses what is written to it on several threads, pigz-style, and writes the
/// result to `downstream` in order.
///
/// Input is cut into fixed 128 KiB blocks; each is raw-deflated on its own worker thread,
/// primed with the 32 KiB before it, and ended with a sync flush so the pieces join into one
/// deflate stream. Because a block's output depends only on its bytes, the bytes before it
/// and the level, the result is byte-identical for any thread count or write pattern.
/// The gzip header is fixed (no name, mtime 0, OS 255 "unknown"), so equal input gives an
/// equal file, which keeps image digests reproducible.
///
/// At most a few blocks per thread are in flight: `write` blocks while they are being
/// compressed, so memory stays bounded however much is written.
public final class ParallelGzipEncoder: ByteSink {
    static let blockSize = 128 * 1024

    private enum State { case open, finished, failed }

    private let downstream: ByteSink
    private let level: Int32
    private let queue: DeflateJobQueue
    /// Enough blocks queued behind the busy ones that workers never wait on the writer.
    private let maxJobsInFlight: Int

    /// The block being filled by `write`.
    private var currentJob: DeflateJob
    /// Submitted blocks in input order; the first is the next to be written out.
    private var jobsInFlight: [DeflateJob] = []
    private var spareJobs: [DeflateJob] = []

    private var state = State.open
    private var headerWritten = false
    private var checksum: UInt32 = 0
    private var uncompressedLength: UInt64 = 0

    /// - Parameters:
    ///   - level: zlib level 0...9; a negative level means the default (6), above 9 means 9.
    ///   - threads: worker threads; the output does not depend on it.
    public init(
        downstream: ByteSink,
        level: Int32 = 6,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) {
        self.downstream = downstream
        self.level = level < 0 ? 6 : min(level, 9)
        let threadCount = max(1, threads)
        maxJobsInFlight = threadCount * 2 + 2
        queue = DeflateJobQueue(threadCount: threadCount, level: self.level)
        currentJob = DeflateJob(blockCapacity: Self.blockSize)
    }

    deinit {
        queue.shutDown()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard state == .open else { throw CompressionError.encoderClosed }
        do {
            var remaining = bytes
            while !remaining.isEmpty {
                let copied = currentJob.append(remaining)
                remaining = UnsafeRawBufferPointer(rebasing: remaining[copied...])
                if currentJob.isFull {
                    try submitCurrentJob(isLast: false)
                }
            }
            try writeCompletedJobs(waitForAll: false)
        } catch {
            fail()
            throw error
        }
    }

    /// Compresses what is left, writes the gzip trailer and stops the worker threads.
    /// The downstream sink is not closed.
    public func finish() throws {
        guard state == .open else { throw CompressionError.encoderClosed }
        do {
            try submitCurrentJob(isLast: true)
            try writeCompletedJobs(waitForAll: true)
            try writeTrailer()
        } catch {
            fail()
            throw error
        }
        state = .finished
        queue.shutDown()
    }

    private func fail() {
        state = .failed
        queue.shutDown()
    }

    /// Sends the filled block to the workers and starts the next one, primed with its tail.
    private func submitCurrentJob(isLast: Bool) throws {
        let job = currentJob
        job.isLast = isLast
        if !isLast {
            let next = try takeSpareJob()
            next.takeDictionary(from: job)
            currentJob = next
        }
        queue.submit(job)
        jobsInFlight.append(job)
    }

    /// A job to fill next, writing out (and waiting for) old ones first if too many are
    /// in flight; this is the back-pressure that bounds memory.
    private func takeSpareJob() throws -> DeflateJob {
        while jobsInFlight.count >= maxJobsInFlight {
            try writeOldestJob()
        }
        return spareJobs.popLast() ?? DeflateJob(blockCapacity: Self.blockSize)
    }

    /// Writes finished blocks in order: all of them, waiting, or only those already done.
    private func writeCompletedJobs(waitForAll: Bool) throws {
        while let oldest = jobsInFlight.first {
            if !waitForAll && !queue.isComplete(oldest) { return }
            try writeOldestJob()
        }
    }

    private func writeOldestJob() throws {
        guard let job = jobsInFlight.first else { return }
        queue.waitUntilComplete(job)
        jobsInFlight.removeFirst()
        if let failure = job.failure { throw failure }

        try writeHeaderIfNeeded()
        try downstream.write(job.compressed)
        checksum = UInt32(crc32_combine(uLong(checksum), uLong(job.checksum), .init(job.data.count)))
        uncompressedLength += UInt64(job.data.count)

        job.reset()
        spareJobs.append(job)
    }

    private func writeHeaderIfNeeded() throws {
        guard !headerWritten else { return }
        // XFL tells decoders the level class, as gzip sets it: 2 = slowest, 4 = fastest.
        let extraFlags: UInt8 = level == 9 ? 2 : (level == 1 ? 4 : 0)
        let header: [UInt8] = [
            0x1f, 0x8b,  // magic
            8,  // method: deflate
            0,  // flags: no name, comment or extra field
            0, 0, 0, 0,  // mtime 0: none, for reproducible output
            extraFlags,
            255,  // OS: unknown, the same on every platform
        ]
        try header.withUnsafeBytes { try downstream.write($0) }
        headerWritten = true
    }

    private func writeTrailer() throws {
        try writeHeaderIfNeeded()
        var trailer = [UInt8]()
        trailer.reserveCapacity(8)
        appendLittleEndian(checksum, to: &trailer)
        // ISIZE is the length modulo 2^32, by the gzip format's definition.
        appendLittleEndian(UInt32(truncatingIfNeeded: uncompressedLength), to: &trailer)
        try trailer.withUnsafeBytes { try downstream.write($0) }
    }

    private func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }
}
