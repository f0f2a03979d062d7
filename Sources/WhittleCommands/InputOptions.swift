import ArgumentParser
import WhittleImage

/// How to find the one image to work on, shared by every command that reads an image.
struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "The saved image: a `docker save` tarball, an oci-archive, or an OCI layout directory.",
        valueName: "image"))
    var image: String

    @Option(name: .customLong("image"), help: ArgumentHelp(
        "Which image to take when the archive holds several, by name:tag.", valueName: "name:tag"))
    var imageName: String?

    @Option(help: ArgumentHelp(
        "Which platform to take from a multi-platform image (default: this machine's).",
        valueName: "os/arch[/variant]"))
    var platform: String?

    @Option(name: .customLong("max-inflation"), help: ArgumentHelp(
        "How far a layer may expand as it is read: a gzip or zstd layer (or an archive compressed whole) "
            + "may inflate, and the file data of any layer add up, to RATIO times its stored size, or 1 GiB "
            + "when that is more; past it the image is refused as a decompression bomb. 0 lifts the limit. "
            + "Example: --max-inflation 2000 for an image that really holds gigabytes of zeros.",
        valueName: "ratio"))
    var maxInflation: Int64 = InflationLimit.defaultRatio

    func selection() throws -> ImageSelection {
        guard maxInflation >= 0 else {
            throw ValidationError("--max-inflation takes a ratio of 0 or more (0 lifts the limit); got \(maxInflation)")
        }
        var selection = ImageSelection(name: imageName, inflation: InflationLimit(ratio: maxInflation))
        if let platform {
            guard let parsed = Platform(parsing: platform) else {
                throw ValidationError("--platform takes os/arch or os/arch/variant, e.g. linux/amd64; got '\(platform)'")
            }
            selection.platform = parsed
        }
        return selection
    }
}
