import Foundation
import MariaDB
import WhatsAppCloudAPI
import WordPressStore

/// Makes a campaign's recipient rows, once per (campaign, contact), with each
/// recipient's template values frozen (docs/schema.md §5.13).
///
/// Contacts who must not get the message still get a row, `skipped` with the
/// reason, so the campaign's report accounts for everyone in the audience.
public struct CampaignAudience: Sendable {
    public let site: WordPressSite

    public init(site: WordPressSite) {
        self.site = site
    }

    /// What an import did, row by row where something was wrong.
    public struct ImportReport: Sendable, Equatable {
        /// Data rows read (or numbers given).
        public var rows = 0
        /// Recipient rows added, to be sent.
        public var added = 0
        /// Recipient rows added as skipped (opted out, restricted): by reason.
        public var skipped: [String: Int] = [:]
        /// Rows whose contact is already a recipient of this campaign.
        public var alreadyInCampaign = 0
        /// Contacts created for numbers not seen before.
        public var contactsCreated = 0
        /// Rows not imported, each with its line and why; at most ``problemLimit`` are listed.
        public var problems: [Problem] = []
        /// Rows not imported, in all.
        public var rejected = 0

        public struct Problem: Sendable, Equatable {
            public let line: Int
            public let reason: String
        }

        public static let problemLimit = 100

        mutating func reject(line: Int, _ reason: String) {
            rejected += 1
            if problems.count < Self.problemLimit { problems.append(Problem(line: line, reason: reason)) }
        }

        public var json: JSONValue {
            func number(_ value: Int) -> JSONValue { .number(Double(value)) }
            return .object([
                "rows": number(rows), "added": number(added), "skipped": .object(skipped.mapValues(number)),
                "already_in_campaign": number(alreadyInCampaign), "contacts_created": number(contactsCreated),
                "rejected": number(rejected),
                "problems": .array(problems.map { .object(["line": number($0.line), "reason": .string($0.reason)]) }),
            ])
        }
    }

    /// Column names taken for the phone number when none is named.
    public static let phoneColumnNames = ["phone", "phone_number", "number", "mobile", "whatsapp", "wa_id", "telephone"]

    // MARK: Imports

    /// Adds the rows of a CSV file to a draft or scheduled `csv` campaign. Bad rows are reported, not fatal.
    public func importCSV(_ text: String, into campaignID: UInt64, phoneColumn: String? = nil, now: Date = Date(),
                          on connection: MariaDBConnection) throws -> ImportReport {
        let table = try CSVTable(parsing: text)
        let lowered = table.header.map { $0.lowercased() }
        let phoneIndex: Int
        if let phoneColumn {
            guard let index = lowered.firstIndex(of: phoneColumn.lowercased()) else {
                throw CampaignError("the CSV file has no column \"\(phoneColumn.prefix(60))\"; its columns are " + table.header.joined(separator: ", "))
            }
            phoneIndex = index
        } else {
            guard let index = lowered.firstIndex(where: { Self.phoneColumnNames.contains($0) }) else {
                throw CampaignError("the CSV file has no phone column; name one \"phone\" (or give its name), its columns are "
                                    + table.header.prefix(20).joined(separator: ", "))
            }
            phoneIndex = index
        }
        let rows = table.rows.map { row in
            (line: row.line, phone: row.fields.indices.contains(phoneIndex) ? row.fields[phoneIndex] : "",
             columns: Dictionary(zip(lowered, row.fields).map { ($0, $1) }, uniquingKeysWith: { first, _ in first }))
        }
        return try importRows(rows, into: campaignID, header: lowered, now: now, on: connection)
    }

