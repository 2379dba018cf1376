internal import CCurl
import Foundation
import Synchronization

/// HTTP for the Graph API over libcurl: one curl-multi loop on a thread of its
/// own, bridged to async/await.
///
/// The multi handle keeps connections open and reuses them (HTTP/2 where the
/// server offers it, so many requests share one connection); TLS verification
/// stays on. Every request has its own timeout. Nothing here logs: callers log
/// ``GraphHTTPError`` and responses, which never hold request headers (the
/// `Authorization` header in particular).
public final class GraphHTTPClient: Sendable {
    /// One request.
    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]?
        /// The whole transfer, connecting included, must finish within this.
        public var timeout: Duration

        public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
                    timeout: Duration = .seconds(30)) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeout = timeout
        }
    }

    /// A complete answer, whatever its status.
    public struct Response: Sendable, Equatable {
        public let status: Int
        public let body: [UInt8]
        /// The HTTP version used: 1 (1.x), 2 or 3.
        public let httpVersion: Int

        public init(status: Int, body: [UInt8], httpVersion: Int) {
            self.status = status
            self.body = body
            self.httpVersion = httpVersion
        }
    }

    /// The answer to a streamed request: the body went to the sink, chunk by chunk.
    public struct StreamedResponse: Sendable, Equatable {
        /// The HTTP status.
        public let status: Int
        /// Bytes handed to the sink; only a 2xx answer's body goes there.
        public let streamedBytes: Int64
        /// The body of an answer that was not 2xx (its first 64 KiB), to read a Graph error from; empty otherwise.
        public let errorBody: [UInt8]

        public init(status: Int, streamedBytes: Int64, errorBody: [UInt8]) {
            self.status = status
            self.streamedBytes = streamedBytes
            self.errorBody = errorBody
        }
    }

    /// Where a streamed body goes. It runs on the client's transfer thread, once per chunk as libcurl
    /// receives it, so it must be quick (a file write is fine). Throwing aborts the transfer with that error.
    public typealias Sink = @Sendable (UnsafeRawBufferPointer) throws -> Void

    private struct State: ~Copyable {
        var queued: [Transfer] = []
        var isShuttingDown = false
    }

    private let multi: MultiHandle
    private let state = Mutex(State())
    private let userAgent: String

    /// Starts the transfer loop.
    /// - Parameter userAgent: sent with every request.
    public init(userAgent: String = "cloudchatd") {
        GraphHTTPClient.initializeCurl
        self.userAgent = userAgent
        multi = MultiHandle()
        // The loop holds the client until shutdown ends it.
        Thread.detachNewThread { [self] in
            Self.runLoop(multi: multi, take: takeQueued)
        }
    }

    private func takeQueued() -> (transfers: [Transfer], stop: Bool) {
        state.withLock { state in
            defer { state.queued.removeAll() }
            return (state.queued, state.isShuttingDown)
        }
    }

    /// libcurl's global set-up, once per process, before any handle exists.
    private static let initializeCurl: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    /// Sends a request and returns the answer.
    /// - Throws: ``GraphHTTPError`` when no answer came (connection refused, TLS failure, timeout), or the client was shut down.
    public func send(_ request: Request) async throws -> Response {
        try await start(Transfer(request, userAgent: userAgent))
    }

    /// Sends a request and hands a successful answer's body to `sink` as it arrives, without buffering it.
    ///
    /// Only a 2xx body reaches the sink; any other answer's body is kept (up to 64 KiB) in
    /// ``StreamedResponse/errorBody``, so a 404 or a Graph error can be told apart and read.
    /// Redirects are not followed, so the request's headers only ever reach the URL's own host.
    /// - Parameters:
    ///   - request: the request; its timeout covers the whole transfer. A transfer that stalls
    ///     (under 1 KiB/s for a minute) is also given up.
    ///   - maximumBytes: the most body bytes accepted; a longer body aborts the transfer.
    ///   - sink: receives the body, on the transfer thread.
    /// - Throws: ``GraphBodyTooLarge`` past `maximumBytes`; what `sink` throws; ``GraphHTTPError`` when no answer came.
    public func stream(_ request: Request, maximumBytes: Int64, into sink: @escaping Sink) async throws -> StreamedResponse {
        let transfer = try Transfer(request, userAgent: userAgent, streaming: .init(sink: sink, limit: maximumBytes))
        let response = try await start(transfer)
        // The transfer is finished: the loop thread no longer touches it.
        return StreamedResponse(status: response.status, streamedBytes: transfer.streamedBytes, errorBody: response.body)
    }

    private func start(_ transfer: Transfer) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            transfer.continuation = continuation
            let accepted = state.withLock { state -> Bool in
                guard !state.isShuttingDown else { return false }
                state.queued.append(transfer)
                return true
            }
            if accepted {
                curl_multi_wakeup(multi.handle)
            } else {
                transfer.finish(.failure(GraphHTTPError(description: "the Graph client is shut down")))
            }
        }
    }

    /// Lets running requests finish, then stops the loop. Requests sent afterwards fail.
    public func shutdown() {
        state.withLock { $0.isShuttingDown = true }
        curl_multi_wakeup(multi.handle)
    }

    // MARK: The loop

    private static func runLoop(multi: MultiHandle, take: () -> (transfers: [Transfer], stop: Bool)) {
        var active: [UnsafeMutableRawPointer: Transfer] = [:]
        while true {
            let (fresh, stop) = take()
            for transfer in fresh {
                if curl_multi_add_handle(multi.handle, transfer.easy) == CURLM_OK {
                    active[transfer.easy] = transfer
                } else {
                    transfer.finish(.failure(GraphHTTPError(description: "libcurl did not take the request")))
                }
            }
            var running: Int32 = 0
            curl_multi_perform(multi.handle, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi.handle, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let transfer = active.removeValue(forKey: easy) else { continue }
                let result = cloudchat_curl_message_result(message)
                curl_multi_remove_handle(multi.handle, easy)
                transfer.complete(result)
            }
            if stop && active.isEmpty { break }
            curl_multi_poll(multi.handle, nil, 0, 1000, nil)
        }
        multi.close()
    }
}

