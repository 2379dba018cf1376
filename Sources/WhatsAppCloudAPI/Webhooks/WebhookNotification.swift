import Foundation

/// A webhook body from Meta: `{"object":"whatsapp_business_account","entry":[…]}`.
///
/// Decoding is tolerant by design: every entry, change and item is kept, and a
/// field or message type this build does not know decodes to an `unknown` or
/// `other` case carrying its raw JSON instead of failing the whole body.
public struct WebhookNotification: Sendable, Decodable {
    /// Always `whatsapp_business_account` for WhatsApp.
    public let object: String
    /// Every entry; Meta may batch several in one body.
    public let entries: [WebhookEntry]

    enum CodingKeys: String, CodingKey { case object, entries = "entry" }

    /// Decodes a body as received.
    /// - Throws: `DecodingError` when the body is not JSON or lacks the envelope.
    public static func decode(_ body: some DataProtocol) throws -> WebhookNotification {
        try JSONValueDecoder.decode(WebhookNotification.self, from: JSONValue.parse(body))
    }
}

/// One `entry[]`: a WhatsApp Business Account and its changes.
public struct WebhookEntry: Sendable, Decodable {
    /// The WABA id.
    public let id: String
    /// Unix time, present on non-`messages` fields.
    public let time: Int?
    /// Every change in the entry.
    public let changes: [WebhookChange]
}

/// One `changes[]` item: the field that changed and its value.
public struct WebhookChange: Sendable, Decodable {
    /// The webhook field, e.g. `messages` or `message_template_status_update`.
    public let field: String
    /// The value, interpreted by field.
    public let value: Value

    /// The value of a change, by field.
    public enum Value: Sendable {
        /// `messages`: inbound messages, statuses, or errors.
        case messages(MessagesValue)
        /// `message_template_status_update`.
        case templateStatus(TemplateStatusUpdate)
        /// `message_template_quality_update`.
        case templateQuality(TemplateQualityUpdate)
        /// `template_category_update`.
        case templateCategory(TemplateCategoryUpdate)
        /// `phone_number_quality_update`.
        case phoneNumberQuality(PhoneNumberQualityUpdate)
        /// `account_update`.
        case accountUpdate(AccountUpdate)
        /// `user_preferences`: marketing stop/resume.
        case userPreferences([UserPreference])
        /// Any other field, kept as received.
        case other(JSONValue)
    }

    enum CodingKeys: String, CodingKey { case field, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        field = try container.decode(String.self, forKey: .field)
        let raw = try container.decode(JSONValue.self, forKey: .value)
        // A value that does not fit its field's model is kept raw, not fatal.
        func typed<T: Decodable>(_ type: T.Type) -> T? { try? container.decode(T.self, forKey: .value) }
        switch field {
        case "messages":
            value = typed(MessagesValue.self).map { .messages($0) } ?? .other(raw)
        case "message_template_status_update":
            // Meta's docs show quality updates under this field too; route on shape.
            if raw["new_quality_score"] != nil, let quality = typed(TemplateQualityUpdate.self) {
                value = .templateQuality(quality)
            } else {
                value = typed(TemplateStatusUpdate.self).map { .templateStatus($0) } ?? .other(raw)
            }
        case "message_template_quality_update":
            value = typed(TemplateQualityUpdate.self).map { .templateQuality($0) } ?? .other(raw)
        case "template_category_update":
            value = typed(TemplateCategoryUpdate.self).map { .templateCategory($0) } ?? .other(raw)
        case "phone_number_quality_update":
            value = typed(PhoneNumberQualityUpdate.self).map { .phoneNumberQuality($0) } ?? .other(raw)
        case "account_update":
            value = typed(AccountUpdate.self).map { .accountUpdate($0) } ?? .other(raw)
        case "user_preferences":
            value = (try? container.decode(UserPreferencesValue.self, forKey: .value)).map { .userPreferences($0.userPreferences) } ?? .other(raw)
        default:
            value = .other(raw)
        }
    }
}

/// The value of a `messages` change.
public struct MessagesValue: Sendable, Decodable {
    /// The business number the change concerns.
    public let metadata: Metadata
    /// The users involved (absent for system messages and failed statuses).
    public let contacts: [WebhookContact]
    /// Inbound messages.
    public let messages: [InboundMessage]
    /// Status updates of messages we sent.
    public let statuses: [MessageStatus]
    /// System, app or account errors with no message attached.
    public let errors: [WebhookError]
    /// Items that could not be read, as `messages[2]` or `statuses[0]`; the others are still here.
    public let unreadableItems: [String]

