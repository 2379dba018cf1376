import CloudChatCrypto
import Foundation
import Synchronization
import WhatsAppCloudAPI

/// A request as the HTTP layer hands it over.
struct SimulatorRequest: Sendable {
    let method: String
    /// The path without the query.
    let path: String
    /// Query parameters, percent-decoded.
    let query: [String: String]
    let host: String?
    let authorization: String?
    let contentType: String?
    let body: [UInt8]
}

/// An answer, and how long to hold it back.
struct SimulatorResponse: Sendable {
    var status: Int
    var contentType = "application/json"
    var body: [UInt8]
    var delay: Duration = .zero

    init(status: Int, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    init(_ error: GraphErrorReply) {
        self.init(status: error.httpStatus, body: error.body)
    }

    static func json(_ value: JSONValue, status: Int = 200) -> SimulatorResponse {
        SimulatorResponse(status: status, body: Array(value.jsonText.utf8))
    }

    static func text(_ text: String, status: Int) -> SimulatorResponse {
        SimulatorResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    /// A test endpoint's refusal: `{"error":{"message":…}}` with status 400.
    static func controlError(_ message: String, status: Int = 400) -> SimulatorResponse {
        json(.object(["error": .object(["message": .string(message)])]), status: status)
    }

    static let success = json(.object(["success": .bool(true)]))
}

/// What the simulator knows and counts, and how it answers each request.
///
/// Every answer is computed synchronously on the event loop that read the request:
/// one short critical section for the state, no task or thread hop. Webhooks go to
/// the ``WebhookDispatcher``, which posts them later.
final class SimulatorCore: Sendable {
    typealias Instant = ContinuousClock.Instant
    typealias Number = GraphSimulator.BusinessNumber

    let configuration: GraphSimulator.Configuration
    let seed: UInt64
    let dispatcher: WebhookDispatcher?
    private let numbers: [String: Number]
    private let wabaIDs: Set<String>
    /// Part of every wamid, so two runs rarely share one.
    private let instanceTag: UInt32
    private let state: Mutex<State>
    /// `http://host:port`, known once the listener is bound.
    private let boundAddress = Mutex("")

    private struct State {
        var buckets: [String: ThroughputBucket] = [:]
        var pairs: PairRateLimiter
        var random: SeededRandom
        var sends = GraphSimulator.Statistics.Sends()
        var unauthorized = 0
        var inbound = 0
        var sequence: UInt64 = 0
        var records: [String: [GraphSimulator.ReceivedMessage]] = [:]
        var recordCount = 0
        var acceptedByRecipient: [String: Int] = [:]
        var acceptedByCallbackData: [String: Int] = [:]
        var templates = TemplateStore()
        var media = MediaStore()
    }

    init(configuration: GraphSimulator.Configuration, seed: UInt64, dispatcher: WebhookDispatcher?) {
        self.configuration = configuration
        self.seed = seed
        self.dispatcher = dispatcher
        var numbers: [String: Number] = [:]
        for number in configuration.numbers { numbers[number.phoneNumberID] = number }
        self.numbers = numbers
        wabaIDs = Set(configuration.numbers.map(\.wabaID))
        instanceTag = UInt32(truncatingIfNeeded: SecureRandom.bytes(count: 4).reduce(0) { $0 << 8 | UInt64($1) })

        let now = Instant.now
        var state = State(pairs: PairRateLimiter(interval: configuration.pairLimit.interval, burst: configuration.pairLimit.burst),
                          random: SeededRandom(seed: seed))
        for number in configuration.numbers {
            state.buckets[number.phoneNumberID] = ThroughputBucket(rate: number.messagesPerSecond, now: now)
        }
        var seen = Set<String>()
        for number in configuration.numbers where configuration.includeSampleTemplates && seen.insert(number.wabaID).inserted {
            for template in GraphSimulator.sampleTemplates(wabaID: number.wabaID) { state.templates.add(template) }
        }
        for template in configuration.templates { state.templates.add(template) }
        self.state = Mutex(state)
    }

    /// Called once the listener is bound.
    func setBoundAddress(host: String, port: Int) {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        boundAddress.withLock { $0 = "http://\(shownHost):\(port)" }
    }

    var firstNumber: Number? { configuration.numbers.first }

    func number(_ phoneNumberID: String) -> Number? { numbers[phoneNumberID] }

    // MARK: Routing

    func handle(_ request: SimulatorRequest) -> SimulatorResponse {
        if request.path.hasPrefix("/_simulator/") { return control(request) }
        if request.path == "/whatsapp_business/attachments/" || request.path == "/whatsapp_business/attachments" {
            return download(request)
        }
        guard isAuthorized(request) else {
            state.withLock { $0.unauthorized += 1 }
            var response = SimulatorResponse(.invalidToken)
            response.delay = latency()
            return response
        }
        var response = graph(request)
        response.delay = latency()
        return response
    }

    private func graph(_ request: SimulatorRequest) -> SimulatorResponse {
        var segments = request.path.split(separator: "/").map(String.init)
        var version = "v23.0"
        if let first = segments.first, Self.apiMajorVersion(first) != nil {
            version = first
            segments.removeFirst()
        }
        let major = Self.apiMajorVersion(version) ?? 23
        switch (request.method, segments.count) {
        case ("GET", 1):
            return getObject(segments[0], request)
        case ("DELETE", 1):
            return state.withLock { $0.media.delete(segments[0]) } ? .success : SimulatorResponse(.unknownObject(segments[0], method: "DELETE"))
        case ("POST", 2) where segments[1] == "messages":
            guard let number = numbers[segments[0]] else { return SimulatorResponse(.unknownObject(segments[0], method: "POST")) }
            return postMessages(number, request, apiMajorVersion: major)
        case ("POST", 2) where segments[1] == "media":
            guard let number = numbers[segments[0]] else { return SimulatorResponse(.unknownObject(segments[0], method: "POST")) }
            return uploadMedia(number, request)
        case ("GET", 2) where segments[1] == "message_templates":
            guard wabaIDs.contains(segments[0]) else { return SimulatorResponse(.unknownObject(segments[0], method: "GET")) }
            return listTemplates(segments[0], request, version: version)
        case ("GET", 2) where segments[1] == "phone_numbers":
            guard wabaIDs.contains(segments[0]) else { return SimulatorResponse(.unknownObject(segments[0], method: "GET")) }
            let numbers = configuration.numbers.filter { $0.wabaID == segments[0] }
            return .json(.object(["data": .array(numbers.map { Self.describe($0, fields: nil) })]))
        case (_, 1), (_, 2):
            if numbers[segments[0]] == nil && !wabaIDs.contains(segments[0]) {
                return SimulatorResponse(.unknownObject(segments[0], method: request.method))
            }
            return SimulatorResponse(.unknownPath(method: request.method))
        default:
            return SimulatorResponse(.unknownPath(method: request.method))
        }
    }

    /// 23 for `v23.0`; nil when the segment is not a version.
    static func apiMajorVersion(_ segment: String) -> Int? {
        guard segment.hasPrefix("v") else { return nil }
        let parts = segment.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
            return nil
        }
        return Int(parts[0])
    }

    private func isAuthorized(_ request: SimulatorRequest) -> Bool {
        if let header = request.authorization {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
            // NIO trims the header value; spaces between scheme and token are all that may remain.
            return configuration.accessTokens.contains(String(parts[1].drop { $0 == " " }))
        }
        if let token = request.query["access_token"] { return configuration.accessTokens.contains(token) }
        return false
    }

    private func latency() -> Duration {
        switch configuration.latency {
        case .none: .zero
        case .fixed(let delay): delay
        case .between(let lower, let upper): state.withLock { $0.random.duration(between: lower, and: upper) }
        }
    }

    private func baseURL(_ request: SimulatorRequest?) -> String {
        if let host = request?.host, !host.isEmpty { return "http://\(host)" }
        return boundAddress.withLock { $0 }
    }

    // MARK: Messages

    private struct Accepted {
        let wamid: String
        let plan: [PlannedStatus]
        let message: WebhookPayloads.SentMessage
    }

    private func postMessages(_ number: Number, _ request: SimulatorRequest, apiMajorVersion: Int) -> SimulatorResponse {
        let parsed = (try? JSONValue.parse(request.body)) ?? .null
        let message: OutgoingMessage
        switch MessageValidator.validate(parsed, sender: number.displayPhoneNumber) {
        case .failure(let reply):
            state.withLock { $0.sends.invalid += 1 }
            return SimulatorResponse(reply)
        case .success(.markRead):
            state.withLock { $0.sends.markedRead += 1 }
            return .success
        case .success(.send(let outgoing)):
            message = outgoing
        }

        let now = Instant.now
        let wallClock = Date()
        let outcome = state.withLock { state -> Result<Accepted, GraphErrorReply> in
            var category: String?
            if let requested = message.template {
                if let problem = Self.templateProblem(requested, number: number, templates: state.templates, category: &category) {
                    state.sends.invalid += 1
                    return .failure(problem)
                }
            }
            if state.random.chance(configuration.transientErrorRate) {
                state.sends.transient += 1
                let code = state.random.next() & 1 == 0 ? 131000 : 2
                return .failure(GraphErrorReply(code, details: code == 2 ? "Service temporarily unavailable. Please retry shortly."
                                                                       : "An unknown error occurred. Please retry."))
            }
            guard state.buckets[number.phoneNumberID]!.takeToken(now: now) else {
                state.sends.throughputLimited += 1
                return .failure(GraphErrorReply(130429, details: "Cloud API message throughput has been reached."))
            }
            let rule = configuration.failureRules.first { $0.matches(message.recipient) }
            if let rule, rule.mode == .synchronous {
                state.sends.injectedSynchronous += 1
                return .failure(GraphErrorReply(rule.code, details: rule.details ?? Self.defaultDetails(rule.code)))
            }
            guard state.pairs.takeToken(number: number.phoneNumberID, recipient: message.recipient, now: now) else {
                state.sends.pairLimited += 1
                return .failure(GraphErrorReply(131056, details: "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."))
            }

            state.sequence += 1
            let wamid = Identifiers.wamid(user: message.recipient, instance: instanceTag, sequence: state.sequence, inbound: false)
            state.sends.accepted += 1
            if rule != nil { state.sends.injectedAsynchronous += 1 }
            state.acceptedByRecipient[message.recipient, default: 0] += 1
            if let callbackData = message.callbackData { state.acceptedByCallbackData[callbackData, default: 0] += 1 }
            if state.recordCount < configuration.recordedMessageLimit {
                state.recordCount += 1
                state.records[message.recipient, default: []].append(GraphSimulator.ReceivedMessage(
                    wamid: wamid, phoneNumberID: number.phoneNumberID, recipient: message.recipient, type: message.type,
                    callbackData: message.callbackData, templateName: message.template?.name, acceptedAt: wallClock))
            }
            let plan = dispatcher == nil ? [] : StatusPlanner.plan(configuration.statuses, failing: rule != nil, random: &state.random)
            let conversationID = Identifiers.hex(state.random.next(), digits: 16) + Identifiers.hex(state.random.next(), digits: 16)
            let sent = WebhookPayloads.SentMessage(
                wamid: wamid, recipient: message.recipient, callbackData: message.callbackData,
                acceptedAt: wallClock.timeIntervalSince1970, templateCategory: category,
                includesConversation: apiMajorVersion < 24, conversationID: conversationID.lowercased(),
                failure: rule.map { ($0.code, $0.details ?? Self.defaultDetails($0.code)) })
            return .success(Accepted(wamid: wamid, plan: plan, message: sent))
        }

        switch outcome {
        case .failure(let reply):
            return SimulatorResponse(reply)
        case .success(let accepted):
            if let dispatcher, !accepted.plan.isEmpty {
                let identity = NumberIdentity(phoneNumberID: number.phoneNumberID, displayPhoneNumber: number.displayPhoneNumber,
                                              wabaID: number.wabaID)
                dispatcher.enqueueStatuses(accepted.plan.map { (now + $0.postedAfter, WebhookPayloads.status($0, of: accepted.message)) },
                                           of: identity)
            }
            // `to` is digits with an optional +, so it needs no escaping.
            let body = #"{"messaging_product":"whatsapp","contacts":[{"input":""# + message.input + #"","wa_id":""# + message.recipient
                + #""}],"messages":[{"id":""# + accepted.wamid + #"","message_status":"accepted"}]}"#
            return SimulatorResponse(status: 200, body: Array(body.utf8))
        }
    }

    /// Why a template send fails before it is paced (132001, 132015, 132016, 132000, 132012), or nil; sets the pricing category.
    private static func templateProblem(_ requested: (name: String, language: String, components: JSONValue?), number: Number,
                                        templates: TemplateStore, category: inout String?) -> GraphErrorReply? {
        guard let template = templates.find(wabaID: number.wabaID, name: requested.name, language: requested.language) else {
            return GraphErrorReply(132001, details: "template name (\(requested.name)) does not exist in \(requested.language)")
        }
        switch template.status {
        case "APPROVED": break
        case "PAUSED": return GraphErrorReply(132015, details: "template (\(requested.name)) in \(requested.language) is paused")
        case "DISABLED": return GraphErrorReply(132016, details: "template (\(requested.name)) in \(requested.language) is disabled")
        default:
            return GraphErrorReply(132001, details: "template (\(requested.name)) in \(requested.language) is not approved (status \(template.status))")
        }
        if let problem = template.checkParameters(requested.components) { return problem }
        category = template.category.lowercased()
        return nil
    }

    /// `error_data.details` for an injected error when the rule gives none.
    static func defaultDetails(_ code: Int) -> String {
        switch code {
        case 131026: "Message Undeliverable."
        case 131030: "Recipient phone number not in allowed list: add the recipient phone number to the recipient list and try again."
        case 131047: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
        case 131049: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
        case 131050: "The user has stopped marketing messages from this business."
        default: "Simulated failure (\(code))."
        }
    }

    // MARK: Objects

    private func getObject(_ id: String, _ request: SimulatorRequest) -> SimulatorResponse {
        let fields = request.query["fields"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let number = numbers[id] { return .json(Self.describe(number, fields: fields)) }
        if wabaIDs.contains(id) {
            let all: [String: JSONValue] = [
                "id": .string(id), "name": .string("CloudChat Simulated Business"), "currency": .string("USD"),
                "timezone_id": .string("1"), "message_template_namespace": .string(Self.namespace(of: id)),
            ]
            let chosen = fields ?? ["id", "name", "currency", "timezone_id", "message_template_namespace"]
            return .json(.object(all.filter { chosen.contains($0.key) || $0.key == "id" }))
        }
        let now = Instant.now
        let lifetime = configuration.mediaURLLifetime
        let base = baseURL(request)
        return state.withLock { state in
            if let item = state.media.item(id) {
                let hash = SecureRandom.base64URLToken(byteCount: 18)
                state.media.issueURL(for: id, hash: hash, now: now, lifetime: lifetime)
                let expiry = Int(Date().timeIntervalSince1970 + lifetime / .seconds(1))
                return .json(.object([
                    "messaging_product": .string("whatsapp"),
                    "url": .string("\(base)/whatsapp_business/attachments/?mid=\(id)&ext=\(expiry)&hash=\(hash)"),
                    "mime_type": .string(item.mimeType), "sha256": .string(item.sha256),
                    "file_size": .number(Double(item.bytes.count)), "id": .string(id),
                ]))
            }
            if let template = state.templates.find(id: id) {
                return .json(TemplateStore.listing(template, fields: fields ?? TemplateStore.defaultFields))
            }
            return SimulatorResponse(.unknownObject(id, method: "GET"))
        }
    }

    /// A business number as `GET /{phone-number-id}` describes it: the fields asked for, `id` always.
    static func describe(_ number: Number, fields: [String]?) -> JSONValue {
        let all: [String: JSONValue] = [
            "id": .string(number.phoneNumberID),
            "display_phone_number": .string(number.displayPhoneNumber),
            "verified_name": .string(number.verifiedName),
            "quality_rating": .string(number.qualityRating),
            "throughput": .object(["level": .string(number.messagesPerSecond >= 1000 ? "HIGH" : "STANDARD")]),
            "whatsapp_business_manager_messaging_limit": .string(number.messagingLimitTier),
            "messaging_limit_tier": .string(number.messagingLimitTier),
            "code_verification_status": .string("VERIFIED"),
            "platform_type": .string("CLOUD_API"),
            "name_status": .string("APPROVED"),
            "status": .string("CONNECTED"),
            "account_mode": .string("LIVE"),
            "is_official_business_account": .bool(false),
        ]
        let chosen = fields ?? ["verified_name", "code_verification_status", "display_phone_number", "quality_rating", "platform_type", "throughput"]
        return .object(all.filter { chosen.contains($0.key) || $0.key == "id" })
    }

    /// A stable, UUID-shaped namespace per WABA.
    private static func namespace(of wabaID: String) -> String {
        let digest = SHA256.hexHash(Array(wabaID.utf8))
        let characters = Array(digest)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "_")
    }

    // MARK: Templates

    private func listTemplates(_ wabaID: String, _ request: SimulatorRequest, version: String) -> SimulatorResponse {
        let query = request.query
        let fields = query["fields"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? TemplateStore.defaultFields
        var limit = 25
        if let text = query["limit"] {
            guard let value = Int(text), value > 0 else { return SimulatorResponse(GraphErrorReply(100, details: "Param limit must be a positive integer")) }
            limit = min(value, 1000)
        }
        var templates = state.withLock { $0.templates.templates(of: wabaID) }
        if let statuses = query["status"]?.uppercased().split(separator: ",").map(String.init) {
            templates = templates.filter { statuses.contains($0.status) }
        }
        if let name = query["name"] { templates = templates.filter { $0.name.contains(name) } }
        if let language = query["language"] { templates = templates.filter { $0.language == language } }
        if let category = query["category"]?.uppercased() { templates = templates.filter { $0.category == category } }

        func position(of cursor: String) -> Int? {
            guard let id = Identifiers.decodeCursor(cursor) else { return nil }
            return templates.firstIndex { $0.id == id }
        }
        var start = 0
        var end: Int
        if let after = query["after"] {
            guard let index = position(of: after) else { return SimulatorResponse(GraphErrorReply(100, details: "Invalid cursor: after")) }
            start = index + 1
            end = min(start + limit, templates.count)
        } else if let before = query["before"] {
            guard let index = position(of: before) else { return SimulatorResponse(GraphErrorReply(100, details: "Invalid cursor: before")) }
            end = index
            start = max(0, end - limit)
        } else {
            end = min(limit, templates.count)
        }
        let page = start < end ? Array(templates[start..<end]) : []
        var answer: [String: JSONValue] = ["data": .array(page.map { TemplateStore.listing($0, fields: fields) })]
        if let first = page.first, let last = page.last {
            var paging: [String: JSONValue] = [
                "cursors": .object(["before": .string(Identifiers.cursor(first.id)), "after": .string(Identifiers.cursor(last.id))]),
            ]
            var kept = query
            kept["after"] = nil
            kept["before"] = nil
            kept["access_token"] = nil
            kept["limit"] = String(limit)
            func link(_ key: String, _ cursor: String) -> JSONValue {
                var items = kept
                items[key] = cursor
                let text = items.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.percentEncoded($0.value))" }.joined(separator: "&")
                return .string("\(baseURL(request))/\(version)/\(wabaID)/message_templates?\(text)")
            }
            if end < templates.count { paging["next"] = link("after", Identifiers.cursor(last.id)) }
            if start > 0 { paging["previous"] = link("before", Identifiers.cursor(first.id)) }
            answer["paging"] = .object(paging)
        }
        return .json(.object(answer))
    }

    private static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: queryValueCharacters) ?? value
    }

    private static let queryValueCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~,")

    func addTemplate(_ template: GraphSimulator.Template) -> GraphSimulator.Template {
        state.withLock { $0.templates.add(template) }
    }

    func templates(of wabaID: String) -> [GraphSimulator.Template] {
        state.withLock { $0.templates.templates(of: wabaID) }
    }

    /// Changes a template's status and posts `message_template_status_update` for it.
    func setTemplateStatus(_ status: String, name: String, language: String, wabaID: String?, reason: String?) throws(GraphSimulatorError)
        -> GraphSimulator.Template {
        guard let wabaID = wabaID ?? firstNumber?.wabaID else { throw GraphSimulatorError("no WABA is configured") }
        let event = status.uppercased()
        guard let template = state.withLock({ $0.templates.setStatus(event, wabaID: wabaID, name: name, language: language) }) else {
            throw GraphSimulatorError("WABA \(wabaID) has no template \(name) in \(language)")
        }
        dispatcher?.enqueueBody(WebhookPayloads.templateStatusBody(template, event: event, reason: reason ?? "NONE",
                                                                   time: Int(Date().timeIntervalSince1970)))
        return template
    }

    // MARK: Media

    private func uploadMedia(_ number: Number, _ request: SimulatorRequest) -> SimulatorResponse {
        guard let form = MultipartForm(body: request.body, contentType: request.contentType ?? "") else {
            return SimulatorResponse(GraphErrorReply(100, details: "The upload must be multipart/form-data with messaging_product, type and file"))
        }
        guard let product = form.part("messaging_product") else {
            return SimulatorResponse(GraphErrorReply(131008, details: "The parameter messaging_product is required."))
        }
        guard product.text == "whatsapp" else {
            return SimulatorResponse(GraphErrorReply(131009, details: "Param messaging_product must be whatsapp"))
        }
        guard let file = form.part("file") else { return SimulatorResponse(GraphErrorReply(131008, details: "The parameter file is required.")) }
        func bare(_ type: String) -> String {
            type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
        let declared = form.part("type").map { bare($0.text) }
        let mimeType = declared ?? file.contentType.map(bare) ?? ""
        if let declared, let fileType = file.contentType.map(bare), declared != fileType, fileType != "application/octet-stream" {
            return SimulatorResponse(GraphErrorReply(131053, details: "The type (\(declared)) does not match the file's type (\(fileType))."))
        }
        if let problem = MediaStore.uploadProblem(mimeType: mimeType, byteCount: file.body.count) {
            return SimulatorResponse(GraphErrorReply(131053, details: problem))
        }
        let item = state.withLock { $0.media.add(file.body, mimeType: mimeType, phoneNumberID: number.phoneNumberID, uploaded: true) }
        return .json(.object(["id": .string(item.id)]))
    }

    private func download(_ request: SimulatorRequest) -> SimulatorResponse {
        guard isAuthorized(request) else {
            state.withLock { $0.unauthorized += 1 }
            return SimulatorResponse(.invalidToken)
        }
        let now = Instant.now
        guard let mediaID = request.query["mid"], let hash = request.query["hash"],
              let served = state.withLock({ $0.media.download(mediaID: mediaID, hash: hash, now: now) }) else {
            return .text("Not Found\n", status: 404)
        }
        return SimulatorResponse(status: 200, contentType: served.mimeType, body: served.bytes)
    }

    func addMedia(_ bytes: [UInt8], mimeType: String, phoneNumberID: String?) -> String {
        state.withLock { $0.media.add(bytes, mimeType: mimeType, phoneNumberID: phoneNumberID, uploaded: false).id }
    }

    func corruptMedia(_ id: String) -> Bool {
        state.withLock { $0.media.corrupt(id) }
    }

    func expireMediaURLs() {
        let now = Instant.now
        state.withLock { $0.media.expireAllURLs(now: now) }
    }

    // MARK: Inbound

    /// Posts a customer's message to the webhook, as Meta would.
    func postInbound(_ message: GraphSimulator.CustomerMessage) throws(GraphSimulatorError) -> GraphSimulator.PostedInbound {
        guard let dispatcher else { throw GraphSimulatorError("no webhook URL is configured, so inbound messages have nowhere to go") }
        guard let number = message.phoneNumberID.map({ numbers[$0] }) ?? firstNumber else {
            throw GraphSimulatorError("the simulator has no business number \(message.phoneNumberID ?? "")")
        }
        let from = message.from.hasPrefix("+") ? String(message.from.dropFirst()) : message.from
        guard (1...20).contains(from.utf8.count), from.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw GraphSimulatorError("the customer's number must be digits")
        }
        let now = Instant.now
        let wallClock = Date()
        let base = baseURL(nil)
        let lifetime = configuration.mediaURLLifetime
        let (wamid, media) = state.withLock { state -> (String, MediaStore.Item?) in
            state.inbound += 1
            if configuration.inboundCountsAgainstThroughput { state.buckets[number.phoneNumberID]!.spendForInbound(now: now) }
            state.sequence += 1
            let wamid = Identifiers.wamid(user: from, instance: instanceTag, sequence: state.sequence, inbound: true)
            guard case .image(let bytes, let mimeType, _) = message.content else { return (wamid, nil) }
            let item = state.media.add(bytes ?? MediaStore.samplePNG, mimeType: bytes == nil ? "image/png" : mimeType,
                                       phoneNumberID: number.phoneNumberID, uploaded: false)
            return (wamid, item)
        }
        var inbound: [String: JSONValue] = [
            "from": .string(from), "id": .string(wamid), "timestamp": .string(String(Int(wallClock.timeIntervalSince1970))),
        ]
        switch message.content {
        case .text(let text):
            inbound["type"] = .string("text")
            inbound["text"] = .object(["body": .string(text)])
        case .image(_, _, let caption):
            let item = media!
            let hash = SecureRandom.base64URLToken(byteCount: 18)
            state.withLock { $0.media.issueURL(for: item.id, hash: hash, now: now, lifetime: lifetime) }
            let expiry = Int(wallClock.timeIntervalSince1970 + lifetime / .seconds(1))
            var image: [String: JSONValue] = [
                "mime_type": .string(item.mimeType), "sha256": .string(item.sha256), "id": .string(item.id),
                "url": .string("\(base)/whatsapp_business/attachments/?mid=\(item.id)&ext=\(expiry)&hash=\(hash)"),
            ]
            if let caption { image["caption"] = .string(caption) }
            inbound["type"] = .string("image")
            inbound["image"] = .object(image)
        }
        let identity = NumberIdentity(phoneNumberID: number.phoneNumberID, displayPhoneNumber: number.displayPhoneNumber, wabaID: number.wabaID)
        dispatcher.enqueueBody(WebhookPayloads.inboundBody(identity, from: from, profileName: message.profileName, message: .object(inbound)))
        return GraphSimulator.PostedInbound(wamid: wamid, mediaID: media?.id)
    }

    /// Draws from the seeded generator (the inbound traffic's choices).
    func withRandom<T>(_ body: (inout SeededRandom) -> T) -> T {
        state.withLock { body(&$0.random) }
    }

    // MARK: Counts

    func statistics() -> GraphSimulator.Statistics {
        var webhooks = GraphSimulator.Statistics.Webhooks()
        if let dispatcher {
            let counts = dispatcher.counts
            let backlog = dispatcher.backlog
            webhooks.postsDelivered = counts.postsDelivered
            webhooks.postsGivenUp = counts.postsGivenUp
            webhooks.failedAttempts = counts.failedAttempts
            webhooks.statusesDelivered = counts.statusesDelivered
            webhooks.statusesGivenUp = counts.statusesGivenUp
            webhooks.waiting = backlog.waiting
            webhooks.inFlight = backlog.inFlight
        }
        return state.withLock { state in
            var sends = state.sends
            sends.recipients = state.acceptedByRecipient.count
            sends.recipientsMessagedMoreThanOnce = state.acceptedByRecipient.values.count { $0 > 1 }
            return GraphSimulator.Statistics(seed: seed, sends: sends, webhooks: webhooks, inboundMessages: state.inbound,
                                      unauthorizedRequests: state.unauthorized, mediaUploads: state.media.uploads,
                                      mediaDownloads: state.media.downloads)
        }
    }

    func received(to recipient: String) -> [GraphSimulator.ReceivedMessage] {
        let digits = recipient.hasPrefix("+") ? String(recipient.dropFirst()) : recipient
        return state.withLock { $0.records[digits] ?? [] }
    }

    func received(callbackData: String) -> [GraphSimulator.ReceivedMessage] {
        state.withLock { state in state.records.values.flatMap { $0.filter { $0.callbackData == callbackData } } }
            .sorted { $0.acceptedAt < $1.acceptedAt }
    }

    func acceptedCount(to recipient: String) -> Int {
        let digits = recipient.hasPrefix("+") ? String(recipient.dropFirst()) : recipient
        return state.withLock { $0.acceptedByRecipient[digits] ?? 0 }
    }

    func acceptedCount(callbackData: String) -> Int {
        state.withLock { $0.acceptedByCallbackData[callbackData] ?? 0 }
    }

    /// Clears counts, records and rate-limit state; templates and media stay.
    func reset() {
        let now = Instant.now
        state.withLock { state in
            state.sends = .init()
            state.unauthorized = 0
            state.inbound = 0
            state.records = [:]
            state.recordCount = 0
            state.acceptedByRecipient = [:]
            state.acceptedByCallbackData = [:]
            state.pairs.removeAll()
            for key in state.buckets.keys { state.buckets[key]!.refillCompletely(now: now) }
            state.media.resetCounts()
        }
        dispatcher?.resetCounts()
    }

    // MARK: Test endpoints

    private func control(_ request: SimulatorRequest) -> SimulatorResponse {
        let body = request.body.isEmpty ? JSONValue.object([:]) : (try? JSONValue.parse(request.body))
        switch (request.method, request.path) {
        case ("GET", "/_simulator/health"):
            return .text("ok\n", status: 200)
        case ("GET", "/_simulator/stats"):
            return .json(statistics().json)
        case ("GET", "/_simulator/received"):
            let count: Int, messages: [GraphSimulator.ReceivedMessage]
            if let to = request.query["to"] {
                (count, messages) = (acceptedCount(to: to), received(to: to))
            } else if let callbackData = request.query["callback_data"] {
                (count, messages) = (acceptedCount(callbackData: callbackData), received(callbackData: callbackData))
            } else {
                return .controlError("give to=<digits> or callback_data=<text>")
            }
            return .json(.object(["count": .number(Double(count)), "messages": .array(messages.map(\.json))]))
        case ("POST", "/_simulator/reset"):
            reset()
            return .success
        case ("POST", "/_simulator/inbound"):
            guard let body, let from = body["from"]?.stringValue else { return .controlError("the body must be JSON with at least \"from\"") }
            let content: GraphSimulator.CustomerMessage.Content
            switch body["type"]?.stringValue ?? "text" {
            case "text":
                content = .text(body["text"]?.stringValue ?? "Hello!")
            case "image":
                var bytes: [UInt8]?
                if let encoded = body["data_base64"]?.stringValue {
                    guard let data = Data(base64Encoded: encoded) else { return .controlError("data_base64 is not base64") }
                    bytes = Array(data)
                }
                content = .image(bytes: bytes, mimeType: body["mime_type"]?.stringValue ?? "image/png", caption: body["caption"]?.stringValue)
            default:
                return .controlError("type must be text or image")
            }
            let message = GraphSimulator.CustomerMessage(from: from, profileName: body["name"]?.stringValue ?? "Simulated Customer",
                                                         content: content, phoneNumberID: body["phone_number_id"]?.stringValue)
            do {
                let posted = try postInbound(message)
                var answer: [String: JSONValue] = ["id": .string(posted.wamid)]
                if let mediaID = posted.mediaID { answer["media_id"] = .string(mediaID) }
                return .json(.object(answer))
            } catch {
                return .controlError(error.description)
            }
        case ("POST", "/_simulator/templates/status"):
            guard let body, let name = body["name"]?.stringValue, let status = body["status"]?.stringValue else {
                return .controlError("the body must be JSON with \"name\" and \"status\"")
            }
            do {
                let template = try setTemplateStatus(status, name: name, language: body["language"]?.stringValue ?? "en_US",
                                                     wabaID: body["waba_id"]?.stringValue, reason: body["reason"]?.stringValue)
                return .json(.object(["success": .bool(true), "id": .string(template.id)]))
            } catch {
                return .controlError(error.description, status: 404)
            }
        case ("POST", "/_simulator/media/expire"):
            expireMediaURLs()
            return .success
        case ("POST", "/_simulator/media/corrupt"):
            guard let id = body?["id"]?.stringValue else { return .controlError("the body must be JSON with \"id\"") }
            return corruptMedia(id) ? .success : .controlError("no media \(id)", status: 404)
        default:
            return .text("no such test endpoint\n", status: 404)
        }
    }
}

