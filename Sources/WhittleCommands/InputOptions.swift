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

    func selection() throws -> ImageSelection {
        var selection = ImageSelection(name: imageName)
        if let platform {
            guard let parsed = Platform(parsing: platform) else {
                throw ValidationError("--platform takes os/arch or os/arch/variant, e.g. linux/amd64; got '\(platform)'")
            }
            selection.platform = parsed
        }
        return selection
    }
}
