import Foundation
import WhittleCompression
import WhittleFiles
#if canImport(Glibc)
    import Glibc
#endif

/// Where `ImageWriter` puts a tarball: a file it can seek in, write at offsets, and read
/// back (to hash the layer it just wrote), which is kept only once `commit()` is called.
protocol OutputFile: AnyObject {
    /// The output as messages name it.
    var name: String { get }
    /// Open for writing.
    var descriptor: Int32 { get }
    /// Open for reading the same file.
    var readDescriptor: Int32 { get }
    func commit() throws
}

extension OutputFile {
    var sink: FileSink { FileSink(fileDescriptor: descriptor) }

    func seek(to offset: Int64) throws {
        guard lseek(descriptor, off_t(offset), SEEK_SET) == off_t(offset) else {
            throw OutputError.writeFailed(path: name, reason: OutputError.reason(errno))
        }
    }

    /// Writes at a position without moving the file offset.
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return pwrite(descriptor, base + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw OutputError.writeFailed(path: name, reason: OutputError.reason(errno))
            }
            done += written
        }
    }

    var size: Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }
}

/// A file written beside its destination and given the destination's name only by
/// `commit()`. Dropped without a commit, it removes itself: a failed run leaves no partial
/// output.
///
/// Where the file system allows (`O_TMPFILE`: ext4, xfs, btrfs, tmpfs), the file has no
/// name at all until the commit links it in, so even a run killed outright leaves nothing.
/// Elsewhere it has a hidden name, `.OUT.whittle-XXXXXX`, which Ctrl-C and SIGTERM remove
/// (`Interruption`).
final class AtomicOutputFile: OutputFile {
    let destination: String
    /// Nil while the file has no name.
    let temporaryPath: String?
    let descriptor: Int32
    private var committed = false

    init(destination: String) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let directory = url.deletingLastPathComponent().path
        let nameless = Self.canLinkByDescriptor ? open(directory, Self.tmpfile | O_RDWR | O_CLOEXEC, 0o600) : -1
        if nameless >= 0 {
            descriptor = nameless
            temporaryPath = nil
            return
        }
        if Self.canLinkByDescriptor, ![EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
            throw OutputError.cannotCreate(path: destination, reason: OutputError.reason(errno))
        }
        var template = Array(Self.hiddenName(for: destination).utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard descriptor >= 0 else {
            throw OutputError.cannotCreate(path: destination, reason: OutputError.reason(errno))
        }
        self.descriptor = descriptor
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        temporaryPath = path
        Interruption.removeOnInterrupt(path)
    }

    deinit {
        close(descriptor)
        if !committed, let temporaryPath { Interruption.settle(temporaryPath) { _ = unlink(temporaryPath) } }
    }

    /// `O_TMPFILE`, which Swift does not import (a macro built from others).
    private static let tmpfile: Int32 = 0o20000000 | O_DIRECTORY

    /// A nameless file gets its name through /proc/self/fd.
    private static let canLinkByDescriptor = access("/proc/self/fd", X_OK) == 0

    /// `.OUT.tar.whittle-XXXXXX` beside `OUT.tar`.
    private static func hiddenName(for destination: String) -> String {
        let url = URL(fileURLWithPath: destination)
        return url.deletingLastPathComponent().path + "/.\(url.lastPathComponent).whittle-XXXXXX"
    }

    var name: String { destination }
    var readDescriptor: Int32 { descriptor }

    func commit() throws {
        // The file was made 0600; an image tarball is an ordinary file, so honour the umask.
        let mask = umask(0)
        umask(mask)
        fchmod(descriptor, 0o666 & ~mask)
        let path = try temporaryPath ?? linkIn()
        // Under the interruption lock: Ctrl-C sees the hidden name or the output, never half.
        try Interruption.settle(path) {
            guard rename(path, destination) == 0 else {
                let reason = OutputError.reason(errno)
                unlink(path)
                throw OutputError.writeFailed(path: destination, reason: reason)
            }
            committed = true
        }
    }

    /// Gives the nameless file a hidden name beside the destination (linkat cannot replace
    /// an existing file; the rename after it can).
    private func linkIn() throws -> String {
        for _ in 0..<100 {
            let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let path = String(Self.hiddenName(for: destination).dropLast(6)) + suffix
            Interruption.removeOnInterrupt(path)
            if linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 { return path }
            Interruption.forget(path)
            guard errno == EEXIST else {
                throw OutputError.writeFailed(path: destination, reason: OutputError.reason(errno))
            }
        }
        throw OutputError.writeFailed(path: destination, reason: OutputError.reason(EEXIST))
    }
}