    /// Adds a list of numbers to a draft or scheduled `list` or `csv` campaign.
    public func importNumbers(_ numbers: [String], into campaignID: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> ImportReport {
        try importRows(numbers.enumerated().map { (line: $0.offset + 1, phone: $0.element, columns: [:]) }, into: campaignID, header: nil,
                       now: now, on: connection)
    }

    private func importRows(_ rows: [(line: Int, phone: String, columns: [String: String])], into campaignID: UInt64, header: [String]?,
                            now: Date, on connection: MariaDBConnection) throws -> ImportReport {
        let campaign = try CampaignStore(site: site).load(campaignID, on: connection)
        guard campaign.state == .draft || campaign.state == .scheduled else {
            throw CampaignError("campaign \(campaignID) is \(campaign.state.rawValue); recipients can be added only before it starts", status: 409)
        }
        guard campaign.audienceType == "csv" || campaign.audienceType == "list" else {
            throw CampaignError("campaign \(campaignID)'s audience is \(campaign.audienceType); only csv and list audiences take imported numbers")
        }
        let variables = try CampaignVariables(json: campaign.variables)
        if let header {
            let missing = Set(variables.columns.filter { !header.contains($0.lowercased()) }).sorted()
            if !missing.isEmpty {
                throw CampaignError("the campaign's variables read the column(s) \(missing.joined(separator: ", ")), which the CSV file lacks")
            }
        } else if let column = variables.columns.first {
            throw CampaignError("the campaign's variables read the CSV column \"\(column.prefix(60))\"; import a CSV file, not a list")
        }
        var report = ImportReport()
        report.rows = rows.count
        var firstLineOf: [String: Int] = [:]
        var accepted: [(line: Int, number: String, columns: [String: String])] = []
        for row in rows {
            guard let number = PhoneNumber.normalized(row.phone) else {
                report.reject(line: row.line, row.phone.isEmpty ? "no phone number" : "not a phone number in international form (country code first)")
                continue
            }
            if let first = firstLineOf[number] {
                report.reject(line: row.line, "the same number as line \(first)")
                continue
            }
            firstLineOf[number] = row.line
            accepted.append((row.line, number, row.columns))
        }
        for chunk in accepted.chunked(into: 1000) {
            let contacts = try findOrCreateContacts(chunk.map { ($0.number, $0.columns["name"]) }, accountID: campaign.accountID,
                                                    created: &report.contactsCreated, now: now, on: connection)
            let existing = Set(try connection.query("""
                SELECT contact_id FROM \(site.table(.campaignRecipients))
                 WHERE campaign_id = \(campaignID) AND contact_id IN (\(list: contacts.values.map(\.id)))
                """).map { try $0.decode(UInt64.self, at: 0) })
            var recipients: [[MariaDBValue]] = []
            for row in chunk {
                guard let contact = contacts[row.number] else { continue }
                if existing.contains(contact.id) {
                    report.alreadyInCampaign += 1
                    continue
                }
                var context = contact.variablesContext
                context.columns = row.columns
                switch Self.recipientState(contact: contact, variables: variables, context: context) {
                case .failure(let error):
                    report.reject(line: row.line, error.description)
                case .success(let (state, reason, values)):
                    recipients.append(Self.recipientRow(campaignID: campaignID, contactID: contact.id, state: state, reason: reason,
                                                        values: values, now: now))
                    if let reason { report.skipped[reason, default: 0] += 1 } else { report.added += 1 }
                }
            }
            guard !recipients.isEmpty else { continue }
            try connection.execute(try SQLQuery.insert(into: site.table(.campaignRecipients), columns: Self.recipientColumns,
                                                       rows: recipients, verb: "INSERT IGNORE"))
        }
        report.problems.sort { $0.line < $1.line }
        return report
    }

    // MARK: Materialising

    /// Whether an `all_opted_in` or `tags` audience matches at least one contact now.
    func matchesAnyone(_ campaign: Campaign, on connection: MariaDBConnection) throws -> Bool {
        try connection.queryFirst("""
            SELECT 1 FROM \(site.table(.contacts)) c WHERE c.account_id = \(campaign.accountID) \(try filter(of: campaign)) LIMIT 1
            """) != nil
    }

    /// The contact filter of an `all_opted_in` or `tags` audience.
    private func filter(of campaign: Campaign) throws -> SQLQuery {
        switch campaign.audienceType {
        case "all_opted_in":
            return "AND c.consent_state = 'opted_in'"
        case "tags":
            guard case .array(let list)? = campaign.audience?["tags"] else { throw CampaignError("the tags audience names no tags") }
            let tags = list.compactMap(\.stringValue)
            if campaign.audience?["match"]?.stringValue == "all" {
                return """
                    AND (SELECT COUNT(*) FROM \(site.table(.contactTags)) t WHERE t.contact_id = c.id AND t.tag IN (\(list: tags))) = \(Set(tags).count)
                    """
            }
            return "AND EXISTS (SELECT 1 FROM \(site.table(.contactTags)) t WHERE t.contact_id = c.id AND t.tag IN (\(list: tags)))"
        default:
            return "AND FALSE"
        }
    }

    /// Makes the recipient rows of an `all_opted_in` or `tags` campaign from the contacts that match now.
    /// Safe to run again (after a crash): rows that exist are kept as they are.
    /// - Returns: the rows added.
    @discardableResult
    public func materialize(_ campaign: Campaign, variables: CampaignVariables, now: Date = Date(), on connection: MariaDBConnection) throws -> Int {
        guard campaign.audienceType == "all_opted_in" || campaign.audienceType == "tags" else { return 0 }
        let contacts = site.table(.contacts)
        let filter = try filter(of: campaign)
        let customFields: SQLQuery = variables.readsCustomFields ? "c.custom_fields_json" : "NULL"
        var after: UInt64 = 0
        // After a crash part of the rows exist: their numbers count for duplicates.
        var seenNumbers = Set(try connection.query("""
            SELECT COALESCE(c.wa_id, c.phone) FROM \(site.table(.campaignRecipients)) r JOIN \(contacts) c ON c.id = r.contact_id
             WHERE r.campaign_id = \(campaign.id) AND r.state <> 'skipped'
            """).compactMap { try $0.decode(String?.self, at: 0) })
        var added = 0
        while true {
            let rows = try connection.query("""
                SELECT c.id, c.wa_id, c.phone, c.name, c.profile_name, c.email, \(customFields), c.consent_state, c.restricted_at
                  FROM \(contacts) c
                 WHERE c.account_id = \(campaign.accountID) AND c.id > \(after) \(filter)
                 ORDER BY c.id LIMIT 5000
                """)
            guard !rows.isEmpty else { break }
            var recipients: [[MariaDBValue]] = []
            recipients.reserveCapacity(rows.count)
            for row in rows {
                let contact = try AudienceContact(row: row)
                after = contact.id
                var state = "pending"
                var reason: String?
                var values: JSONValue?
                if let number = contact.number, !seenNumbers.insert(number).inserted {
                    (state, reason) = ("skipped", "duplicate")
                } else {
                    switch Self.recipientState(contact: contact, variables: variables, context: contact.variablesContext) {
                    case .failure: (state, reason) = ("skipped", "missing_variables")
                    case .success(let result): (state, reason, values) = result
                    }
                }
                recipients.append(Self.recipientRow(campaignID: campaign.id, contactID: contact.id, state: state, reason: reason,
                                                    values: values, now: now))
            }
            for chunk in recipients.chunked(into: 1000) {
                added += Int(try connection.execute(try SQLQuery.insert(
                    into: site.table(.campaignRecipients), columns: Self.recipientColumns, rows: chunk, verb: "INSERT IGNORE")).affectedRows)
            }
        }
        return added
    }

    // MARK: Rows

    static let recipientColumns = ["campaign_id", "contact_id", "state", "state_reason", "variables_json", "next_attempt_at", "created_at", "updated_at"]

    static func recipientRow(campaignID: UInt64, contactID: UInt64, state: String, reason: String?, values: JSONValue?, now: Date) -> [MariaDBValue] {
        [.uint(campaignID), .uint(contactID), .string(state), reason.map { .string($0) } ?? .null,
         values.map { .string($0.jsonText) } ?? .null, .date(now), .date(now), .date(now)]
    }

    /// Whether a contact is sent to (`pending`) or `skipped` and why, with its frozen values.
    static func recipientState(contact: AudienceContact, variables: CampaignVariables,
                               context: CampaignVariables.Context) -> Result<(String, String?, JSONValue?), CampaignError> {
        if contact.number == nil { return .success(("skipped", "invalid_number", nil)) }
        if contact.consentState == "opted_out" { return .success(("skipped", "opted_out", nil)) }
        if contact.restricted { return .success(("skipped", "restricted", nil)) }
        return variables.resolve(in: context).map { ("pending", nil, $0) }
    }

    /// Finds the contacts with these numbers on the account, creating those not known yet.
    private func findOrCreateContacts(_ numbers: [(number: String, name: String?)], accountID: UInt64, created: inout Int, now: Date,
                                      on connection: MariaDBConnection) throws -> [String: AudienceContact] {
        let contacts = site.table(.contacts)
        func lookup() throws -> [String: AudienceContact] {
            let list = numbers.map(\.number)
            var found: [String: AudienceContact] = [:]
            for row in try connection.query("""
                SELECT c.id, c.wa_id, c.phone, c.name, c.profile_name, c.email, c.custom_fields_json, c.consent_state, c.restricted_at
                  FROM \(contacts) c
                 WHERE c.account_id = \(accountID) AND (c.wa_id IN (\(list: list)) OR c.phone IN (\(list: list)))
                 ORDER BY c.id
                """) {
                let contact = try AudienceContact(row: row)
                for key in [contact.waID, contact.phone].compactMap({ $0 }) where found[key] == nil { found[key] = contact }
            }
            return found
        }
        var found = try lookup()
        let missing = numbers.filter { found[$0.number] == nil }
        guard !missing.isEmpty else { return found }
        let rows: [[MariaDBValue]] = missing.map { number, name in
            let name = name?.trimmingCharacters(in: .whitespacesAndNewlines)
            return [.uint(accountID), .string(number), .string(number), name.flatMap { $0.isEmpty ? nil : .string(String($0.prefix(255))) } ?? .null,
                    .string("import"), .date(now), .date(now)]
        }
        let inserted = try connection.execute(try SQLQuery.insert(
            into: contacts, columns: ["account_id", "wa_id", "phone", "name", "source", "created_at", "updated_at"], rows: rows, verb: "INSERT IGNORE"))
        created += Int(inserted.affectedRows)
        found = try lookup()
        return found
    }
}

/// A contact as an audience sees it.
struct AudienceContact {
    let id: UInt64
    let waID: String?
    let phone: String?
    let name: String?
    let profileName: String?
    let email: String?
    let customFields: JSONValue?
    let consentState: String
    let restricted: Bool

    /// Where a message to the contact goes.
    var number: String? { waID ?? phone }

    init(row: MariaDBRow) throws {
        id = try row.decode(at: 0)
        waID = try row.decode(at: 1)
        phone = try row.decode(at: 2)
        name = try row.decode(at: 3)
        profileName = try row.decode(at: 4)
        email = try row.decode(at: 5)
        customFields = try row.decode(String?.self, at: 6).flatMap { try? JSONValue.parse(Array($0.utf8)) }
        consentState = try row.decode(at: 7)
        restricted = try row.decode(Date?.self, at: 8) != nil
    }

    var variablesContext: CampaignVariables.Context {
        var fields: [String: String] = [:]
        fields["name"] = name ?? profileName
        fields["profile_name"] = profileName
        fields["first_name"] = (name ?? profileName).flatMap { $0.split(separator: " ").first.map(String.init) }
        fields["email"] = email
        fields["phone"] = phone ?? waID
        fields["wa_id"] = waID
        return CampaignVariables.Context(contact: fields, customFields: customFields)
    }
}
