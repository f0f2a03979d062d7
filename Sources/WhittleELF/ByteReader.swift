import WhittleFlatten
import WhittleFiles

/// Random access to one file's bytes. Every read is checked against the length first, so a
/// header that points anywhere gives nil instead of a trap or a huge allocation.
struct ByteReader {
    let name: String
    let length: UInt64
    private let fill: (UInt64, UnsafeMutableRawBufferPointer) throws -> Int

    init(content: FileSlice, name: String) {
        self.init(file: content.file, offset: content.offset, length: content.length, name: name)
    }

    init(file: OpenFile, offset: Int64, length: Int64, name: String) {
        self.name = name
        let base = max(offset, 0)
        // Clamped so that no position inside the range overflows a file offset.
        self.length = UInt64(min(max(length, 0), Int64.max - base))
        // `bytes(at:count:)` keeps offsets within `length`, which fits in Int64.
        fill = { position, buffer in try file.read(at: base + Int64(position), into: buffer) }
    }

    init(bytes: [UInt8], name: String) {
        self.name = name
        length = UInt64(bytes.count)
        fill = { position, buffer in
            let start = Int(position)
            let count = min(buffer.count, bytes.count - start)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + count)]))
            }
            return count
        }
    }

    /// The `count` bytes at `offset`, or nil when any of them lies past the end.
    func bytes(at offset: UInt64, count: Int) throws -> [UInt8]? {
        guard count >= 0, offset <= length, UInt64(count) <= length - offset else { return nil }
        if count == 0 { return [] }
        var out = [UInt8](repeating: 0, count: count)
        let got: Int
        do {
            got = try out.withUnsafeMutableBytes { try fill(offset, $0) }
        } catch {
            throw ELFError.unreadable(file: name, reason: "\(error)")
        }
        // The backing file can be shorter than the tree says if a spool was damaged.
        guard got == count else { return nil }
        return out
    }

    /// Up to `count` bytes at `offset`, fewer near the end.
    func prefix(at offset: UInt64, upTo count: Int) throws -> [UInt8] {
        guard offset < length else { return [] }
        return try bytes(at: offset, count: Int(min(UInt64(count), length - offset))) ?? []
    }

    /// The NUL-terminated string at `offset`. nil when no NUL comes before `end` (exclusive)
    /// or within `maxLength` bytes: read in small chunks, as string tables can be large.
    func string(at offset: UInt64, end: UInt64, maxLength: Int = 4096) throws -> String? {
        let end = min(end, length)
        var position = offset
        var collected: [UInt8] = []
        while position < end, collected.count <= maxLength {
            let chunk = try prefix(at: position, upTo: Int(min(256, end - position)))
            if chunk.isEmpty { return nil }
            if let zero = chunk.firstIndex(of: 0) {
                collected.append(contentsOf: chunk[..<zero])
                return collected.count <= maxLength ? String(decoding: collected, as: UTF8.self) : nil
            }
            collected.append(contentsOf: chunk)
            position += UInt64(chunk.count)
        }
        return nil
    }
}

/// Fixed-size fields of one record, decoded in the file's byte order. Reads past the end give
/// zero; callers size records before decoding, so that only guards against mistakes.
struct Fields {
    let bytes: [UInt8]
    let bigEndian: Bool

    func u8(_ at: Int) -> UInt8 { UInt8(truncatingIfNeeded: unsigned(at, 1)) }
    func u16(_ at: Int) -> UInt16 { UInt16(truncatingIfNeeded: unsigned(at, 2)) }
    func u32(_ at: Int) -> UInt32 { UInt32(truncatingIfNeeded: unsigned(at, 4)) }
    func u64(_ at: Int) -> UInt64 { unsigned(at, 8) }

    /// A 32- or 64-bit word, as ELF classes size addresses and offsets.
    func word(_ at: Int, wide: Bool) -> UInt64 { wide ? u64(at) : UInt64(u32(at)) }

    private func unsigned(_ at: Int, _ size: Int) -> UInt64 {
        guard at >= 0, size <= bytes.count, at <= bytes.count - size else { return 0 }
        var value: UInt64 = 0
        for index in 0..<size {
            value = value << 8 | UInt64(bytes[at + (bigEndian ? index : size - 1 - index)])
        }
        return value
    }
}
