import Foundation
import MariaDB
import WhatsAppCloudAPI
import WordPressStore

/// A campaign row (docs/schema.md §5.12).
public struct Campaign: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case draft, scheduled, running, paused, halted, completed, cancelled
        /// Completed and cancelled campaigns never change again.
        public var isFinal: Bool { self == .completed || self == .cancelled }
    }

    public let id: UInt64
    public let accountID: UInt64
    public let name: String
    public let templateID: UInt64
    public let templateName: String
    public let templateLanguage: String
    public let variables: JSONValue?
    public let audience: JSONValue?
    public let state: State
    public let stateReason: String?
    public let errorCode: Int?
    public let errorDetails: String?
    public let scheduledAt: Date?
    public let resumeAt: Date?
    /// The cap in messages per second; nil for the number's pace.
    public let rateLimit: Double?
    public let recipientsTotal: Int?
    public let startedAt: Date?
    public let createdAt: Date
    /// When the recipient set became final; nil while a starting campaign's audience is still being made.
    public let materializedAt: Date?

    /// `all_opted_in`, `tags`, `csv` or `list`.
    public var audienceType: String { audience?["type"]?.stringValue ?? "csv" }

    static let columns: SQLQuery = """
        id, account_id, name, template_id, template_name, template_language, variables_json, audience_json, state, state_reason,
        error_code, error_details, scheduled_at, resume_at, CAST(rate_limit_mps AS DOUBLE), recipients_total, started_at, created_at,
        materialized_at
        """

    init(row: MariaDBRow) throws {
        id = try row.decode(at: 0)
        accountID = try row.decode(at: 1)
        name = try row.decode(at: 2)
        templateID = try row.decode(at: 3)
        templateName = try row.decode(at: 4)
        templateLanguage = try row.decode(at: 5)
        variables = try row.decode(String?.self, at: 6).flatMap { try? JSONValue.parse(Array($0.utf8)) }
        audience = try row.decode(String?.self, at: 7).flatMap { try? JSONValue.parse(Array($0.utf8)) }
        state = State(rawValue: try row.decode(String.self, at: 8)) ?? .draft
        stateReason = try row.decode(at: 9)
        errorCode = try row.decode(at: 10)
        errorDetails = try row.decode(at: 11)
        scheduledAt = try row.decode(at: 12)
        resumeAt = try row.decode(at: 13)
        rateLimit = try row.decode(at: 14)
        recipientsTotal = try row.decode(at: 15)
        startedAt = try row.decode(at: 16)
        createdAt = try row.decode(at: 17)
        materializedAt = try row.decode(at: 18)
    }
}

/// What a new campaign is made of.
public struct NewCampaign: Sendable {
    /// The sending number (Meta's phone number id).
    public var phoneNumberID: String
    public var name: String
    public var templateName: String
    public var templateLanguage: String
    /// See ``CampaignVariables``.
    public var variables: JSONValue?
    /// `{"type":"all_opted_in"}`, `{"type":"tags","tags":[…],"match":"any"|"all"}`, `{"type":"csv"}` or `{"type":"list"}`.
    public var audience: JSONValue
    public var rateLimit: Double?
    public var createdByUserID: UInt64?

    public init(phoneNumberID: String, name: String, templateName: String, templateLanguage: String, variables: JSONValue? = nil,
                audience: JSONValue, rateLimit: Double? = nil, createdByUserID: UInt64? = nil) {
        self.phoneNumberID = phoneNumberID
        self.name = name
        self.templateName = templateName
        self.templateLanguage = templateLanguage
        self.variables = variables
        self.audience = audience
        self.rateLimit = rateLimit
        self.createdByUserID = createdByUserID
    }
}

/// The campaign operations of one site: create, fill, start, pause, resume,
/// cancel, and read progress. The CLI, the control API and the daemon's own
/// scheduler all go through these, and every transition is a compare-and-set
/// on the row, so two of them racing cannot both win (docs/schema.md §5.12).
public struct CampaignStore: Sendable {
    public let site: WordPressSite

    public init(site: WordPressSite) {
        self.site = site
    }

    // MARK: Reading

    public func load(_ id: UInt64, on connection: MariaDBConnection) throws -> Campaign {
        guard let row = try connection.queryFirst("SELECT \(Campaign.columns) FROM \(site.table(.campaigns)) WHERE id = \(id)") else {
            throw CampaignError("there is no campaign \(id) in \(site)", status: 404)
        }
        return try Campaign(row: row)
    }

