import Foundation
import MariaDB
import WhatsAppCloudAPI
import WordPressStore

/// One raw row of `cloudchat_webhook_events`, as the processor reads it.
public struct StoredWebhookEvent: Sendable {
    public let id: UInt64
    public let receivedAt: Date
    public let signatureVerified: Bool
    public let body: [UInt8]

    public init(id: UInt64, receivedAt: Date, signatureVerified: Bool, body: [UInt8]) {
        self.id = id
        self.receivedAt = receivedAt
        self.signatureVerified = signatureVerified
        self.body = body
    }
}

/// How processing one raw event ended: the row's new `processing_state` and,
/// where there is one, its `processing_error` (never quoting the body).
public struct ProcessingOutcome: Sendable, Equatable {
    public let state: String
    public let error: String?

    static let processed = ProcessingOutcome(state: "processed", error: nil)
    static let rejected = ProcessingOutcome(state: "rejected", error: "the signature was not verified")
    static func invalid(_ reason: String) -> ProcessingOutcome { ProcessingOutcome(state: "invalid", error: reason) }
}

/// Turns raw webhook events into contacts, conversations, messages, statuses,
/// template and account updates, following docs/schema.md §6.1–6.4.
///
/// It runs inside the caller's transaction on one connection. Every write is
/// idempotent (`INSERT IGNORE` on Meta's ids, upserts, rank-guarded updates),
/// so applying the same event twice, or replaying old events, yields the same
/// state. Conversation counters are gathered over the whole batch and written
/// once per conversation by ``finish()``.
struct WebhookEventApplier {
    private let site: WordPressSite
    private let connection: MariaDBConnection
    private let now: Date
    private var accounts: AccountDirectory
    private var conversations: [ConversationKey: ConversationDelta] = [:]
    /// Inbound messages without effects on other rows, inserted together by ``flushInbound()``.
    private var pendingInbound: [PendingInbound] = []
    /// What this applier did that other workers care about.
    private(set) var summary = AppliedSummary()
    private var pendingWamids: Set<String> = []

    private struct PendingInbound {
        let wamid: String
        let row: [MariaDBValue]
        let conversation: ConversationKey
        let messageAt: Date
        let countsAsUnread: Bool
    }

    private static let inboundColumns = [
        "account_id", "contact_id", "wamid", "direction", "type", "source", "body", "payload_json", "context_wamid", "target_wamid",
        "forwarded", "referral_json", "media_id", "status", "message_at", "error_code", "error_details", "webhook_event_id",
        "created_at", "updated_at",
    ]
    /// Bodies decoded by ``prefetch(_:)``, by event id.
    private var decoded: [UInt64: WebhookNotification] = [:]
    /// Contacts known in this batch, by `wa_id` and by `user_id`.
    private var knownContacts: [ContactLookup: KnownContact] = [:]
    /// The lookups each known contact is filed under, so forgetting one is cheap.
    private var knownContactLookups: [UInt64: [ContactLookup]] = [:]
    /// Messages looked up (and locked) by ``prefetch(_:)``: wamid → contact id, for those that exist.
    private var messageContacts: [String: UInt64] = [:]
    private var prefetchedWamids: Set<String> = []
    /// Status events to insert, written together by ``finish()``.
    private var statusEventRows: [[MariaDBValue]] = []
    /// Statuses of known messages, applied together by ``finish()``.
    private var messageStatuses: [(wamid: String, status: MessageStatusWrite.Status)] = []
    /// Statuses naming one of our campaign recipients, applied together by ``finish()``.
    private var recipientStatuses: [RecipientStatus] = []
    /// The first inbound message time per contact in this batch, for campaign reply attribution.
    private var inboundTimes: [UInt64: Date] = [:]

    private struct RecipientStatus {
        let accountID: UInt64
        let recipientID: UInt64
        /// `sent`, `delivered`, `read` or `failed`: the recipient states a status can give.
        let state: String
        let at: Date
        let wamid: String
        let errorCode: Int?
        let errorDetails: String?
    }

    /// The consent keywords in force, per account (the daemon's words plus the site's rules).
    private let consentKeywords: [UInt64: ConsentKeywords]

    init(site: WordPressSite, connection: MariaDBConnection, consentKeywords: ConsentKeywords = .defaults, now: Date = Date()) throws {
        self.site = site
        self.connection = connection
        self.now = now
        self.accounts = try AccountDirectory.load(site: site, on: connection)
        self.consentKeywords = try Self.loadConsentKeywords(consentKeywords, accounts: accounts, site: site, on: connection)
    }

    /// The daemon's keywords with each enabled `opt_out_keywords` / `opt_in_keywords` rule of the site added:
    /// a rule without an account applies to every number of the site.
    private static func loadConsentKeywords(_ base: ConsentKeywords, accounts: AccountDirectory, site: WordPressSite,
                                            on connection: MariaDBConnection) throws -> [UInt64: ConsentKeywords] {
        var perAccount: [UInt64: ConsentKeywords] = [:]
        for id in accounts.allAccountIDs { perAccount[id] = base }
        let rules = try connection.query("""
            SELECT account_id, kind, trigger_json FROM \(site.table(.automations))
             WHERE kind IN ('opt_out_keywords', 'opt_in_keywords') AND is_enabled = 1 ORDER BY position, id
            """)
        for rule in rules {
            let accountID: UInt64? = try rule.decode(at: 0)
            let action: ConsentKeywords.Action = try rule.decode(String.self, at: 1) == "opt_out_keywords" ? .optOut : .optIn
            let trigger: String = try rule.decode(at: 2)
            // A rule whose trigger is not the documented shape adds nothing.
            guard let parsed = try? JSONValue.parse(Array(trigger.utf8)), case .array(let words)? = parsed["keywords"] else { continue }
            for id in perAccount.keys where accountID == nil || accountID == id {
                for case .string(let word) in words { perAccount[id]!.add(word, action) }
            }
        }
        return perAccount
    }

    // MARK: Events

    /// Applies one raw event; throws only on database errors (the caller rolls back).
    mutating func apply(_ event: StoredWebhookEvent) throws -> ProcessingOutcome {
        guard event.signatureVerified else { return .rejected }
        let notification: WebhookNotification
        if let cached = decoded[event.id] {
            notification = cached
        } else {
            do {
                notification = try WebhookNotification.decode(event.body)
            } catch {
                return .invalid(Self.describe(error))
            }
        }
        guard notification.object == "whatsapp_business_account" else {
            return .invalid("not a WhatsApp Business Account notification (object is not whatsapp_business_account)")
        }
        var problems: [String] = []
        var appliedChanges = 0
        var unownedNumbers = 0
        for (entryIndex, entry) in notification.entries.enumerated() {
            for (changeIndex, change) in entry.changes.enumerated() {
                let path = "entry[\(entryIndex)].changes[\(changeIndex)]"
                switch try applyChange(change, entry: entry, event: event, path: path, problems: &problems) {
                case .applied: appliedChanges += 1
                case .unownedNumber: unownedNumbers += 1
                }
            }
        }
        if unownedNumbers > 0 && appliedChanges == 0 {
            return ProcessingOutcome(state: "unrouted", error: "no account of this site has the phone_number_id")
        }
        if unownedNumbers > 0 {
            problems.append("\(unownedNumbers) change(s) for a phone_number_id no account of this site has")
        }
        if problems.isEmpty { return .processed }
        return ProcessingOutcome(state: "partial", error: Self.joined(problems))
    }

