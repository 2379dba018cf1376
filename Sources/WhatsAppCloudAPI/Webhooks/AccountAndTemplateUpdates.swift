import Foundation

/// `message_template_status_update`: a template was approved, rejected, paused…
public struct TemplateStatusUpdate: Sendable, Decodable, Equatable {
    public let event: String
    public let templateID: Int64?
    public let templateName: String?
    public let language: String?
    public let category: String?
    public let reason: String?

    enum CodingKeys: String, CodingKey {
        case event, templateID = "message_template_id", templateName = "message_template_name"
        case language = "message_template_language", category = "message_template_category", reason
    }
}

/// `message_template_quality_update`.
public struct TemplateQualityUpdate: Sendable, Decodable, Equatable {
    public let previousQualityScore: String?
    public let newQualityScore: String
    public let templateID: Int64?
    public let templateName: String?
    public let language: String?

    enum CodingKeys: String, CodingKey {
        case previousQualityScore = "previous_quality_score", newQualityScore = "new_quality_score"
        case templateID = "message_template_id", templateName = "message_template_name", language = "message_template_language"
    }
}

/// `template_category_update`: an impending or completed recategorisation.
public struct TemplateCategoryUpdate: Sendable, Decodable, Equatable {
    public let templateID: Int64?
    public let templateName: String?
    public let language: String?
    public let previousCategory: String?
    public let newCategory: String?
    public let correctCategory: String?

    enum CodingKeys: String, CodingKey {
        case templateID = "message_template_id", templateName = "message_template_name", language = "message_template_language"
        case previousCategory = "previous_category", newCategory = "new_category", correctCategory = "correct_category"
    }
}

/// `phone_number_quality_update`: messaging-limit tier and throughput changes.
public struct PhoneNumberQualityUpdate: Sendable, Decodable, Equatable {
    public let displayPhoneNumber: String?
    public let event: String
    public let currentLimit: String?
    public let maxDailyConversationsPerBusiness: String?

    enum CodingKeys: String, CodingKey {
        case displayPhoneNumber = "display_phone_number", event, currentLimit = "current_limit"
        case maxDailyConversationsPerBusiness = "max_daily_conversations_per_business"
    }
}

/// `account_update`: bans, restrictions, partner and pricing events.
public struct AccountUpdate: Sendable, Decodable, Equatable {
    public let event: String
    /// `phone_number` when the event names one.
    public let phoneNumber: String?

    enum CodingKeys: String, CodingKey { case event, phoneNumber = "phone_number" }
}

/// One `user_preferences[]` item: a user stopped or resumed marketing messages.
public struct UserPreference: Sendable, Decodable, Equatable {
    public let waID: String?
    public let userID: String?
    public let category: String?
    /// `stop` or `resume`.
    public let value: String
    public let timestamp: Date?

    enum CodingKeys: String, CodingKey { case waID = "wa_id", userID = "user_id", category, value, timestamp }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        waID = try container.decodeIfPresent(String.self, forKey: .waID)
        userID = try container.decodeIfPresent(String.self, forKey: .userID)
        category = try container.decodeIfPresent(String.self, forKey: .category)
        value = try container.decode(String.self, forKey: .value)
        timestamp = try decodeUnixTime(container, .timestamp)
    }
}

struct UserPreferencesValue: Decodable {
    let userPreferences: [UserPreference]
    enum CodingKeys: String, CodingKey { case userPreferences = "user_preferences" }
}
