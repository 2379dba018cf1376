import Foundation

/// One status update of a message we sent (`value.statuses[]`).
public struct MessageStatus: Sendable, Decodable {
    /// The status values, in the order a message's status may only move forward.
    public enum State: Sendable, Equatable, Comparable {
        case sent, delivered, read, played, failed
        /// A value this build does not know: kept in the timeline, never applied.
        case unknown(String)

        /// The rank used by the monotonic update (docs/schema.md §6.2); nil when unknown.
        public var rank: Int? {
            switch self {
            case .sent: 3
            case .delivered: 4
            case .read: 5
            case .played: 6
            case .failed: 7
            case .unknown: nil
            }
        }

        /// The value as Meta writes it.
        public var rawValue: String {
            switch self {
            case .sent: "sent"
            case .delivered: "delivered"
            case .read: "read"
            case .played: "played"
            case .failed: "failed"
            case .unknown(let value): value
            }
        }

        public init(rawValue: String) {
            switch rawValue {
            case "sent": self = .sent
            case "delivered": self = .delivered
            case "read": self = .read
            case "played": self = .played
            case "failed": self = .failed
            default: self = .unknown(rawValue)
            }
        }

        public static func < (lhs: State, rhs: State) -> Bool { (lhs.rank ?? -1) < (rhs.rank ?? -1) }
    }

    /// `pricing`.
    public struct Pricing: Sendable, Decodable, Equatable {
        public let billable: Bool?
        public let pricingModel: String?
        public let type: String?
        public let category: String?

        enum CodingKeys: String, CodingKey { case billable, pricingModel = "pricing_model", type, category }
    }

    /// The wamid of the message.
    public let id: String
    /// The new status.
    public let state: State
    /// When it happened (Meta's time).
    public let timestamp: Date?
    /// The recipient's WhatsApp id (may be absent for users with a username).
    public let recipientID: String?
    /// The recipient's business-scoped user id.
    public let recipientUserID: String?
    /// What we put in `biz_opaque_callback_data` when sending.
    public let callbackData: String?
    /// Pricing, on `sent` and one of `delivered`/`read`.
    public let pricing: Pricing?
    /// The conversation object (v23 and older), kept raw.
    public let conversation: JSONValue?
    /// The errors of a `failed` status.
    public let errors: [WebhookError]
    /// The status exactly as received.
    public let raw: JSONValue

    enum CodingKeys: String, CodingKey {
        case id, status, timestamp, recipientID = "recipient_id", recipientUserID = "recipient_user_id"
        case callbackData = "biz_opaque_callback_data", pricing, conversation, errors
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        raw = try JSONValue(from: decoder)
        id = try container.decode(String.self, forKey: .id)
        state = State(rawValue: try container.decode(String.self, forKey: .status))
        timestamp = try decodeUnixTime(container, .timestamp)
        recipientID = try container.decodeIfPresent(String.self, forKey: .recipientID)
        recipientUserID = try container.decodeIfPresent(String.self, forKey: .recipientUserID)
        callbackData = try container.decodeIfPresent(String.self, forKey: .callbackData)
        pricing = try? container.decodeIfPresent(Pricing.self, forKey: .pricing)
        conversation = try container.decodeIfPresent(JSONValue.self, forKey: .conversation)
        errors = (try? container.decodeIfPresent([WebhookError].self, forKey: .errors)) ?? []
    }
}