/// Why a request got no answer. Names the URL's host at most, never headers or bodies.
public struct GraphHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    /// True when the request certainly never reached the server (no connection could be made),
    /// so sending it again cannot deliver a message twice. Otherwise the outcome is unknown.
    public let requestWasNotSent: Bool

    init(description: String, requestWasNotSent: Bool = true) {
        self.description = description
        self.requestWasNotSent = requestWasNotSent
    }
}

/// A streamed body went past the byte cap the caller set; the transfer was aborted.
public struct GraphBodyTooLarge: Error, Sendable, Equatable, CustomStringConvertible {
    /// The cap, in bytes.
    public let limit: Int64

    public init(limit: Int64) {
        self.limit = limit
    }

    public var description: String { "the answer is larger than \(limit) bytes" }
}

/// The multi handle, closed once by the loop thread when it ends.
private final class MultiHandle: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() {
        handle = curl_multi_init()
        // Many requests share a connection over HTTP/2 instead of opening more. Over HTTP/1.1 (no TLS, or a
        // proxy without HTTP/2) each connection carries one request at a time, so the cap bounds the rate
        // at cap ÷ answer time: 16 keeps 1,000 sends a second going with answers of up to 15 ms.
        cloudchat_curl_multi_setopt_long(handle, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        cloudchat_curl_multi_setopt_long(handle, CURLMOPT_MAX_HOST_CONNECTIONS, 16)
    }

    func close() {
        curl_multi_cleanup(handle)
    }
}