    /// Writes the status events and conversation updates gathered over the batch.
    mutating func finish() throws {
        try flushInbound()
        if !messageStatuses.isEmpty {
            try MessageStatusWrite.apply(messageStatuses, site: site, now: now, on: connection)
            messageStatuses.removeAll()
        }
        try applyRecipientStatuses()
        try attributeReplies()
        // Many rows per statement; a status seen before keeps its row, and is marked applied if it is now.
        var start = 0
        while start < statusEventRows.count {
            let chunk = Array(statusEventRows[start..<min(start + 500, statusEventRows.count)])
            try connection.execute(try SQLQuery.insert(
                into: site.table(.statusEvents),
                columns: ["account_id", "contact_id", "wamid", "status", "status_at", "biz_opaque_callback_data", "error_code", "errors_json",
                          "pricing_json", "conversation_json", "webhook_event_id", "applied_at", "created_at"],
                rows: chunk, suffix: " ON DUPLICATE KEY UPDATE applied_at = COALESCE(applied_at, VALUES(applied_at))"))
            start += chunk.count
        }
        statusEventRows.removeAll()
        // A stable order, so concurrent writers (the bridge) lock rows in the same order; many rows per statement.
        let rows: [[MariaDBValue]] = conversations.sorted(by: { $0.key < $1.key }).map { key, delta in
            [.uint(key.accountID), .uint(key.contactID), .string("open"), .uint(UInt64(delta.unread)),
             delta.lastMessageID.map { .uint($0) } ?? .null, delta.lastMessageAt.map { .date($0) } ?? .null,
             delta.lastInboundAt.map { .date($0) } ?? .null, .date(now), .date(now)]
        }
        for chunk in rows.chunked(into: 200) {
            try connection.execute(try SQLQuery.insert(
                into: site.table(.conversations),
                columns: ["account_id", "contact_id", "state", "unread_count", "last_message_id", "last_message_at", "last_inbound_at",
                          "created_at", "updated_at"],
                rows: chunk, suffix: """
                    ON DUPLICATE KEY UPDATE
                        last_message_id = IF(VALUES(last_message_at) IS NOT NULL
                                             AND (last_message_at IS NULL OR VALUES(last_message_at) >= last_message_at),
                                             VALUES(last_message_id), last_message_id),
                        last_message_at = GREATEST(COALESCE(last_message_at, VALUES(last_message_at)), COALESCE(VALUES(last_message_at), last_message_at)),
                        last_inbound_at = GREATEST(COALESCE(last_inbound_at, VALUES(last_inbound_at)), COALESCE(VALUES(last_inbound_at), last_inbound_at)),
                        state = IF(VALUES(unread_count) > 0, 'open', state),
                        unread_count = unread_count + VALUES(unread_count),
                        updated_at = VALUES(updated_at)
                    """))
        }
        conversations.removeAll()
    }

    private enum ChangeResult { case applied, unownedNumber }

    private mutating func applyChange(_ change: WebhookChange, entry: WebhookEntry, event: StoredWebhookEvent, path: String,
                                      problems: inout [String]) throws -> ChangeResult {
        let entryTime = Self.wholeSeconds(entry.time.map { Date(timeIntervalSince1970: TimeInterval($0)) }) ?? event.receivedAt
        switch change.value {
        case .messages(let value):
            guard let account = accounts.account(phoneNumberID: value.metadata.phoneNumberID) else { return .unownedNumber }
            try applyMessages(value, account: account, event: event, path: path + ".value", problems: &problems)
        case .templateStatus(let update):
            try applyTemplateStatus(update, wabaID: entry.id, at: entryTime, path: path, problems: &problems)
        case .templateQuality(let update):
            try applyTemplateQuality(update, wabaID: entry.id, at: entryTime, path: path, problems: &problems)
        case .templateCategory(let update):
            try applyTemplateCategory(update, wabaID: entry.id, at: entryTime, path: path, problems: &problems)
        case .phoneNumberQuality(let update):
            try applyPhoneNumberQuality(update, wabaID: entry.id, at: entryTime)
        case .accountUpdate(let update):
            try applyAccountUpdate(update, wabaID: entry.id, at: entryTime)
        case .userPreferences(let preferences):
            try applyUserPreferences(preferences, wabaID: entry.id, event: event, path: path + ".value.user_preferences", problems: &problems)
        case .other:
            // Stored and deliberately ignored: fields this product does not act on.
            break
        }
        return .applied
    }

    // MARK: messages field

    private mutating func applyMessages(_ value: MessagesValue, account: AccountDirectory.Account, event: StoredWebhookEvent,
                                        path: String, problems: inout [String]) throws {
        for item in value.unreadableItems { problems.append("\(path).\(item): not a readable item") }
        for (index, message) in value.messages.enumerated() {
            if let problem = try applyInbound(message, contacts: value.contacts, account: account, event: event) {
                problems.append("\(path).messages[\(index)]: \(problem)")
            }
        }
        for (index, status) in value.statuses.enumerated() {
            if let problem = try applyStatus(status, account: account, event: event) {
                problems.append("\(path).statuses[\(index)]: \(problem)")
            }
        }
        if let error = value.errors.first {
            try connection.execute("""
                UPDATE \(site.table(.accounts))
                   SET last_error_code = \(error.code), last_error_details = \(Self.clipped(error.details ?? error.title, to: 1024)),
                       last_error_at = \(event.receivedAt), updated_at = \(now)
                 WHERE id = \(account.id) AND (last_error_at IS NULL OR last_error_at <= \(event.receivedAt))
                """)
        }
    }

    /// Applies one inbound message; returns why it could not be applied, or nil.
    private mutating func applyInbound(_ message: InboundMessage, contacts: [WebhookContact], account: AccountDirectory.Account,
                                       event: StoredWebhookEvent) throws -> String? {
        guard let wamid = Self.metaID(message.id, maxLength: 255) else { return "the message id is not a valid wamid" }
        // Already stored: a duplicate delivery or a replay.
        if prefetchedWamids.contains(wamid), messageContacts[wamid] != nil { return nil }
        if pendingWamids.contains(wamid) { return nil }  // twice in this batch
        guard let contactID = try upsertContact(ContactIdentity(sender: message, contacts: contacts), accountID: account.id, source: "inbound") else {
            return "the sender has neither a valid wa_id nor a user_id"
        }
        let messageAt = Self.wholeSeconds(message.timestamp) ?? event.receivedAt
        if message.type != "system" { inboundTimes[contactID] = min(inboundTimes[contactID] ?? messageAt, messageAt) }
        let fields = InboundFields(message)
        // A text that is a consent keyword as a whole (STOP, BAJA, START…) changes consent, at Meta's time (§6.4).
        if case .text(let text) = message.content, let (action, keyword) = consentKeywords[account.id]?.match(text) {
            try recordConsent(contactID: contactID, accountID: account.id, event: action.rawValue, source: "keyword",
                              detail: Self.clipped(keyword, to: 255), wamid: wamid, webhookEventID: event.id, at: messageAt)
        }
        var mediaID: UInt64?
        if let media = fields.media, let metaMediaID = Self.metaID(media.id, maxLength: 64) {
            mediaID = try insertMedia(media, metaMediaID: metaMediaID, accountID: account.id, contactID: contactID, receivedAt: messageAt)
            summary.mediaQueued += 1
        }
        summary.inboundByAccount[account.id, default: 0] += 1
        summary.items += 1
        let error = message.errors.first
        let row: [MariaDBValue] = [
            .uint(account.id), .uint(contactID), .string(wamid), .string("inbound"), .string(Self.messageType(message.type)), .string("customer"),
            fields.body.map { .string($0) } ?? .null, .string(message.raw.jsonText),
            Self.metaID(message.context?.id, maxLength: 255).map { .string($0) } ?? .null,
            Self.metaID(fields.targetWamid, maxLength: 255).map { .string($0) } ?? .null,
            .int(Int64(fields.forwarded(message.context))), Self.referralJSON(message).map { .string($0) } ?? .null,
            mediaID.map { .uint($0) } ?? .null, .string("received"), .date(messageAt), error.map { .int(Int64($0.code)) } ?? .null,
            error.flatMap { $0.details ?? $0.title }.map { .string($0) } ?? .null, .uint(event.id), .date(now), .date(now),
        ]
        let key = ConversationKey(accountID: account.id, contactID: contactID)
        let pending = PendingInbound(wamid: wamid, row: row, conversation: key, messageAt: messageAt, countsAsUnread: fields.countsAsUnread)
        guard message.hasEffectsOnOtherRows else {
            // Most messages: inserted with the rest of the batch's.
            pendingInbound.append(pending)
            pendingWamids.insert(wamid)
            return nil
        }
        // Edits, revokes and number changes act on rows that earlier messages may have created: those go in first.
        try flushInbound()
        let inserted = try connection.execute(try SQLQuery.insert(into: site.table(.messages), columns: Self.inboundColumns, rows: [row],
                                                                  verb: "INSERT IGNORE"))
        guard inserted.affectedRows == 1 else { return nil }  // seen before: a duplicate delivery or a replay

        // Effects on other rows happen once, with the message's first insert.
        switch message.content {
        case .edit(let original, _):
            try stamp("edited_at", on: original, at: messageAt)
        case .revoke(let original):
            try stamp("revoked_at", on: original, at: messageAt)
        case .system(_, let newWaID, let kind) where kind == "user_changed_number":
            if let newWaID, Self.isWaID(newWaID) { try changeNumber(of: contactID, to: newWaID, accountID: account.id) }
        default:
            break
        }
        conversations[key, default: ConversationDelta()].add(
            messageID: inserted.lastInsertID, at: messageAt, countsAsUnread: fields.countsAsUnread)
        return nil
    }

