import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress display on stderr, shown only when stderr is a terminal so that
/// logs and pipes stay clean.
final class Progress {
    private let enabled: Bool
    private var shown = false

    init(enabled: Bool = isatty(STDERR_FILENO) == 1) {
        self.enabled = enabled
    }

    func update(_ message: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + message).utf8))
        shown = true
    }

    func clear() {
        guard enabled, shown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        shown = false
    }
}

