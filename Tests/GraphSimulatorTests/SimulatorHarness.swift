import CloudChatCrypto
import Foundation
import GraphSimulator
import Synchronization
import TestSupport
import WhatsAppCloudAPI

/// A simulator on a free port, the project's Graph client pointed at it over HTTP
/// and, when asked, a webhook receiver that records what the simulator posts.
struct SimulatorHarness {
    static let token = "test-access-token"
    static let appSecret = "test-app-secret"
    static let number = GraphSimulator.BusinessNumber.sample

    let simulator: GraphSimulator
    let http: GraphHTTPClient
    let client: GraphClient
    let receiver: LoopbackHTTPServer?

    /// Runs `body` against a fresh simulator, then stops everything.
    /// - Parameters:
    ///   - webhooks: start a receiver and point the simulator's webhooks at it.
    ///   - answer: the receiver's answer to each post.
    ///   - configure: changes to the test defaults (fast statuses, always read, posts one at a time, seed 42).
    static func run(webhooks: Bool = false,
                    answer: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Answer = { _ in .init(body: "ok") },
                    configure: (inout GraphSimulator.Configuration) -> Void = { _ in },
                    _ body: (SimulatorHarness) async throws -> Void) async throws {
        let receiver = webhooks ? try LoopbackHTTPServer(handler: answer) : nil
        defer { receiver?.stop() }
        var configuration = GraphSimulator.Configuration()
        configuration.port = 0
        configuration.seed = 42
        configuration.accessTokens = [token]
        configuration.appSecret = appSecret
        configuration.webhookURL = receiver.map { "http://127.0.0.1:\($0.port)/webhook" }
        configuration.statuses.sentDelay = .milliseconds(5)
        configuration.statuses.deliveredDelay = .milliseconds(20)
        configuration.statuses.readDelay = .milliseconds(20)
        configuration.statuses.readProbability = 1
        configuration.statuses.batchWindow = .milliseconds(10)
        configuration.delivery.maximumConcurrentPosts = 1
        configure(&configuration)
        let simulator = try await GraphSimulator.start(configuration)
        let http = GraphHTTPClient()
        let harness = SimulatorHarness(simulator: simulator, http: http,
                                       client: GraphClient(http: http, baseURL: simulator.baseURL, apiVersion: "v23.0", accessToken: { token }),
                                       receiver: receiver)
        do {
            try await body(harness)
        } catch {
            http.shutdown()
            await simulator.shutdown()
            throw error
        }
        http.shutdown()
        await simulator.shutdown()
    }

    // MARK: Raw requests

    /// Sends a request as is, with the bearer token unless told otherwise; `path` is below the base URL, or a whole URL.
    func send(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
              token: String? = SimulatorHarness.token) async throws -> GraphHTTPClient.Response {
        var headers: [(name: String, value: String)] = []
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        if body != nil { headers.append(("Content-Type", contentType)) }
        let url = path.hasPrefix("http") ? path : simulator.baseURL + path
        return try await http.send(.init(method: method, url: url, headers: headers, body: body))
    }

    /// Posts a raw `messages` body from the sample number.
    func postMessage(_ json: String) async throws -> GraphHTTPClient.Response {
        try await send("POST", "/v23.0/\(Self.number.phoneNumberID)/messages", body: Array(json.utf8))
    }

    /// Uploads media as multipart/form-data, as Meta documents it.
    func upload(_ bytes: [UInt8], mimeType: String, filename: String = "file") async throws -> GraphHTTPClient.Response {
        let boundary = "----cloudchat-test-boundary"
        var body: [UInt8] = []
        func field(_ name: String, _ value: String) {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        field("messaging_product", "whatsapp")
        field("type", mimeType)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: \(mimeType)\r\n\r\n".utf8)
        body += bytes
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        return try await send("POST", "/v23.0/\(Self.number.phoneNumberID)/media", body: body,
                              contentType: "multipart/form-data; boundary=\(boundary)")
    }

    // MARK: Webhooks

    /// Every webhook received so far, decoded with the daemon's own models, in arrival order.
    func webhooks() throws -> [(request: LoopbackHTTPServer.Request, notification: WebhookNotification)] {
        try (receiver?.requests ?? []).map { ($0, try WebhookNotification.decode($0.body)) }
    }

    /// Every status received so far, in arrival order.
    func statuses() throws -> [MessageStatus] {
        try webhooks().flatMap { $0.notification.entries }.flatMap(\.changes).flatMap { change -> [MessageStatus] in
            if case .messages(let value) = change.value { return value.statuses }
            return []
        }
    }

    /// Waits until at least `count` statuses have arrived.
    func waitForStatuses(_ count: Int) async throws {
        try await waitUntil("\(count) statuses have arrived") { try statuses().count >= count }
    }
}

/// A count a receiver's handler can keep across requests.
final class RequestCounter: Sendable {
    private let value = Mutex(0)

    /// Counts one more and returns the new count.
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

extension GraphHTTPClient.Response {
    /// The body as JSON.
    var json: JSONValue {
        get throws { try JSONValue.parse(body) }
    }

    /// The body as Meta's error.
    var graphError: GraphAPIError { GraphAPIError(httpStatus: status, body: body) }
}
