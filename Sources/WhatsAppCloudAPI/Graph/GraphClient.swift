/// The Graph API calls CloudChat makes, over ``GraphHTTPClient``.
///
/// The base URL and API version are settings: production uses
/// `https://graph.facebook.com`, tests and the demo a simulator on loopback.
public struct GraphClient: Sendable {
    public let http: GraphHTTPClient
    public let baseURL: String
    public let apiVersion: String
    private let accessToken: @Sendable () -> String

    /// - Parameter accessToken: read for each request, so a rotated token takes effect at once.
    public init(http: GraphHTTPClient, baseURL: String = "https://graph.facebook.com", apiVersion: String = "v23.0",
                accessToken: @escaping @Sendable () -> String) {
        self.http = http
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiVersion = apiVersion
        self.accessToken = accessToken
    }

    /// Meta's answer to an accepted send. Accepted is not delivered: status webhooks tell the rest.
    public struct SentMessage: Sendable, Equatable {
        /// The new message's wamid.
        public let wamid: String
        /// `accepted`, or `held_for_quality_assessment` (released later, or failed with 132015).
        public let status: String
        /// The recipient's WhatsApp id, as Meta resolved it.
        public let waID: String?

        public init(wamid: String, status: String, waID: String?) {
            self.wamid = wamid
            self.status = status
            self.waID = waID
        }
    }

    /// Sends a message from one business number.
    /// - Throws: ``GraphSendError/invalid(_:)`` before any request when the message breaks a documented limit;
    ///   ``GraphAPIError`` when Meta refused it; ``GraphHTTPError`` when no answer came.
    public func send(_ message: OutboundMessage, from phoneNumberID: String) async throws -> SentMessage {
        if let problem = message.validate() { throw GraphSendError.invalid(problem) }
        let answer = try await post("\(phoneNumberID)/messages", message.json)
        guard case .array(let messages)? = answer["messages"], let wamid = messages.first?["id"]?.stringValue else {
            throw GraphSendError.unexpectedAnswer("the answer names no message id")
        }
        var waID: String?
        if case .array(let contacts)? = answer["contacts"] { waID = contacts.first?["wa_id"]?.stringValue }
        return SentMessage(wamid: wamid, status: messages.first?["message_status"]?.stringValue ?? "accepted", waID: waID)
    }

    /// Marks an inbound message (and those before it) read, optionally showing the typing indicator.
    public func markRead(_ wamid: String, from phoneNumberID: String, showTyping: Bool = false) async throws {
        var body: [String: JSONValue] = [
            "messaging_product": .string("whatsapp"), "status": .string("read"), "message_id": .string(wamid),
        ]
        if showTyping { body["typing_indicator"] = .object(["type": .string("text")]) }
        let answer = try await post("\(phoneNumberID)/messages", .object(body))
        guard answer["success"] == .bool(true) else { throw GraphSendError.unexpectedAnswer("the answer does not say success") }
    }

    private func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        let response = try await http.send(.init(
            method: "POST", url: "\(baseURL)/\(apiVersion)/\(path)",
            headers: [("Authorization", "Bearer " + accessToken()), ("Content-Type", "application/json")],
            body: Array(body.jsonText.utf8)))
        guard (200..<300).contains(response.status) else { throw GraphAPIError(httpStatus: response.status, body: response.body) }
        guard let answer = try? JSONValue.parse(response.body) else { throw GraphSendError.unexpectedAnswer("the answer is not JSON") }
        return answer
    }
}

/// A send that failed on our side of the wire.
public enum GraphSendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message breaks one of Meta's documented limits; nothing was sent.
    case invalid(String)
    /// Meta answered 2xx with something that is not the documented answer.
    case unexpectedAnswer(String)

    public var description: String {
        switch self {
        case .invalid(let reason): "not sent: \(reason)"
        case .unexpectedAnswer(let reason): "unexpected answer from the Graph API: \(reason)"
        }
    }
}
