import CArchive

/// Reads a tar stream with libarchive from a pull callback.
///
/// The caller supplies bytes (already decompressed and hashed if it wants), so libarchive
/// only parses tar. Errors thrown by the callback surface from `nextEntry()`/`readData`
/// with their own message rather than libarchive's generic one.
public final class TarReader {
    public typealias Read = (UnsafeMutableRawBufferPointer) throws -> Int
    public typealias Skip = (Int64) throws -> Int64

    private let handle: OpaquePointer
    private let context: ReadContext
    private let name: String
    private var entry: OpaquePointer?

    /// - Parameters:
    ///   - name: what the stream is, for error messages ("layer 2 of image.tar").
    ///   - skip: when given, libarchive skips unread entry data through it instead of reading it.
    public init(name: String, bufferSize: Int = 1 << 20, skip: Skip? = nil, read: @escaping Read) throws {
        _ = utf8LocaleSetup
        guard let handle = archive_read_new() else { throw ArchiveError.outOfMemory }
        self.handle = handle
        self.name = name
        self.context = ReadContext(read: read, skip: skip, bufferSize: bufferSize)
        try check(archive_read_support_format_tar(handle), handle, name)
        try check(archive_read_support_format_gnutar(handle), handle, name)
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        try check(archive_read_set_callback_data(handle, opaque), handle, name)
        try check(archive_read_set_read_callback(handle, readCallback), handle, name)
        if skip != nil {
            try check(archive_read_set_skip_callback(handle, skipCallback), handle, name)
        }
        let opened = archive_read_open1(handle)
        if opened < ARCHIVE_WARN { throw failure() }
    }

    deinit {
        archive_read_free(handle)
    }

    /// The next header, or nil at the end of the archive.
    public func nextEntry() throws -> TarEntry? {
        var raw: OpaquePointer?
        let code = archive_read_next_header(handle, &raw)
        if code == ARCHIVE_EOF { return nil }
        if code < ARCHIVE_WARN { throw failure() }
        guard let raw else { throw ArchiveError.libarchive(context: name, message: "no header returned") }
        entry = raw
        try refuseUnrepresentable(raw)
        return decodeEntry(raw)
    }

    /// Names are text in whittle: a name or link target that is not UTF-8 would come out
    /// changed, so it is refused, shown with its odd bytes escaped. An old GNU sparse member
    /// (type S) is refused as Docker's applier refuses it ("unhandled tar header type 83");
    /// PAX sparse files are read.
    private func refuseUnrepresentable(_ raw: OpaquePointer) throws {
        let names = [
            ("name", archive_entry_pathname(raw)), ("hardlink target", archive_entry_hardlink(raw)),
            ("symlink target", archive_entry_symlink(raw)),
        ]
        for (what, pointer) in names {
            guard let pointer, String(validatingCString: pointer) == nil else { continue }
            throw ArchiveError.libarchive(
                context: name, message: "the entry \(what) '\(escaped(pointer))' is not valid UTF-8; refusing it")
        }
        guard archive_entry_pathname(raw) != nil else {
            throw ArchiveError.libarchive(context: name, message: "an entry's name is not valid UTF-8; refusing it")
        }
        // symlink(2) refuses a target of PATH_MAX bytes or more (its NUL must fit), and so
        // does Docker's applier ("file name too long"): the image could never be loaded.
        if let target = archive_entry_symlink(raw), case let bytes = String(cString: target).utf8.count,
            bytes > Self.maxLinkTargetBytes
        {
            let path = archive_entry_pathname(raw).map { String(cString: $0) } ?? ""
            throw ArchiveError.libarchive(
                context: name,
                message: "the symlink '\(path)' has a target of \(bytes) bytes; Linux takes at most "
                    + "\(Self.maxLinkTargetBytes) (PATH_MAX with its NUL); refusing it")
        }
        if archive_entry_sparse_count(raw) > 0, archive_format(handle) == ARCHIVE_FORMAT_TAR_GNUTAR {
            let path = archive_entry_pathname(raw).map { String(cString: $0) } ?? ""
            throw ArchiveError.libarchive(
                context: name,
                message: "'\(path)' is an old GNU sparse file (type S), which Docker's applier "
                    + "does not take; refusing it")
        }
    }

    /// The longest symlink target Linux creates: PATH_MAX (4,096) with the terminating NUL.
    public static let maxLinkTargetBytes = 4095

