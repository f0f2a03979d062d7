import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.0 GET over TCP, enough to tell that an app answers and what. No TLS:
/// the probe talks to the app on this machine.
public struct HTTPProbe: Sendable, Equatable {
    public let url: String
    let host: String
    let port: UInt16
    let target: String

    public init(url: String) throws {
        guard url.hasPrefix("http://") else { throw TraceError.invalidURL(url) }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        target = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        let pieces = authority.split(separator: ":", maxSplits: 1)
        guard let first = pieces.first, !first.isEmpty else { throw TraceError.invalidURL(url) }
        host = first == "localhost" ? "127.0.0.1" : String(first)
        if pieces.count == 2 {
            guard let number = UInt16(pieces[1]) else { throw TraceError.invalidURL(url) }
            port = number
        } else {
            port = 80
        }
        self.url = url
    }

    /// The status code and body, or nil when nothing answered.
    func request(timeoutSeconds: Int = 5) -> (status: Int, body: [UInt8])? {
        guard let fd = connectTCP(host: host, port: port, timeoutSeconds: timeoutSeconds) else { return nil }
        defer { close(fd) }
        let request = Array(
            "GET \(target) HTTP/1.0\r\nHost: \(host):\(port)\r\nUser-Agent: whittle-trace\r\nConnection: close\r\n\r\n"
                .utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while response.count < 16 << 20 {
            let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            response += buffer[0..<got]
        }
        let statusLine = String(decoding: response.prefix { $0 != 0x0d && $0 != 0x0a }, as: UTF8.self)
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let code = Int(fields[1]) else { return nil }
        // The body follows the first empty line.
        var bodyStart = response.count
        var index = 3
        while index < response.count {
            if response[index - 3] == 0x0d, response[index - 2] == 0x0a, response[index - 1] == 0x0d,
                response[index] == 0x0a
            {
                bodyStart = index + 1
                break
            }
            index += 1
        }
        return (code, Array(response[bodyStart...]))
    }
}

/// A connected TCP socket to host:port, or nil when nothing accepts.
func connectTCP(host: String, port: UInt16, timeoutSeconds: Int) -> Int32? {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let info = list else { return nil }
    defer { freeaddrinfo(list) }
    let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
        close(fd)
        return nil
    }
    return fd
}
