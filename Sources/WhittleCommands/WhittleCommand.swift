import ArgumentParser

/// The `whittle` command tree. The executable target only calls `main()`.
public struct WhittleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "whittle",
        abstract: "Make container images small, without a Docker daemon.",
        discussion: """
            whittle reads an image saved with `docker save` (or an OCI archive or layout), \
            flattens its layers exactly as Docker applies them, and writes a single-layer \
            image tarball that `docker load` takes.

            Examples:
              whittle inspect app.tar
              whittle slim app.tar --dry-run --profile safe
              whittle slim app.tar -o app-slim.tar --profile safe --tag app:slim
              whittle slim app.tar -o app-slim.tar --compression gzip
              whittle profiles list
              whittle trace app.tar -o app.json --probe-http http://127.0.0.1:8080/
              whittle slim app.tar -o app-slim.tar --trace app.json --verify
              docker load -i app-slim.tar
            """,
        version: "0.1.0",
        subcommands: [
            SlimCommand.self, InspectCommand.self, ProfilesCommand.self, TraceCommand.self,
            VerifyCommand.self,
        ])

    public init() {}
}
