/// Why a path stays in a slimmed image. Reports and dry runs print it as `trace`,
/// `closure:elf`, `keep`, `protected:entrypoint`, ….
public enum KeepReason: Hashable, Sendable, CustomStringConvertible {
    /// The app named it while it was traced.
    case traced
    /// What a trace cannot see, but the app needs.
    case closure(Closure)
    /// A keep rule (`--keep` or a profile's `keep`) matched it.
    case keepRule
    /// It survives every profile; only an explicit `--remove` takes it.
    case protected(Protection)

    public enum Closure: String, Sendable {
        /// A symlink on a kept path, or what one leads to.
        case symlink
        /// The directory a path the app created or probed for was looked up in.
        case directory
        /// Files no app asks for until it fails: accounts, name service, CA bundle.
        case essential
        /// A `.pyc`'s source.
        case python
        /// ELF interpreters and libraries.
        case elf
        /// `#!` interpreters.
        case shebang
        /// A file inside a kept directory that nothing else named.
        case parent
        /// The app used part of this language package (a Python distribution, a Node.js
        /// package, a Ruby gem, a Composer package, a Perl distribution, or a Debian
        /// package of Perl, Ruby or PHP library code), so the whole package stays.
        case package
        /// A package that a kept package declares it requires.
        case dependency
        /// A module an import statement of kept code names, or what it needs to load.
        case importStatement = "import"
        /// Inside a directory the app wrote into, or a VOLUME: its data stays whole.
        case state
        /// The app read this package's metadata, so the package stays, listed and whole.
        case metadata
    }

    public enum Protection: String, Sendable {
        /// `/etc/passwd` and `/etc/group`.
        case accounts
        /// The entrypoint and command programs and what the loader needs to start them.
        case entrypoint
        /// The package databases and the records of packages that stay, which scanners read.
        case packages
    }

    public var description: String {
        switch self {
        case .traced: return "trace"
        case let .closure(kind): return "closure:\(kind.rawValue)"
        case .keepRule: return "keep"
        case let .protected(kind): return "protected:\(kind.rawValue)"
        }
    }
}