    /// Campaigns, newest first.
    public func list(limit: Int = 100, on connection: MariaDBConnection) throws -> [Campaign] {
        try connection.query("SELECT \(Campaign.columns) FROM \(site.table(.campaigns)) ORDER BY id DESC LIMIT \(limit)").map(Campaign.init)
    }

    // MARK: Creating

    /// Creates a `draft` campaign after checking its template and variables; returns its id.
    public func create(_ new: NewCampaign, now: Date = Date(), on connection: MariaDBConnection) throws -> UInt64 {
        let name = new.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 255 else { throw CampaignError("a campaign needs a name of 1 to 255 characters") }
        guard let account = try connection.queryFirst("""
            SELECT id, waba_id FROM \(site.table(.accounts)) WHERE phone_number_id = \(new.phoneNumberID)
            """) else {
            throw CampaignError("no business number with phone number id \(new.phoneNumberID.prefix(32)) in \(site); add it with `cloudchatd credentials set`")
        }
        let accountID: UInt64 = try account.decode(at: 0)
        let template = try approvedTemplate(wabaID: try account.decode(at: 1), name: new.templateName, language: new.templateLanguage,
                                            on: connection)
        let variables = try CampaignVariables(json: new.variables)
        try Self.check(variables, against: template)
        let audience = try Self.validatedAudience(new.audience, variables: variables)
        if let rate = new.rateLimit, !(rate > 0 && rate <= 1000) {
            throw CampaignError("the rate cap must be between 0 and 1000 messages per second")
        }
        let inserted = try connection.execute("""
            INSERT INTO \(site.table(.campaigns))
                (account_id, name, template_id, template_name, template_language, variables_json, audience_json, state, rate_limit_mps,
                 created_by_user_id, created_at, updated_at)
            VALUES (\(accountID), \(name), \(template.id), \(template.name), \(template.language), \(new.variables?.jsonText),
                    \(audience.jsonText), 'draft', \(new.rateLimit), \(new.createdByUserID), \(now), \(now))
            """)
        return inserted.lastInsertID
    }

    /// The WABA of the campaign's number, if the number can send; otherwise an error that says what to do.
    private func sendingNumber(of campaign: Campaign, on connection: MariaDBConnection) throws -> String {
        guard let row = try connection.queryFirst("""
            SELECT waba_id, state, state_reason FROM \(site.table(.accounts)) WHERE id = \(campaign.accountID)
            """) else {
            throw CampaignError("the campaign's business number is no longer in \(site)", status: 409)
        }
        switch try row.decode(String.self, at: 1) {
        case "halted":
            let reason = try row.decode(String?.self, at: 2) ?? "an error from Meta"
            throw CampaignError("the campaign's business number is halted (\(reason)); fix its cause (in wp-admin, or with "
                                + "`cloudchatd credentials set`), then try again", status: 409)
        case "disabled":
            throw CampaignError("the campaign's business number is disabled; enable it first", status: 409)
        default:
            return try row.decode(String.self, at: 0)
        }
    }

    /// The synced template, if it is APPROVED; otherwise an error that says what to do.
    func approvedTemplate(wabaID: String, name: String, language: String, on connection: MariaDBConnection) throws -> TemplateDefinition {
        guard let row = try connection.queryFirst("""
            SELECT id, name, language, status, parameter_format, components_json FROM \(site.table(.templates))
             WHERE waba_id = \(wabaID) AND name = \(name) AND language = \(language) AND removed_at IS NULL
            """) else {
            throw CampaignError("no template \(name.prefix(80)) (\(language.prefix(16))) is synced for this number; create it in WhatsApp Manager, "
                                + "then run `cloudchatd templates sync`")
        }
        let template = TemplateDefinition(
            id: try row.decode(at: 0), name: try row.decode(at: 1), language: try row.decode(at: 2), status: try row.decode(at: 3),
            parameterFormat: try row.decode(at: 4), components: (try? JSONValue.parse(Array(try row.decode(String.self, at: 5).utf8))) ?? .array([]))
        guard template.status == "APPROVED" else {
            throw CampaignError("template \(template.name) (\(template.language)) is \(template.status) at Meta; only APPROVED templates can be sent",
                                status: 409)
        }
        return template
    }

