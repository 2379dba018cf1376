import Foundation
import MariaDB
import WhatsAppCloudAPI
import WordPressStore

/// An outbox row claimed for one attempt, with what the sender needs to send it.
public struct ClaimedOutboxItem: Sendable {
    public let id: UInt64
    /// The attempt number, carried in the callback data.
    public let attempt: Int
    public let contactID: UInt64
    /// 0 agent reply, 1 transactional, 2 bulk.
    public let priority: Int
    /// The Graph message type, or `mark_read`.
    public let type: String
    public let payloadJSON: String
    /// `agent`, `automation` or `api`.
    public let source: String
    public let createdByUserID: UInt64?
    /// Where to send: the contact's WhatsApp id, else the number the site entered.
    public let recipient: String?
    public let contactExists: Bool
    public let restricted: Bool
    public let lastInboundAt: Date?

    /// The pacer lane of this row.
    public var lane: SendPacer.Lane {
        switch priority {
        case 0: .agentReply
        case 1: .transactional
        default: .campaign
        }
    }
}

/// The outbox queries of one business number (docs/schema.md §5.11, §6.5).
///
/// Claims commit before any request goes out; results are written under the
/// attempt they belong to, so a row re-claimed elsewhere is never overwritten
/// by a stale answer.
public struct OutboxStore: Sendable {
    public let site: WordPressSite
    public let accountID: UInt64
    public let instanceID: String

    public init(site: WordPressSite, accountID: UInt64, instanceID: String) {
        self.site = site
        self.accountID = accountID
        self.instanceID = instanceID
    }