    /// `metadata`.
    public struct Metadata: Sendable, Decodable, Equatable {
        /// The business number as displayed.
        public let displayPhoneNumber: String?
        /// Meta's id of the business number: the routing key.
        public let phoneNumberID: String

        enum CodingKeys: String, CodingKey {
            case displayPhoneNumber = "display_phone_number", phoneNumberID = "phone_number_id"
        }
    }

    enum CodingKeys: String, CodingKey { case metadata, contacts, messages, statuses, errors }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decode(Metadata.self, forKey: .metadata)
        // One malformed item must not hide its neighbours: each is decoded on its own.
        var unreadable: [String] = []
        func items<T: Decodable>(_ key: CodingKeys) -> [T] {
            guard let list = try? container.decodeIfPresent([Lossy<T>].self, forKey: key) else {
                if container.contains(key) { unreadable.append(key.stringValue) }
                return []
            }
            var decoded: [T] = []
            for (index, item) in list.enumerated() {
                if let value = item.value { decoded.append(value) } else { unreadable.append("\(key.stringValue)[\(index)]") }
            }
            return decoded
        }
        contacts = items(.contacts)
        messages = items(.messages)
        statuses = items(.statuses)
        errors = items(.errors)
        unreadableItems = unreadable
    }
}

/// Decodes one element of a list, or remembers that it could not.
private struct Lossy<T: Decodable>: Decodable {
    let value: T?

    init(from decoder: any Decoder) throws {
        value = try? T(from: decoder)
    }
}

/// A user in `contacts[]`: WhatsApp id and, from 2026, the business-scoped user id (BSUID).
public struct WebhookContact: Sendable, Decodable, Equatable {
    /// The user's WhatsApp id (E.164 digits); may be absent for users with a username.
    public let waID: String?
    /// The BSUID, e.g. `US.13491208655302741918`.
    public let userID: String?
    /// The parent BSUID (linked portfolios).
    public let parentUserID: String?
    /// The profile name.
    public let profileName: String?
    /// The username, when the user has one.
    public let username: String?

    enum CodingKeys: String, CodingKey {
        case waID = "wa_id", userID = "user_id", parentUserID = "parent_user_id", profile
    }
    enum ProfileKeys: String, CodingKey { case name, username }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        waID = try container.decodeIfPresent(String.self, forKey: .waID)
        userID = try container.decodeIfPresent(String.self, forKey: .userID)
        parentUserID = try container.decodeIfPresent(String.self, forKey: .parentUserID)
        let profile = try? container.nestedContainer(keyedBy: ProfileKeys.self, forKey: .profile)
        profileName = try profile?.decodeIfPresent(String.self, forKey: .name)
        username = try profile?.decodeIfPresent(String.self, forKey: .username)
    }
}

/// An error object in webhooks: `{code, title, message, error_data:{details}, href}`.
public struct WebhookError: Sendable, Decodable, Equatable {
    /// Meta's error code, e.g. 131026.
    public let code: Int
    /// The title.
    public let title: String?
    /// The message (usually the title again).
    public let message: String?
    /// `error_data.details`.
    public let details: String?

    enum CodingKeys: String, CodingKey { case code, title, message, errorData = "error_data" }
    enum DataKeys: String, CodingKey { case details }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let code = try container.decode(Int.self, forKey: .code)
        // Meta's codes are small; one that does not fit 32 bits is not Meta's, and no column could hold it.
        guard Int32(exactly: code) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .code, in: container,
                                                   debugDescription: "error code \(code) is out of range (Meta's codes fit 32 bits)")
        }
        self.code = code
        title = try container.decodeIfPresent(String.self, forKey: .title)
        message = try container.decodeIfPresent(String.self, forKey: .message)
        details = try (try? container.nestedContainer(keyedBy: DataKeys.self, forKey: .errorData))?.decodeIfPresent(String.self, forKey: .details)
    }
}

/// Meta sends Unix times as strings; some fields as numbers.
func decodeUnixTime<K: CodingKey>(_ container: KeyedDecodingContainer<K>, _ key: K) throws -> Date? {
    if let text = try? container.decodeIfPresent(String.self, forKey: key) {
        return TimeInterval(text).map { Date(timeIntervalSince1970: $0) }
    }
    return try container.decodeIfPresent(Double.self, forKey: key).map { Date(timeIntervalSince1970: $0) }
}
