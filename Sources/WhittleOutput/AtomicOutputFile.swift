import Foundation
import WhittleCompression
import WhittleFiles
#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name beside its destination and renamed into place
/// only by `commit()`. Dropped without a commit, it removes itself: a failed run leaves
/// no partial output. Ctrl-C and SIGTERM remove it too (`Interruption`).
final class AtomicOutputFile {
    let destination: String
    let temporaryPath: String
    let descriptor: Int32
    private var committed = false

    init(destination: String) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let directory = url.deletingLastPathComponent().path
        var template = Array("\(directory)/.\(url.lastPathComponent).whittle-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard descriptor >= 0 else {
            throw OutputError.cannotCreate(path: destination, reason: OutputError.reason(errno))
        }
        self.descriptor = descriptor
        temporaryPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        Interruption.removeOnInterrupt(temporaryPath)
    }

    deinit {
        close(descriptor)
        if !committed { Interruption.settle(temporaryPath) { _ = unlink(temporaryPath) } }
    }

    var sink: FileSink { FileSink(fileDescriptor: descriptor) }

    func commit() throws {
        // mkstemp creates 0600; an image tarball is an ordinary file, so honour the umask.
        let mask = umask(0)
        umask(mask)
        fchmod(descriptor, 0o666 & ~mask)
        try Interruption.settle(temporaryPath) {
            guard rename(temporaryPath, destination) == 0 else {
                throw OutputError.writeFailed(path: destination, reason: OutputError.reason(errno))
            }
            committed = true
        }
    }

    func seek(to offset: Int64) throws {
        guard lseek(descriptor, off_t(offset), SEEK_SET) == off_t(offset) else {
            throw OutputError.writeFailed(path: destination, reason: OutputError.reason(errno))
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
                throw OutputError.writeFailed(path: destination, reason: OutputError.reason(errno))
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
