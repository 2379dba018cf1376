import Foundation
import MariaDB
import WordPressStore

/// Corrects a contact's site-owned fields and restricts or unrestricts them
/// (docs/schema.md §7, "Correction and restriction").
///
/// A restricted contact is kept but never messaged by campaigns or automations;
/// restriction is `restricted_at`, changed together with a `restricted` or
/// `unrestricted` consent event, in one transaction. Each change writes an audit
/// entry that names the fields changed, never their values.
public struct ContactCorrection: Sendable {
    /// The changes to make; nil leaves a field as it is, an empty string clears it.
    public struct Changes: Sendable, Equatable {
        public var name: String?
        public var email: String?
        public var locale: String?
        /// true restricts, false lifts a restriction.
        public var restricted: Bool?

        public init(name: String? = nil, email: String? = nil, locale: String? = nil, restricted: Bool? = nil) {
            self.name = name
            self.email = email
            self.locale = locale
            self.restricted = restricted
        }

        public var isEmpty: Bool { name == nil && email == nil && locale == nil && restricted == nil }
    }

    /// Why a correction was refused.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// What changed.
    public struct Outcome: Sendable, Equatable {
        public var fields: [String] = []
        public var restriction: String?
    }

    public let site: WordPressSite

    public init(site: WordPressSite) {
        self.site = site
    }

    /// Checks the values as the plugin does: a name of at most 255 characters, an email address, a locale like `en_US`.
    public static func validate(_ changes: Changes) throws(Failure) {
        if let name = changes.name, name.count > 255 { throw Failure(description: "the name is longer than 255 characters") }
        if let email = changes.email, !email.isEmpty {
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !email.contains(where: \.isWhitespace) else {
                throw Failure(description: "not an email address")
            }
        }
        if let locale = changes.locale, !locale.isEmpty,
           locale.range(of: #"^[a-z]{2,3}(_[A-Z]{2})?$"#, options: .regularExpression) == nil {
            throw Failure(description: "the locale must look like en or en_US")
        }
    }

    /// Applies the changes to one contact.
    public func apply(_ changes: Changes, to contactID: UInt64, actor: PrivacyActor, source: String = "cli",
                      on connection: MariaDBConnection) throws -> Outcome {
        try Self.validate(changes)
        return try connection.withTransaction { connection in
            guard let row = try connection.queryFirst("""
                SELECT account_id, name, email, locale, restricted_at FROM \(site.table(.contacts)) WHERE id = \(contactID) FOR UPDATE
                """) else {
                throw Failure(description: "no contact \(contactID) in this site")
            }
            let accountID = try row.decode("account_id", as: UInt64.self)
            var outcome = Outcome()
            func blankIsNull(_ text: String) -> String? {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return trimmed.isEmpty ? nil : trimmed
            }
            for (column, value) in [("name", changes.name), ("email", changes.email), ("locale", changes.locale)] {
                guard let value else { continue }
                let new = blankIsNull(value)
                if try row.decode(column, as: String?.self) == new { continue }
                try connection.execute("""
                    UPDATE \(site.table(.contacts)) SET \(unsafeSQL: column) = \(new), updated_at = UTC_TIMESTAMP(6) WHERE id = \(contactID)
                    """)
                outcome.fields.append(column)
            }
            if let restrict = changes.restricted, restrict != (try row.decode("restricted_at", as: Date?.self) != nil) {
                let event = restrict ? "restricted" : "unrestricted"
                try connection.execute("""
                    INSERT IGNORE INTO \(site.table(.consentEvents))
                        (account_id, contact_id, event, source, actor_user_id, occurred_at, created_at)
                    VALUES (\(accountID), \(contactID), \(event), \(source), \(actor.userID), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                    """)
                if restrict {
                    try connection.execute("UPDATE \(site.table(.contacts)) SET restricted_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6) WHERE id = \(contactID)")
                } else {
                    try connection.execute("UPDATE \(site.table(.contacts)) SET restricted_at = NULL, updated_at = UTC_TIMESTAMP(6) WHERE id = \(contactID)")
                }
                outcome.restriction = event
                try actor.audit("contact.\(event)", contactID: contactID, accountID: accountID, detailsJSON: nil, site: site, on: connection)
            }
            if !outcome.fields.isEmpty {
                let list = outcome.fields.map { "\"\($0)\"" }.joined(separator: ",")
                try actor.audit("contact.corrected", contactID: contactID, accountID: accountID, detailsJSON: "{\"fields\":[\(list)]}",
                                site: site, on: connection)
            }
            return outcome
        }
    }
}
