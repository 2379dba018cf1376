import Synchronization
import WhatsAppCloudAPI

/// An error answer in Meta's shape:
/// `{"error":{"message","type","code","error_subcode"?,"error_data":{"messaging_product","details"}?,"fbtrace_id"}}`,
/// with the HTTP status Meta uses for the code (digest §5.5).
struct GraphErrorReply: Error, Sendable {
    let httpStatus: Int
    let code: Int
    let subcode: Int?
    let type: String
    let message: String
    let details: String?

    /// An error of the WhatsApp Cloud API, with its documented HTTP status and title.
    init(_ code: Int, details: String? = nil) {
        let known = Self.catalog[code]
        self.code = code
        httpStatus = known?.httpStatus ?? 400
        subcode = nil
        type = "OAuthException"
        message = "(#\(code)) " + (known?.title ?? "Simulated error")
        self.details = details
    }

    private init(httpStatus: Int, code: Int, subcode: Int?, type: String, message: String, details: String?) {
        self.httpStatus = httpStatus
        self.code = code
        self.subcode = subcode
        self.type = type
        self.message = message
        self.details = details
    }

    /// 401, code 190: no bearer token, or one the simulator does not accept.
    static let invalidToken = GraphErrorReply(httpStatus: 401, code: 190, subcode: nil, type: "OAuthException",
                                              message: "Invalid OAuth access token - Cannot parse access token", details: nil)

    /// Code 100, subcode 33: Graph's answer for an id it does not know (or may not show).
    static func unknownObject(_ id: String, method: String) -> GraphErrorReply {
        let shown = id.count <= 64 ? id : String(id.prefix(64))
        return GraphErrorReply(
            httpStatus: 400, code: 100, subcode: 33, type: "GraphMethodException",
            message: "Unsupported \(method.lowercased()) request. Object with ID '\(shown)' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
            details: nil)
    }

    /// Code 100 for a path Graph has no operation on.
    static func unknownPath(method: String) -> GraphErrorReply {
        GraphErrorReply(httpStatus: 400, code: 100, subcode: nil, type: "OAuthException",
                        message: "Unknown path components or unsupported \(method.lowercased()) request", details: nil)
    }

    /// The answer's body.
    var body: [UInt8] {
        var error: [String: JSONValue] = [
            "message": .string(message), "type": .string(type), "code": .number(Double(code)),
            "fbtrace_id": .string(Self.nextTraceID()),
        ]
        if let subcode { error["error_subcode"] = .number(Double(subcode)) }
        if let details {
            error["error_data"] = .object(["messaging_product": .string("whatsapp"), "details": .string(details)])
        }
        return Array(JSONValue.object(["error": .object(error)]).jsonText.utf8)
    }

    /// The title Meta gives a code in webhooks' `errors[]`.
    static func title(of code: Int) -> String {
        catalog[code]?.title ?? "Simulated error"
    }

    // MARK: Codes

    /// HTTP status and title per code: digest §5.5 for the status, Meta's usual wording for the title.
    private static let catalog: [Int: (httpStatus: Int, title: String)] = [
        1: (400, "An unknown error occurred"),
        2: (503, "Service temporarily unavailable"),
        3: (500, "Capability or permissions issue"),
        4: (400, "Application request limit reached"),
        10: (403, "Permission denied"),
        33: (400, "Parameter value is not valid"),
        100: (400, "Invalid parameter"),
        190: (401, "Access token has expired"),
        368: (403, "Temporarily blocked for policies violations"),
        80007: (400, "Rate limit issues"),
        130429: (400, "Rate limit hit"),
        130472: (400, "User's number is part of an experiment"),
        130497: (403, "Business account is restricted from messaging users in this country"),
        131000: (500, "Something went wrong"),
        131005: (403, "Access denied"),
        131008: (400, "Required parameter is missing"),
        131009: (400, "Parameter value is not valid"),
        131016: (500, "Service unavailable"),
        131021: (400, "Recipient cannot be sender"),
        131026: (400, "Message undeliverable"),
        131030: (400, "Recipient phone number not in allowed list"),
        131031: (403, "Business Account locked"),
        131037: (400, "WhatsApp provided number needs display name approval before message can be sent"),
        131042: (400, "Business eligibility payment issue"),
        131045: (500, "Incorrect certificate"),
        131047: (400, "Re-engagement message"),
        131048: (400, "Spam rate limit hit"),
        131049: (400, "This message was not delivered to maintain healthy ecosystem engagement"),
        131050: (400, "User stopped marketing messages"),
        131051: (400, "Unsupported message type"),
        131052: (400, "Media download error"),
        131053: (400, "Media upload error"),
        131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
        131057: (500, "Account in maintenance mode"),
        132000: (400, "Number of parameters does not match the expected number of params"),
        132001: (404, "Template name does not exist in the translation"),
        132005: (400, "Translated text too long"),
        132007: (400, "Format character policy violated"),
        132012: (400, "Parameter format does not match format in the created template"),
        132015: (400, "Template is Paused"),
        132016: (400, "Template is Disabled"),
        132018: (400, "There was an issue with the parameters in your template"),
        133004: (503, "Server temporarily unavailable"),
        133010: (400, "Phone number not registered"),
        135000: (400, "Generic user error"),
    ]

    // MARK: Trace ids

    private static let traceCounter = Atomic<UInt64>(0x5EED_0F7A_CE1D)

    /// A fresh `fbtrace_id`: 27 characters of base64 alphabet, like Meta's.
    private static func nextTraceID() -> String {
        var generator = SeededRandom(seed: traceCounter.add(1, ordering: .relaxed).newValue)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)
        var text: [UInt8] = [UInt8(ascii: "A")]
        for _ in 0..<26 { text.append(alphabet[Int(generator.next() & 63)]) }
        return String(decoding: text, as: UTF8.self)
    }
}
