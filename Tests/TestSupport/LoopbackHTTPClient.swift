import Foundation

/// A minimal HTTP/1.1 client for talking to a daemon on loopback in tests.
///
/// Each request opens its own connection, sends `Connection: close` and reads
/// the answer with blocking socket calls on a thread of its own. Foundation's
/// URLSession is not used: on Linux it wraps libcurl in dispatch sources and
/// crashes now and then when connections are refused or torn down under load,
/// which is exactly what the crash-safety tests do.
public enum LoopbackHTTPClient {
    /// An answer from the server.
    public struct Response: Sendable {
        /// The status code.
        public let status: Int
        /// Header names lowercased, values as sent.
        public let headers: [String: String]
        /// The body bytes.
        public let body: [UInt8]

        /// The body read as UTF-8.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The request could not be made or the answer could not be read.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends one request to `127.0.0.1:port` and returns the answer.
    /// - Parameter timeout: how long the connection may stay silent before the request fails.
    public static func send(_ method: String, port: Int, path: String, body: [UInt8] = [], headers: [String: String] = [:],
                            timeout: Duration = .seconds(30)) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try exchange(method, port: port, path: path, body: body, headers: headers, timeout: timeout)
                })
            }
        }
    }

    private static func exchange(_ method: String, port: Int, path: String, body: [UInt8], headers: [String: String],
                                 timeout: Duration) throws -> Response {
        let socket = try connect(port: port, timeout: timeout)
        defer { close(socket) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try writeAll(socket, Array(head.utf8) + body)
        return try readResponse(socket)
    }

    /// Opens a blocking TCP connection to `127.0.0.1:port` whose reads and writes give up after `timeout`.
    /// - Returns: the socket; the caller closes it.
    public static func connect(port: Int, timeout: Duration) throws -> Int32 {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw failure("socket") }
        var time = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = failure("connect to 127.0.0.1:\(port)")
            close(socket)
            throw error
        }
        return socket
    }

    private static func writeAll(_ socket: Int32, _ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Foundation.send(socket, $0.baseAddress! + written, bytes.count - written, Int32(MSG_NOSIGNAL)) }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("send")
            }
            written += result
        }
    }

    private static func readResponse(_ socket: Int32) throws -> Response {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var parsedHead: (status: Int, headers: [String: String], bodyStart: Int)?
        while true {
            if parsedHead == nil { parsedHead = try parseHead(buffer) }
            if let head = parsedHead, let length = head.headers["content-length"].flatMap(Int.init),
               buffer.count - head.bodyStart >= length {
                return Response(status: head.status, headers: head.headers, body: Array(buffer[head.bodyStart..<head.bodyStart + length]))
            }
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress!, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("receive")
            }
            if count == 0 {
                guard let head = parsedHead else { throw Failure(description: "the server closed the connection without an answer") }
                return Response(status: head.status, headers: head.headers, body: Array(buffer[head.bodyStart...]))
            }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }

    private static func parseHead(_ buffer: [UInt8]) throws -> (status: Int, headers: [String: String], bodyStart: Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard buffer.count >= 4, let end = (0...(buffer.count - 4)).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) else {
            return nil
        }
        let lines = String(decoding: buffer[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "malformed status line")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers, end + 4)
    }

    private static func failure(_ operation: String) -> Failure {
        Failure(description: "\(operation) failed: \(String(cString: strerror(errno)))")
    }
}
