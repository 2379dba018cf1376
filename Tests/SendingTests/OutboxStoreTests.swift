import Foundation
import MariaDB
@testable import Sending
import TestSupport
import Testing
import WordPressStore

/// A site with one account and one contact, and rows put in its outbox.
struct OutboxFixture {
    let scratch: ScratchSite
    let accountID: UInt64
    let contactID: UInt64
    var site: WordPressSite { scratch.site }
    var connection: MariaDBConnection { scratch.connection }

    init(_ stem: String, phoneNumberID: String = "106540352242922", waID: String = "16505551234", lastInboundAt: Date? = Date()) throws {
        scratch = try ScratchSite(stem)
        accountID = try scratch.connection.execute("""
            INSERT INTO \(scratch.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES ('102290129340398', \(phoneNumberID), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
        contactID = try Self.addContact(waID, lastInboundAt: lastInboundAt, accountID: accountID, site: scratch.site, on: scratch.connection)
    }

    static func addContact(_ waID: String, lastInboundAt: Date?, accountID: UInt64, site: WordPressSite, on connection: MariaDBConnection) throws -> UInt64 {
        let contactID = try connection.execute("""
            INSERT INTO \(site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
            VALUES (\(accountID), \(waID), 'inbound', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
        if let lastInboundAt {
            try connection.execute("""
                INSERT INTO \(site.table(.conversations)) (account_id, contact_id, last_inbound_at, created_at, updated_at)
                VALUES (\(accountID), \(contactID), \(lastInboundAt), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
        }
        return contactID
    }

    /// Queues a row as the plugin does.
    @discardableResult
    func queue(type: String = "text", payload: String = #"{"type":"text","text":{"body":"Your order has shipped"}}"#, priority: Int = 1,
               contactID: UInt64? = nil, source: String = "agent") throws -> UInt64 {
        try connection.execute("""
            INSERT INTO \(site.table(.outbox)) (account_id, contact_id, priority, type, payload_json, source, next_attempt_at, created_at, updated_at)
            VALUES (\(accountID), \(contactID ?? self.contactID), \(priority), \(type), \(payload), \(source), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6),
                    UTC_TIMESTAMP(6))
            """).lastInsertID
    }

    func outbox(_ id: UInt64) throws -> MariaDBRow {
        try #require(try connection.queryFirst("""
            SELECT state, state_reason, attempt_count, wamid, message_id, error_code, error_details FROM \(site.table(.outbox)) WHERE id = \(id)
            """))
    }

    func drop() { scratch.drop() }
}

@Suite("Outbox store", .timeLimit(.minutes(1)))
struct OutboxStoreTests {
    @Test func claimsInLaneOrderAndOnlyOnce() throws {
        let fixture = try OutboxFixture("ob")
        defer { fixture.drop() }
        let bulk = try fixture.queue(priority: 2)
        let reply = try fixture.queue(priority: 0)
        let store = SendStore(site: fixture.site, accountID: fixture.accountID, instanceID: "a")
        let claimed = try store.claim(limit: 10, on: fixture.connection)
        #expect(claimed.map(\.origin.rowID) == [reply, bulk])
        #expect(claimed.map(\.attempt) == [1, 1])
        #expect(claimed.first?.recipient == "16505551234")
        #expect(try store.claim(limit: 10, on: fixture.connection).isEmpty)
        #expect(try fixture.outbox(reply).decode(String.self, at: 0) == "sending")
    }

    @Test func statusesThatCameFirstAreAppliedWhenTheMessageIsRecorded() throws {
        let fixture = try OutboxFixture("ob")
        defer { fixture.drop() }
        let id = try fixture.queue()
        let store = SendStore(site: fixture.site, accountID: fixture.accountID, instanceID: "a")
        let item = try #require(try store.claim(limit: 1, on: fixture.connection).first)
        // The status webhooks beat the send's answer: the processor kept them, unapplied.
        for (status, offset) in [("delivered", 2.0), ("sent", 1.0)] {
            try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.statusEvents)) (account_id, contact_id, wamid, status, status_at, created_at)
                VALUES (\(fixture.accountID), \(fixture.contactID), 'wamid.EARLY', \(status), \(Date(timeIntervalSince1970: 1_750_000_000 + offset)),
                        UTC_TIMESTAMP(6))
                """)
        }
        let messageID = try store.recordAccepted(item, .init(wamid: "wamid.EARLY", status: "accepted", payloadJSON: "{}", body: "hi"),
                                                 now: Date(), on: fixture.connection)
        let message = try #require(try fixture.connection.queryFirst("""
            SELECT status, sent_at IS NOT NULL, delivered_at IS NOT NULL, outbox_id FROM \(fixture.site.table(.messages)) WHERE id = \(messageID)
            """))
        #expect(try message.decode(String.self, at: 0) == "delivered")
        #expect(try message.decode(Int.self, at: 1) == 1)
        #expect(try message.decode(Int.self, at: 2) == 1)
        #expect(try message.decode(UInt64.self, at: 3) == id)
        let unapplied = try fixture.connection.queryFirst("SELECT COUNT(*) FROM \(fixture.site.table(.statusEvents)) WHERE applied_at IS NULL")
        #expect(try unapplied?.decode(Int.self, at: 0) == 0)
        let row = try fixture.outbox(id)
        #expect(try row.decode(String.self, at: 0) == "sent")
        #expect(try row.decode(String?.self, at: 3) == "wamid.EARLY")
        #expect(try row.decode(UInt64?.self, at: 4) == messageID)
    }

    @Test func aStaleAnswerCannotOverwriteALaterAttempt() throws {
        let fixture = try OutboxFixture("ob")
        defer { fixture.drop() }
        let id = try fixture.queue()
        let store = SendStore(site: fixture.site, accountID: fixture.accountID, instanceID: "a")
        let first = try #require(try store.claim(limit: 1, on: fixture.connection).first)
        try store.requeue(first, at: Date(), code: 131000, details: "try again", now: Date(), on: fixture.connection)
        let second = try #require(try store.claim(limit: 1, on: fixture.connection).first)
        #expect(second.attempt == 2)
        // The first attempt's failure arrives late: it must not fail the row the second attempt is sending.
        try store.recordFailed(first, .init(reason: "meta_error", code: 131026, details: "late"), payloadJSON: nil, now: Date(), on: fixture.connection)
        #expect(try fixture.outbox(id).decode(String.self, at: 0) == "sending")
    }

    @Test func reconciliationRequeuesOnlyOthersRowsPastTheGracePeriod() throws {
        let fixture = try OutboxFixture("ob")
        defer { fixture.drop() }
        let id = try fixture.queue()
        let crashed = SendStore(site: fixture.site, accountID: fixture.accountID, instanceID: "crashed")
        _ = try crashed.claim(limit: 1, on: fixture.connection)
        let next = SendStore(site: fixture.site, accountID: fixture.accountID, instanceID: "next")
        #expect(try next.reconcile(grace: .seconds(600), on: fixture.connection) == 0, "still within the grace period")
        #expect(try crashed.reconcile(grace: .zero, on: fixture.connection) == 0, "a claimer does not reconcile its own rows")
        #expect(try next.reconcile(grace: .zero, on: fixture.connection) == 1)
        let row = try fixture.outbox(id)
        #expect(try row.decode(String.self, at: 0) == "queued")
        #expect(try row.decode(String?.self, at: 1) == "reconciled_retry")
        #expect(try next.claim(limit: 1, on: fixture.connection).first?.attempt == 2)
    }
}
