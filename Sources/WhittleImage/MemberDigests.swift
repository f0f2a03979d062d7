import Crypto
import Foundation
import WhittleArchive
import WhittleCompression
import WhittleFiles

/// SHA-256 of each uncompressed regular member of an outer tar, taken while the tar is still
/// being written to a file (standard input, spooled): a thread of its own follows behind the
/// writer, reads the headers and each member's data back with `pread` (from the page cache,
/// where they just were), and records each digest by where the member's data lies. The
/// flatten then checks an uncompressed layer against its recorded digest instead of reading
/// the layer a second time; compressed members are left to the layer's own inline hashes.
///
/// A digest is only ever of the very bytes at that offset and length of this file, so a
/// member the walk could not parse (or missed) simply has none, and is hashed as any other.
public final class MemberDigests: Sendable {
    /// The file the members are recorded for.
    public let path: String
    private let state: MemberWalk

    /// Starts the walk; it waits for bytes that `extend(to:)` says are in `file`.
    public init(file: OpenFile) {
        path = file.path
        state = MemberWalk(file: file)
        let thread = Thread { [state] in state.run() }
        thread.name = "whittle-sha256-members"
        thread.start()
    }

    /// A walk dropped before it ended stops its thread.
    deinit {
        state.cancel()
    }

    /// The first `count` bytes of the file are written.
    public func extend(to count: Int64) {
        state.extend(to: count)
    }

    /// No more bytes will come; the walk goes on to the end of what is there.
    public func close() {
        state.close()
    }

    /// The file will not be finished (spooling failed): the walk stops.
    public func cancel() {
        state.cancel()
    }

    /// The digest (`sha256:…`) of the member whose data is `slice`, waiting for the walk to
    /// hash it; nil when it has none (another file, compressed, or not found by the walk).
    public func digest(of slice: FileSlice) -> String? {
        guard slice.file.path == path else { return nil }
        return state.digest(offset: slice.offset, length: slice.length)
    }
}

/// The walking thread and what it shares with its owner, each shared field behind `condition`.
private final class MemberWalk: @unchecked Sendable {
    private let file: OpenFile
    private let condition = NSCondition()
    private var available: Int64 = 0
    private var closed = false
    private var cancelled = false
    private var done = false
    /// Every member whose data begins before this offset has been hashed or passed over.
    private var walked: Int64 = 0
    private var digests: [Int64: (length: Int64, digest: String)] = [:]

    init(file: OpenFile) {
        self.file = file
    }

    func extend(to count: Int64) {
        condition.lock()
        if count > available {
            available = count
            condition.broadcast()
        }
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !done { condition.wait() }
        condition.unlock()
    }

    func digest(offset: Int64, length: Int64) -> String? {
        condition.lock()
        defer { condition.unlock() }
        while !done, digests[offset] == nil, walked <= offset { condition.wait() }
        guard let recorded = digests[offset], recorded.length == length else { return nil }
        return recorded.digest
    }

    func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        // A failure (the spool cut short, a header libarchive refuses) only ends the walk:
        // the members it did not reach are hashed by the flatten instead.
        try? walk(buffer: buffer)
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    /// The walk stops: cancelled, or the file ended inside a member.
    private struct WalkEnded: Error {}

    private func walk(buffer: UnsafeMutableRawBufferPointer) throws {
        var position: Int64 = 0
        // Headers only: libarchive skips member data through `skip`, and the data is
        // hashed below, straight from the file.
        let reader = try TarReader(
            name: file.path, bufferSize: 16 << 10,
            skip: { request in
                position += request
                return request
            },
            read: { [self] chunk in
                let want = try wait(for: position + 1, upTo: position + Int64(chunk.count)) - position
                let got = try file.read(
                    at: position, into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<Int(max(0, want))]))
                position += Int64(got)
                return got
            })
        while let entry = try reader.nextEntry() {
            guard entry.kind == .regular else { continue }
            let slice = FileSlice(file: file, offset: reader.consumedBytes, length: entry.size)
            _ = try wait(for: slice.offset + min(4, slice.length), upTo: slice.offset + 4)
            if try LayerCompression.sniff(slice) == .none {
                let digest = try hash(slice, buffer: buffer)
                record(slice, digest: digest)
            }
            advance(past: slice)
        }
    }

    private func hash(_ slice: FileSlice, buffer: UnsafeMutableRawBufferPointer) throws -> String {
        var hasher = SHA256()
        var done: Int64 = 0
        while done < slice.length {
            let end = try wait(for: slice.offset + done + 1, upTo: slice.offset + slice.length)
            guard end > slice.offset + done else { throw WalkEnded() }
            let want = Int(min(Int64(buffer.count), end - slice.offset - done))
            let got = try file.read(
                at: slice.offset + done, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard got > 0 else { throw WalkEnded() }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            done += Int64(got)
        }
        return ContentDigest(hasher.finalize()).description
    }

    /// Waits until the file holds `needed` bytes, or no more will come; how many it holds,
    /// at most `limit`. Throws when the walk is cancelled.
    private func wait(for needed: Int64, upTo limit: Int64) throws -> Int64 {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, !closed, available < needed { condition.wait() }
        if cancelled { throw WalkEnded() }
        return min(available, limit)
    }

    private func record(_ slice: FileSlice, digest: String) {
        condition.lock()
        digests[slice.offset] = (slice.length, digest)
        condition.unlock()
    }

    private func advance(past slice: FileSlice) {
        condition.lock()
        walked = max(walked, slice.offset + 1)
        condition.broadcast()
        condition.unlock()
    }
}
