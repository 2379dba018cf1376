/// An error answer from the Graph API:
/// `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}`.
///
/// Decisions branch on ``code`` (and the HTTP status when there is none), never on
/// Meta's message text, which may change. ``description`` is safe to log: it
/// leaves out `error_data.details`, which can quote the request (a recipient's
/// number, a parameter's value).
public struct GraphAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status of the answer.
    public let httpStatus: Int
    /// Meta's error code; nil when the body was not a Graph error (a proxy's page, a cut connection).
    public let code: Int?
    /// The subcode, where an older API version still sends one.
    public let subcode: Int?
    /// The exception type, e.g. `OAuthException`.
    public let type: String?
    /// Meta's message, e.g. `(#131026) Message Undeliverable.`
    public let message: String?
    /// `error_data.details`: what exactly went wrong. May quote the request; store it with the message, do not log it.
    public let details: String?
    /// Meta's trace id, for support tickets.
    public let fbtraceID: String?

    public init(httpStatus: Int, code: Int?, subcode: Int? = nil, type: String? = nil, message: String? = nil,
                details: String? = nil, fbtraceID: String? = nil) {
        self.httpStatus = httpStatus
        self.code = code
        self.subcode = subcode
        self.type = type
        self.message = message
        self.details = details
        self.fbtraceID = fbtraceID
    }

    /// Reads an error answer; a body that is not a Graph error gives an error with only the HTTP status.
    public init(httpStatus: Int, body: some Collection<UInt8>) {
        guard let error = (try? JSONValue.parse(body))?["error"] else {
            self.init(httpStatus: httpStatus, code: nil)
            return
        }
        func integer(_ value: JSONValue?) -> Int? {
            guard case .number(let number)? = value else { return nil }
            return Int(exactly: number)
        }
        self.init(httpStatus: httpStatus, code: integer(error["code"]), subcode: integer(error["error_subcode"]),
                  type: error["type"]?.stringValue, message: error["message"]?.stringValue,
                  details: error["error_data"]?["details"]?.stringValue, fbtraceID: error["fbtrace_id"]?.stringValue)
    }

    /// What the sender should do about it.
    public var action: GraphErrorAction { GraphErrorAction.for(code: code, httpStatus: httpStatus) }

    public var description: String {
        var text = "Graph API error"
        if let code { text += " \(code)" }
        text += " (HTTP \(httpStatus))"
        if let message { text += ": \(message.prefix(200))" }
        if let fbtraceID { text += "; fbtrace_id \(fbtraceID.prefix(64))" }
        return text
    }
}

/// How a sender reacts to a Graph API error (the classification of the API digest, §5.5).
public enum GraphErrorAction: Sendable, Equatable {
    /// A rate limit: send again later, after slowing down what it names.
    case retryLater(RateLimit)
    /// A passing failure on Meta's side: retry with exponential backoff, at most this many times.
    case retryWithBackoff(attempts: Int)
    /// Permanent for this message: it fails with the reason; sending it again would fail the same way.
    case failMessage
    /// Stop sending and alert an operator: retrying cannot help until someone acts.
    case halt(HaltScope)

    /// Which limit was hit.
    public enum RateLimit: Sendable, Equatable {
        /// The app's Graph API call budget (4).
        case app
        /// The WABA's call budget (80007).
        case businessAccount
        /// The business number's messages per second (130429): lower its pace.
        case throughput
        /// Messages to one recipient too close together (131056): space that recipient only.
        case recipient
        /// Number registration attempts (133016), and a number deleted moments ago (133015).
        case registration
        /// A Flow sent too often to one user (132069).
        case flow
    }

    /// What to stop.
    public enum HaltScope: Sendable, Equatable {
        /// The business number's sender (or the campaign using it): credentials, permissions, account standing.
        case sender
        /// The template: paused for low quality (132015). Other templates keep going.
        case template
    }

    /// The action for a code; without one (not a Graph error body), the HTTP status decides.
    public static func `for`(code: Int?, httpStatus: Int) -> GraphErrorAction {
        guard let code else {
            switch httpStatus {
            case 401, 403: return .halt(.sender)
            case 429: return .retryLater(.app)
            case 500...599, 408: return .retryWithBackoff(attempts: 5)
            default: return .failMessage
            }
        }
        if let action = table[code] { return action }
        if (200...299).contains(code) { return .halt(.sender) }  // API permission errors
        if (134100...134102).contains(code) { return .failMessage }  // marketing-messages API
        // A code this build does not know: Meta's 5xx answers are usually passing, 4xx ones about the request.
        return httpStatus >= 500 ? .retryWithBackoff(attempts: 3) : .failMessage
    }

