import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C and SIGTERM, handled in one place, which also owns the list of temporary paths
/// (scratch directories, staging outputs) to remove when they arrive, and of open output
/// files (standard output redirected to a file) to empty.
///
/// No signal handler runs: `install()` blocks both signals before any other thread exists,
/// so every later thread inherits the mask, and one thread takes them with `sigwait`. It
/// removes the registered paths in ordinary code and ends the process with the shell's
/// convention, 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
public enum Interruption {
    /// Call first thing in `main`, before any thread starts. Without it (in tests that drive
    /// the library), signals keep their default action.
    public static func install() {
        var signals = interruptSignals()
        // The shell starts a background job with SIGINT ignored; it stays ignored.
        guard !isEmpty(signals) else { return }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let waiter = Thread {
            var signals = interruptSignals()
            while true {
                var received: Int32 = 0
                guard sigwait(&signals, &received) == 0 else { continue }
                registry.interrupted(by: received)
            }
        }
        waiter.name = "whittle-signals"
        waiter.start()
    }

    /// Removes `path` (a file or a whole directory) if the run is interrupted before
    /// `forget(_:)` is called for it.
    public static func removeOnInterrupt(_ path: String) {
        registry.withLock { _ = $0.insert(path) }
    }

    public static func forget(_ path: String) {
        registry.withLock { _ = $0.remove(path) }
    }

    /// Runs `body` (a rename into place, a removal) so that an interruption sees the path
    /// either before or after it, never half-way, then stops watching the path.
    public static func settle<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        try registry.withLock { paths in
            defer { paths.remove(path) }
            return try body()
        }
    }

    /// Empties `file` if the run is interrupted before `settleFile(_:_:)` is called for it;
    /// `writer`, the descriptor the output is written through, is cut off first.
    public static func emptyOnInterrupt(_ file: Int32, writtenThrough writer: Int32) {
        registry.withFiles { $0[file] = writer }
    }

    /// Runs `body` (the output kept, or emptied) so that an interruption sees the file
    /// either before or after it, then stops watching the file.
    public static func settleFile<T>(_ file: Int32, _ body: () throws -> T) rethrows -> T {
        try registry.withFiles { files in
            defer { files[file] = nil }
            return try body()
        }
    }

    /// Points `writer` at /dev/null, so that no write still under way lands after the
    /// truncation, then truncates `file` to nothing.
    public static func emptyFile(_ file: Int32, cuttingOff writer: Int32) {
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if null >= 0 {
            dup2(null, writer)
            close(null)
        }
        _ = ftruncate(file, 0)
        _ = lseek(file, 0, SEEK_SET)
    }

    /// While `body` runs, an interruption calls `handler` instead of ending the process: for
    /// a run that stops itself cleanly and reports what it had (a trace).
    public static func deferring<T>(
        to handler: @escaping @Sendable (Int32) -> Void,
        _ body: () throws -> T
    ) rethrows -> T {
        let previous = registry.swapHandler(handler)
        defer { _ = registry.swapHandler(previous) }
        return try body()
    }

    private static let registry = InterruptRegistry()

    /// SIGINT and SIGTERM, less any this process was started with ignored.
    private static func interruptSignals() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM] {
            var current = sigaction()
            sigaction(signal, nil, &current)
            let ignored =
                unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
                == unsafeBitCast(SIG_IGN, to: Int.self)
            if !ignored { sigaddset(&signals, signal) }
        }
        return signals
    }

    private static func isEmpty(_ signals: sigset_t) -> Bool {
        var signals = signals
        return sigismember(&signals, SIGINT) == 0 && sigismember(&signals, SIGTERM) == 0
    }
}

/// The paths to remove and who hears an interruption; one lock guards both.
private final class InterruptRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: Set<String> = []
    /// Output files to empty, each with the descriptor it is written through.
    private var files: [Int32: Int32] = [:]
    private var handler: (@Sendable (Int32) -> Void)?

    func withLock<T>(_ body: (inout Set<String>) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&paths)
    }

    func withFiles<T>(_ body: (inout [Int32: Int32]) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&files)
    }

    func swapHandler(_ new: (@Sendable (Int32) -> Void)?) -> (@Sendable (Int32) -> Void)? {
        lock.lock()
        defer { lock.unlock() }
        let old = handler
        handler = new
        return old
    }

    /// Removes every registered path and exits, holding the lock to the end so that no
    /// rename into place or new registration slips in between.
    func interrupted(by signal: Int32) {
        lock.lock()
        if let handler {
            lock.unlock()
            handler(signal)
            return
        }
        for (file, writer) in files { Interruption.emptyFile(file, cuttingOff: writer) }
        for path in paths.sorted() { removeTree(path) }
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        let count = paths.count == 1 ? "1 temporary path" : "\(paths.count) temporary paths"
        // On a terminal, over the progress line.
        let clear = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
        let line = clear + "whittle: interrupted by \(name); removed \(count)\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        _exit(128 + signal)
    }
}

/// Removes a file or a directory tree. The main thread may still be adding files to a
/// scratch directory while it goes, so the removal is retried until the path is gone.
func removeTree(_ path: String) {
    for _ in 0..<5 {
        try? FileManager.default.removeItem(atPath: path)
        var info = stat()
        if lstat(path, &info) != 0 { return }
    }
}