    /// Inserts the queued inbound messages, many per statement, and counts them into their conversations.
    private mutating func flushInbound() throws {
        guard !pendingInbound.isEmpty else { return }
        let pending = pendingInbound
        pendingInbound.removeAll()
        pendingWamids.removeAll()
        for chunk in pending.chunked(into: 200) {
            try connection.execute(try SQLQuery.insert(into: site.table(.messages), columns: Self.inboundColumns, rows: chunk.map(\.row),
                                                       verb: "INSERT IGNORE"))
        }
        // Rows this transaction inserted; a wamid stored before was found (and skipped) by the batch's prefetch.
        var ids: [String: UInt64] = [:]
        for chunk in pending.map(\.wamid).chunked(into: 1000) {
            for row in try connection.query("SELECT wamid, id FROM \(site.table(.messages)) WHERE wamid IN (\(list: chunk))") {
                ids[try row.decode(String.self, at: 0)] = try row.decode(UInt64.self, at: 1)
            }
        }
        for message in pending {
            guard let id = ids[message.wamid] else { continue }
            prefetchedWamids.insert(message.wamid)
            messageContacts[message.wamid] = message.conversation.contactID
            conversations[message.conversation, default: ConversationDelta()].add(
                messageID: id, at: message.messageAt, countsAsUnread: message.countsAsUnread)
        }
    }

    private func stamp(_ column: String, on wamid: String, at time: Date) throws {
        guard let wamid = Self.metaID(wamid, maxLength: 255) else { return }
        let column = try SQLIdentifier(column)
        try connection.execute("""
            UPDATE \(site.table(.messages)) SET \(column) = GREATEST(COALESCE(\(column), \(time)), \(time)), updated_at = \(now)
             WHERE wamid = \(wamid)
            """)
    }

    private func insertMedia(_ media: InboundMessage.Media, metaMediaID: String, accountID: UInt64, contactID: UInt64, receivedAt: Date) throws -> UInt64 {
        // Meta keeps inbound media for 7 days after receipt.
        let expires = receivedAt.addingTimeInterval(7 * 24 * 3600)
        let result = try connection.execute("""
            INSERT INTO \(site.table(.media))
                (account_id, contact_id, direction, meta_media_id, meta_media_expires_at, download_url, mime_type, sha256, file_name,
                 state, next_attempt_at, created_at, updated_at)
            VALUES (\(accountID), \(contactID), 'inbound', \(metaMediaID), \(expires), \(media.url), \(Self.ascii(media.mimeType, maxLength: 127)),
                    \(Self.ascii(media.sha256, maxLength: 88)), \(Self.clipped(media.filename, to: 255)), 'pending', \(now), \(now), \(now))
            ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)
            """)
        return result.lastInsertID
    }

    // MARK: Statuses (§6.2)

    private mutating func applyStatus(_ status: MessageStatus, account: AccountDirectory.Account, event: StoredWebhookEvent) throws -> String? {
        summary.items += 1
        guard let wamid = Self.metaID(status.id, maxLength: 255) else { return "the status names no valid wamid" }
        guard let statusValue = Self.ascii(status.state.rawValue, maxLength: 32) else { return "the status value is not readable" }
        let statusAt = Self.wholeSeconds(status.timestamp) ?? event.receivedAt
        let known = try messageContact(wamid)
        var contactID = known
        if contactID == nil {
            let identity = ContactIdentity(waID: status.recipientID, userID: status.recipientUserID)
            contactID = try upsertContact(identity, accountID: account.id, source: "status")
        }
        let error = status.errors.first
        let pricingType = Self.ascii(status.pricing?.type, maxLength: 32)
        let pricingCategory = Self.ascii(status.pricing?.category, maxLength: 32)
        // The message row was read under lock by prefetch(_:), so it stays until the batch's statuses are
        // written together by finish().
        let matched = known != nil
        if matched, let rank = status.state.rank {
            messageStatuses.append((wamid, .init(value: statusValue, rank: rank, at: statusAt, errorCode: error?.code,
                                                 errorDetails: error.flatMap { $0.details ?? $0.title },
                                                 pricingType: pricingType, pricingCategory: pricingCategory)))
        }
        // Any status for one of our sends means Meta accepted it: a send whose answer was lost (a crash,
        // a timeout) is settled here instead of being sent again (§6.5).
        if case .recipient(let recipientID, _)? = SendCallbackData(status.callbackData), let state = Self.recipientState(status.state) {
            recipientStatuses.append(RecipientStatus(accountID: account.id, recipientID: recipientID, state: state, at: statusAt, wamid: wamid,
                                                     errorCode: error?.code, errorDetails: Self.clipped(error.flatMap { $0.details ?? $0.title }, to: 1000)))
        }
        if case .outbox(let outboxID, _)? = SendCallbackData(status.callbackData) {
            try connection.execute("""
                UPDATE \(site.table(.outbox))
                   SET state = 'sent', state_reason = NULL, wamid = COALESCE(wamid, \(wamid)), sent_at = COALESCE(sent_at, \(statusAt)),
                       updated_at = \(now)
                 WHERE id = \(outboxID) AND account_id = \(account.id)
                   AND (state = 'sending' OR (state = 'queued' AND state_reason = 'reconciled_retry'))
                """)
        }
        statusEventRows.append([
            .uint(account.id), contactID.map { .uint($0) } ?? .null, .string(wamid), .string(statusValue), .date(statusAt),
            Self.clipped(status.callbackData, to: 512).map { .string($0) } ?? .null, error.map { .int(Int64($0.code)) } ?? .null,
            status.raw["errors"].map { .string($0.jsonText) } ?? .null, status.raw["pricing"].map { .string($0.jsonText) } ?? .null,
            status.conversation.map { .string($0.jsonText) } ?? .null, .uint(event.id), matched ? .date(now) : .null, .date(now),
        ])
        // The user turned off marketing messages: that is an opt-out (§6.4).
        if status.state == .failed, status.errors.contains(where: { $0.code == 131050 }), let contactID {
            try recordConsent(contactID: contactID, accountID: account.id, event: "opted_out", source: "meta_error_131050",
                              detail: "error 131050", wamid: wamid, webhookEventID: event.id, at: statusAt)
        }
        return contactID == nil ? "the status names no recipient; kept without a contact" : nil
    }

