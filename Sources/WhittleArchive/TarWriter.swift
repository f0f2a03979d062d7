import CArchive

/// Writes a tar stream with libarchive to a push callback.
///
/// The format is restricted PAX: plain ustar headers, with a PAX header only where ustar
/// cannot hold a value (long names, large ids, xattrs). Output is unblocked and passed
/// through a 1 MiB buffer so the callback sees few, large writes.
public final class TarWriter {
    public typealias Write = (UnsafeRawBufferPointer) throws -> Void

    private let handle: OpaquePointer
    private let context: WriteContext
    private let name: String
    private var finished = false

    public init(name: String, write: @escaping Write) throws {
        _ = utf8LocaleSetup
        guard let handle = archive_write_new() else { throw ArchiveError.outOfMemory }
        self.handle = handle
        self.name = name
        self.context = WriteContext(write: write)
        try check(archive_write_set_format_pax_restricted(handle), handle, name)
        try check(archive_write_set_bytes_per_block(handle, 0), handle, name)
        try check(archive_write_set_bytes_in_last_block(handle, 1), handle, name)
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        let opened = archive_write_open2(handle, opaque, nil, writeCallback, nil, nil)
        if opened < ARCHIVE_WARN { throw failure() }
    }

    deinit {
        archive_write_free(handle)
    }

    public func writeHeader(_ entry: TarEntry) throws {
        guard let raw = archive_entry_new() else { throw ArchiveError.outOfMemory }
        defer { archive_entry_free(raw) }
        encodeEntry(entry, into: raw)
        if archive_write_header(handle, raw) < ARCHIVE_WARN { throw failure() }
    }

    public func writeData(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var offset = 0
        while offset < bytes.count {
            let written = archive_write_data(handle, base + offset, bytes.count - offset)
            if written < 0 { throw failure() }
            offset += written
        }
    }

    /// The bytes libarchive writes for one header (with any PAX extension before it), for
    /// callers that place a header in front of data they already wrote.
    public static func encodeHeader(_ entry: TarEntry) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var captured = false
        let writer = try TarWriter(name: entry.path) { chunk in
            // Once the header is taken, refuse the zero padding libarchive would write for
            // the data that is never given (gigabytes for a large layer).
            if captured { throw HeaderCaptured() }
            bytes.append(contentsOf: chunk)
        }
        // The writer must outlive the capture: freeing it closes the entry.
        try withExtendedLifetime(writer) {
            try writer.writeHeader(entry)
            try writer.context.flush()
            captured = true
        }
        return bytes
    }

    private struct HeaderCaptured: Error {}

    public func writeData(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeData($0) }
    }

    /// Writes the end-of-archive marker and flushes. Must be called; `deinit` only frees.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        if archive_write_close(handle) < ARCHIVE_WARN { throw failure() }
        try context.flush()
    }

    private func failure() -> Error {
        if let error = context.pendingError {
            context.pendingError = nil
            return error
        }
        return ArchiveError.libarchive(context: name, message: errorString(handle))
    }
}

final class WriteContext {
    let write: TarWriter.Write
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20
    var pendingError: Error?

    init(write: @escaping TarWriter.Write) {
        self.write = write
        buffer.reserveCapacity(capacity)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        // Large chunks go straight through; small ones (headers, padding) are gathered.
        if bytes.count >= capacity / 2 {
            try flush()
            try write(bytes)
            return
        }
        if buffer.count + bytes.count > capacity { try flush() }
        buffer.append(contentsOf: bytes)
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try write($0) }
        buffer.removeAll(keepingCapacity: true)
    }
}

private func writeCallback(
    _ archive: OpaquePointer?, _ clientData: UnsafeMutableRawPointer?,
    _ bytes: UnsafeRawPointer?, _ count: Int
) -> la_ssize_t {
    guard let clientData else { return -1 }
    let context = Unmanaged<WriteContext>.fromOpaque(clientData).takeUnretainedValue()
    do {
        try context.append(UnsafeRawBufferPointer(start: bytes, count: count))
        return la_ssize_t(count)
    } catch {
        context.pendingError = error
        return -1
    }
}

private func encodeEntry(_ entry: TarEntry, into raw: OpaquePointer) {
    archive_entry_set_pathname(raw, entry.path)
    let typeBits: UInt32
    switch entry.kind {
    case .regular, .hardlink: typeBits = UInt32(S_IFREG)
    case .directory: typeBits = UInt32(S_IFDIR)
    case .symlink: typeBits = UInt32(S_IFLNK)
    case .characterDevice: typeBits = UInt32(S_IFCHR)
    case .blockDevice: typeBits = UInt32(S_IFBLK)
    case .fifo: typeBits = UInt32(S_IFIFO)
    case .socket: typeBits = UInt32(S_IFSOCK)
    }
    archive_entry_set_mode(raw, mode_t(typeBits | (entry.permissions & 0o7777)))
    archive_entry_set_uid(raw, entry.uid)
    archive_entry_set_gid(raw, entry.gid)
    archive_entry_set_mtime(raw, time_t(entry.mtimeSeconds), Int(entry.mtimeNanoseconds))
    switch entry.kind {
    case .regular:
        archive_entry_set_size(raw, entry.size)
    case .hardlink:
        archive_entry_set_hardlink(raw, entry.linkTarget)
        archive_entry_set_size(raw, 0)
    case .symlink:
        archive_entry_set_symlink(raw, entry.linkTarget)
        archive_entry_set_size(raw, 0)
    case .characterDevice, .blockDevice:
        archive_entry_set_rdevmajor(raw, dev_t(entry.deviceMajor))
        archive_entry_set_rdevminor(raw, dev_t(entry.deviceMinor))
        archive_entry_set_size(raw, 0)
    default:
        archive_entry_set_size(raw, 0)
    }
    for xattr in entry.xattrs {
        xattr.value.withUnsafeBytes { bytes in
            archive_entry_xattr_add_entry(raw, xattr.name, bytes.baseAddress, bytes.count)
        }
    }
}
