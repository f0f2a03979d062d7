import CArchive
#if canImport(Glibc)
    import Glibc
#endif

/// Failures while reading or writing tar streams through libarchive.
public enum ArchiveError: Error, CustomStringConvertible, Sendable {
    /// libarchive refused the data; `context` names what was being read or written.
    case libarchive(context: String, message: String)
    /// The handle could not even be allocated.
    case outOfMemory

    public var description: String {
        switch self {
        case let .libarchive(context, message):
            return "\(context): \(message)"
        case .outOfMemory:
            return "libarchive could not allocate a handle"
        }
    }
}

/// Every libarchive return code passes through here so no failure is silently dropped.
/// `ARCHIVE_WARN` is accepted: libarchive uses it for recoverable oddities (such as a
/// missing `uname`), which are not reasons to reject an image.
@discardableResult
func check(_ code: Int32, _ handle: OpaquePointer, _ context: String) throws -> Int32 {
    if code >= ARCHIVE_WARN { return code }
    throw ArchiveError.libarchive(context: context, message: errorString(handle))
}

func errorString(_ handle: OpaquePointer) -> String {
    guard let message = archive_error_string(handle) else { return "unknown libarchive error" }
    return String(cString: message)
}

/// Names in layers are UTF-8 in practice; libarchive converts names through the C locale,
/// so the process switches its character type to UTF-8 once, before the first handle.
let utf8LocaleSetup: Void = {
    _ = setlocale(LC_CTYPE, "C.UTF-8")
}()
