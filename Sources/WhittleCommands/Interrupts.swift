import WhittleFiles

extension WhittleCommand {
    /// Ctrl-C and SIGTERM go to one thread that removes whittle's temporary files and exits
    /// 130 or 143 (`Interruption`). Must run before any other thread starts.
    public static func handleInterruptions() {
        Interruption.install()
    }
}
