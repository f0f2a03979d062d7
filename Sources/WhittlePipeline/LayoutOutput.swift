import Foundation
import WhittleArchive
import WhittleCompression
import WhittleFiles
import WhittleOutput
#if canImport(Glibc)
    import Glibc
#endif

/// `-o oci:DIR`: the finished tarball unpacked into an OCI image layout directory. It is
/// unpacked beside DIR under a hidden name and renamed into place, so DIR never holds half
/// an image, and an interrupted run leaves nothing.
enum LayoutOutput {
    /// Refuses, before the long work, a DIR that holds anything or cannot be made: whittle
    /// writes a new layout, it does not add an image to one.
    static func checkDestination(_ directory: String) throws {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw OutputError.cannotCreate(path: directory, reason: "it exists and is not a directory")
            }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard entries.isEmpty else {
                throw OutputError.cannotCreate(
                    path: directory, reason: "it is not empty; whittle writes a new OCI layout, name a new directory")
            }
        }
        let parent = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        guard access(parent, W_OK) == 0 else {
            throw OutputError.cannotCreate(path: directory, reason: String(cString: strerror(errno)) + " (\(parent))")
        }
    }

    /// Unpacks `archive` (whittle's own output: directories and regular files only) into
    /// `directory`.
    static func unpack(_ archive: String, into directory: String, meter: ByteMeter) throws {
        let url = URL(fileURLWithPath: directory)
        let staging = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).whittle-\(getpid())"
        )
        .path
        Interruption.removeOnInterrupt(staging)
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
            try extract(archive, into: staging, meter: meter)
            try Interruption.settle(staging) {
                // An empty directory the user made is replaced; checkDestination refused any other.
                _ = rmdir(directory)
                guard rename(staging, directory) == 0 else {
                    throw OutputError.writeFailed(path: directory, reason: String(cString: strerror(errno)))
                }
            }
        } catch {
            Interruption.settle(staging) { try? FileManager.default.removeItem(atPath: staging) }
            throw error
        }
    }

    private static func extract(_ archive: String, into root: String, meter: ByteMeter) throws {
        let input = try OpenFile(path: archive)
        let source = FileSliceSource(fileDescriptor: input.descriptor, offset: 0, length: input.size)
        let reader = try TarReader(name: archive) { try source.read(into: $0) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while let entry = try reader.nextEntry() {
            let path = root + "/" + entry.path
            switch entry.kind {
            case .directory:
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            case .regular:
                let file = try OpenFile(path: path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
                let sink = FileSink(fileDescriptor: file.descriptor)
                while case let count = try reader.readData(into: buffer), count > 0 {
                    try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                    meter.add(count)
                }
            default:
                throw OutputError.writeFailed(path: path, reason: "an unexpected member in the written image")
            }
        }
    }
}
