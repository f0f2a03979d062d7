import Foundation
import Testing
import WhittleImage
import WhittleSelect
import WhittleTrace
import WhittleTraceFormat
#if canImport(Glibc)
    import Glibc
#endif

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freeLocalPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw AcceptanceSetupError(message: "socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
        }
    }
    guard bound else { throw AcceptanceSetupError(message: "bind: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// GETs `url` with python3's urllib (the status even for 4xx/5xx), retrying until the
/// server answers or `seconds` pass.
func httpGet(_ url: String, waitingUpTo seconds: Double) throws -> (status: Int, body: String) {
    let script = """
        import sys, urllib.request, urllib.error
        try:
            r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read().decode())
        except urllib.error.HTTPError as e:
            print(e.code); print(e.read().decode())
        """
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        do {
            let answer = try run("/usr/bin/env", ["python3", "-c", script, url])
            let lines = answer.split(separator: "\n", maxSplits: 1).map(String.init)
            return (Int(lines.first ?? "") ?? -1, lines.count > 1 ? lines[1] : "")
        } catch {
            if Date() > deadline { throw error }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}

struct AcceptanceSetupError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
