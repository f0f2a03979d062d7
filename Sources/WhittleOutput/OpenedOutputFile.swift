import Foundation
import WhittleFiles
#if canImport(Glibc)
    import Glibc
#endif

/// An empty regular file that is already open, written in place: standard output redirected
/// to a new file (`whittle slim - -o - > app.tar`). There is no name to rename, so the image
/// is written there directly rather than staged and copied. Until `commit()`, a failure (the
/// object dropped) or an interruption empties the file again: no partial output.
public final class OpenedOutputFile: OutputFile {
    public let name: String
    /// The file as it was handed over; emptied on failure.
    private let original: Int32
    /// A duplicate that all writes go through, which an interruption can cut off before it
    /// empties the file.
    let descriptor: Int32
    let readDescriptor: Int32
    private var committed = false

    /// Nil unless `descriptor` is a regular file of no bytes, at offset 0, not in append mode,
    /// that can be opened again for reading: anything else (a pipe, a terminal, a file with
    /// content, `>>`) is no place to write in place.
    public init?(adopting descriptor: Int32, name: String) {
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size == 0,
            lseek(descriptor, 0, SEEK_CUR) == 0, fcntl(descriptor, F_GETFL) & O_APPEND == 0
        else { return nil }
        // Opened by the shell for writing only; the layer is hashed back through a reader.
        let reader = open("/proc/self/fd/\(descriptor)", O_RDONLY | O_CLOEXEC)
        var read = stat()
        guard reader >= 0, fstat(reader, &read) == 0, read.st_dev == info.st_dev, read.st_ino == info.st_ino,
            case let writer = fcntl(descriptor, F_DUPFD_CLOEXEC, 3), writer >= 0
        else {
            if reader >= 0 { close(reader) }
            return nil
        }
        self.name = name
        original = descriptor
        self.descriptor = writer
        readDescriptor = reader
        Interruption.emptyOnInterrupt(descriptor, writtenThrough: writer)
    }

    deinit {
        if !committed {
            Interruption.settleFile(original) { Interruption.emptyFile(original, cuttingOff: descriptor) }
        }
        close(descriptor)
        close(readDescriptor)
    }

    func commit() throws {
        Interruption.settleFile(original) { committed = true }
    }

}
