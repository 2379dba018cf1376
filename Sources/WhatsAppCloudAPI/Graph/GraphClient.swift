import Foundation

/// The Graph API calls CloudChat makes, over ``GraphHTTPClient``.
///
/// The base URL and API version are settings: production uses
/// `https://graph.facebook.com`, tests and the demo a simulator on loopback.
public struct GraphClient: Sendable {
    public let http: GraphHTTPClient
    public let baseURL: String
    public let apiVersion: String
    let accessToken: @Sendable () -> String

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
        return try await send(json: message.json, from: phoneNumberID)
    }

    /// Sends a message body already in Graph form (as queued by WordPress), complete with
    /// `messaging_product`, `to` and any callback data. Meta does the validating.
    public func send(json body: JSONValue, from phoneNumberID: String) async throws -> SentMessage {
        let answer = try await post("\(phoneNumberID)/messages", body)
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

    // MARK: Templates

    /// One template as Meta lists it; the components are kept as Meta sent them.
    public struct MessageTemplate: Sendable, Equatable {
        public let id: String
        public let name: String
        public let language: String
        /// `APPROVED` is the only status that can be sent.
        public let status: String
        public let category: String?
        /// `POSITIONAL` or `NAMED`.
        public let parameterFormat: String?
        /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
        public let qualityScore: String?
        public let components: JSONValue

        public init(id: String, name: String, language: String, status: String, category: String?, parameterFormat: String?,
                    qualityScore: String?, components: JSONValue) {
            self.id = id
            self.name = name
            self.language = language
            self.status = status
            self.category = category
            self.parameterFormat = parameterFormat
            self.qualityScore = qualityScore
            self.components = components
        }
    }

    /// One page of a WABA's templates, and the cursor of the next one.
    public func templatePage(of wabaID: String, after cursor: String? = nil, limit: Int = 100) async throws -> (templates: [MessageTemplate], next: String?) {
        var query = [("fields", "id,name,language,status,category,components,parameter_format,quality_score"), ("limit", String(limit))]
        if let cursor { query.append(("after", cursor)) }
        let answer = try await get("\(wabaID)/message_templates", query: query)
        guard case .array(let items)? = answer["data"] else { throw GraphSendError.unexpectedAnswer("the template list has no data") }
        let templates = items.compactMap { item -> MessageTemplate? in
            guard let id = item["id"]?.stringValue, let name = item["name"]?.stringValue, let language = item["language"]?.stringValue,
                  let status = item["status"]?.stringValue else { return nil }
            return MessageTemplate(id: id, name: name, language: language, status: status, category: item["category"]?.stringValue,
                                   parameterFormat: item["parameter_format"]?.stringValue,
                                   qualityScore: item["quality_score"]?["score"]?.stringValue, components: item["components"] ?? .array([]))
        }
        // Meta leaves out `next` on the last page.
        let next = answer["paging"]?["next"] != nil ? answer["paging"]?["cursors"]?["after"]?.stringValue : nil
        return (templates, next)
    }

    /// Every template of a WABA, page after page (at most `maximumPages`, a guard against a cursor that never ends).
    public func allTemplates(of wabaID: String, maximumPages: Int = 200) async throws -> [MessageTemplate] {
        var templates: [MessageTemplate] = []
        var cursor: String?
        for _ in 0..<maximumPages {
            let page = try await templatePage(of: wabaID, after: cursor)
            templates += page.templates
            guard let next = page.next, next != cursor else { return templates }
            cursor = next
        }
        throw GraphSendError.unexpectedAnswer("the template list did not end after \(maximumPages) pages")
    }

    // MARK: Phone numbers

    /// What Meta says about a business number.
    public struct PhoneNumberInfo: Sendable, Equatable {
        public let displayPhoneNumber: String?
        public let verifiedName: String?
        /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
        public let qualityRating: String?
        /// The throughput level, e.g. `STANDARD` or `HIGH`.
        public let throughput: String?
        /// The messaging limit tier, e.g. `TIER_2K`.
        public let messagingLimit: String?

        public init(displayPhoneNumber: String?, verifiedName: String?, qualityRating: String?, throughput: String?, messagingLimit: String?) {
            self.displayPhoneNumber = displayPhoneNumber
            self.verifiedName = verifiedName
            self.qualityRating = qualityRating
            self.throughput = throughput
            self.messagingLimit = messagingLimit
        }
    }

    /// Reads a business number's name, quality, throughput and messaging limit.
    public func phoneNumber(_ phoneNumberID: String) async throws -> PhoneNumberInfo {
        let answer = try await get(phoneNumberID, query: [
            ("fields", "display_phone_number,verified_name,quality_rating,throughput,whatsapp_business_manager_messaging_limit"),
        ])
        return PhoneNumberInfo(displayPhoneNumber: answer["display_phone_number"]?.stringValue, verifiedName: answer["verified_name"]?.stringValue,
                               qualityRating: answer["quality_rating"]?.stringValue,
                               throughput: answer["throughput"]?["level"]?.stringValue ?? answer["throughput"]?.stringValue,
                               messagingLimit: answer["whatsapp_business_manager_messaging_limit"]?.stringValue)
    }

    // MARK: Requests

    private func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        try await exchange(.init(method: "POST", url: "\(baseURL)/\(apiVersion)/\(path)",
                                 headers: [("Authorization", "Bearer " + accessToken()), ("Content-Type", "application/json")],
                                 body: Array(body.jsonText.utf8)))
    }

    func get(_ path: String, query: [(String, String)]) async throws -> JSONValue {
        let encoded = query.map { "\($0.0)=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
        return try await exchange(.init(url: "\(baseURL)/\(apiVersion)/\(path)?\(encoded)", headers: [("Authorization", "Bearer " + accessToken())]))
    }

    func exchange(_ request: GraphHTTPClient.Request) async throws -> JSONValue {
        let response = try await http.send(request)
        guard (200..<300).contains(response.status) else { throw GraphAPIError(httpStatus: response.status, body: response.body) }
        guard let answer = try? JSONValue.parse(response.body) else { throw GraphSendError.unexpectedAnswer("the answer is not JSON") }
        return answer
    }

    /// Query values: everything but unreserved characters (and the commas of field lists) percent-encoded.
    static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~,")
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