    /// The recipient state a Meta status gives; nil for statuses that do not move a recipient.
    private static func recipientState(_ state: MessageStatus.State) -> String? {
        switch state.rawValue {
        case "sent": "sent"
        case "delivered": "delivered"
        case "read", "played": "read"
        case "failed": "failed"
        default: nil
        }
    }

    /// Applies the batch's recipient statuses, a statement per account and state, in rank order. A state
    /// only moves a recipient forward (§5.13); its time is kept even when it does not. `state` is assigned
    /// last, so the assignments before it read the rank the row had. Failures of the halt class stop
    /// the recipient's campaign.
    private mutating func applyRecipientStatuses() throws {
        guard !recipientStatuses.isEmpty else { return }
        let statuses = recipientStatuses
        recipientStatuses.removeAll()
        let recipients = site.table(.campaignRecipients)
        let ranks = ["sent": 2, "delivered": 3, "read": 4, "failed": 5]
        let grouped = Dictionary(grouping: statuses) { "\($0.accountID) \($0.state)" }
        for key in grouped.keys.sorted(by: { ranks[$0.split(separator: " ")[1].description]! < ranks[$1.split(separator: " ")[1].description]! }) {
            let group = grouped[key]!
            let state = group[0].state
            let accountID = group[0].accountID
            func cases(_ value: (RecipientStatus) -> SQLQuery) -> SQLQuery {
                SQLQuery.caseOf("id", group, key: { .uint($0.recipientID) }, value: value)
            }
            let rank = ranks[state]!
            let timeColumn = try SQLIdentifier("\(state)_at")
            var failure: SQLQuery = ""
            if state == "failed" {
                failure = """
                    error_code = IF(state_rank < 5, \(cases { "\($0.errorCode)" }), error_code),
                    error_details = IF(state_rank < 5, \(cases { "\($0.errorDetails)" }), error_details),
                    """
            }
            try connection.execute("""
                UPDATE \(recipients)
                   SET wamid = COALESCE(wamid, \(cases { "\($0.wamid)" })), \(timeColumn) = COALESCE(\(timeColumn), \(cases { "\($0.at)" })),
                       \(failure)
                       state_reason = IF(state_rank < \(rank), \(state == "failed" ? "meta_error" : nil), state_reason),
                       claimed_by = IF(state_rank < 2, NULL, claimed_by), updated_at = \(now),
                       state = IF(state_rank < \(rank), \(state), state)
                 WHERE id IN (\(list: group.map(\.recipientID)))
                   AND campaign_id IN (SELECT id FROM \(site.table(.campaigns)) WHERE account_id = \(accountID))
                """)
        }
        // Halt-class failures that Meta reports by webhook (131048 spam rate, 132015 paused template…).
        let halting = statuses.filter { status in
            guard status.state == "failed", let code = status.errorCode, case .halt = GraphErrorAction.for(code: code, httpStatus: 400) else { return false }
            return true
        }
        for (code, group) in Dictionary(grouping: halting, by: { $0.errorCode! }) {
            for (accountID, list) in Dictionary(grouping: group, by: \.accountID) {
                let halted = try connection.execute("""
                    UPDATE \(site.table(.campaigns))
                       SET state = 'halted', state_reason = \(GraphErrorAction.haltReason(forCode: code)), error_code = \(code),
                           error_details = \(list[0].errorDetails), halted_at = \(now), updated_at = \(now)
                     WHERE state = 'running' AND account_id = \(accountID)
                       AND id IN (SELECT campaign_id FROM \(recipients) WHERE id IN (\(list: list.map(\.recipientID))))
                    """)
                if halted.affectedRows > 0 { summary.campaignsHalted = true }
            }
        }
    }

    /// Marks the campaign sends that these inbound messages answer: a contact's latest campaign message,
    /// when the contact wrote within 72 hours after it (§6.3).
    private mutating func attributeReplies() throws {
        guard !inboundTimes.isEmpty else { return }
        let times = inboundTimes
        inboundTimes.removeAll()
        guard let earliest = times.values.min() else { return }
        var latest: [UInt64: (id: UInt64, sentAt: Date, replied: Bool)] = [:]
        for chunk in Array(times.keys).chunked(into: 500) {
            for row in try connection.query("""
                SELECT contact_id, id, sent_at, replied_at IS NOT NULL FROM \(site.table(.campaignRecipients))
                 WHERE contact_id IN (\(list: chunk)) AND sent_at >= \(earliest.addingTimeInterval(-72 * 3600))
                """) {
                let contactID: UInt64 = try row.decode(at: 0)
                let sentAt: Date = try row.decode(at: 2)
                guard let inboundAt = times[contactID], sentAt <= inboundAt.addingTimeInterval(1) else { continue }
                if let known = latest[contactID], known.sentAt >= sentAt { continue }
                latest[contactID] = (try row.decode(at: 1), sentAt, try row.decode(Int.self, at: 3) != 0)
            }
        }
        for (contactID, recipient) in latest where !recipient.replied {
            guard let inboundAt = times[contactID], inboundAt.timeIntervalSince(recipient.sentAt) <= 72 * 3600 else { continue }
            try connection.execute("""
                UPDATE \(site.table(.campaignRecipients)) SET replied_at = \(inboundAt), updated_at = \(now)
                 WHERE id = \(recipient.id) AND replied_at IS NULL
                """)
        }
    }

    // MARK: Templates, account, preferences

    private func applyTemplateStatus(_ update: TemplateStatusUpdate, wabaID: String, at time: Date, path: String, problems: inout [String]) throws {
        guard let status = Self.ascii(update.event, maxLength: 32) else {
            problems.append("\(path): the template status is not readable")
            return
        }
        try upsertTemplate(wabaID: wabaID, templateID: update.templateID, name: update.templateName, language: update.language,
                           category: Self.ascii(update.category, maxLength: 32), status: status, path: path, problems: &problems,
                           assignments: """
                               status = IF(status_updated_at IS NULL OR status_updated_at <= \(time), \(status), status),
                               status_reason = IF(status_updated_at IS NULL OR status_updated_at <= \(time), \(Self.statusReason(update.reason)), status_reason),
                               status_updated_at = GREATEST(COALESCE(status_updated_at, \(time)), \(time))
                               """)
    }

    private func applyTemplateQuality(_ update: TemplateQualityUpdate, wabaID: String, at time: Date, path: String, problems: inout [String]) throws {
        let score = Self.ascii(update.newQualityScore, maxLength: 16)
        try upsertTemplate(wabaID: wabaID, templateID: update.templateID, name: update.templateName, language: update.language,
                           category: nil, status: nil, path: path, problems: &problems,
                           assignments: """
                               quality_score = IF(quality_updated_at IS NULL OR quality_updated_at <= \(time), \(score), quality_score),
                               quality_updated_at = GREATEST(COALESCE(quality_updated_at, \(time)), \(time))
                               """)
    }

    private func applyTemplateCategory(_ update: TemplateCategoryUpdate, wabaID: String, at time: Date, path: String, problems: inout [String]) throws {
        guard let category = Self.ascii(update.newCategory ?? update.correctCategory, maxLength: 32) else { return }
        let previous = Self.ascii(update.previousCategory, maxLength: 32)
        try upsertTemplate(wabaID: wabaID, templateID: update.templateID, name: update.templateName, language: update.language,
                           category: category, status: nil, path: path, problems: &problems,
                           assignments: """
                               previous_category = IF(category <=> \(category), previous_category, COALESCE(\(previous), category)),
                               category = \(category)
                               """)
    }