    /// Bytes of the tar stream consumed so far. Right after `nextEntry()` this is where the
    /// entry's data begins, which lets callers address file contents inside an uncompressed
    /// layer by offset instead of copying them.
    public var consumedBytes: Int64 {
        archive_filter_bytes(handle, 0)
    }

    /// Reads the current entry's data; 0 at its end.
    public func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let count = archive_read_data(handle, base, buffer.count)
        if count < 0 { throw failure() }
        return count
    }

    private func failure() -> Error {
        if let error = context.pendingError {
            context.pendingError = nil
            return error
        }
        return ArchiveError.libarchive(context: name, message: errorString(handle))
    }
}

final class ReadContext {
    let read: TarReader.Read
    let skip: TarReader.Skip?
    let buffer: UnsafeMutableRawBufferPointer
    var pendingError: Error?

    init(read: @escaping TarReader.Read, skip: TarReader.Skip?, bufferSize: Int) {
        self.read = read
        self.skip = skip
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }
}

private func readCallback(
    _ archive: OpaquePointer?, _ clientData: UnsafeMutableRawPointer?,
    _ out: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let clientData else { return -1 }
    let context = Unmanaged<ReadContext>.fromOpaque(clientData).takeUnretainedValue()
    do {
        let count = try context.read(context.buffer)
        out?.pointee = UnsafeRawPointer(context.buffer.baseAddress)
        return la_ssize_t(count)
    } catch {
        context.pendingError = error
        return -1
    }
}

private func skipCallback(
    _ archive: OpaquePointer?, _ clientData: UnsafeMutableRawPointer?, _ request: la_int64_t
) -> la_int64_t {
    guard let clientData else { return 0 }
    let context = Unmanaged<ReadContext>.fromOpaque(clientData).takeUnretainedValue()
    guard let skip = context.skip else { return 0 }
    do {
        return try skip(request)
    } catch {
        context.pendingError = error
        return -1
    }
}

private func decodeEntry(_ raw: OpaquePointer) -> TarEntry {
    let path = archive_entry_pathname(raw).map { String(cString: $0) } ?? ""
    let mode = UInt32(archive_entry_mode(raw))
    var kind: TarEntryKind
    var linkTarget = ""
    if let hardlink = archive_entry_hardlink(raw) {
        kind = .hardlink
        linkTarget = String(cString: hardlink)
    } else {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFDIR): kind = .directory
        case UInt32(S_IFLNK): kind = .symlink
        case UInt32(S_IFCHR): kind = .characterDevice
        case UInt32(S_IFBLK): kind = .blockDevice
        case UInt32(S_IFIFO): kind = .fifo
        case UInt32(S_IFSOCK): kind = .socket
        default: kind = .regular
        }
        if kind == .symlink, let target = archive_entry_symlink(raw) {
            linkTarget = String(cString: target)
        }
    }
    var xattrs: [ExtendedAttribute] = []
    if archive_entry_xattr_reset(raw) > 0 {
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(raw, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            let attribute = ExtendedAttribute(name: String(cString: name), value: bytes)
            // libarchive's own PAX output states each xattr twice (LIBARCHIVE.xattr and
            // SCHILY.xattr); one name has one value.
            if let index = xattrs.firstIndex(where: { $0.name == attribute.name }) {
                xattrs[index] = attribute
            } else {
                xattrs.append(attribute)
            }
        }
    }
    let isDevice = kind == .characterDevice || kind == .blockDevice
    return TarEntry(
        path: path,
        kind: kind,
        permissions: mode & 0o7777,
        uid: archive_entry_uid(raw),
        gid: archive_entry_gid(raw),
        mtimeSeconds: Int64(archive_entry_mtime(raw)),
        mtimeNanoseconds: Int64(archive_entry_mtime_nsec(raw)),
        size: kind == .regular ? archive_entry_size(raw) : 0,
        linkTarget: linkTarget,
        deviceMajor: isDevice ? UInt32(archive_entry_rdevmajor(raw)) : 0,
        deviceMinor: isDevice ? UInt32(archive_entry_rdevminor(raw)) : 0,
        xattrs: xattrs,
        isSparse: archive_entry_sparse_count(raw) > 0
    )
}

/// A C string with bytes outside printable ASCII written as `\xNN`.
private func escaped(_ pointer: UnsafePointer<CChar>) -> String {
    var out = ""
    var cursor = UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self)
    while cursor.pointee != 0 {
        let byte = cursor.pointee
        if byte >= 0x20, byte < 0x7f {
            out.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            out += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
        }
        cursor += 1
    }
    return out
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