    /// The `state_reason` recorded when a code halts a number or a campaign.
    public static func haltReason(forCode code: Int?) -> String {
        switch code {
        case 0, 190: "credentials_invalid"
        case 131031, 368: "account_locked"
        case 131048: "spam_rate_limit"
        case 131042: "payment_issue"
        case 132015: "template_paused"
        case 132016: "template_disabled"
        case 133010: "number_deregistered"
        case let code?: "graph_error_\(code)"
        case nil: "graph_error"
        }
    }

    /// One row per code Meta documents for sending; the comments give Meta's meaning.
    static let table: [Int: GraphErrorAction] = [
        0: .halt(.sender),                      // AuthException: token expired or invalid
        3: .halt(.sender),                      // API method: capability or permission
        10: .halt(.sender),                     // permission denied
        190: .halt(.sender),                    // access token expired
        4: .retryLater(.app),                   // app call rate limit
        80007: .retryLater(.businessAccount),   // WABA rate limit
        130429: .retryLater(.throughput),       // Cloud API throughput reached
        131048: .halt(.sender),                 // spam rate limit: check quality
        131056: .retryLater(.recipient),        // pair rate limit
        133016: .retryLater(.registration),     // register/deregister rate limit
        368: .halt(.sender),                    // temporarily blocked for policy violations
        130497: .failMessage,                   // business may not message users in this country
        131031: .halt(.sender),                 // account locked
        1: .retryWithBackoff(attempts: 1),      // API unknown: once more, then give up
        2: .retryWithBackoff(attempts: 5),      // API service: temporary downtime or overload
        33: .halt(.sender),                     // the business number was deleted
        100: .failMessage,                      // invalid parameter
        130472: .failMessage,                   // user's number is part of an experiment
        131000: .retryWithBackoff(attempts: 3), // something went wrong
        131005: .halt(.sender),                 // access denied
        131008: .failMessage,                   // required parameter missing
        131009: .failMessage,                   // parameter value not valid
        131016: .retryWithBackoff(attempts: 5), // service temporarily unavailable
        131021: .failMessage,                   // recipient is the sender
        131026: .failMessage,                   // message undeliverable
        131037: .halt(.sender),                 // display name not approved
        131042: .halt(.sender),                 // business eligibility: payment issue
        131045: .halt(.sender),                 // incorrect certificate
        131047: .failMessage,                   // outside the 24-hour window: a template is needed
        131049: .failMessage,                   // Meta chose not to deliver (marketing cap)
        131050: .failMessage,                   // user stopped marketing messages: never retry
        131051: .failMessage,                   // unsupported message type
        131053: .failMessage,                   // media upload error
        131055: .failMessage,                   // marketing-messages API error
        131057: .retryWithBackoff(attempts: 5), // account in maintenance mode
        132000: .failMessage,                   // template parameter count mismatch
        132001: .failMessage,                   // template missing in this language or not approved
        132005: .failMessage,                   // hydrated template text too long
        132007: .failMessage,                   // template format character policy
        132012: .failMessage,                   // template parameter format mismatch
        132015: .halt(.template),               // template paused for low quality
        132016: .halt(.template),               // template disabled for good: its campaigns stop
        132018: .failMessage,                   // invalid template parameters
        132068: .failMessage,                   // Flow blocked
        132069: .retryLater(.flow),             // Flow throttled
        133000: .halt(.sender),                 // incomplete deregistration
        133004: .retryWithBackoff(attempts: 5), // server temporarily unavailable
        133005: .halt(.sender),                 // two-step PIN mismatch
        133006: .halt(.sender),                 // number needs verifying again
        133008: .halt(.sender),                 // too many PIN attempts
        133009: .halt(.sender),                 // PIN entered too fast
        133010: .halt(.sender),                 // phone number not registered
        133015: .retryLater(.registration),     // number deleted moments ago: wait 5 minutes
        134011: .halt(.sender),                 // payments terms not accepted
        135000: .failMessage,                   // generic user error
        2388019: .failMessage,                  // template count limit reached
        2494100: .retryWithBackoff(attempts: 5), // account in maintenance mode (migration)
    ]
}