    /// Checks the variables against the template, with a sample value in every field.
    static func check(_ variables: CampaignVariables, against template: TemplateDefinition) throws(CampaignError) {
        let send = CampaignVariables.templateSend(name: template.name, language: template.language, values: variables.sampleValues(),
                                                  template: template)
        if let problem = TemplateCheck.problem(with: send, against: template) {
            throw CampaignError("the variables do not fit the template: \(problem)")
        }
    }

    private static func validatedAudience(_ audience: JSONValue, variables: CampaignVariables) throws(CampaignError) -> JSONValue {
        switch audience["type"]?.stringValue {
        case "all_opted_in":
            break
        case "tags":
            guard case .array(let tags)? = audience["tags"], !tags.isEmpty, tags.allSatisfy({ ($0.stringValue ?? "").isEmpty == false }) else {
                throw CampaignError("a tags audience needs a non-empty list of tags")
            }
            guard ["any", "all", nil].contains(audience["match"]?.stringValue) else {
                throw CampaignError("a tags audience matches \"any\" or \"all\" of its tags")
            }
        case "csv", "list":
            return audience
        default:
            throw CampaignError("the audience type must be all_opted_in, tags, csv or list")
        }
        if let column = variables.columns.first {
            throw CampaignError("the variables read the CSV column \"\(column.prefix(60))\", but this audience has no CSV file")
        }
        return audience
    }

    // MARK: Transitions

    /// Starts a `draft` or `scheduled` campaign now: ``beginStart(_:now:on:)``, then ``finishStart(_:now:on:)``.
    @discardableResult
    public func start(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        try beginStart(id, now: now, on: connection)
        return try finishStart(id, now: now, on: connection)
    }

    /// Checks the template and the audience and moves the campaign to `running`. A csv or list campaign's
    /// recipients exist already; a tags or all-opted-in campaign runs while ``finishStart(_:now:on:)``
    /// makes its recipient rows, so sending starts with the first thousand rather than after the last.
    @discardableResult
    public func beginStart(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        let campaign = try load(id, on: connection)
        switch campaign.state {
        case .running: return campaign
        case .draft, .scheduled: break
        default: throw CampaignError("campaign \(id) is \(campaign.state.rawValue); only a draft or scheduled campaign can be started", status: 409)
        }
        let wabaID = try sendingNumber(of: campaign, on: connection)
        let template = try approvedTemplate(wabaID: wabaID, name: campaign.templateName, language: campaign.templateLanguage, on: connection)
        try Self.check(try CampaignVariables(json: campaign.variables), against: template)
        let moved: MariaDBResult
        if campaign.audienceType == "all_opted_in" || campaign.audienceType == "tags" {
            guard try CampaignAudience(site: site).matchesAnyone(campaign, on: connection) else {
                throw CampaignError("campaign \(id)'s audience matches no contact", status: 409)
            }
            moved = try connection.execute("""
                UPDATE \(site.table(.campaigns))
                   SET state = 'running', state_reason = NULL, error_details = NULL, materialized_at = NULL, started_at = \(now),
                       updated_at = \(now)
                 WHERE id = \(id) AND state IN ('draft', 'scheduled')
                """)
        } else {
            let total = try connection.queryFirst("""
                SELECT COUNT(*) FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(id)
                """)!.decode(Int.self, at: 0)
            guard total > 0 else {
                throw CampaignError("campaign \(id) has no recipients yet; import a CSV file or a list of numbers first", status: 409)
            }
            moved = try connection.execute("""
                UPDATE \(site.table(.campaigns))
                   SET state = 'running', state_reason = NULL, error_details = NULL, recipients_total = \(total), materialized_at = \(now),
                       started_at = \(now), updated_at = \(now)
                 WHERE id = \(id) AND state IN ('draft', 'scheduled')
                """)
        }
        return try settled(id, moved: moved.affectedRows > 0, wanted: [.running], action: "started", on: connection)
    }

