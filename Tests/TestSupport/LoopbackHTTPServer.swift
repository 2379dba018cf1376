import Foundation
import Synchronization

/// A minimal HTTP/1.1 server on `127.0.0.1` for testing HTTP clients: it records
/// every request and answers with whatever the test's handler returns.
/// Blocking sockets, a thread per connection, keep-alive honoured.
public final class LoopbackHTTPServer: Sendable {
    /// A request as received.
    public struct Request: Sendable {
        public let method: String
        public let path: String
        /// Header names lowercased.
        public let headers: [String: String]
        public let body: [UInt8]
        /// Which connection it came on (counted from 1), to see connection reuse.
        public let connection: Int
    }

    /// An answer to send.
    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
        /// Seconds to wait before answering.
        public var delay: Double

        public init(status: Int = 200, body: String = "", delay: Double = 0) {
            self.status = status
            self.body = Array(body.utf8)
            self.delay = delay
        }
    }

    /// The port it listens on.
    public let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request) -> Answer
    private let log = Mutex<[Request]>([])
    private let connections = Atomic<Int>(0)

    /// Starts listening on a free port.
    public init(handler: @escaping @Sendable (Request) -> Answer) throws {
        self.handler = handler
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        guard bound == 0, listen(listener, 64) == 0 else { throw LoopbackHTTPClient.Failure(description: "cannot listen on loopback") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Every request so far, in arrival order.
    public var requests: [Request] { log.withLock { $0 } }

    /// Stops accepting new connections.
    public func stop() {
        // Only shut the socket down; the accept thread closes it once accept() fails. Closing it here would free
        // the descriptor number while that thread may not have reached accept() yet, and a socket opened meanwhile
        // (another test's server) would get the number and have its connections answered by this server.
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                close(listener)
                return
            }
            let number = connections.add(1, ordering: .relaxed).newValue
            Thread.detachNewThread { [self] in serve(client, number: number) }
        }
    }

    private func serve(_ client: Int32, number: Int) {
        defer { close(client) }
        var buffer: [UInt8] = []
        while let request = Self.readRequest(client, buffer: &buffer, connection: number) {
            log.withLock { $0.append(request) }
            let answer = handler(request)
            if answer.delay > 0 { Thread.sleep(forTimeInterval: answer.delay) }
            let head = "HTTP/1.1 \(answer.status) X\r\nContent-Length: \(answer.body.count)\r\nContent-Type: application/json\r\n\r\n"
            let bytes = Array(head.utf8) + answer.body
            let written = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written == bytes.count, request.headers["connection"]?.lowercased() != "close" else { return }
        }
    }

    /// Reads one request (headers, then a Content-Length body); nil when the connection ends.
    private static func readRequest(_ client: Int32, buffer: inout [UInt8], connection: Int) -> Request? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            if let range = buffer.firstRange(of: separator) { headEnd = range.upperBound } else if !fill() { return nil }
        }
        let lines = String(decoding: buffer[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where line.contains(":") {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < headEnd! + length {
            if !fill() { return nil }
        }
        let body = Array(buffer[headEnd!..<(headEnd! + length)])
        buffer.removeFirst(headEnd! + length)
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: body, connection: connection)
    }
}