/// One request in flight: its easy handle, header list and the answer being received.
/// Touched by the caller until it is queued, then only by the loop thread.
private final class Transfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var received: [UInt8] = []
    var continuation: CheckedContinuation<GraphHTTPClient.Response, any Error>?
    private let host: String

    /// A streamed transfer's sink and cap.
    struct Streaming {
        let sink: GraphHTTPClient.Sink
        let limit: Int64
    }

    private let streaming: Streaming?
    /// For a streamed transfer: whether the answer is 2xx, known from its first body chunk.
    private var streamsToSink: Bool?
    private(set) var streamedBytes: Int64 = 0
    /// Why the write callback aborted the transfer.
    private var abortReason: (any Error)?
    /// The most bytes of a non-2xx body kept when streaming.
    private static let errorBodyLimit = 65_536

    init(_ request: GraphHTTPClient.Request, userAgent: String, streaming: Streaming? = nil) throws {
        self.streaming = streaming
        guard let easy = curl_easy_init() else { throw GraphHTTPError(description: "libcurl could not create a request") }
        self.easy = easy
        host = URL(string: request.url)?.host ?? "the Graph API"
        func set(_ option: CURLoption, _ value: Int) { cloudchat_curl_easy_setopt_long(easy, option, value) }
        func set(_ option: CURLoption, _ value: String) { cloudchat_curl_easy_setopt_string(easy, option, value) }
        set(CURLOPT_URL, request.url)
        set(CURLOPT_USERAGENT, userAgent)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        set(CURLOPT_PROTOCOLS_STR, "https,http")
        let timeoutMilliseconds = Int(request.timeout / .milliseconds(1))
        set(CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        set(CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMilliseconds, 10_000))
        set(CURLOPT_ACCEPT_ENCODING, "")
        if let streaming {
            // libcurl refuses a larger Content-Length before the body starts; the sink's count covers the rest.
            cloudchat_curl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(streaming.limit))
            set(CURLOPT_LOW_SPEED_LIMIT, 1024)
            set(CURLOPT_LOW_SPEED_TIME, 60)
        }
        switch request.method {
        case "GET": set(CURLOPT_HTTPGET, 1)
        case "POST": set(CURLOPT_POST, 1)
        default: set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            cloudchat_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            // COPYPOSTFIELDS: libcurl keeps its own copy of the bytes.
            if body.isEmpty {
                set(CURLOPT_COPYPOSTFIELDS, "")
            } else {
                body.withUnsafeBytes { _ = cloudchat_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress!)) }
            }
        }
        // "Expect: 100-continue" would cost a round trip per POST.
        for header in request.headers + [(name: "Expect", value: "")] {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        cloudchat_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList))
        cloudchat_curl_easy_setopt_write_function(easy) { data, size, count, context in
            guard let data, let context else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            // Returning less than `length` makes libcurl abort the transfer.
            return transfer.receive(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
        }
        cloudchat_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
    }

    /// Takes a chunk of the body, on the loop thread. Returns false to abort the transfer.
    private func receive(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard let streaming else {
            received.append(contentsOf: chunk)
            return true
        }
        if streamsToSink == nil {
            // The status line and headers are in by the first body chunk (redirects are not followed).
            var status = 0
            cloudchat_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            streamsToSink = (200..<300).contains(status)
        }
        guard streamsToSink == true else {
            received.append(contentsOf: chunk.prefix(max(0, Self.errorBodyLimit - received.count)))
            return true
        }
        streamedBytes += Int64(chunk.count)
        guard streamedBytes <= streaming.limit else {
            abortReason = GraphBodyTooLarge(limit: streaming.limit)
            return false
        }
        do {
            try streaming.sink(chunk)
        } catch {
            abortReason = error
            return false
        }
        return true
    }

    /// The transfer ended with libcurl's result.
    func complete(_ result: CURLcode) {
        if let abortReason {
            finish(.failure(abortReason))
            return
        }
        if result == CURLE_FILESIZE_EXCEEDED, let streaming {
            finish(.failure(GraphBodyTooLarge(limit: streaming.limit)))
            return
        }
        guard result == CURLE_OK else {
            let reason = String(cString: curl_easy_strerror(result))
            // Failing to resolve or connect means nothing was sent; a timeout or reset may come after the server took the request.
            let notSent = result == CURLE_COULDNT_RESOLVE_HOST || result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_PROXY
            finish(.failure(GraphHTTPError(description: "no answer from \(host): \(reason) (curl error \(result.rawValue))",
                                           requestWasNotSent: notSent)))
            return
        }
        var status = 0
        cloudchat_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var version = 0
        cloudchat_curl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
        let httpVersion = switch Int32(version) {
        case Int32(CURL_HTTP_VERSION_2_0): 2
        case Int32(CURL_HTTP_VERSION_3): 3
        default: 1
        }
        finish(.success(GraphHTTPClient.Response(status: status, body: received, httpVersion: httpVersion)))
    }

    func finish(_ result: Result<GraphHTTPClient.Response, any Error>) {
        let continuation = self.continuation
        self.continuation = nil
        continuation?.resume(with: result)
    }
}