    /// Makes a started campaign's recipient rows from its audience, if that is not done yet, and marks the
    /// set final; only then can the campaign complete. Safe to run again after a crash.
    @discardableResult
    public func finishStart(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        let campaign = try load(id, on: connection)
        guard campaign.materializedAt == nil, !campaign.state.isFinal, campaign.startedAt != nil else { return campaign }
        try CampaignAudience(site: site).materialize(campaign, variables: try CampaignVariables(json: campaign.variables), now: now,
                                                     on: connection)
        let total = try connection.queryFirst("""
            SELECT COUNT(*) FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(id)
            """)!.decode(Int.self, at: 0)
        try connection.execute("""
            UPDATE \(site.table(.campaigns)) SET recipients_total = \(total), materialized_at = \(now), updated_at = \(now)
             WHERE id = \(id) AND materialized_at IS NULL
            """)
        return try load(id, on: connection)
    }

    /// Schedules a `draft` (or reschedules a `scheduled`) campaign to start at a UTC instant.
    @discardableResult
    public func schedule(_ id: UInt64, at instant: Date, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        guard instant > now.addingTimeInterval(-60) else { throw CampaignError("the start time is in the past; give a future UTC time") }
        let moved = try connection.execute("""
            UPDATE \(site.table(.campaigns)) SET state = 'scheduled', scheduled_at = \(instant), updated_at = \(now)
             WHERE id = \(id) AND state IN ('draft', 'scheduled')
            """)
        return try settled(id, moved: moved.affectedRows > 0, wanted: [], action: "scheduled", on: connection)
    }

    /// Pauses a running campaign. Requests already under way finish; no new recipient is claimed.
    @discardableResult
    public func pause(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        let moved = try connection.execute("""
            UPDATE \(site.table(.campaigns))
               SET state = 'paused', state_reason = 'user', resume_at = NULL, paused_at = \(now), updated_at = \(now)
             WHERE id = \(id) AND state = 'running'
            """)
        return try settled(id, moved: moved.affectedRows > 0, wanted: [.paused], action: "paused", on: connection)
    }

    /// Resumes a paused or halted campaign (a halted one after its cause was fixed).
    @discardableResult
    public func resume(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        let campaign = try load(id, on: connection)
        if campaign.state == .halted || campaign.state == .paused {
            let wabaID = try sendingNumber(of: campaign, on: connection)
            _ = try approvedTemplate(wabaID: wabaID, name: campaign.templateName, language: campaign.templateLanguage, on: connection)
        }
        let moved = try connection.execute("""
            UPDATE \(site.table(.campaigns))
               SET state = 'running', state_reason = NULL, error_code = NULL, error_details = NULL, resume_at = NULL, updated_at = \(now)
             WHERE id = \(id) AND state IN ('paused', 'halted')
            """)
        return try settled(id, moved: moved.affectedRows > 0, wanted: [.running], action: "resumed", on: connection)
    }

