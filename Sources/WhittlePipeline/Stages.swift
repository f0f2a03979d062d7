import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleRegistry
import WhittleSelect

// The results of `Slim`'s stages, each made once by its stage and read by the ones after:
// read and flatten → `Flattened` (in WhittleFlatten, shared with inspect), select →
// `Decided`, write → `Written`, and from all three the `SlimReport`.

/// Stage two: what goes, with a reason for each decision, and the package databases
/// rewritten to match. Made in a dry run too, so both report the same figures.
public struct Decided {
    public let selection: Selection
    /// The package databases' new content, which the writer writes in place of the old.
    public let rewrittenDatabases: GeneratedContent
    /// OS packages that lose files, most bytes first, so users can judge the risk.
    public let packageLosses: [PackageLoss]
    /// Packages removed and partial in the databases the output carries; nil when the input
    /// has no package database or nothing was asked to go.
    public let packageDatabases: PackageSection?
    /// What the user should know that does not stop the run (a trace of another image, say).
    public let warnings: [String]
}

/// Stage three: the image written, verified when asked, and put where `-o` said.
public struct Written {
    public let file: WriteResult
    /// How the report names the output: the file's path, or `-o`'s argument.
    public let output: String
    /// With `verify`: one line per trace the output was checked against.
    public let verified: [String]
    /// Where the image went when it is not one tarball; nil for a file.
    public let delivery: Delivery?
}

/// Where the image went when it is not one tarball: pushed (with its digest), loaded, or
/// unpacked into an OCI layout directory.
public enum Delivery: Sendable {
    case pushed(RegistryReference, digest: String)
    case loaded(engine: String, message: String)
    case unpacked(directory: String)

    var pushedDigest: String? {
        guard case let .pushed(_, digest) = self else { return nil }
        return digest
    }
}
