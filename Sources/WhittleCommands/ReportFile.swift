import Foundation

/// Writes a file the user asked for beside the main output: a report, a digest. Atomically,
/// so a reader never sees half of one.
/// `what` names it in an error: "the report".
func writeRequestedFile(_ data: Data, to path: String, what: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        // Not a usage error: the flags were right, the file system said no.
        throw RequestedFileError(what: what, path: path, reason: systemReason(error))
    }
}

struct RequestedFileError: Error, CustomStringConvertible {
    let what: String
    let path: String
    let reason: String

    var description: String { "cannot write \(what) to \(path): \(reason)" }
}

/// The operating system's words ("No such file or directory") rather than Foundation's
/// generic "The operation could not be completed".
private func systemReason(_ error: any Error) -> String {
    guard let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? POSIXError else {
        return error.localizedDescription
    }
    return String(cString: strerror(underlying.code.rawValue))
}