    /// Updates a template by Meta id, or creates its row (by name and language) when the sync has not listed it yet.
    private func upsertTemplate(wabaID: String, templateID: Int64?, name: String?, language: String?, category: String?, status: String?,
                                path: String, problems: inout [String], assignments: SQLQuery) throws {
        guard let wabaID = Self.metaID(wabaID, maxLength: 32) else {
            problems.append("\(path): the entry id is not a WABA id")
            return
        }
        let metaTemplateID = templateID.map(String.init)
        if let metaTemplateID {
            let updated = try connection.execute("""
                UPDATE \(site.table(.templates)) SET \(assignments), updated_at = \(now)
                 WHERE meta_template_id = \(metaTemplateID) AND waba_id = \(wabaID)
                """)
            if updated.affectedRows > 0 { return }
        }
        guard let name = Self.ascii(name, maxLength: 512), let language = Self.ascii(language, maxLength: 16) else {
            problems.append("\(path): a template this site has not synced, named without name and language")
            return
        }
        // The full sync fills in the components; until then the row says what the webhook said.
        try connection.execute("""
            INSERT INTO \(site.table(.templates))
                (waba_id, meta_template_id, name, language, category, status, components_json, created_at, updated_at)
            VALUES (\(wabaID), \(metaTemplateID), \(name), \(language), \(category), \(status ?? "PENDING"), '[]', \(now), \(now))
            ON DUPLICATE KEY UPDATE meta_template_id = COALESCE(VALUES(meta_template_id), meta_template_id)
            """)
        try connection.execute("""
            UPDATE \(site.table(.templates)) SET \(assignments), updated_at = \(now)
             WHERE waba_id = \(wabaID) AND name = \(name) AND language = \(language)
            """)
    }

    private func applyPhoneNumberQuality(_ update: PhoneNumberQualityUpdate, wabaID: String, at time: Date) throws {
        let tier = Self.ascii(update.maxDailyConversationsPerBusiness ?? update.currentLimit, maxLength: 32)
        let throughput: String? = update.event == "THROUGHPUT_UPGRADE" ? "HIGH" : nil
        var numberFilter: SQLQuery = ""
        if let display = update.displayPhoneNumber.map(Self.digits), !display.isEmpty {
            numberFilter = "AND display_phone_number = \(display)"
        }
        try connection.execute("""
            UPDATE \(site.table(.accounts))
               SET messaging_limit_tier = COALESCE(\(tier), messaging_limit_tier),
                   throughput_level = COALESCE(\(throughput), throughput_level),
                   limits_updated_at = \(time), updated_at = \(now)
             WHERE waba_id = \(wabaID) \(numberFilter) AND (limits_updated_at IS NULL OR limits_updated_at <= \(time))
            """)
    }

    private func applyAccountUpdate(_ update: AccountUpdate, wabaID: String, at time: Date) throws {
        guard let event = Self.ascii(update.event, maxLength: 64) else { return }
        var numberFilter: SQLQuery = ""
        if let number = update.phoneNumber.map(Self.digits), !number.isEmpty {
            numberFilter = "AND display_phone_number = \(number)"
        }
        try connection.execute("""
            UPDATE \(site.table(.accounts)) SET account_event = \(event), account_event_at = \(time), updated_at = \(now)
             WHERE waba_id = \(wabaID) \(numberFilter) AND (account_event_at IS NULL OR account_event_at <= \(time))
            """)
    }

    private mutating func applyUserPreferences(_ preferences: [UserPreference], wabaID: String, event: StoredWebhookEvent, path: String,
                                               problems: inout [String]) throws {
        let accountIDs = accounts.accounts(wabaID: wabaID)
        guard !accountIDs.isEmpty else {
            problems.append("\(path): no account of this site is in the WABA")
            return
        }
        for (index, preference) in preferences.enumerated() {
            let consentEvent: String
            switch preference.value {
            case "stop": consentEvent = "opted_out"
            case "resume": consentEvent = "opted_in"
            default:
                problems.append("\(path)[\(index)]: unknown preference value")
                continue
            }
            let at = Self.wholeSeconds(preference.timestamp) ?? event.receivedAt
            let identity = ContactIdentity(waID: preference.waID, userID: preference.userID)
            // A WABA-level event: the user is a contact of each of the WABA's numbers here.
            for accountID in accountIDs {
                guard let contactID = try existingContact(identity, accountID: accountID) else { continue }
                try recordConsent(contactID: contactID, accountID: accountID, event: consentEvent, source: "meta_user_preferences",
                                  detail: Self.clipped(preference.category, to: 255), wamid: nil, webhookEventID: event.id, at: at)
            }
        }
    }

    /// Records a consent change and applies it unless a newer change is already in force (§6.4).
    private func recordConsent(contactID: UInt64, accountID: UInt64, event: String, source: String, detail: String?, wamid: String?,
                               webhookEventID: UInt64, at time: Date) throws {
        try connection.execute("""
            INSERT IGNORE INTO \(site.table(.consentEvents))
                (account_id, contact_id, event, source, detail, wamid, webhook_event_id, occurred_at, created_at)
            VALUES (\(accountID), \(contactID), \(event), \(source), \(detail), \(wamid), \(webhookEventID), \(time), \(now))
            """)
        try connection.execute("""
            UPDATE \(site.table(.contacts))
               SET consent_state = \(event), consent_source = \(source), consent_changed_at = \(time), updated_at = \(now)
             WHERE id = \(contactID) AND (consent_changed_at IS NULL OR consent_changed_at <= \(time))
            """)
    }

    // MARK: Contacts (§5.3)

    /// Finds or creates the contact, fills in identity and profile; nil when the identity is not usable.
    private mutating func upsertContact(_ identity: ContactIdentity, accountID: UInt64, source: String) throws -> UInt64? {
        let waID = identity.waID.flatMap { Self.isWaID($0) ? $0 : nil }
        let userID = Self.ascii(identity.userID, maxLength: 160)
        guard waID != nil || userID != nil else { return nil }
        let parentUserID = Self.ascii(identity.parentUserID, maxLength: 160)
        let username = Self.clipped(identity.username, to: 100)
        let profileName = Self.clipped(identity.profileName, to: 255)
        let wanted = KnownContact(id: 0, waID: waID, userID: userID, parentUserID: parentUserID, username: username, profileName: profileName)
        let byWaID = waID.flatMap { knownContacts[.waID(accountID, $0)] }
        let byUserID = userID.flatMap { knownContacts[.userID(accountID, $0)] }
        if let known = byWaID ?? byUserID, byWaID == nil || byUserID == nil || byWaID!.id == byUserID!.id, known.covers(wanted) {
            return known.id
        }
        let existing = try connection.query("""
            SELECT id, wa_id, user_id, parent_user_id, username, profile_name FROM \(site.table(.contacts))
             WHERE account_id = \(accountID) AND (wa_id = \(waID) OR user_id = \(userID)) ORDER BY id
            """)
        if existing.isEmpty {
            let inserted = try connection.execute("""
                INSERT INTO \(site.table(.contacts))
                    (account_id, wa_id, user_id, parent_user_id, username, profile_name, source, created_at, updated_at)
                VALUES (\(accountID), \(waID), \(userID), \(parentUserID), \(username), \(profileName), \(source), \(now), \(now))
                ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)
                """)
            // A row that appeared meanwhile (the bridge's insert) is completed like a found one.
            if inserted.affectedRows == 1 {
                remember(KnownContact(id: inserted.lastInsertID, waID: waID, userID: userID, parentUserID: parentUserID,
                                      username: username, profileName: profileName), accountID: accountID)
                return inserted.lastInsertID
            }
        }
        let contactID: UInt64
        if existing.isEmpty {
            contactID = try connection.queryFirst("""
                SELECT id FROM \(site.table(.contacts)) WHERE account_id = \(accountID) AND (wa_id = \(waID) OR user_id = \(userID)) ORDER BY id LIMIT 1
                """)!.decode(UInt64.self, at: 0)
        } else {
            contactID = try existing[0].decode(UInt64.self, at: 0)
            // The same person known by phone in one row and by BSUID in another: keep the older row.
            for duplicate in existing.dropFirst() { try merge(try duplicate.decode(UInt64.self, at: 0), into: contactID) }
        }
        // Only write when something is new: most messages come from contacts already complete.
        let found = existing.count == 1 ? try KnownContact(existing[0]) : nil
        if found?.covers(wanted) != true {
            try connection.execute("""
                UPDATE \(site.table(.contacts))
                   SET wa_id = COALESCE(wa_id, \(waID)), user_id = COALESCE(user_id, \(userID)),
                       parent_user_id = COALESCE(\(parentUserID), parent_user_id), username = COALESCE(\(username), username),
                       profile_name = COALESCE(\(profileName), profile_name), updated_at = \(now)
                 WHERE id = \(contactID)
                """)
        }
        if let found {
            // The row as the UPDATE left it, without reading it back.
            forgetContact(contactID)
            remember(KnownContact(id: contactID, waID: found.waID ?? waID, userID: found.userID ?? userID,
                                  parentUserID: parentUserID ?? found.parentUserID, username: username ?? found.username,
                                  profileName: profileName ?? found.profileName), accountID: accountID)
        } else {
            try rememberContact(contactID, accountID: accountID)
        }
        return contactID
    }

