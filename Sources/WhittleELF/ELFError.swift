/// Why an ELF file or the loader cache could not be read. Each message names the file, which
/// part of it is at fault, and what to do about it.
public enum ELFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file starts like an ELF file but ends before a structure its headers point to.
    case truncated(file: String, structure: String)
    /// The headers hold values no loader would accept.
    case malformed(file: String, reason: String)
    /// Reading the file's bytes failed.
    case unreadable(file: String, reason: String)
    /// `etc/ld.so.cache` is neither of the formats glibc's loader reads.
    case malformedCache(file: String, reason: String)

    public var description: String {
        switch self {
        case let .truncated(file, structure):
            return "'\(file)' starts like an ELF file but ends inside its \(structure); the image may be damaged "
                + "(rebuild or re-pull it), or keep the file explicitly if it is not a program"
        case let .malformed(file, reason):
            return "'\(file)' is not a well-formed ELF file: \(reason); its libraries cannot be worked out, "
                + "so keep what it needs with explicit keep patterns"
        case let .unreadable(file, reason):
            return "cannot read '\(file)': \(reason)"
        case let .malformedCache(file, reason):
            return "'\(file)' is not a loader cache glibc can read: \(reason); run ldconfig in the image "
                + "to rebuild it, or delete it so the configured directories are searched instead"
        }
    }
}
