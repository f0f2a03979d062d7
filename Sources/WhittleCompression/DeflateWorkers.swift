import CZlib
import Foundation

/// One block of input for `ParallelGzipEncoder` and, once a worker is done, its raw-deflated
/// form and CRC-32. A job is handed between the encoder and one worker through
/// `DeflateJobQueue`, whose lock orders the accesses, so one thread touches it at a time.
final class DeflateJob: @unchecked Sendable {
    /// Deflate looks back at most 32 KiB, so that much of the previous block primes the next.
    static let dictionaryCapacity = 32 * 1024

    let blockCapacity: Int
    /// The dictionary sits right before the data: `[... dictionary | data ...]`.
    private let inputStorage: UnsafeMutableRawBufferPointer
    private(set) var dictionaryLength = 0
    private(set) var dataLength = 0
    var isLast = false

    private(set) var output: UnsafeMutableRawBufferPointer
    var outputLength = 0
    var checksum: UInt32 = 0
    var failure: CompressionError?
    /// Guarded by the queue's lock.
    var isComplete = false

    init(blockCapacity: Int) {
        self.blockCapacity = blockCapacity
        inputStorage = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Self.dictionaryCapacity + blockCapacity, alignment: 16)
        // Room for an incompressible block plus deflate's framing; workers grow it if needed.
        output = UnsafeMutableRawBufferPointer.allocate(
            byteCount: blockCapacity + blockCapacity / 64 + 1024, alignment: 16)
    }

    deinit {
        inputStorage.deallocate()
        output.deallocate()
    }

    var isFull: Bool { dataLength == blockCapacity }

    var data: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(
            rebasing: inputStorage[Self.dictionaryCapacity..<(Self.dictionaryCapacity + dataLength)])
    }

    var dictionary: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(
            rebasing: inputStorage[(Self.dictionaryCapacity - dictionaryLength)..<Self.dictionaryCapacity])
    }

    var compressed: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: output[0..<outputLength])
    }

    /// Copies as much of `bytes` as fits and returns how many bytes that was.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let count = min(bytes.count, blockCapacity - dataLength)
        guard count > 0, let source = bytes.baseAddress, let storage = inputStorage.baseAddress else {
            return 0
        }
        (storage + Self.dictionaryCapacity + dataLength).copyMemory(from: source, byteCount: count)
        dataLength += count
        return count
    }

    /// Makes the tail of `previous`'s data this job's dictionary.
    func takeDictionary(from previous: DeflateJob) {
        let tail = UnsafeRawBufferPointer(rebasing: previous.data.suffix(Self.dictionaryCapacity))
        dictionaryLength = tail.count
        guard let source = tail.baseAddress, let storage = inputStorage.baseAddress else { return }
        (storage + Self.dictionaryCapacity - tail.count).copyMemory(from: source, byteCount: tail.count)
    }

    /// Makes sure at least `byteCount` bytes of output space exist, keeping what was written.
    func reserveOutput(_ byteCount: Int) {
        guard byteCount > output.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 16)
        if outputLength > 0, let source = output.baseAddress, let target = grown.baseAddress {
            target.copyMemory(from: source, byteCount: outputLength)
        }
        output.deallocate()
        output = grown
    }

    /// Readies the job for reuse; buffers are kept so steady state allocates nothing.
    func reset() {
        dictionaryLength = 0
        dataLength = 0
        isLast = false
        outputLength = 0
        checksum = 0
        failure = nil
        isComplete = false
    }
}

