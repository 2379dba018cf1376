import Foundation
import MariaDB
import WhatsAppCloudAPI
import WordPressStore

/// The row a send was claimed from.
public enum SendOrigin: Sendable, Hashable {
    /// A row of `cloudchat_outbox`.
    case outbox(id: UInt64)
    /// A row of `cloudchat_campaign_recipients`, and its campaign.
    case campaign(id: UInt64, recipientID: UInt64)

    /// What the request carries in `biz_opaque_callback_data` for this attempt.
    public func callbackData(attempt: Int) -> SendCallbackData {
        switch self {
        case .outbox(let id): .outbox(id: id, attempt: attempt)
        case .campaign(_, let recipientID): .recipient(id: recipientID, attempt: attempt)
        }
    }

    /// The campaign, for a recipient.
    public var campaignID: UInt64? {
        if case .campaign(let id, _) = self { return id }
        return nil
    }

    /// The row's id in its table.
    public var rowID: UInt64 {
        switch self {
        case .outbox(let id): id
        case .campaign(_, let recipientID): recipientID
        }
    }

    /// For logs: `outbox 12` or `recipient 34`.
    public var description: String {
        switch self {
        case .outbox(let id): "outbox \(id)"
        case .campaign(_, let recipientID): "recipient \(recipientID)"
        }
    }
}

/// An outbox row or campaign recipient claimed for one attempt, with what the sender needs to send it.
public struct ClaimedSend: Sendable {
    public let origin: SendOrigin
    /// The attempt number, carried in the callback data.
    public let attempt: Int
    public let contactID: UInt64
    /// Agent replies first, then transactional, then bulk and campaigns.
    public let lane: SendPacer.Lane
    /// The Graph message type, or `mark_read`.
    public let type: String
    /// The Graph body without `to`: an outbox row's text as the site wrote it, or a campaign send built
    /// from the template (kept as a value, so a thousand sends a second are not written and parsed again).
    public let payload: Payload

    public enum Payload: Sendable {
        case text(String)
        case value(JSONValue)
    }

    /// The body as JSON text.
    public var payloadJSON: String {
        switch payload {
        case .text(let text): text
        case .value(let value): value.jsonText
        }
    }

    /// The body as a value; nil when the text is not JSON.
    public var payloadValue: JSONValue? {
        switch payload {
        case .text(let text): try? JSONValue.parse(Array(text.utf8))
        case .value(let value): value
        }
    }
    /// `agent`, `automation`, `api` or `campaign`.
    public let source: String
    public let createdByUserID: UInt64?
    /// Where to send: the contact's WhatsApp id, else the number the site entered.
    public let recipient: String?
    public let contactExists: Bool
    public let restricted: Bool
    public let lastInboundAt: Date?

    /// The lane of an outbox priority: 0 agent reply, 1 transactional, 2 bulk.
    static func lane(priority: Int) -> SendPacer.Lane {
        switch priority {
        case 0: .agentReply
        case 1: .transactional
        default: .campaign
        }
    }
}

/// The sending queries of one business number, for outbox rows and campaign
/// recipients alike (docs/schema.md §5.11, §5.13, §6.5).
///
/// Claims commit before any request goes out; results are written under the
/// attempt they belong to, so a row re-claimed elsewhere is never overwritten
/// by a stale answer.
public struct SendStore: Sendable {
    public let site: WordPressSite
    public let accountID: UInt64
    public let instanceID: String

    public init(site: WordPressSite, accountID: UInt64, instanceID: String) {
        self.site = site
        self.accountID = accountID
        self.instanceID = instanceID
    }

