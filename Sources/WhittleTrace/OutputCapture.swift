import Crypto
import Foundation
import WhittleImage
#if canImport(Glibc)
    import Glibc
#endif

/// The app's standard output: read from a pipe on a thread of its own, hashed (a command
/// that runs to its end is compared by what it printed), and copied to the log.
final class OutputCapture: @unchecked Sendable {
    /// The end the app writes to.
    let writeFD: Int32
    private let readFD: Int32
    private let copyFD: Int32?
    private var hasher = SHA256()
    private let finished = DispatchSemaphore(value: 0)

    init(copyTo copyFD: Int32?) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw TraceError.internalFailure("pipe: \(String(cString: strerror(errno)))")
        }
        // Only PID 1 gets the write end, as its standard output; nothing else may inherit either.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        readFD = fds[0]
        writeFD = fds[1]
        self.copyFD = copyFD
        let thread = Thread { [self] in
            pump()
            finished.signal()
        }
        thread.name = "whittle-trace-stdout"
        thread.start()
    }

    private func pump() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            hasher.update(data: buffer[0..<got])
            if let copyFD {
                var written = 0
                while written < got {
                    let n = buffer[written..<got].withUnsafeBytes { write(copyFD, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    written += n
                }
            }
        }
        close(readFD)
    }

    /// Once the app side is spawned, only it may hold the write end, so the pipe ends when it does.
    func closeWriteEnd() {
        close(writeFD)
    }

    /// `sha256:` of everything the app printed, once every writer has gone.
    func digest() -> String {
        finished.wait()
        finished.signal()
        return ContentDigest(hasher.finalize()).description
    }
}