/// Hands jobs to worker threads and reports their completion back to the encoder.
/// Workers are plain `Thread`s rather than Swift concurrency tasks: deflating a block is
/// milliseconds of blocking CPU work that must not starve the cooperative pool.
final class DeflateJobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var waitingJobs: [DeflateJob] = []
    private var nextWaitingIndex = 0
    private var isShutDown = false

    /// Starts `threadCount` workers that deflate at `level` until `shutDown()`.
    init(threadCount: Int, level: Int32) {
        for index in 0..<max(1, threadCount) {
            let worker = Thread { [self] in
                let compressor = BlockCompressor(level: level)
                while let job = nextJob() {
                    compressor.compress(job)
                    markComplete(job)
                }
            }
            worker.name = "whittle-gzip-\(index)"
            worker.start()
        }
    }

    func submit(_ job: DeflateJob) {
        condition.lock()
        waitingJobs.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until a job is waiting; nil once the queue is shut down.
    private func nextJob() -> DeflateJob? {
        condition.lock()
        defer { condition.unlock() }
        while !isShutDown && nextWaitingIndex == waitingJobs.count {
            condition.wait()
        }
        if isShutDown { return nil }
        let job = waitingJobs[nextWaitingIndex]
        nextWaitingIndex += 1
        // Drop taken jobs now and then instead of shifting the array on every take.
        if nextWaitingIndex == waitingJobs.count {
            waitingJobs.removeAll(keepingCapacity: true)
            nextWaitingIndex = 0
        }
        return job
    }

    private func markComplete(_ job: DeflateJob) {
        condition.lock()
        job.isComplete = true
        condition.broadcast()
        condition.unlock()
    }

    func isComplete(_ job: DeflateJob) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return job.isComplete
    }

    func waitUntilComplete(_ job: DeflateJob) {
        condition.lock()
        while !job.isComplete {
            condition.wait()
        }
        condition.unlock()
    }

    /// Lets the workers exit after their current job; jobs still waiting are abandoned.
    func shutDown() {
        condition.lock()
        isShutDown = true
        waitingJobs.removeAll()
        nextWaitingIndex = 0
        condition.broadcast()
        condition.unlock()
    }
}

/// A worker thread's own deflate stream, reset for every block so it is allocated once.
private final class BlockCompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    private let initFailure: CompressionError?

    init(level: Int32) {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Negative window bits: raw deflate, since the encoder writes the gzip framing itself.
        let result = deflateInit2_(
            stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        initFailure =
            result == Z_OK
            ? nil
            : .libraryFailure(library: "zlib", detail: "deflateInit2 returned \(result)")
    }

    deinit {
        if initFailure == nil { deflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func compress(_ job: DeflateJob) {
        if let initFailure {
            job.failure = initFailure
            return
        }
        job.checksum = UInt32(crc32(0, job.data.zlibBytes, uInt(job.data.count)))
        do {
            try deflateBlock(job)
        } catch let error as CompressionError {
            job.failure = error
        } catch {
            job.failure = .libraryFailure(library: "zlib", detail: "\(error)")
        }
    }

    private func deflateBlock(_ job: DeflateJob) throws {
        guard deflateReset(stream) == Z_OK else {
            throw CompressionError.libraryFailure(library: "zlib", detail: "deflateReset failed")
        }
        let dictionary = job.dictionary
        if !dictionary.isEmpty {
            guard deflateSetDictionary(stream, dictionary.zlibBytes, uInt(dictionary.count)) == Z_OK else {
                throw CompressionError.libraryFailure(library: "zlib", detail: "deflateSetDictionary failed")
            }
        }

        let data = job.data
        stream.pointee.next_in = UnsafeMutablePointer(mutating: data.zlibBytes)
        stream.pointee.avail_in = uInt(data.count)
        // A block that is not last ends on a byte boundary with an empty stored block
        // (sync flush), so the blocks concatenate into one valid deflate stream.
        let flush = job.isLast ? Z_FINISH : Z_SYNC_FLUSH

        // Room for the whole result up front, so deflate finishes in one call and the output
        // never depends on buffer sizes; the sync-flush marker and slack ride on top.
        job.outputLength = 0
        job.reserveOutput(Int(deflateBound(stream, uLong(data.count))) + 64)

        while true {
            let space = UnsafeMutableRawBufferPointer(rebasing: job.output[job.outputLength...])
            stream.pointee.next_out = space.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(space.count)
            let result = deflate(stream, flush)
            job.outputLength += space.count - Int(stream.pointee.avail_out)

            guard result != Z_STREAM_ERROR else {
                throw CompressionError.libraryFailure(library: "zlib", detail: "deflate returned a stream error")
            }
            let done =
                job.isLast
                ? result == Z_STREAM_END
                : stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0
            if done { return }
            guard stream.pointee.avail_out == 0 else {
                throw CompressionError.libraryFailure(library: "zlib", detail: "deflate stopped early (\(result))")
            }
            job.reserveOutput(job.output.count * 2)
        }
    }
}

private extension UnsafeRawBufferPointer {
    /// zlib wants `Bytef *`; an empty buffer may have no address, which zlib accepts with length 0.
    var zlibBytes: UnsafePointer<Bytef>? {
        baseAddress?.assumingMemoryBound(to: Bytef.self)
    }
}