    /// Claims up to `limit` due rows in lane order and marks them `sending`.
    public func claim(limit: Int, on connection: MariaDBConnection) throws -> [ClaimedSend] {
        let outbox = site.table(.outbox)
        let ids = try connection.withTransaction(isolation: .readCommitted) { connection -> [UInt64] in
            let ids = try connection.query("""
                SELECT id FROM \(outbox)
                 WHERE account_id = \(accountID) AND state = 'queued' AND next_attempt_at <= UTC_TIMESTAMP(6)
                 ORDER BY priority, next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """).map { try $0.decode(UInt64.self, at: 0) }
            guard !ids.isEmpty else { return [] }
            try connection.execute("""
                UPDATE \(outbox)
                   SET state = 'sending', attempt_count = attempt_count + 1, claimed_at = UTC_TIMESTAMP(6), claimed_by = \(instanceID),
                       updated_at = UTC_TIMESTAMP(6)
                 WHERE id IN (\(list: ids))
                """)
            return ids
        }
        guard !ids.isEmpty else { return [] }
        let rows = try connection.query("""
            SELECT o.id, o.attempt_count, o.contact_id, o.priority, o.type, o.payload_json, o.source, o.created_by_user_id,
                   c.id, COALESCE(c.wa_id, c.phone), c.restricted_at, v.last_inbound_at
              FROM \(outbox) o
              LEFT JOIN \(site.table(.contacts)) c ON c.id = o.contact_id
              LEFT JOIN \(site.table(.conversations)) v ON v.account_id = o.account_id AND v.contact_id = o.contact_id
             WHERE o.id IN (\(list: ids))
             ORDER BY o.priority, o.next_attempt_at
            """)
        return try rows.map { row in
            ClaimedSend(
                origin: .outbox(id: try row.decode(UInt64.self, at: 0)), attempt: try row.decode(Int.self, at: 1),
                contactID: try row.decode(UInt64.self, at: 2), lane: ClaimedSend.lane(priority: try row.decode(Int.self, at: 3)),
                type: try row.decode(String.self, at: 4), payload: .text(try row.decode(String.self, at: 5)),
                source: try row.decode(String.self, at: 6), createdByUserID: try row.decode(UInt64?.self, at: 7),
                recipient: try row.decode(String?.self, at: 9), contactExists: try row.decode(UInt64?.self, at: 8) != nil,
                restricted: try row.decode(Date?.self, at: 10) != nil, lastInboundAt: try row.decode(Date?.self, at: 11))
        }
    }

    /// When the next queued row falls due, if any is queued.
    public func nextDue(on connection: MariaDBConnection) throws -> Date? {
        try connection.queryFirst("""
            SELECT MIN(next_attempt_at) FROM \(site.table(.outbox)) WHERE account_id = \(accountID) AND state = 'queued'
            """)?.decode(Date?.self, at: 0)
    }

    /// What a campaign's recipients are sent, for claiming them.
    public struct CampaignSend: Sendable {
        public let campaignID: UInt64
        public let templateName: String
        public let templateLanguage: String
        /// The synced template, which says what kind each button is.
        public let template: TemplateDefinition?

        public init(campaignID: UInt64, templateName: String, templateLanguage: String, template: TemplateDefinition?) {
            self.campaignID = campaignID
            self.templateName = templateName
            self.templateLanguage = templateLanguage
            self.template = template
        }
    }

