import Foundation
import MariaDB
import WordPressStore

/// A kind of data that retention removes by age (docs/schema.md §8).
public enum RetentionClass: String, CaseIterable, Sendable, Comparable {
    /// Finished rows of `cloudchat_webhook_events`, counted from `processed_at`.
    case webhookEvents = "webhook_events"
    /// `cloudchat_messages`, with their media rows and files, counted from `created_at`.
    case messages
    /// `cloudchat_status_events`, counted from `created_at`.
    case statusEvents = "status_events"
    /// Finished `cloudchat_outbox` rows, counted from `updated_at`.
    case outbox
    /// Recipient rows of finished campaigns, counted from the campaign's end.
    case campaignRecipients = "campaign_recipients"
    /// `cloudchat_audit_log`, counted from `occurred_at`.
    case auditLog = "audit_log"

    /// The key in the `cloudchat_retention` option, e.g. `messages_days`.
    public var optionKey: String { rawValue + "_days" }

    /// The built-in default, in days.
    public var defaultDays: Int {
        switch self {
        case .webhookEvents: 30
        case .messages: 365
        case .statusEvents: 365
        case .outbox: 30
        case .campaignRecipients: 730
        case .auditLog: 90
        }
    }

    /// What the class holds, for people.
    public var summary: String {
        switch self {
        case .webhookEvents: "raw webhook events, days after processing"
        case .messages: "messages with their media files, days after they were stored"
        case .statusEvents: "message status events, days after they were stored"
        case .outbox: "finished outbox rows (sent, failed, cancelled), days after they finished"
        case .campaignRecipients: "recipient rows of completed or cancelled campaigns, days after the campaign ended"
        case .auditLog: "audit log entries, days after they were written"
        }
    }

    public static func < (lhs: RetentionClass, rhs: RetentionClass) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// How many days each class of data is kept; `0` keeps it forever.
///
/// A site's policy comes from three places, the first that has a class winning:
/// the site option `cloudchat_retention` (set in wp-admin), the daemon's
/// `retention_*_days` settings, then the built-in defaults.
///
/// ```swift
/// let policy = try RetentionPolicy.read(site, defaults: configuration.retention, on: connection)
/// policy.days[.messages]  // 365 unless the site owner chose otherwise
/// ```
public struct RetentionPolicy: Sendable, Equatable {
    /// The longest retention that can be set short of forever: ten years.
    public static let maximumDays = 3650
    /// The site option the WordPress plugin writes, a JSON object of days by ``RetentionClass/optionKey``.
    public static let optionName = "cloudchat_retention"

    /// Days kept, per class; 0 means forever.
    public var days: [RetentionClass: Int]
    /// Where each class's value came from: "site option", "configuration" or "default".
    public var origins: [RetentionClass: String] = [:]
    /// Values in the site option that were not usable, each with why; the class keeps the daemon's default.
    public var problems: [String] = []

    /// The built-in defaults.
    public init() {
        days = Dictionary(uniqueKeysWithValues: RetentionClass.allCases.map { ($0, $0.defaultDays) })
        origins = Dictionary(uniqueKeysWithValues: RetentionClass.allCases.map { ($0, "default") })
    }

    /// Days for a class; 0 means forever.
    public subscript(_ retentionClass: RetentionClass) -> Int {
        get { days[retentionClass] ?? retentionClass.defaultDays }
        set { days[retentionClass] = newValue }
    }

    /// Checks one value as text (a config file, the command line).
    /// - Returns: the days, or a message saying what is allowed.
    public static func parseDays(_ text: String) -> Result<Int, RetentionError> {
        guard let days = Int(text.trimmingCharacters(in: .whitespaces)) else {
            return .failure(RetentionError("must be a whole number of days: 0 keeps forever, or 1 to \(maximumDays)"))
        }
        return validate(days)
    }

    /// Checks one value: 0 (forever) or 1 to ``maximumDays``.
    public static func validate(_ days: Int) -> Result<Int, RetentionError> {
        guard (0...maximumDays).contains(days) else {
            return .failure(RetentionError("must be 0 (keep forever) or a number of days from 1 to \(maximumDays); \(days) is out of range"))
        }
        return .success(days)
    }

    /// This policy with the site option's values laid over it.
    /// - Parameter optionValue: the option's text as stored; nil or empty when the option is absent.
    /// - Returns: the policy; keys that are unknown or hold an unusable value are listed in ``problems``
    ///   and leave their class as it was.
    public func overlaid(withOption optionValue: String?) -> RetentionPolicy {
        var policy = self
        guard let optionValue, !optionValue.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return policy }
        guard let object = try? JSONDecoder().decode([String: OptionValue].self, from: Data(optionValue.utf8)) else {
            policy.problems.append("\(Self.optionName) is not a JSON object of days; the daemon's defaults apply")
            return policy
        }
        for key in object.keys.sorted() {
            guard let retentionClass = RetentionClass.allCases.first(where: { $0.optionKey == key }) else {
                policy.problems.append("\(Self.optionName) has an unknown key '\(key.prefix(64))'; it is ignored")
                continue
            }
            let days: Int?
            switch object[key]! {
            case .absent: continue  // null: the default
            case .days(let value): days = value
            case .unusable: days = nil
            }
            guard let days else {
                policy.problems.append("\(Self.optionName): \(key) is not a whole number of days; the daemon's default applies")
                continue
            }
            switch Self.validate(days) {
            case .success(let days):
                policy.days[retentionClass] = days
                policy.origins[retentionClass] = "site option"
            case .failure(let problem):
                policy.problems.append("\(Self.optionName): \(key) \(problem.description); the daemon's default applies")
            }
        }
        return policy
    }

    /// Reads a site's policy: its `cloudchat_retention` option over `defaults`.
    public static func read(_ site: WordPressSite, defaults: RetentionPolicy, on connection: MariaDBConnection) throws -> RetentionPolicy {
        let value = try connection.queryFirst("""
            SELECT option_value FROM \(site.optionsTable) WHERE option_name = \(optionName)
            """)?.decode(String?.self, at: 0)
        return defaults.overlaid(withOption: value)
    }
}

/// One value of the option as stored: a whole number (or its digits as a string), null, or anything else.
private enum OptionValue: Decodable {
    case days(Int)
    case absent
    case unusable

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .absent
        } else if let days = try? container.decode(Int.self) {
            self = .days(days)
        } else if let text = try? container.decode(String.self), let days = Int(text) {
            self = .days(days)
        } else {
            self = .unusable
        }
    }
}

/// A retention value that cannot be used; the message says what is allowed.
public struct RetentionError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What is wrong and what is allowed.
    public let description: String

    /// Creates an error with a message.
    public init(_ description: String) {
        self.description = description
    }
}