    /// Claims up to `limit` due rows in lane order and marks them `sending`.
    public func claim(limit: Int, on connection: MariaDBConnection) throws -> [ClaimedOutboxItem] {
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
            ClaimedOutboxItem(
                id: try row.decode(UInt64.self, at: 0), attempt: try row.decode(Int.self, at: 1), contactID: try row.decode(UInt64.self, at: 2),
                priority: try row.decode(Int.self, at: 3), type: try row.decode(String.self, at: 4), payloadJSON: try row.decode(String.self, at: 5),
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
    public func recordAccepted(_ item: ClaimedOutboxItem, _ accepted: Acceptance, now: Date, on connection: MariaDBConnection) throws -> UInt64 {
        try recordAccepted([(item, accepted)], now: now, on: connection)[0]
    }

    /// Records many accepted sends in one transaction, a few statements for all of them
    /// (at 1,000 sends a second, statements per row would cost the database more than the sending).
    /// - Returns: the message row ids, in the order given.
    @discardableResult
    public func recordAccepted(_ sends: [(ClaimedOutboxItem, Acceptance)], now: Date, on connection: MariaDBConnection) throws -> [UInt64] {
        guard !sends.isEmpty else { return [] }
        let messages = site.table(.messages)
        let ids = try connection.withTransaction { connection -> [UInt64] in
            let rows: [[MariaDBValue]] = sends.map { item, accepted in
                [.uint(accountID), .uint(item.contactID), .string(accepted.wamid), .string("outbound"), .string(item.type),
                 .string(item.source), accepted.body.map { .string($0) } ?? .null, .string(accepted.payloadJSON),
                 accepted.contextWamid.map { .string($0) } ?? .null, accepted.templateID.map { .uint($0) } ?? .null, .uint(item.id),
                 item.createdByUserID.map { .uint($0) } ?? .null, .string(accepted.status), .date(now), .date(now), .date(now), .date(now)]
            }
            // A wamid already stored (a replayed answer) keeps its row.
            try connection.execute(try SQLQuery.insert(
                into: messages,
                columns: ["account_id", "contact_id", "wamid", "direction", "type", "source", "body", "payload_json", "context_wamid",
                          "template_id", "outbox_id", "sent_by_user_id", "status", "status_at", "message_at", "created_at", "updated_at"],
                rows: rows, suffix: " ON DUPLICATE KEY UPDATE updated_at = updated_at"))
            var messageIDs: [String: UInt64] = [:]
            for row in try connection.query("SELECT wamid, id FROM \(messages) WHERE wamid IN (\(list: sends.map(\.1.wamid)))") {
                messageIDs[try row.decode(String.self, at: 0)] = try row.decode(UInt64.self, at: 1)
            }
            let ids = try sends.map { _, accepted -> UInt64 in
                guard let id = messageIDs[accepted.wamid] else { throw OutboxError("the message row of wamid \(accepted.wamid) was not written") }
                return id
            }
            // A status webhook may have settled a row already (§6.5): it is sent either way. Each row is
            // written only for the attempt that sent it.
            var wamidCases = SQLQuery(unsafeSQL: "CASE id")
            var messageCases = SQLQuery(unsafeSQL: "CASE id")
            var attemptCases = SQLQuery(unsafeSQL: "CASE id")
            for ((item, accepted), messageID) in zip(sends, ids) {
                wamidCases = "\(wamidCases) WHEN \(item.id) THEN \(accepted.wamid)"
                messageCases = "\(messageCases) WHEN \(item.id) THEN \(messageID)"
                attemptCases = "\(attemptCases) WHEN \(item.id) THEN \(item.attempt)"
            }
            try connection.execute("""
                UPDATE \(site.table(.outbox))
                   SET state = 'sent', state_reason = NULL, wamid = \(wamidCases) END, sent_at = COALESCE(sent_at, \(now)),
                       message_id = \(messageCases) END, error_code = NULL, error_details = NULL, error_trace_id = NULL, updated_at = \(now)
                 WHERE id IN (\(list: sends.map(\.0.id))) AND (state = 'sent' OR (state = 'sending' AND attempt_count = \(attemptCases) END))
                """)
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
        for row in waiting { try applyWaitingStatuses(wamid: try row.decode(String.self, at: 0), now: now, on: connection) }
        return ids
    }

    /// A read receipt went through: the row is done; no message row is written for it.
    public func recordReadReceiptSent(_ item: ClaimedOutboxItem, now: Date, on connection: MariaDBConnection) throws {
        try connection.execute("""
            UPDATE \(site.table(.outbox)) SET state = 'sent', sent_at = \(now), state_reason = NULL, updated_at = \(now)
             WHERE id = \(item.id) AND state = 'sending' AND attempt_count = \(item.attempt)
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

    /// Ends a row as `failed`, with a `failed` message row so the thread shows what did not go out.
    public func recordFailed(_ item: ClaimedOutboxItem, _ failure: Failure, payloadJSON: String?, now: Date, on connection: MariaDBConnection) throws {
        try connection.withTransaction { connection in
            let updated = try connection.execute("""
                UPDATE \(site.table(.outbox))
                   SET state = 'failed', state_reason = \(failure.reason), error_code = \(failure.code),
                       error_details = \(String(failure.details.prefix(1000))), error_trace_id = \(failure.traceID.map { String($0.prefix(64)) }),
                       updated_at = \(now)
                 WHERE id = \(item.id) AND state = 'sending' AND attempt_count = \(item.attempt)
                """)
            guard updated.affectedRows == 1, item.contactExists, item.type != "mark_read" else { return }
            let inserted = try connection.execute("""
                INSERT INTO \(site.table(.messages))
                    (account_id, contact_id, direction, type, source, payload_json, outbox_id, sent_by_user_id, status, status_at,
                     failed_at, error_code, error_details, message_at, created_at, updated_at)
                VALUES (\(accountID), \(item.contactID), 'outbound', \(item.type), \(item.source), \(payloadJSON), \(item.id),
                        \(item.createdByUserID), 'failed', \(now), \(now), \(failure.code), \(String(failure.details.prefix(1000))),
                        \(now), \(now), \(now))
                """)
            try connection.execute("UPDATE \(site.table(.outbox)) SET message_id = \(inserted.lastInsertID) WHERE id = \(item.id)")
            try touchConversations([(item.contactID, inserted.lastInsertID)], at: now, on: connection)
        }
    }

    /// Puts a row back in the queue for a later attempt.
    public func requeue(_ item: ClaimedOutboxItem, at due: Date, code: Int?, details: String?, now: Date, on connection: MariaDBConnection) throws {
        try connection.execute("""
            UPDATE \(site.table(.outbox))
               SET state = 'queued', next_attempt_at = \(due), claimed_by = NULL, error_code = COALESCE(\(code), error_code),
                   error_details = COALESCE(\(details.map { String($0.prefix(1000)) }), error_details), updated_at = \(now)
             WHERE id = \(item.id) AND state = 'sending' AND attempt_count = \(item.attempt)
            """)
    }

    /// Gives back rows claimed but never started (shutdown, lost lease): no attempt was spent on them.
    public func release(_ items: [ClaimedOutboxItem], now: Date, on connection: MariaDBConnection) throws {
        for item in items {
            try connection.execute("""
                UPDATE \(site.table(.outbox))
                   SET state = 'queued', attempt_count = attempt_count - 1, claimed_by = NULL, updated_at = \(now)
                 WHERE id = \(item.id) AND state = 'sending' AND attempt_count = \(item.attempt)
                """)
        }
    }

    /// The request went out and no answer came: Meta may have accepted it. The row stays `sending`
    /// without a claimer until reconciliation (status webhooks, then the grace period) decides.
    public func markInDoubt(_ item: ClaimedOutboxItem, details: String, now: Date, on connection: MariaDBConnection) throws {
        try connection.execute("""
            UPDATE \(site.table(.outbox))
               SET claimed_by = NULL, error_details = \(String(details.prefix(1000))), updated_at = \(now)
             WHERE id = \(item.id) AND state = 'sending' AND attempt_count = \(item.attempt)
            """)
    }

    /// Requeues rows left `sending` by a claimer that is gone (or that lost the answer) once no status
    /// webhook has settled them within the grace period (§6.5).
    /// - Returns: how many rows were put back.
    @discardableResult
    public func reconcile(grace: Duration, on connection: MariaDBConnection) throws -> Int {
        let graceMicroseconds = Int64(grace / .microseconds(1))
        let result = try connection.execute("""
            UPDATE \(site.table(.outbox))
               SET state = 'queued', state_reason = 'reconciled_retry', next_attempt_at = UTC_TIMESTAMP(6), claimed_by = NULL,
                   updated_at = UTC_TIMESTAMP(6)
             WHERE account_id = \(accountID) AND state = 'sending'
               AND claimed_at < UTC_TIMESTAMP(6) - INTERVAL \(graceMicroseconds) MICROSECOND
               AND (claimed_by IS NULL OR claimed_by <> \(instanceID))
            """)
        return Int(result.affectedRows)
    }

    /// Applies statuses that arrived before the message row (docs/schema.md §6.2, the sender's half).
    func applyWaitingStatuses(wamid: String, now: Date, on connection: MariaDBConnection) throws {
        try connection.withTransaction { connection in
            let waiting = try connection.query("""
                SELECT id, status, status_at, error_code, errors_json, pricing_json FROM \(site.table(.statusEvents))
                 WHERE wamid = \(wamid) AND applied_at IS NULL FOR UPDATE
                """)
            guard !waiting.isEmpty else { return }
            var applied: [UInt64] = []
            let statuses = try waiting.compactMap { row -> (UInt64, MessageStatusWrite.Status)? in
                let value = try row.decode(String.self, at: 1)
                guard let rank = MessageStatus.State(rawValue: value).rank else { return nil }
                let errors = try row.decode(String?.self, at: 4).flatMap { try? JSONValue.parse(Array($0.utf8)) }
                let pricing = try row.decode(String?.self, at: 5).flatMap { try? JSONValue.parse(Array($0.utf8)) }
                var firstError: JSONValue?
                if case .array(let list)? = errors { firstError = list.first }
                return (try row.decode(UInt64.self, at: 0), MessageStatusWrite.Status(
                    value: value, rank: rank, at: try row.decode(Date.self, at: 2), errorCode: try row.decode(Int?.self, at: 3),
                    errorDetails: firstError?["error_data"]?["details"]?.stringValue ?? firstError?["title"]?.stringValue,
                    pricingType: pricing?["type"]?.stringValue, pricingCategory: pricing?["category"]?.stringValue))
            }
            for (id, status) in statuses.sorted(by: { $0.1.rank < $1.1.rank }) {
                if try MessageStatusWrite.apply(status, wamid: wamid, site: site, now: now, on: connection) { applied.append(id) }
            }
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