    /// Claims up to `limit` due recipients of a running campaign and marks them `sending`. Recipients who
    /// may no longer be messaged (opted out or restricted since the campaign started, or erased) are
    /// marked `skipped` in the same transaction and never spend an attempt.
    public func claimRecipients(of campaign: CampaignSend, limit: Int, on connection: MariaDBConnection) throws -> (claimed: [ClaimedSend], skipped: Int) {
        let recipients = site.table(.campaignRecipients)
        return try connection.withTransaction(isolation: .readCommitted) { connection in
            let ids = try connection.query("""
                SELECT id FROM \(recipients)
                 WHERE campaign_id = \(campaign.campaignID) AND state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(6)
                 ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """).map { try $0.decode(UInt64.self, at: 0) }
            guard !ids.isEmpty else { return ([], 0) }
            // A plain read of the contacts: locking them would block the processor's contact updates.
            let rows = try connection.query("""
                SELECT r.id, r.attempt_count, r.contact_id, r.variables_json, c.id, COALESCE(c.wa_id, c.phone), c.consent_state, c.restricted_at
                  FROM \(recipients) r LEFT JOIN \(site.table(.contacts)) c ON c.id = r.contact_id
                 WHERE r.id IN (\(list: ids))
                 ORDER BY r.next_attempt_at
                """)
            var claimed: [ClaimedSend] = []
            var skipped: [String: [UInt64]] = [:]
            for row in rows {
                let id: UInt64 = try row.decode(at: 0)
                let number: String? = try row.decode(at: 5)
                if try row.decode(UInt64?.self, at: 4) == nil || number == nil {
                    skipped["invalid_number", default: []].append(id)
                    continue
                }
                if try row.decode(String.self, at: 6) == "opted_out" {
                    skipped["opted_out", default: []].append(id)
                    continue
                }
                if try row.decode(Date?.self, at: 7) != nil {
                    skipped["restricted", default: []].append(id)
                    continue
                }
                let values = try row.decode(String?.self, at: 3).flatMap { try? JSONValue.parse(Array($0.utf8)) } ?? .object([:])
                let template = CampaignVariables.templateSend(name: campaign.templateName, language: campaign.templateLanguage, values: values,
                                                              template: campaign.template)
                claimed.append(ClaimedSend(
                    origin: .campaign(id: campaign.campaignID, recipientID: id), attempt: try row.decode(Int.self, at: 1) + 1,
                    contactID: try row.decode(at: 2), lane: .campaign, type: "template",
                    payload: .value(.object(["template": template])), source: "campaign", createdByUserID: nil,
                    recipient: number, contactExists: true, restricted: false, lastInboundAt: nil))
            }
            for (reason, ids) in skipped {
                try connection.execute("""
                    UPDATE \(recipients) SET state = 'skipped', state_reason = \(reason), updated_at = UTC_TIMESTAMP(6)
                     WHERE id IN (\(list: ids))
                    """)
            }
            if !claimed.isEmpty {
                try connection.execute("""
                    UPDATE \(recipients)
                       SET state = 'sending', attempt_count = attempt_count + 1, claimed_at = UTC_TIMESTAMP(6), claimed_by = \(instanceID),
                           updated_at = UTC_TIMESTAMP(6)
                     WHERE id IN (\(list: claimed.map(\.origin.rowID)))
                    """)
            }
            return (claimed, skipped.values.reduce(0) { $0 + $1.count })
        }
    }

    /// What Meta accepted, to be recorded.
    public struct Acceptance: Sendable {
        public var wamid: String
        /// `accepted` or `held` (held for quality assessment).
        public var status: String
        /// The request body as sent, without `to`.
        public var payloadJSON: String
        /// The text a person reads (text body, caption), if any.
        public var body: String?
        public var contextWamid: String?
        public var templateID: UInt64?
        /// Meta's `contacts[].wa_id`, when it differs from what was sent to.
        public var resolvedWaID: String?
    }

    /// Records an accepted send: the row `sent`, its message row, the conversation; then the statuses that came first.
    /// - Returns: the message row id.
    @discardableResult
    public func recordAccepted(_ item: ClaimedSend, _ accepted: Acceptance, now: Date, on connection: MariaDBConnection) throws -> UInt64 {
        try recordAccepted([(item, accepted)], now: now, on: connection)[0]
    }

