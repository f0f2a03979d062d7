import Foundation
import WhittleCompression
#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name beside its destination and renamed into place
/// only by `commit()`. Dropped without a commit, it removes itself: a failed run leaves
/// no partial output.
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
            throw OutputError.cannotCreate(path: destination, reason: String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        temporaryPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        close(descriptor)
        if !committed { unlink(temporaryPath) }
    }

    var sink: FileSink { FileSink(fileDescriptor: descriptor) }

    func commit() throws {
        // mkstemp creates 0600; an image tarball is an ordinary file, so honour the umask.
        let mask = umask(0)
        umask(mask)
        fchmod(descriptor, 0o666 & ~mask)
        guard rename(temporaryPath, destination) == 0 else {
            throw OutputError.writeFailed(path: destination, reason: String(cString: strerror(errno)))
        }
        committed = true
    }

    var size: Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }
}