    /// Cancels a campaign that has not finished. Recipients not yet sent stay `pending` and are never sent.
    @discardableResult
    public func cancel(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Campaign {
        let moved = try connection.withTransaction { connection in
            let moved = try connection.execute("""
                UPDATE \(site.table(.campaigns))
                   SET state = 'cancelled', state_reason = 'user', resume_at = NULL, cancelled_at = \(now), updated_at = \(now)
                 WHERE id = \(id) AND state NOT IN ('completed', 'cancelled')
                """)
            if moved.affectedRows > 0 { try freezeResults(id, now: now, on: connection) }
            return moved.affectedRows > 0
        }
        return try settled(id, moved: moved, wanted: [.cancelled], action: "cancelled", on: connection)
    }

    /// The daemon stops a running campaign after an error of the halt class.
    /// - Returns: whether this call halted it.
    @discardableResult
    public func halt(_ id: UInt64, reason: String, code: Int?, details: String?, now: Date = Date(), on connection: MariaDBConnection) throws -> Bool {
        try connection.execute("""
            UPDATE \(site.table(.campaigns))
               SET state = 'halted', state_reason = \(reason), error_code = \(code), error_details = \(details.map { String($0.prefix(1000)) }),
                   halted_at = \(now), updated_at = \(now)
             WHERE id = \(id) AND state = 'running'
            """).affectedRows > 0
    }

    /// The daemon pauses a campaign until the messaging limit frees up at `resumeAt`.
    @discardableResult
    public func pauseForMessagingLimit(_ id: UInt64, resumeAt: Date, now: Date = Date(), on connection: MariaDBConnection) throws -> Bool {
        try connection.execute("""
            UPDATE \(site.table(.campaigns))
               SET state = 'paused', state_reason = 'messaging_limit_reached', resume_at = \(resumeAt), paused_at = \(now), updated_at = \(now)
             WHERE id = \(id) AND state = 'running'
            """).affectedRows > 0
    }

    /// Completes a running campaign once no recipient is left to send; returns whether it did.
    @discardableResult
    public func completeIfDone(_ id: UInt64, now: Date = Date(), on connection: MariaDBConnection) throws -> Bool {
        try connection.withTransaction { connection in
            let left = try connection.queryFirst("""
                SELECT 1 FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(id) AND state IN ('pending', 'sending') LIMIT 1
                """)
            guard left == nil else { return false }
            let moved = try connection.execute("""
                UPDATE \(site.table(.campaigns)) SET state = 'completed', state_reason = NULL, completed_at = \(now), updated_at = \(now)
                 WHERE id = \(id) AND state = 'running' AND materialized_at IS NOT NULL
                """)
            guard moved.affectedRows > 0 else { return false }
            try freezeResults(id, now: now, on: connection)
            return true
        }
    }

    /// Scheduled campaigns whose time has come, paused ones whose `resume_at` has passed, and started ones
    /// whose recipient rows were left half made a minute ago or more (the starter died).
    public func due(now: Date = Date(), on connection: MariaDBConnection) throws -> (toStart: [UInt64], toResume: [UInt64], toFinish: [UInt64]) {
        let start = try connection.query("""
            SELECT id FROM \(site.table(.campaigns)) WHERE state = 'scheduled' AND scheduled_at <= \(now) ORDER BY scheduled_at
            """).map { try $0.decode(UInt64.self, at: 0) }
        let resume = try connection.query("""
            SELECT id FROM \(site.table(.campaigns)) WHERE state = 'paused' AND resume_at <= \(now) ORDER BY resume_at
            """).map { try $0.decode(UInt64.self, at: 0) }
        let finish = try connection.query("""
            SELECT id FROM \(site.table(.campaigns))
             WHERE state IN ('running', 'paused', 'halted') AND materialized_at IS NULL AND started_at < \(now.addingTimeInterval(-60))
            """).map { try $0.decode(UInt64.self, at: 0) }
        return (start, resume, finish)
    }

    /// After a compare-and-set: the row when it moved or already was where it was asked to go, else why not.
    private func settled(_ id: UInt64, moved: Bool, wanted: Set<Campaign.State>, action: String, on connection: MariaDBConnection) throws -> Campaign {
        let campaign = try load(id, on: connection)
        if moved || wanted.contains(campaign.state) { return campaign }
        throw CampaignError("campaign \(id) is \(campaign.state.rawValue) and cannot be \(action)", status: 409)
    }

    // MARK: Progress

    public func progress(_ id: UInt64, on connection: MariaDBConnection) throws -> CampaignProgress {
        let campaign = try load(id, on: connection)
        let recipients = site.table(.campaignRecipients)
        var progress = CampaignProgress(campaign: campaign)
        for row in try connection.query("SELECT state, COUNT(*) FROM \(recipients) WHERE campaign_id = \(id) GROUP BY state") {
            progress.byState[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
        }
        if progress.byState["failed", default: 0] > 0 {
            for row in try connection.query("""
                SELECT COALESCE(error_code, 0), COUNT(*) FROM \(recipients) WHERE campaign_id = \(id) AND state = 'failed' GROUP BY 1
                """) {
                progress.failedByCode[try row.decode(Int.self, at: 0)] = try row.decode(Int.self, at: 1)
            }
        }
        if progress.byState["skipped", default: 0] > 0 {
            for row in try connection.query("""
                SELECT COALESCE(state_reason, ''), COUNT(*) FROM \(recipients) WHERE campaign_id = \(id) AND state = 'skipped' GROUP BY 1
                """) {
                progress.skippedByReason[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
            }
        }
        progress.replied = try connection.queryFirst("""
            SELECT COUNT(replied_at) FROM \(recipients) WHERE campaign_id = \(id) AND state IN ('sent', 'delivered', 'read')
            """)?.decode(Int.self, at: 0) ?? 0
        if progress.byState.isEmpty, campaign.state.isFinal,
           let frozen = try connection.queryFirst("SELECT results_json FROM \(site.table(.campaigns)) WHERE id = \(id)")?
               .decode(String?.self, at: 0) {
            // Retention removed the recipient rows; the counts frozen at the end stay.
            progress.restore(frozen: frozen)
        }
        return progress
    }

    /// Keeps the final counts on the campaign row, for after retention has removed the recipients.
    private func freezeResults(_ id: UInt64, now: Date, on connection: MariaDBConnection) throws {
        let results = try progress(id, on: connection).resultsJSON
        try connection.execute("UPDATE \(site.table(.campaigns)) SET results_json = \(results.jsonText) WHERE id = \(id)")
    }
}

/// A campaign's counts, computed from its recipient rows (never kept in counters, so none can be lost).
public struct CampaignProgress: Sendable, Equatable {
    public var campaign: Campaign
    /// Recipients by state: pending, sending, sent, delivered, read, failed, skipped.
    public var byState: [String: Int] = [:]
    public var failedByCode: [Int: Int] = [:]
    public var skippedByReason: [String: Int] = [:]
    /// Recipients who wrote back.
    public var replied = 0

    public init(campaign: Campaign) {
        self.campaign = campaign
    }

    public var total: Int { byState.values.reduce(0, +) }
    public var pending: Int { byState["pending", default: 0] }
    public var sending: Int { byState["sending", default: 0] }
    /// Accepted by Meta: sent, delivered or read.
    public var sent: Int { byState["sent", default: 0] + delivered }
    /// Delivered or read.
    public var delivered: Int { byState["delivered", default: 0] + read }
    public var read: Int { byState["read", default: 0] }
    public var failed: Int { byState["failed", default: 0] }
    public var skipped: Int { byState["skipped", default: 0] }
    /// Recipients whose outcome is known (no longer pending or sending).
    public var finished: Int { total - pending - sending }

    /// The campaign and its counts, as the control API answers them.
    public var json: JSONValue {
        let time = ISO8601DateFormatter()
        func date(_ value: Date?) -> JSONValue { value.map { .string(time.string(from: $0)) } ?? .null }
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        return .object([
            "id": .number(Double(campaign.id)), "name": .string(campaign.name), "state": .string(campaign.state.rawValue),
            "state_reason": text(campaign.stateReason), "error_code": campaign.errorCode.map { .number(Double($0)) } ?? .null,
            "error_details": text(campaign.errorDetails), "template": .string(campaign.templateName),
            "language": .string(campaign.templateLanguage), "audience": campaign.audience ?? .null,
            "rate_limit_mps": campaign.rateLimit.map { .number($0) } ?? .null, "scheduled_at": date(campaign.scheduledAt),
            "resume_at": date(campaign.resumeAt), "started_at": date(campaign.startedAt), "results": resultsJSON,
        ])
    }

    /// Takes the counts from `results_json` as ``resultsJSON`` wrote them, for a finished campaign
    /// whose recipient rows retention has removed.
    mutating func restore(frozen text: String) {
        guard let results = try? JSONValue.parse(Array(text.utf8)) else { return }
        func count(_ key: String) -> Int { Int(results[key]?.numberValue ?? 0) }
        // The funnel counts are cumulative (a read message was also sent and delivered); the states are not.
        byState = ["pending": count("pending"), "sending": count("sending"), "sent": count("sent") - count("delivered"),
                   "delivered": count("delivered") - count("read"), "read": count("read"), "failed": count("failed"),
                   "skipped": count("skipped")].filter { $0.value > 0 }
        if case .object(let codes)? = results["failed_by_code"] {
            failedByCode = Dictionary(codes.compactMap { key, value in Int(key).map { ($0, Int(value.numberValue ?? 0)) } }) { a, _ in a }
        }
        if case .object(let reasons)? = results["skipped_by_reason"] {
            skippedByReason = reasons.mapValues { Int($0.numberValue ?? 0) }
        }
        replied = count("replied")
    }

    /// The counts as stored in `results_json` and answered by the control API.
    public var resultsJSON: JSONValue {
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        return .object([
            "total": number(total), "pending": number(pending), "sending": number(sending), "sent": number(sent),
            "delivered": number(delivered), "read": number(read), "failed": number(failed), "skipped": number(skipped),
            "replied": number(replied),
            "failed_by_code": .object(Dictionary(failedByCode.map { (String($0.key), number($0.value)) }, uniquingKeysWith: { a, _ in a })),
            "skipped_by_reason": .object(skippedByReason.mapValues(number)),
        ])
    }
}