    /// Records many accepted sends in one transaction, a few statements for all of them
    /// (at 1,000 sends a second, statements per row would cost the database more than the sending).
    /// - Returns: the message row ids, in the order given.
    @discardableResult
    public func recordAccepted(_ sends: [(ClaimedSend, Acceptance)], now: Date, on connection: MariaDBConnection) throws -> [UInt64] {
        guard !sends.isEmpty else { return [] }
        let messages = site.table(.messages)
        let ids = try connection.withTransaction { connection -> [UInt64] in
            let rows: [[MariaDBValue]] = sends.map { item, accepted in
                var outboxID: MariaDBValue = .null
                var campaignID: MariaDBValue = .null
                var recipientID: MariaDBValue = .null
                switch item.origin {
                case .outbox(let id): outboxID = .uint(id)
                case .campaign(let campaign, let recipient): (campaignID, recipientID) = (.uint(campaign), .uint(recipient))
                }
                return [.uint(accountID), .uint(item.contactID), .string(accepted.wamid), .string("outbound"), .string(item.type),
                        .string(item.source), accepted.body.map { .string($0) } ?? .null, .string(accepted.payloadJSON),
                        accepted.contextWamid.map { .string($0) } ?? .null, accepted.templateID.map { .uint($0) } ?? .null, outboxID,
                        campaignID, recipientID, item.createdByUserID.map { .uint($0) } ?? .null, .string(accepted.status), .date(now),
                        .date(now), .date(now), .date(now)]
            }
            // A wamid already stored (a replayed answer) keeps its row.
            try connection.execute(try SQLQuery.insert(
                into: messages,
                columns: ["account_id", "contact_id", "wamid", "direction", "type", "source", "body", "payload_json", "context_wamid",
                          "template_id", "outbox_id", "campaign_id", "campaign_recipient_id", "sent_by_user_id", "status", "status_at",
                          "message_at", "created_at", "updated_at"],
                rows: rows, suffix: " ON DUPLICATE KEY UPDATE updated_at = updated_at"))
            var messageIDs: [String: UInt64] = [:]
            for row in try connection.query("SELECT wamid, id FROM \(messages) WHERE wamid IN (\(list: sends.map(\.1.wamid)))") {
                messageIDs[try row.decode(String.self, at: 0)] = try row.decode(UInt64.self, at: 1)
            }
            let ids = try sends.map { item, accepted -> UInt64 in
                // Not the wamid: Meta's wamids carry the recipient's number, and this error is logged.
                guard let id = messageIDs[accepted.wamid] else { throw OutboxError("the message row of \(item.origin.description)'s send was not written") }
                return id
            }
            let recorded = zip(sends, ids).map { (item: $0.0, wamid: $0.1.wamid, messageID: $1) }
            try markSent(recorded.filter { if case .outbox = $0.item.origin { true } else { false } }, now: now, on: connection)
            try markRecipientsSent(recorded.filter { $0.item.origin.campaignID != nil }, now: now, on: connection)
            // One inbox row per contact, in a stable order so concurrent writers lock alike.
            var latest: [UInt64: UInt64] = [:]
            for ((item, _), messageID) in zip(sends, ids) { latest[item.contactID] = max(latest[item.contactID] ?? 0, messageID) }
            try touchConversations(latest.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }, at: now, on: connection)
            return ids
        }
        // Usually none waits. A plain read finds any that does: a status the processor was applying when a
        // message was inserted held the insert until it committed, so it is visible now (§6.2).
        let waiting = try connection.query("""
            SELECT DISTINCT wamid FROM \(site.table(.statusEvents)) WHERE wamid IN (\(list: sends.map(\.1.wamid))) AND applied_at IS NULL
            """)
        if !waiting.isEmpty { try applyWaitingStatuses(wamids: try waiting.map { try $0.decode(String.self, at: 0) }, now: now, on: connection) }
        return ids
    }

    private typealias RecordedSend = (item: ClaimedSend, wamid: String, messageID: UInt64)

    /// `CASE id WHEN … THEN … END` over the rows of recorded sends.
    private static func cases(_ sends: [RecordedSend], _ value: (RecordedSend) -> SQLQuery) -> SQLQuery {
        SQLQuery.caseOf("id", sends, key: { .uint($0.item.origin.rowID) }, value: value)
    }

    /// Outbox rows become `sent`. A status webhook may have settled a row already (§6.5): it is sent
    /// either way. Each row is written only for the attempt that sent it.
    private func markSent(_ sends: [RecordedSend], now: Date, on connection: MariaDBConnection) throws {
        guard !sends.isEmpty else { return }
        try connection.execute("""
            UPDATE \(site.table(.outbox))
               SET state = 'sent', state_reason = NULL, wamid = \(Self.cases(sends) { "\($0.wamid)" }), sent_at = COALESCE(sent_at, \(now)),
                   message_id = \(Self.cases(sends) { "\($0.messageID)" }), error_code = NULL, error_details = NULL, error_trace_id = NULL,
                   updated_at = \(now)
             WHERE id IN (\(list: sends.map(\.item.origin.rowID)))
               AND (state = 'sent' OR (state = 'sending' AND attempt_count = \(Self.cases(sends) { "\($0.item.attempt)" })))
            """)
    }

    /// Recipients become `sent`, unless a status webhook already moved them further (§5.13): those keep
    /// their state and get the wamid and message. `state` is assigned last, so the assignments before it
    /// read the state the row had.
    private func markRecipientsSent(_ sends: [RecordedSend], now: Date, on connection: MariaDBConnection) throws {
        guard !sends.isEmpty else { return }
        try connection.execute("""
            UPDATE \(site.table(.campaignRecipients))
               SET wamid = COALESCE(wamid, \(Self.cases(sends) { "\($0.wamid)" })), message_id = \(Self.cases(sends) { "\($0.messageID)" }),
                   sent_at = COALESCE(sent_at, \(now)), claimed_by = NULL,
                   state_reason = IF(state = 'sending', NULL, state_reason), error_code = IF(state = 'sending', NULL, error_code),
                   error_details = IF(state = 'sending', NULL, error_details), updated_at = \(now),
                   state = IF(state = 'sending', 'sent', state)
             WHERE id IN (\(list: sends.map(\.item.origin.rowID)))
               AND (state IN ('sent', 'delivered', 'read', 'failed')
                    OR (state = 'sending' AND attempt_count = \(Self.cases(sends) { "\($0.item.attempt)" })))
            """)
    }

    /// A read receipt went through: the row is done; no message row is written for it.
    public func recordReadReceiptSent(_ item: ClaimedSend, now: Date, on connection: MariaDBConnection) throws {
        try connection.execute("""
            UPDATE \(site.table(.outbox)) SET state = 'sent', sent_at = \(now), state_reason = NULL, updated_at = \(now)
             WHERE id = \(item.origin.rowID) AND state = 'sending' AND attempt_count = \(item.attempt)
            """)
    }

    /// Why a row ended without being sent.
    public struct Failure: Sendable {
        /// `outside_service_window`, `restricted`, `template_not_approved`, `invalid_payload`, `meta_error`, `retries_exhausted`…
        public var reason: String
        public var code: Int?
        /// Readable: Meta's details or our own explanation. Never a token or a phone number.
        public var details: String
        public var traceID: String?

        public init(reason: String, code: Int? = nil, details: String, traceID: String? = nil) {
            self.reason = reason
            self.code = code
            self.details = details
            self.traceID = traceID
        }
    }

    /// Ends a row as `failed`. An outbox row also gets a `failed` message row, so the thread shows what did
    /// not go out; a recipient's failure is in the campaign's report.
    public func recordFailed(_ item: ClaimedSend, _ failure: Failure, payloadJSON: String?, now: Date, on connection: MariaDBConnection) throws {
        let details = String(failure.details.prefix(1000))
        guard case .outbox(let id) = item.origin else {
            try connection.execute("""
                UPDATE \(site.table(.campaignRecipients))
                   SET state = 'failed', state_reason = \(failure.reason), error_code = \(failure.code), error_details = \(details),
                       failed_at = \(now), claimed_by = NULL, updated_at = \(now)
                 WHERE id = \(item.origin.rowID) AND state = 'sending' AND attempt_count = \(item.attempt)
                """)
            return
        }
        try connection.withTransaction { connection in
            let updated = try connection.execute("""
                UPDATE \(site.table(.outbox))
                   SET state = 'failed', state_reason = \(failure.reason), error_code = \(failure.code),
                       error_details = \(details), error_trace_id = \(failure.traceID.map { String($0.prefix(64)) }),
                       updated_at = \(now)
                 WHERE id = \(id) AND state = 'sending' AND attempt_count = \(item.attempt)
                """)
            guard updated.affectedRows == 1, item.contactExists, item.type != "mark_read" else { return }
            let inserted = try connection.execute("""
                INSERT INTO \(site.table(.messages))
                    (account_id, contact_id, direction, type, source, payload_json, outbox_id, sent_by_user_id, status, status_at,
                     failed_at, error_code, error_details, message_at, created_at, updated_at)
                VALUES (\(accountID), \(item.contactID), 'outbound', \(item.type), \(item.source), \(payloadJSON), \(id),
                        \(item.createdByUserID), 'failed', \(now), \(now), \(failure.code), \(details),
                        \(now), \(now), \(now))
                """)
            try connection.execute("UPDATE \(site.table(.outbox)) SET message_id = \(inserted.lastInsertID) WHERE id = \(id)")
            try touchConversations([(item.contactID, inserted.lastInsertID)], at: now, on: connection)
        }
    }

    /// The table of a claimed row and the state its rows wait in.
    private func table(of item: ClaimedSend) -> (table: SQLIdentifier, waiting: String) {
        switch item.origin {
        case .outbox: (site.table(.outbox), "queued")
        case .campaign: (site.table(.campaignRecipients), "pending")
        }
    }

    /// Puts a row back in the queue for a later attempt.
    public func requeue(_ item: ClaimedSend, at due: Date, code: Int?, details: String?, now: Date, on connection: MariaDBConnection) throws {
        let (table, waiting) = table(of: item)
        try connection.execute("""
            UPDATE \(table)
               SET state = \(waiting), next_attempt_at = \(due), claimed_by = NULL, error_code = COALESCE(\(code), error_code),
                   error_details = COALESCE(\(details.map { String($0.prefix(1000)) }), error_details), updated_at = \(now)
             WHERE id = \(item.origin.rowID) AND state = 'sending' AND attempt_count = \(item.attempt)
            """)
    }

    /// Gives back rows claimed but never started (shutdown, lost lease, a paused campaign): no attempt was spent on them.
    public func release(_ items: [ClaimedSend], now: Date, on connection: MariaDBConnection) throws {
        for item in items {
            let (table, waiting) = table(of: item)
            try connection.execute("""
                UPDATE \(table)
                   SET state = \(waiting), attempt_count = attempt_count - 1, claimed_by = NULL, updated_at = \(now)
                 WHERE id = \(item.origin.rowID) AND state = 'sending' AND attempt_count = \(item.attempt)
                """)
        }
    }

    /// The request went out and no answer came: Meta may have accepted it. The row stays `sending`
    /// without a claimer until reconciliation (status webhooks, then the grace period) decides.
    public func markInDoubt(_ item: ClaimedSend, details: String, now: Date, on connection: MariaDBConnection) throws {
        try connection.execute("""
            UPDATE \(table(of: item).table)
               SET claimed_by = NULL, error_details = \(String(details.prefix(1000))), updated_at = \(now)
             WHERE id = \(item.origin.rowID) AND state = 'sending' AND attempt_count = \(item.attempt)
            """)
    }

    /// Requeues rows left `sending` by a claimer that is gone (or that lost the answer) once no status
    /// webhook has settled them within the grace period (§6.5): the outbox rows of this number and the
    /// recipients of its campaigns.
    ///
    /// The grace period counts in processed webhooks, not only in time: a row is retried only when every
    /// webhook received up to `grace` after its claim has been processed. A processor that lags (a
    /// backlog after an outage, a gap left by a crashed writer) holds reconciliation back instead of
    /// letting a status that has arrived but is not yet applied go unseen.
    /// - Returns: how many rows were put back.
    @discardableResult
    public func reconcile(grace: Duration, on connection: MariaDBConnection) throws -> Int {
        let graceMicroseconds = Int64(grace / .microseconds(1))
        let mark = try connection.queryFirst("""
            SELECT progress_id FROM \(site.table(.leases)) WHERE name = 'processor'
            """)?.decode(UInt64?.self, at: 0) ?? 0
        let firstUnprocessed = try connection.queryFirst("""
            SELECT received_at FROM \(site.table(.webhookEvents)) WHERE id > \(mark) ORDER BY id LIMIT 1
            """)?.decode(Date.self, at: 0)
        let processedUntil: SQLQuery = firstUnprocessed.map { "LEAST(UTC_TIMESTAMP(6), \($0))" } ?? "UTC_TIMESTAMP(6)"
        let stale: SQLQuery = """
            state = 'sending' AND claimed_at < \(processedUntil) - INTERVAL \(graceMicroseconds) MICROSECOND
            AND (claimed_by IS NULL OR claimed_by <> \(instanceID))
            """
        let outbox = try connection.execute("""
            UPDATE \(site.table(.outbox))
               SET state = 'queued', state_reason = 'reconciled_retry', next_attempt_at = UTC_TIMESTAMP(6), claimed_by = NULL,
                   updated_at = UTC_TIMESTAMP(6)
             WHERE account_id = \(accountID) AND \(stale)
            """)
        let recipients = try connection.execute("""
            UPDATE \(site.table(.campaignRecipients))
               SET state = 'pending', state_reason = 'reconciled_retry', next_attempt_at = UTC_TIMESTAMP(6), claimed_by = NULL,
                   updated_at = UTC_TIMESTAMP(6)
             WHERE campaign_id IN (SELECT id FROM \(site.table(.campaigns)) WHERE account_id = \(accountID) AND state NOT IN ('completed', 'cancelled'))
               AND \(stale)
            """)
        return Int(outbox.affectedRows + recipients.affectedRows)
    }

    /// Applies statuses that arrived before their message rows (docs/schema.md §6.2, the sender's half),
    /// in one transaction for all of them: when Meta's statuses outrun the recording of answers, that is
    /// most sends, and a transaction each would cost the database more than the sends.
    func applyWaitingStatuses(wamids: [String], now: Date, on connection: MariaDBConnection) throws {
        try connection.withTransaction { connection in
            let waiting = try connection.query("""
                SELECT id, wamid, status, status_at, error_code, errors_json, pricing_json FROM \(site.table(.statusEvents))
                 WHERE wamid IN (\(list: wamids)) AND applied_at IS NULL ORDER BY wamid FOR UPDATE
                """)
            guard !waiting.isEmpty else { return }
            let statuses = try waiting.compactMap { row -> (UInt64, String, MessageStatusWrite.Status)? in
                let value = try row.decode(String.self, at: 2)
                guard let rank = MessageStatus.State(rawValue: value).rank else { return nil }
                let errors = try row.decode(String?.self, at: 5).flatMap { try? JSONValue.parse(Array($0.utf8)) }
                let pricing = try row.decode(String?.self, at: 6).flatMap { try? JSONValue.parse(Array($0.utf8)) }
                var firstError: JSONValue?
                if case .array(let list)? = errors { firstError = list.first }
                return (try row.decode(UInt64.self, at: 0), try row.decode(String.self, at: 1), MessageStatusWrite.Status(
                    value: value, rank: rank, at: try row.decode(Date.self, at: 3), errorCode: try row.decode(Int?.self, at: 4),
                    errorDetails: firstError?["error_data"]?["details"]?.stringValue ?? firstError?["title"]?.stringValue,
                    pricingType: pricing?["type"]?.stringValue, pricingCategory: pricing?["category"]?.stringValue))
            }
            // The message rows were written just before: every status with a known value applies.
            try MessageStatusWrite.apply(statuses.map { ($0.1, $0.2) }, site: site, now: now, on: connection)
            let applied = statuses.map(\.0)
            if !applied.isEmpty {
                try connection.execute("UPDATE \(site.table(.statusEvents)) SET applied_at = \(now) WHERE id IN (\(list: applied))")
            }
        }
    }

    /// Moves each contact's inbox row to its newest outbound message, 200 contacts per statement.
    private func touchConversations(_ latest: [(contactID: UInt64, messageID: UInt64)], at time: Date, on connection: MariaDBConnection) throws {
        let rows: [[MariaDBValue]] = latest.map { contactID, messageID in
            [.uint(accountID), .uint(contactID), .string("open"), .uint(0), .uint(messageID), .date(time), .date(time), .date(time), .date(time)]
        }
        for chunk in rows.chunked(into: 200) {
            try connection.execute(try SQLQuery.insert(
                into: site.table(.conversations),
                columns: ["account_id", "contact_id", "state", "unread_count", "last_message_id", "last_message_at", "last_outbound_at",
                          "created_at", "updated_at"],
                rows: chunk, suffix: """
                    ON DUPLICATE KEY UPDATE
                        last_message_id = IF(last_message_at IS NULL OR VALUES(last_message_at) >= last_message_at, VALUES(last_message_id), last_message_id),
                        last_message_at = GREATEST(COALESCE(last_message_at, VALUES(last_message_at)), VALUES(last_message_at)),
                        last_outbound_at = GREATEST(COALESCE(last_outbound_at, VALUES(last_outbound_at)), VALUES(last_outbound_at)),
                        updated_at = VALUES(updated_at)
                    """))
        }
    }
}

/// An outbox write that could not be completed.
public struct OutboxError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