    private func existingContact(_ identity: ContactIdentity, accountID: UInt64) throws -> UInt64? {
        let waID = identity.waID.flatMap { Self.isWaID($0) ? $0 : nil }
        let userID = Self.ascii(identity.userID, maxLength: 160)
        guard waID != nil || userID != nil else { return nil }
        return try connection.queryFirst("""
            SELECT id FROM \(site.table(.contacts)) WHERE account_id = \(accountID) AND (wa_id = \(waID) OR user_id = \(userID)) ORDER BY id LIMIT 1
            """)?.decode(UInt64.self, at: 0)
    }

    /// `user_changed_number`: the contact's `wa_id` becomes the new one, merging with a row that already has it.
    private mutating func changeNumber(of contactID: UInt64, to newWaID: String, accountID: UInt64) throws {
        if let other = try connection.queryFirst("""
            SELECT id FROM \(site.table(.contacts)) WHERE account_id = \(accountID) AND wa_id = \(newWaID)
            """)?.decode(UInt64.self, at: 0), other != contactID {
            let (kept, removed) = (min(other, contactID), max(other, contactID))
            try merge(removed, into: kept)
            if kept != contactID { return }
        }
        try connection.execute("UPDATE \(site.table(.contacts)) SET wa_id = \(newWaID), updated_at = \(now) WHERE id = \(contactID)")
        forgetContact(contactID)
    }

    /// Moves everything of contact `removed` onto `kept`, deletes `removed` and writes an audit entry.
    private mutating func merge(_ removed: UInt64, into kept: UInt64) throws {
        try flushInbound()  // their contact ids must be moved too
        let identity = try connection.queryFirst("""
            SELECT wa_id, user_id, parent_user_id, username, profile_name FROM \(site.table(.contacts)) WHERE id = \(removed)
            """)
        for table in [CloudChatTable.messages, .statusEvents, .media, .outbox, .campaignRecipients] {
            try connection.execute("UPDATE \(site.table(table)) SET contact_id = \(kept) WHERE contact_id = \(removed)")
        }
        for table in [CloudChatTable.consentEvents, .contactTags] {
            try connection.execute("UPDATE IGNORE \(site.table(table)) SET contact_id = \(kept) WHERE contact_id = \(removed)")
            try connection.execute("DELETE FROM \(site.table(table)) WHERE contact_id = \(removed)")
        }
        // Two inbox rows become one: the kept contact's row takes the other's counters and times.
        if let other = try connection.queryFirst("""
            SELECT unread_count, last_message_id, last_message_at, last_inbound_at FROM \(site.table(.conversations)) WHERE contact_id = \(removed)
            """) {
            let moved = try connection.execute("""
                UPDATE IGNORE \(site.table(.conversations)) SET contact_id = \(kept) WHERE contact_id = \(removed)
                """)
            if moved.affectedRows == 0 {
                let accountID = try connection.queryFirst("SELECT account_id FROM \(site.table(.contacts)) WHERE id = \(kept)")!.decode(UInt64.self, at: 0)
                var delta = ConversationDelta()
                delta.unread = try other.decode(UInt32.self, at: 0)
                delta.lastMessageID = try other.decode(UInt64?.self, at: 1)
                delta.lastMessageAt = try other.decode(Date?.self, at: 2)
                delta.lastInboundAt = try other.decode(Date?.self, at: 3)
                conversations[ConversationKey(accountID: accountID, contactID: kept), default: ConversationDelta()].merge(delta)
                try connection.execute("DELETE FROM \(site.table(.conversations)) WHERE contact_id = \(removed)")
            }
        }
        try connection.execute("DELETE FROM \(site.table(.contacts)) WHERE id = \(removed)")
        // Identity columns the kept row lacks come from the removed one.
        if let identity {
            try connection.execute("""
                UPDATE \(site.table(.contacts))
                   SET wa_id = COALESCE(wa_id, \(try identity.decode(String?.self, at: 0))),
                       user_id = COALESCE(user_id, \(try identity.decode(String?.self, at: 1))),
                       parent_user_id = COALESCE(parent_user_id, \(try identity.decode(String?.self, at: 2))),
                       username = COALESCE(username, \(try identity.decode(String?.self, at: 3))),
                       profile_name = COALESCE(profile_name, \(try identity.decode(String?.self, at: 4))), updated_at = \(now)
                 WHERE id = \(kept)
                """)
        }
        try connection.execute("""
            INSERT INTO \(site.table(.auditLog)) (occurred_at, actor_type, action, object_type, object_id, details_json)
            VALUES (\(now), 'daemon', 'contact.merged', 'contact', \(kept), \(#"{"merged_contact_id":\#(removed)}"#))
            """)
        forgetContact(removed)
        forgetContact(kept)
        for (wamid, contact) in messageContacts where contact == removed { messageContacts[wamid] = kept }
        conversations = conversations.filter { $0.key.contactID != removed }
    }

    // MARK: Batch look-ups

    /// Decodes the batch's bodies and looks up, in a few statements, the messages and contacts it names,
    /// creating the contacts that are new. Everything it learns saves a statement per item later.
    mutating func prefetch(_ events: [StoredWebhookEvent]) throws {
        var wamids: Set<String> = []
        var identities: [UInt64: [(identity: ContactIdentity, source: String)]] = [:]
        var statusRecipients: [(accountID: UInt64, wamid: String, identity: ContactIdentity)] = []
        for event in events where event.signatureVerified {
            guard let notification = try? WebhookNotification.decode(event.body) else { continue }
            decoded[event.id] = notification
            for entry in notification.entries {
                for change in entry.changes {
                    guard case .messages(let value) = change.value,
                          let account = accounts.account(phoneNumberID: value.metadata.phoneNumberID) else { continue }
                    for message in value.messages {
                        if let wamid = Self.metaID(message.id, maxLength: 255) { wamids.insert(wamid) }
                        identities[account.id, default: []].append((ContactIdentity(sender: message, contacts: value.contacts), "inbound"))
                    }
                    for status in value.statuses {
                        guard let wamid = Self.metaID(status.id, maxLength: 255) else { continue }
                        wamids.insert(wamid)
                        statusRecipients.append((account.id, wamid, ContactIdentity(waID: status.recipientID, userID: status.recipientUserID)))
                    }
                }
            }
        }
        // A locking read: where a message is not there yet its gap stays locked until commit, so a sender
        // inserting it meanwhile waits, then finds the status unapplied and applies it (§6.2).
        for chunk in Array(wamids).sorted().chunked(into: 1000) {
            for row in try connection.query("""
                SELECT wamid, contact_id FROM \(site.table(.messages)) WHERE wamid IN (\(list: chunk)) FOR UPDATE
                """) {
                messageContacts[try row.decode(String.self, at: 0)] = try row.decode(UInt64.self, at: 1)
            }
        }
        prefetchedWamids = wamids
        for recipient in statusRecipients where messageContacts[recipient.wamid] == nil {
            identities[recipient.accountID, default: []].append((recipient.identity, "status"))
        }
        for (accountID, list) in identities.sorted(by: { $0.key < $1.key }) {
            try prefetchContacts(list, accountID: accountID)
        }
    }

