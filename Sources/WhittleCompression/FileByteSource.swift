#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the byte range `[offset, offset + length)` of an open file with `pread`, which
/// leaves the descriptor's file position alone, so many slices (say, the layers inside
/// one image tarball) can be read from a single descriptor. The descriptor is borrowed:
/// the caller keeps it open while the source is used and closes it afterwards.
public final class FileSliceSource: ByteSource {
    private let fileDescriptor: Int32
    private var position: Int64
    private var remaining: Int64

    public init(fileDescriptor: Int32, offset: Int64, length: Int64) {
        self.fileDescriptor = fileDescriptor
        self.position = offset
        self.remaining = max(0, length)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard remaining > 0, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let wanted = Int(min(Int64(buffer.count), remaining))
        while true {
            let count = pread(fileDescriptor, base, wanted, off_t(position))
            if count < 0 {
                if errno == EINTR { continue }
                throw CompressionError.readFailed(errno: errno)
            }
            // End of file inside the range: the file is shorter than its index claimed.
            if count == 0 { throw CompressionError.fileEndedEarly(missingBytes: remaining) }
            position += Int64(count)
            remaining -= Int64(count)
            return count
        }
    }
}

/// Writes everything it is given to an open file descriptor, retrying short writes.
/// The descriptor is borrowed: the caller closes it.
public final class FileSink: ByteSink {
    private let fileDescriptor: Int32

    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let count = systemWrite(fileDescriptor, next, remaining)
            if count < 0 {
                if errno == EINTR { continue }
                throw CompressionError.writeFailed(errno: errno)
            }
            next += count
            remaining -= count
        }
    }
}

/// The C `write`, named apart from `FileSink.write(_:)`.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
        return Darwin.write(fd, bytes, count)
    #elseif canImport(Musl)
        return Musl.write(fd, bytes, count)
    #else
        return Glibc.write(fd, bytes, count)
    #endif
}
