import MariaDB
import WordPressStore

/// Finds the contacts that are one person in a site (docs/schema.md §7, "Finding a person").
///
/// A person may be a contact on each of the site's business numbers, so a number
/// can find several contacts. The query is read as:
/// - `id:123`, or a plain number of at most 6 digits: a contact id;
/// - anything with an `@`: an email address (the contact's `email`);
/// - otherwise a phone number, in any usual form (`+1 650 555-0001`, `0016505550001`,
///   `16505550001`): contacts whose `wa_id` or `phone` is those digits.
public enum ContactLookup {
    /// How a query was read.
    public enum Query: Sendable, Equatable {
        case id(UInt64)
        case number(String)
        case email(String)
    }

    /// Why a query could not be read.
    public struct InvalidQuery: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Reads a query as an id, a number or an email.
    public static func parse(_ text: String) throws(InvalidQuery) -> Query {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("id:"), let id = UInt64(trimmed.dropFirst(3)), id > 0 { return .id(id) }
        if trimmed.contains("@") {
            guard trimmed.count <= 254 else { throw InvalidQuery(description: "that email address is too long") }
            return .email(trimmed)
        }
        if let id = UInt64(trimmed), trimmed.count <= 6, id > 0 { return .id(id) }
        guard let digits = normalizedNumber(trimmed) else {
            throw InvalidQuery(description: "not a contact id, a phone number (7 to 15 digits, e.g. +1 650 555 0001) or an email address")
        }
        return .number(digits)
    }

    /// A phone number as the tables keep it: E.164 digits without `+` (the plugin's `CloudChat_Phone::normalize`).
    public static func normalizedNumber(_ text: String) -> String? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("+") { rest = rest.dropFirst() } else if rest.hasPrefix("00") { rest = rest.dropFirst(2) }
        let allowed = Set("0123456789 -.()/\u{00A0}")
        guard !rest.isEmpty, rest.allSatisfy({ allowed.contains($0) }) else { return nil }
        let digits = String(rest.filter(\.isASCII).filter(\.isNumber))
        guard (7...15).contains(digits.count), digits.first != "0" else { return nil }
        return digits
    }

    /// The ids of the contacts a query names, oldest first; empty when there are none.
    public static func contactIDs(_ query: Query, site: WordPressSite, on connection: MariaDBConnection) throws -> [UInt64] {
        let contacts = site.table(.contacts)
        let rows: [MariaDBRow] = switch query {
        case .id(let id): try connection.query("SELECT id FROM \(contacts) WHERE id = \(id)")
        case .number(let digits): try connection.query("SELECT id FROM \(contacts) WHERE wa_id = \(digits) OR phone = \(digits) ORDER BY id")
        case .email(let email): try connection.query("SELECT id FROM \(contacts) WHERE email = \(email) ORDER BY id")
        }
        return try rows.map { try $0.decode(UInt64.self, at: 0) }
    }
}