    /// Loads the batch's contacts of one account and inserts, in one statement, those no row has yet.
    private mutating func prefetchContacts(_ list: [(identity: ContactIdentity, source: String)], accountID: UInt64) throws {
        let waIDs = Set(list.compactMap { $0.identity.waID.flatMap { Self.isWaID($0) ? $0 : nil } })
        let userIDs = Set(list.compactMap { Self.ascii($0.identity.userID, maxLength: 160) })
        guard !waIDs.isEmpty || !userIDs.isEmpty else { return }
        try loadContacts(accountID: accountID, waIDs: waIDs, userIDs: userIDs)
        // New people, each once, in a stable order (concurrent inserts then lock in the same order).
        var fresh: [String: (identity: ContactIdentity, source: String)] = [:]
        for item in list {
            let waID = item.identity.waID.flatMap { Self.isWaID($0) ? $0 : nil }
            let userID = Self.ascii(item.identity.userID, maxLength: 160)
            guard waID != nil || userID != nil,
                  waID.flatMap({ knownContacts[.waID(accountID, $0)] }) == nil,
                  userID.flatMap({ knownContacts[.userID(accountID, $0)] }) == nil else { continue }
            let key = waID ?? ("u:" + userID!)
            if let earlier = fresh[key], earlier.identity.waID != nil, earlier.identity.userID != nil || userID == nil { continue }
            fresh[key] = (ContactIdentity(waID: waID, userID: userID, parentUserID: item.identity.parentUserID,
                                          profileName: item.identity.profileName ?? fresh[key]?.identity.profileName,
                                          username: item.identity.username), fresh[key]?.source == "inbound" ? "inbound" : item.source)
        }
        guard !fresh.isEmpty else { return }
        let rows: [[MariaDBValue]] = fresh.sorted(by: { $0.key < $1.key }).map { _, item in
            let identity = item.identity
            return [.uint(accountID), identity.waID.map { .string($0) } ?? .null, identity.userID.map { .string($0) } ?? .null,
                    Self.ascii(identity.parentUserID, maxLength: 160).map { .string($0) } ?? .null,
                    Self.clipped(identity.username, to: 100).map { .string($0) } ?? .null,
                    Self.clipped(identity.profileName, to: 255).map { .string($0) } ?? .null,
                    .string(item.source), .date(now), .date(now)]
        }
        try connection.execute(try SQLQuery.insert(
            into: site.table(.contacts),
            columns: ["account_id", "wa_id", "user_id", "parent_user_id", "username", "profile_name", "source", "created_at", "updated_at"],
            rows: rows, suffix: " ON DUPLICATE KEY UPDATE id = id"))
        try loadContacts(accountID: accountID, waIDs: Set(fresh.values.compactMap(\.identity.waID)),
                         userIDs: Set(fresh.values.compactMap(\.identity.userID)))
    }

    private mutating func loadContacts(accountID: UInt64, waIDs: Set<String>, userIDs: Set<String>) throws {
        let rows = try connection.query("""
            SELECT id, wa_id, user_id, parent_user_id, username, profile_name FROM \(site.table(.contacts))
             WHERE account_id = \(accountID) AND (wa_id IN (\(list: waIDs.sorted())) OR user_id IN (\(list: userIDs.sorted())))
            """)
        for row in rows { remember(try KnownContact(row), accountID: accountID) }
    }

    private mutating func remember(_ contact: KnownContact, accountID: UInt64) {
        var lookups: [ContactLookup] = []
        if let waID = contact.waID { lookups.append(.waID(accountID, waID)) }
        if let userID = contact.userID { lookups.append(.userID(accountID, userID)) }
        for lookup in lookups {
            // A lookup taken over from another contact no longer leads to that one.
            if let previous = knownContacts[lookup]?.id, previous != contact.id { knownContactLookups[previous]?.removeAll { $0 == lookup } }
            knownContacts[lookup] = contact
        }
        let filed = knownContactLookups[contact.id] ?? []
        knownContactLookups[contact.id] = filed + lookups.filter { !filed.contains($0) }
    }

    private mutating func rememberContact(_ id: UInt64, accountID: UInt64) throws {
        forgetContact(id)
        if let row = try connection.queryFirst("""
            SELECT id, wa_id, user_id, parent_user_id, username, profile_name FROM \(site.table(.contacts)) WHERE id = \(id)
            """) {
            remember(try KnownContact(row), accountID: accountID)
        }
    }

    private mutating func forgetContact(_ id: UInt64) {
        for lookup in knownContactLookups.removeValue(forKey: id) ?? [] where knownContacts[lookup]?.id == id {
            knownContacts[lookup] = nil
        }
    }

    /// The contact of an existing message, or nil when there is no such message (locking its gap).
    private mutating func messageContact(_ wamid: String) throws -> UInt64? {
        if pendingWamids.contains(wamid) { try flushInbound() }
        if prefetchedWamids.contains(wamid) { return messageContacts[wamid] }
        let contact = try connection.queryFirst("SELECT contact_id FROM \(site.table(.messages)) WHERE wamid = \(wamid) FOR UPDATE")?
            .decode(UInt64.self, at: 0)
        prefetchedWamids.insert(wamid)
        messageContacts[wamid] = contact
        return contact
    }

    // MARK: Values

    /// A Meta id or code: printable ASCII without spaces, within the column's length; nil otherwise.
    static func metaID(_ value: String?, maxLength: Int) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= maxLength,
              value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return value
    }

    /// Printable ASCII (spaces allowed) within the column's length; nil otherwise.
    static func ascii(_ value: String?, maxLength: Int) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= maxLength,
              value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return value
    }

    /// Text cut to a column's length in characters.
    static func clipped(_ value: String?, to length: Int) -> String? {
        guard let value else { return nil }
        return value.count <= length ? value : String(value.prefix(length))
    }

    static func isWaID(_ value: String) -> Bool {
        let bytes = value.utf8
        return (6...20).contains(bytes.count) && bytes.first != 0x30 && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    static func digits(_ value: String) -> String { String(value.filter(\.isASCII).filter(\.isNumber)) }

    /// A Meta time in whole seconds; nil for one no DATETIME column holds (a huge or negative number in a
    /// hostile body), so the caller falls back to the time the body was received.
    static func wholeSeconds(_ date: Date?) -> Date? {
        guard let seconds = date?.timeIntervalSince1970, (0..<253_402_300_800).contains(seconds) else { return nil }
        return Date(timeIntervalSince1970: seconds.rounded(.down))
    }

    static func messageType(_ type: String) -> String { metaID(type, maxLength: 32) ?? "unknown" }

    static func statusReason(_ reason: String?) -> String? {
        guard let reason, reason != "NONE" else { return nil }
        return clipped(reason, to: 255)
    }

    static func referralJSON(_ message: InboundMessage) -> String? { message.raw["referral"]?.jsonText }

    static func joined(_ problems: [String]) -> String {
        let text = problems.joined(separator: "; ")
        return text.utf8.count <= 1024 ? text : String(text.prefix(1000)) + "; …"
    }

    /// A decoding error as a path and a kind, never quoting the body.
    static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the top level" : String(keys.drop(while: { $0 == "." }))
        }
        switch error {
        case DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty:
            return "the body is not valid JSON"
        case DecodingError.dataCorrupted(let context):
            return "unreadable value at \(path(context))"
        case DecodingError.keyNotFound(let key, let context):
            return "not a WhatsApp notification: \(key.stringValue) is missing at \(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "not a WhatsApp notification: unexpected value at \(path(context))"
        default:
            return "the body could not be read"
        }
    }
}

