/// Non-directory entries, and the bytes of their distinct inodes (a hardlinked file once):
/// how every figure of files and bytes is counted.
public struct Tally: Sendable, Equatable {
    public var files = 0
    public var bytes: Int64 = 0

    public init(files: Int = 0, bytes: Int64 = 0) {
        self.files = files
        self.bytes = bytes
    }
}

/// Counts names and distinct inodes into a `Tally`.
public struct TallyCounter {
    public private(set) var tally = Tally()
    private var seen = Set<ObjectIdentifier>()

    public init() {}

    public mutating func count(_ inode: Inode) {
        tally.files += 1
        if !inode.isShared || seen.insert(ObjectIdentifier(inode)).inserted { tally.bytes += inode.size }
    }
}

extension FileTree {
    /// The whole tree's files and bytes.
    public func measure() -> Tally {
        var counter = TallyCounter()
        walk { _, node in
            if let inode = node.inode { counter.count(inode) }
        }
        return counter.tally
    }
}
