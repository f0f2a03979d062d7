/// The kinds of tar entry a layer may hold.
public enum TarEntryKind: Sendable, Equatable {
    case regular, directory, symlink, hardlink, characterDevice, blockDevice, fifo, socket
}

/// An extended attribute; values are raw bytes (`security.capability` is binary).
public struct ExtendedAttribute: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// One tar header, decoded into plain values so that no libarchive object outlives a read.
public struct TarEntry: Sendable, Equatable {
    public var path: String
    public var kind: TarEntryKind
    /// Permission bits including setuid, setgid and sticky (`mode & 0o7777`).
    public var permissions: UInt32
    public var uid: Int64
    public var gid: Int64
    public var mtimeSeconds: Int64
    public var mtimeNanoseconds: Int64
    /// Content length for regular files; 0 for everything else.
    public var size: Int64
    /// The symlink target, or for a hardlink the name of the entry it links to.
    public var linkTarget: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    public var xattrs: [ExtendedAttribute]
    /// Sparse entries have holes, so their bytes are not one contiguous run in the stream.
    public var isSparse: Bool

    public init(
        path: String, kind: TarEntryKind, permissions: UInt32 = 0o644, uid: Int64 = 0, gid: Int64 = 0,
        mtimeSeconds: Int64 = 0, mtimeNanoseconds: Int64 = 0, size: Int64 = 0, linkTarget: String = "",
        deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, xattrs: [ExtendedAttribute] = [],
        isSparse: Bool = false
    ) {
        self.path = path
        self.kind = kind
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.size = size
        self.linkTarget = linkTarget
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
        self.isSparse = isSparse
    }
}