// MARK: - Batch bookkeeping

/// The accounts of one site, by number and by WABA.
struct AccountDirectory {
    struct Account { let id: UInt64; let wabaID: String }
    private var byPhoneNumberID: [String: Account] = [:]
    private var byWabaID: [String: [UInt64]] = [:]

    static func load(site: WordPressSite, on connection: MariaDBConnection) throws -> AccountDirectory {
        var directory = AccountDirectory()
        for row in try connection.query("SELECT id, phone_number_id, waba_id FROM \(site.table(.accounts)) ORDER BY id") {
            let account = Account(id: try row.decode(UInt64.self, at: 0), wabaID: try row.decode(String.self, at: 2))
            directory.byPhoneNumberID[try row.decode(String.self, at: 1)] = account
            directory.byWabaID[account.wabaID, default: []].append(account.id)
        }
        return directory
    }

    func account(phoneNumberID: String) -> Account? { byPhoneNumberID[phoneNumberID] }
    var allAccountIDs: [UInt64] { byPhoneNumberID.values.map(\.id) }
    func accounts(wabaID: String) -> [UInt64] { byWabaID[wabaID] ?? [] }
}

struct ContactIdentity {
    var waID: String?
    var userID: String?
    var parentUserID: String?
    var profileName: String?
    var username: String?
}

extension ContactIdentity {
    /// The sender of an inbound message, with the profile from the change's `contacts[]` that matches it
    /// (or the only one there).
    init(sender message: InboundMessage, contacts: [WebhookContact]) {
        let profile = contacts.first { ($0.waID != nil && $0.waID == message.from) || ($0.userID != nil && $0.userID == message.fromUserID) }
            ?? (contacts.count == 1 ? contacts[0] : nil)
        self.init(waID: message.from ?? profile?.waID, userID: message.fromUserID ?? profile?.userID,
                  parentUserID: profile?.parentUserID, profileName: profile?.profileName, username: profile?.username)
    }
}

enum ContactLookup: Hashable {
    case waID(UInt64, String)
    case userID(UInt64, String)
}

/// A contact row's identity and profile, as this batch last saw it.
struct KnownContact: Equatable {
    let id: UInt64
    let waID: String?
    let userID: String?
    let parentUserID: String?
    let username: String?
    let profileName: String?

    /// Whether the row already holds everything `wanted` would write.
    func covers(_ wanted: KnownContact) -> Bool {
        (wanted.waID == nil || waID == wanted.waID) && (wanted.userID == nil || userID == wanted.userID)
            && (wanted.parentUserID == nil || parentUserID == wanted.parentUserID)
            && (wanted.username == nil || username == wanted.username)
            && (wanted.profileName == nil || profileName == wanted.profileName)
    }
}

extension KnownContact {
    /// A row selected as `id, wa_id, user_id, parent_user_id, username, profile_name`.
    init(_ row: MariaDBRow) throws {
        self.init(id: try row.decode(at: 0), waID: try row.decode(at: 1), userID: try row.decode(at: 2),
                  parentUserID: try row.decode(at: 3), username: try row.decode(at: 4), profileName: try row.decode(at: 5))
    }
}

struct ConversationKey: Hashable, Comparable {
    let accountID: UInt64
    let contactID: UInt64

    static func < (lhs: ConversationKey, rhs: ConversationKey) -> Bool {
        (lhs.accountID, lhs.contactID) < (rhs.accountID, rhs.contactID)
    }
}

/// What a batch adds to one conversation.
struct ConversationDelta {
    var unread: UInt32 = 0
    var lastMessageID: UInt64?
    var lastMessageAt: Date?
    var lastInboundAt: Date?

    mutating func add(messageID: UInt64, at time: Date, countsAsUnread: Bool) {
        if countsAsUnread { unread += 1 }
        if lastMessageAt.map({ time >= $0 }) ?? true {
            lastMessageAt = time
            lastMessageID = messageID
        }
        lastInboundAt = max(lastInboundAt ?? time, time)
    }

    mutating func merge(_ other: ConversationDelta) {
        unread += other.unread
        if let at = other.lastMessageAt, let id = other.lastMessageID { add(messageID: id, at: at, countsAsUnread: false) }
        if let inbound = other.lastInboundAt { lastInboundAt = max(lastInboundAt ?? inbound, inbound) }
    }
}

/// The columns an inbound message fills besides its ids.
struct InboundFields {
    var body: String?
    var media: InboundMessage.Media?
    var targetWamid: String?
    var countsAsUnread = true

    init(_ message: InboundMessage) {
        switch message.content {
        case .text(let text): body = text
        case .image(let media), .video(let media), .audio(let media), .document(let media), .sticker(let media):
            self.media = media
            body = media.caption
        case .location(let location): body = location.name ?? location.address
        case .interactive(.buttonReply(_, let title)), .interactive(.listReply(_, let title, _)): body = title
        case .interactive(.flowReply(_, let text, _)): body = text
        case .button(_, let text): body = text
        case .reaction(let target, let emoji):
            body = emoji
            targetWamid = target
            countsAsUnread = false
        case .order(_, let text, _): body = text
        case .system(let text, _, _):
            body = text
            countsAsUnread = false
        case .edit(let original, let edited):
            targetWamid = original
            body = edited?["text"]?["body"]?.stringValue
            countsAsUnread = false
        case .revoke(let original):
            targetWamid = original
            countsAsUnread = false
        case .requestWelcome:
            countsAsUnread = false
        case .contacts, .interactive(.other), .unsupported, .unknown:
            break
        }
    }

    func forwarded(_ context: InboundMessage.Context?) -> Int {
        if context?.frequentlyForwarded == true { return 2 }
        return context?.forwarded == true ? 1 : 0
    }
}

extension InboundMessage {
    /// Whether storing the message also changes other rows (the message it edits or revokes, the sender's number).
    var hasEffectsOnOtherRows: Bool {
        switch content {
        case .edit, .revoke: true
        case .system(_, _, let kind): kind == "user_changed_number"
        default: false
        }
    }
}

/// What a batch of events led to beyond its own rows: inbound messages per account
/// (Meta counts them against the number's throughput) and media queued for download.
public struct AppliedSummary: Sendable, Equatable {
    /// New inbound messages per account id.
    public var inboundByAccount: [UInt64: Int] = [:]
    /// Media rows queued for download.
    public var mediaQueued = 0
    /// Messages and statuses applied: the work a transaction did.
    public var items = 0
    /// A campaign was halted by a failure Meta reported by webhook.
    public var campaignsHalted = false

    public init() {}

    /// Nothing another worker needs to hear about.
    public var isEmpty: Bool { inboundByAccount.isEmpty && mediaQueued == 0 && !campaignsHalted }

    mutating func add(_ other: AppliedSummary) {
        inboundByAccount.merge(other.inboundByAccount, uniquingKeysWith: +)
        mediaQueued += other.mediaQueued
        campaignsHalted = campaignsHalted || other.campaignsHalted
        items += other.items
    }
}
