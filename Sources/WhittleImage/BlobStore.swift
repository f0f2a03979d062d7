import Foundation
import WhittleArchive
import WhittleFiles

/// Where the files of a saved image live: members of an outer tar, or files of an OCI
/// layout directory. Either way a member is handed out as a slice of an open file, so
/// layers are read in place and never copied into memory.
public protocol BlobStore: AnyObject {
    /// The member at `name` (a path inside the image, e.g. `blobs/sha256/…` or `abc/layer.tar`).
    func slice(named name: String) throws -> FileSlice?
}

extension BlobStore {
    func require(_ name: String) throws -> FileSlice {
        guard normalizedMemberName(name) != nil else { throw ImageError.memberEscapes(name: name) }
        guard let slice = try slice(named: name) else { throw ImageError.missingFile(name: name) }
        return slice
    }

    func readDocument(_ name: String) throws -> [UInt8] {
        try require(name).readAll(name: name)
    }

    func contains(_ name: String) throws -> Bool {
        try slice(named: name) != nil
    }
}

/// A member name without a leading `./` or `/` or a trailing `/`, `.` and `..` folded; nil
/// when it climbs above the archive root.
func normalizedMemberName(_ name: String) -> String? {
    lexicalComponents(name)?.joined(separator: "/")
}

/// An outer tar (`docker save`, oci-archive), indexed once by header.
///
/// Member order is not guaranteed (`manifest.json` may follow the blobs), so the whole
/// archive is indexed first; entry data is skipped, not read, while indexing.
public final class TarBlobStore: BlobStore {
    private enum Member {
        case data(offset: Int64, length: Int64)
        case link(String)
    }

    private let file: OpenFile
    private var members: [String: Member] = [:]

    public init(file: OpenFile) throws {
        self.file = file
        let size = file.size
        let descriptor = file
        var position: Int64 = 0
        let reader: TarReader
        do {
            reader = try TarReader(
                name: file.path,
                skip: { request in
                    let step = max(0, min(request, size - position))
                    position += step
                    return step
                },
                read: { buffer in
                    let got = try descriptor.read(at: position, into: buffer)
                    position += Int64(got)
                    return got
                })
            while let entry = try reader.nextEntry() {
                guard let name = normalizedMemberName(entry.path), !name.isEmpty else { continue }
                switch entry.kind {
                case .regular:
                    let offset = reader.consumedBytes
                    if offset + entry.size > size {
                        throw ImageError.notAnImage(path: file.path, reason: "the archive is truncated inside \(name)")
                    }
                    members[name] = .data(offset: offset, length: entry.size)
                case .hardlink:
                    if let target = normalizedMemberName(entry.linkTarget) { members[name] = .link(target) }
                case .symlink:
                    // `docker save` links duplicate layers to one another by relative path.
                    let directory = (name as NSString).deletingLastPathComponent
                    let joined = entry.linkTarget.hasPrefix("/") ? entry.linkTarget : directory + "/" + entry.linkTarget
                    if let target = normalizedMemberName(joined) { members[name] = .link(target) }
                default:
                    continue
                }
            }
        } catch let error as ArchiveError {
            throw ImageError.notAnImage(
                path: file.path, reason: "\(error)".replacingOccurrences(of: "\(file.path): ", with: ""))
        }
        if members.isEmpty {
            throw ImageError.notAnImage(path: file.path, reason: "the archive is empty")
        }
    }

    public func slice(named name: String) throws -> FileSlice? {
        guard var key = normalizedMemberName(name) else { return nil }
        for _ in 0..<16 {
            switch members[key] {
            case let .data(offset, length)?:
                return FileSlice(file: file, offset: offset, length: length)
            case let .link(target)?:
                key = target
            case nil:
                return nil
            }
        }
        return nil
    }
}

/// An OCI layout directory on disk.
final class DirectoryBlobStore: BlobStore {
    private let root: String
    private var open: [String: OpenFile] = [:]

    init(root: String) {
        self.root = root
    }

    func slice(named name: String) throws -> FileSlice? {
        guard let key = normalizedMemberName(name), !key.isEmpty else { return nil }
        if let file = open[key] { return FileSlice(file: file, offset: 0, length: file.size) }
        let path = root + "/" + key
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return nil
        }
        let file = try OpenFile(path: path)
        open[key] = file
        return FileSlice(file: file, offset: 0, length: file.size)
    }
}

extension FileSlice {
    /// A JSON document of the image, named in errors as `name`.
    func readAll(limit: Int64 = 64 << 20, name: String) throws -> [UInt8] {
        let bytes: [UInt8]?
        do {
            bytes = try self.bytes(limit: limit)
        } catch FileError.truncated {
            throw ImageError.notAnImage(path: file.path, reason: "\(name) is truncated")
        }
        guard let bytes else {
            throw ImageError.notAnImage(path: file.path, reason: "\(name) is implausibly large (\(length) bytes)")
        }
        return bytes
    }
}
