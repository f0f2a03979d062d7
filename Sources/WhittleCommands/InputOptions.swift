import ArgumentParser
import Foundation
import WhittlePipeline
import WhittleCompression
import WhittleFiles
import WhittleImage
import WhittleRegistry
#if canImport(Glibc)
    import Glibc
#endif

/// How to find the one image to work on, shared by every command that reads an image.
struct InputOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            """
            The image: a `docker save` tarball, an oci-archive, or an OCI layout directory; or, as \
            skopeo names them, docker://HOST/REPO[:TAG|@DIGEST] (a registry), docker-daemon:NAME:TAG \
            (the Docker engine), docker-archive:PATH[:NAME:TAG], oci-archive:PATH, oci:DIR[:REF]. \
            `-` reads the tarball from standard input; a pipe is first copied to a temporary file \
            in $TMPDIR (gzip is inflated on the way), because `docker save` writes its manifest \
            after the layers, and removed at the end; so is an image from a registry or the engine.
            """, valueName: "image"))
    var image: String

    @Option(
        name: .customLong("image"),
        help: ArgumentHelp(
            "Which image to take when the archive holds several, by name:tag.", valueName: "name:tag"))
    var imageName: String?

    @Option(
        help: ArgumentHelp(
            "Which platform to take from a multi-platform image (default: this machine's).",
            valueName: "os/arch[/variant]"))
    var platform: String?

    @Option(
        name: .customLong("max-inflation"),
        help: ArgumentHelp(
            "How far a layer may expand as it is read: a gzip or zstd layer (or an archive compressed whole) "
                + "may inflate, and the file data of any layer add up, to RATIO times its stored size, or 1 GiB "
                + "when that is more; past it the image is refused as a decompression bomb. 0 lifts the limit. "
                + "Example: --max-inflation 2000 for an image that really holds gigabytes of zeros.",
            valueName: "ratio"))
    var maxInflation: Int64 = InflationLimit.defaultRatio

    @OptionGroup var registry: RegistryOptions

    func selection() throws -> ImageSelection {
        guard maxInflation >= 0 else {
            throw ValidationError("--max-inflation takes a ratio of 0 or more (0 lifts the limit); got \(maxInflation)")
        }
        // `docker-archive:PATH:NAME` and `oci:DIR:REF` name the image as --image does.
        var named = imageName
        if case let .local(_, _, reference?) = try ImageLocation(parsing: image), named == nil { named = reference }
        var selection = ImageSelection(name: named, inflation: InflationLimit(ratio: maxInflation))
        if let platform {
            guard let parsed = Platform(parsing: platform) else {
                throw ValidationError(
                    "--platform takes os/arch or os/arch/variant, e.g. linux/amd64; got '\(platform)'")
            }
            selection.platform = parsed
        }
        return selection
    }

    /// Opens the image argument, spooling standard input when it is `-` and a pipe, and
    /// fetching an image from a registry or the engine.
    func open(progress: ProgressDisplay) throws -> ImageInput {
        try ImageInput(
            argument: image, progress: progress, access: registry.access(),
            platform: try selection().platform)
    }
}

/// How to reach registries, for images read and written alike (skopeo's flags).
struct RegistryOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Credentials for docker:// images (default: REGISTRY_AUTH_FILE, then ~/.docker/config.json and its helpers).",
            valueName: "user:password"))
    var creds: String?

    @Option(
        name: .customLong("cert-dir"),
        help: ArgumentHelp(
            "A directory of *.crt CAs to trust (and *.cert/*.key client certificates) for docker:// images "
                + "(default: /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST).",
            valueName: "dir"))
    var certDirectory: String?

    @Option(
        name: .customLong("tls-verify"),
        help: ArgumentHelp(
            "--tls-verify=false accepts any certificate, and plain HTTP, from registries.", valueName: "bool"))
    var tlsVerify: Bool = true

    /// With `credentials`, those in place of `--creds` (slim's `--src-creds`, `--dest-creds`).
    func access(credentials: String? = nil) -> RegistryAccess {
        RegistryAccess(credentials: credentials ?? creds, certificateDirectory: certDirectory, verifyTLS: tlsVerify)
    }
}
