import Foundation
import Logging
import MariaDB
import TestSupport
import Testing
import WordPressStore
@testable import WebhookIngest

/// A site with one business number, a processor, and helpers to store raw events and read results.
private final class ProcessingFixture {
    static let phoneNumberID = "106540352242922"
    static let wabaID = "102290129340398"

    let scratch: ScratchSite
    let pool: MariaDBPool
    let accountID: UInt64
    var site: WordPressSite { scratch.site }
    var connection: MariaDBConnection { scratch.connection }

    init(_ stem: String) throws {
        scratch = try ScratchSite(stem)
        pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        accountID = try Self.addAccount(phoneNumberID: Self.phoneNumberID, to: scratch.site, on: scratch.connection)
    }

    static func addAccount(phoneNumberID: String, wabaID: String = wabaID, display: String = "15550783881", to site: WordPressSite,
                           on connection: MariaDBConnection) throws -> UInt64 {
        try connection.execute("""
            INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
            VALUES (\(wabaID), \(phoneNumberID), \(display), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
    }

    /// Runs a test body with a fresh fixture and removes it afterwards, whatever happened.
    static func with(_ body: (ProcessingFixture) async throws -> Void) async throws {
        let fixture = try ProcessingFixture("p")
        do {
            try await body(fixture)
        } catch {
            await fixture.pool.shutdown()
            fixture.scratch.drop()
            throw error
        }
        await fixture.pool.shutdown()
        fixture.scratch.drop()
    }

    /// Stores a raw event as the ingest writer would.
    @discardableResult
    func store(_ body: String, verified: Bool = true) throws -> UInt64 {
        try connection.execute("""
            INSERT INTO \(site.table(.webhookEvents)) (received_at, signature_verified, processing_state, body)
            VALUES (UTC_TIMESTAMP(6), \(verified), 'pending', \(Array(body.utf8)))
            """).lastInsertID
    }

    func process(_ options: WebhookProcessor.Options = WebhookProcessor.Options()) async throws {
        let processor = WebhookProcessor(site: site, pool: pool, instanceID: "test:\(UUID().uuidString.prefix(8))",
                                         options: options, logger: Logger(label: "test"))
        #expect(try await processor.processAvailable())
    }

    func eventState(_ id: UInt64) throws -> (state: String, error: String?) {
        let row = try connection.queryFirst("SELECT processing_state, processing_error FROM \(site.table(.webhookEvents)) WHERE id = \(id)")!
        return (try row.decode(at: 0), try row.decode(at: 1))
    }

    func message(_ wamid: String) throws -> MariaDBRow? {
        try connection.queryFirst("SELECT * FROM \(site.table(.messages)) WHERE wamid = \(wamid)")
    }

    func count(_ table: CloudChatTable, _ condition: SQLQuery = "1 = 1") throws -> Int {
        try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(table)) WHERE \(condition)")!.decode(Int.self, at: 0)
    }

    func contact(waID: String) throws -> MariaDBRow? {
        try connection.queryFirst("SELECT * FROM \(site.table(.contacts)) WHERE wa_id = \(waID)")
    }

    func conversation(contactID: UInt64) throws -> MariaDBRow? {
        try connection.queryFirst("SELECT * FROM \(site.table(.conversations)) WHERE contact_id = \(contactID)")
    }

    /// An outbound message as the sender would have inserted it.
    func insertOutbound(wamid: String, to waID: String) throws {
        let contactID = try connection.execute("""
            INSERT INTO \(site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
            VALUES (\(accountID), \(waID), 'agent', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)
            """).lastInsertID
        try connection.execute("""
            INSERT INTO \(site.table(.messages)) (account_id, contact_id, wamid, direction, type, source, status, message_at, created_at, updated_at)
            VALUES (\(accountID), \(contactID), \(wamid), 'outbound', 'text', 'agent', 'accepted', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
    }
}

// MARK: Payloads, written from the formats in Meta's webhook reference

private func envelope(_ changes: String..., waba: String = ProcessingFixture.wabaID) -> String {
    #"{"object":"whatsapp_business_account","entry":[{"id":"\#(waba)","changes":[\#(changes.joined(separator: ","))]}]}"#
}

private func messagesChange(contacts: String = "", messages: String = "", statuses: String = "", errors: String = "",
                            phoneNumberID: String = ProcessingFixture.phoneNumberID) -> String {
    var value = #""messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\#(phoneNumberID)"}"#
    if !contacts.isEmpty { value += #","contacts":[\#(contacts)]"# }
    if !messages.isEmpty { value += #","messages":[\#(messages)]"# }
    if !statuses.isEmpty { value += #","statuses":[\#(statuses)]"# }
    if !errors.isEmpty { value += #","errors":[\#(errors)]"# }
    return #"{"field":"messages","value":{\#(value)}}"#
}

private func contact(_ waID: String, name: String = "Sheena Nelson") -> String {
    #"{"profile":{"name":"\#(name)"},"wa_id":"\#(waID)"}"#
}

private func message(_ wamid: String, from: String = "16505551234", at timestamp: Int = 1_749_416_383, _ rest: String) -> String {
    #"{"from":"\#(from)","id":"\#(wamid)","timestamp":"\#(timestamp)",\#(rest)}"#
}

private func status(_ wamid: String, _ value: String, at timestamp: Int, recipient: String = "16505551234", extra: String = "") -> String {
    #"{"id":"\#(wamid)","status":"\#(value)","timestamp":"\#(timestamp)","recipient_id":"\#(recipient)"\#(extra)}"#
}

private let pricing = #","pricing":{"billable":true,"pricing_model":"PMP","category":"marketing","type":"regular"}"#

@Suite("Webhook processing", .serialized, .timeLimit(.minutes(2)))
struct WebhookProcessingTests {
    @Test func aTextMessageBecomesContactConversationAndMessage() async throws {
        try await ProcessingFixture.with { fixture in
            let event = try fixture.store(envelope(messagesChange(
                contacts: contact("16505551234"),
                messages: message("wamid.TEXT1", #""type":"text","text":{"body":"Does it come in another color?"}"#))))
            try await fixture.process()

            #expect(try fixture.eventState(event) == ("processed", nil))
            let person = try #require(try fixture.contact(waID: "16505551234"))
            #expect(try person.decode("profile_name", as: String?.self) == "Sheena Nelson")
            #expect(try person.decode("source", as: String.self) == "inbound")
            #expect(try person.decode("account_id", as: UInt64.self) == fixture.accountID)
            let stored = try #require(try fixture.message("wamid.TEXT1"))
            #expect(try stored.decode("body", as: String?.self) == "Does it come in another color?")
            #expect(try stored.decode("direction", as: String.self) == "inbound")
            #expect(try stored.decode("status", as: String.self) == "received")
            #expect(try stored.decode("message_at", as: Date.self) == Date(timeIntervalSince1970: 1_749_416_383))
            #expect(try stored.decode("webhook_event_id", as: UInt64?.self) == event)
            let inbox = try #require(try fixture.conversation(contactID: try person.decode("id", as: UInt64.self)))
            #expect(try inbox.decode("unread_count", as: Int.self) == 1)
            #expect(try inbox.decode("last_inbound_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_383))
            #expect(try inbox.decode("last_message_id", as: UInt64?.self) == (try stored.decode("id", as: UInt64.self)))
        }
    }

    @Test func everyInboundMessageTypeIsStoredWithItsFields() async throws {
        try await ProcessingFixture.with { fixture in
            let messages = [
                message("wamid.IMG", #""type":"image","image":{"caption":"The red one","mime_type":"image/jpeg","sha256":"c2hhMjU2","id":"1003383421387256","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256"}"#),
                message("wamid.VOICE", #""type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"YXVkaW8=","id":"2003383421387256","voice":true}"#),
                message("wamid.VIDEO", #""type":"video","video":{"mime_type":"video/mp4","sha256":"dmlk","id":"3003383421387256"}"#),
                message("wamid.DOC", #""type":"document","document":{"caption":"Invoice","filename":"invoice-2291.pdf","mime_type":"application/pdf","sha256":"ZG9j","id":"4003383421387256"}"#),
                message("wamid.STICKER", #""type":"sticker","sticker":{"mime_type":"image/webp","sha256":"c3Q=","id":"5003383421387256","animated":false}"#),
                message("wamid.LOC", #""type":"location","location":{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.483307,"longitude":-122.148981,"name":"Main office","url":"https://example.com"}"#),
                message("wamid.CARDS", #""type":"contacts","contacts":[{"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara"},"phones":[{"phone":"+1 (940) 555-1234","type":"HOME","wa_id":"19405551234"}]}]"#),
                message("wamid.BTNREPLY", #""context":{"from":"15550783881","id":"wamid.OUT1"},"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"cancel-order","title":"Cancel order"}}"#),
                message("wamid.LISTREPLY", #""type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"priority_express","title":"Express","description":"Next day"}}"#),
                message("wamid.FLOW", #""type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"flow_token\":\"t1\"}"}}"#),
                message("wamid.BUTTON", #""context":{"from":"15550783881","id":"wamid.TEMPLATE1"},"type":"button","button":{"payload":"STOP promotions","text":"Stop promotions"}"#),
                message("wamid.REACT", #""type":"reaction","reaction":{"message_id":"wamid.OUT1","emoji":"👍"}"#),
                message("wamid.UNREACT", #""type":"reaction","reaction":{"message_id":"wamid.OUT1"}"#),
                message("wamid.ORDER", #""type":"order","order":{"catalog_id":"194836987003835","text":"Please hurry","product_items":[{"product_retailer_id":"di9ozbzfi4","quantity":2,"item_price":30,"currency":"USD"}]}"#),
                message("wamid.UNSUP", #""type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"unsupported":{"type":"edit"}"#),
                message("wamid.WELCOME", #""type":"request_welcome""#),
                message("wamid.FWD", #""context":{"forwarded":true},"type":"text","text":{"body":"look at this"}"#),
                message("wamid.FREQ", #""context":{"frequently_forwarded":true},"type":"text","text":{"body":"chain letter"}"#),
                message("wamid.AD", #""referral":{"source_url":"https://fb.me/3cr4Wqqkv","source_id":"120226305854810726","source_type":"ad","body":"Summer sale","headline":"Chat with us","media_type":"image","image_url":"https://scontent.xx.fbcdn.net/v/t45.1","ctwa_clid":"ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-ZABe"},"type":"text","text":{"body":"Can I get more info?"}"#),
            ].joined(separator: ",")
            let event = try fixture.store(envelope(messagesChange(contacts: contact("16505551234"), messages: messages)))
            try await fixture.process()
            #expect(try fixture.eventState(event) == ("processed", nil))
            #expect(try fixture.count(.messages) == 19)

            func column<T: MariaDBDecodable>(_ wamid: String, _ name: String, as type: T.Type = T.self) throws -> T {
                try #require(try fixture.message(wamid)).decode(name, as: T.self)
            }
            #expect(try column("wamid.IMG", "body", as: String?.self) == "The red one")
            #expect(try column("wamid.IMG", "type", as: String.self) == "image")
            let imageMedia = try #require(try column("wamid.IMG", "media_id", as: UInt64?.self))
            let media = try #require(try fixture.connection.queryFirst("SELECT * FROM \(fixture.site.table(.media)) WHERE id = \(imageMedia)"))
            #expect(try media.decode("meta_media_id", as: String?.self) == "1003383421387256")
            #expect(try media.decode("state", as: String.self) == "pending")
            #expect(try media.decode("sha256", as: String?.self) == "c2hhMjU2")
            #expect(try media.decode("mime_type", as: String?.self) == "image/jpeg")
            #expect(try fixture.count(.media) == 5)
            #expect(try fixture.connection.queryFirst("SELECT file_name FROM \(fixture.site.table(.media)) WHERE meta_media_id = '4003383421387256'")!
                .decode(String?.self, at: 0) == "invoice-2291.pdf")
            #expect(try column("wamid.VOICE", "payload_json", as: String?.self)?.contains(#""voice":true"#) == true)
            #expect(try column("wamid.LOC", "body", as: String?.self) == "Main office")
            #expect(try column("wamid.LOC", "payload_json", as: String?.self)?.contains("37.483307") == true)
            #expect(try column("wamid.CARDS", "payload_json", as: String?.self)?.contains("Barbara J. Johnson") == true)
            #expect(try column("wamid.BTNREPLY", "body", as: String?.self) == "Cancel order")
            #expect(try column("wamid.BTNREPLY", "context_wamid", as: String?.self) == "wamid.OUT1")
            #expect(try column("wamid.LISTREPLY", "body", as: String?.self) == "Express")
            #expect(try column("wamid.FLOW", "body", as: String?.self) == "Sent")
            #expect(try column("wamid.FLOW", "payload_json", as: String?.self)?.contains("flow_token") == true)
            #expect(try column("wamid.BUTTON", "body", as: String?.self) == "Stop promotions")
            #expect(try column("wamid.REACT", "body", as: String?.self) == "👍")
            #expect(try column("wamid.REACT", "target_wamid", as: String?.self) == "wamid.OUT1")
            #expect(try column("wamid.UNREACT", "body", as: String?.self) == nil, "a reaction without emoji removes it")
            #expect(try column("wamid.ORDER", "body", as: String?.self) == "Please hurry")
            #expect(try column("wamid.ORDER", "payload_json", as: String?.self)?.contains("di9ozbzfi4") == true)
            #expect(try column("wamid.UNSUP", "error_code", as: Int?.self) == 131051)
            #expect(try column("wamid.UNSUP", "error_details", as: String?.self) == "Message type is currently not supported.")
            #expect(try column("wamid.WELCOME", "type", as: String.self) == "request_welcome")
            #expect(try column("wamid.FWD", "forwarded", as: Int.self) == 1)
            #expect(try column("wamid.FREQ", "forwarded", as: Int.self) == 2)
            #expect(try column("wamid.AD", "referral_json", as: String?.self)?.contains("ARAkLkA8rmlFeiCktEJQ") == true)
            #expect(try column("wamid.AD", "forwarded", as: Int.self) == 0)

            // One contact, one conversation; reactions and the welcome request open the window but are not unread messages.
            #expect(try fixture.count(.contacts) == 1)
            let contactID = try fixture.contact(waID: "16505551234")!.decode("id", as: UInt64.self)
            #expect(try fixture.conversation(contactID: contactID)!.decode("unread_count", as: Int.self) == 16)
        }
    }

    @Test func systemEditAndRevokeMessagesChangeWhatTheyPointAt() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.store(envelope(messagesChange(contacts: contact("16505551234"), messages: [
                message("wamid.ORIG1", at: 1_749_416_000, #""type":"text","text":{"body":"first"}"#),
                message("wamid.ORIG2", at: 1_749_416_001, #""type":"text","text":{"body":"second"}"#),
            ].joined(separator: ","))))
            try fixture.store(envelope(messagesChange(contacts: contact("16505551234"), messages: [
                message("wamid.EDIT", at: 1_749_416_100, #""type":"edit","edit":{"original_message_id":"wamid.ORIG1","message":{"type":"text","text":{"body":"first, fixed"}}}"#),
                message("wamid.REVOKE", at: 1_749_416_200, #""type":"revoke","revoke":{"original_message_id":"wamid.ORIG2"}"#),
            ].joined(separator: ","))))
            // The user moved to a new number: the contact follows.
            try fixture.store(envelope(messagesChange(messages: #"{"from":"16505551234","id":"wamid.SYS","timestamp":"1749416300","type":"system","system":{"body":"User A changed from 16505551234 to 16505559999","wa_id":"16505559999","type":"user_changed_number"}}"#)))
            try await fixture.process()

            #expect(try fixture.message("wamid.ORIG1")!.decode("edited_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_100))
            #expect(try fixture.message("wamid.EDIT")!.decode("body", as: String?.self) == "first, fixed")
            #expect(try fixture.message("wamid.EDIT")!.decode("target_wamid", as: String?.self) == "wamid.ORIG1")
            #expect(try fixture.message("wamid.ORIG2")!.decode("revoked_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_200))
            #expect(try fixture.contact(waID: "16505551234") == nil)
            let moved = try #require(try fixture.contact(waID: "16505559999"))
            #expect(try fixture.count(.messages, "contact_id = \(try moved.decode("id", as: UInt64.self))") == 5)
        }
    }

    @Test func usersKnownOnlyByBusinessScopedIDAreMergedWhenTheirNumberAppears() async throws {
        try await ProcessingFixture.with { fixture in
            // 2026 identity: a username user without a phone number.
            try fixture.store(envelope(messagesChange(
                contacts: #"{"profile":{"name":"Ana","username":"@ana.designs"},"user_id":"US.13491208655302741918"}"#,
                messages: #"{"from_user_id":"US.13491208655302741918","id":"wamid.BSUID1","timestamp":"1749416383","type":"text","text":{"body":"hi"}}"#)))
            // The same person known by phone from an earlier import.
            try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
                VALUES (\(fixture.accountID), '16505550000', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            try await fixture.process()
            let byUserID = try #require(try fixture.connection.queryFirst("SELECT * FROM \(fixture.site.table(.contacts)) WHERE user_id = 'US.13491208655302741918'"))
            #expect(try byUserID.decode("wa_id", as: String?.self) == nil)
            #expect(try byUserID.decode("username", as: String?.self) == "@ana.designs")
            #expect(try fixture.count(.contacts) == 2)

            // Both ids in one message: the rows are one person; the older row is kept.
            try fixture.store(envelope(messagesChange(
                contacts: #"{"profile":{"name":"Ana"},"wa_id":"16505550000","user_id":"US.13491208655302741918"}"#,
                messages: #"{"from":"16505550000","from_user_id":"US.13491208655302741918","id":"wamid.BSUID2","timestamp":"1749416400","type":"text","text":{"body":"me again"}}"#)))
            try await fixture.process()
            #expect(try fixture.count(.contacts) == 1)
            let merged = try #require(try fixture.contact(waID: "16505550000"))
            #expect(try merged.decode("user_id", as: String?.self) == "US.13491208655302741918")
            #expect(try merged.decode("source", as: String.self) == "import")
            #expect(try fixture.count(.messages, "contact_id = \(try merged.decode("id", as: UInt64.self))") == 2)
            #expect(try fixture.count(.conversations) == 1)
            #expect(try fixture.conversation(contactID: try merged.decode("id", as: UInt64.self))!.decode("unread_count", as: Int.self) == 2)
            #expect(try fixture.count(.auditLog, "action = 'contact.merged'") == 1)
        }
    }

    @Test func duplicatesChangeNothing() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.insertOutbound(wamid: "wamid.OUT1", to: "16505551234")
            let body = envelope(messagesChange(contacts: contact("16505551234"),
                                               messages: message("wamid.DUP", #""type":"text","text":{"body":"hello"}"#),
                                               statuses: status("wamid.OUT1", "delivered", at: 1_749_416_500)))
            let first = try fixture.store(body)
            let second = try fixture.store(body)
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "delivered", at: 1_749_416_500))))
            try await fixture.process()
            #expect(try fixture.eventState(first).state == "processed")
            #expect(try fixture.eventState(second).state == "processed")
            #expect(try fixture.count(.messages, "wamid = 'wamid.DUP'") == 1)
            #expect(try fixture.count(.statusEvents) == 1)
            let contactID = try fixture.contact(waID: "16505551234")!.decode("id", as: UInt64.self)
            #expect(try fixture.conversation(contactID: contactID)!.decode("unread_count", as: Int.self) == 1)
        }
    }

    @Test func statusesOnlyMoveForwardWhateverOrderTheyArriveIn() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.insertOutbound(wamid: "wamid.OUT1", to: "16505551234")
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "read", at: 1_749_416_600))))
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "delivered", at: 1_749_416_550, extra: pricing))))
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "sent", at: 1_749_416_500, extra: pricing))))
            try await fixture.process()
            let sent = try #require(try fixture.message("wamid.OUT1"))
            #expect(try sent.decode("status", as: String.self) == "read")
            #expect(try sent.decode("status_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_600))
            #expect(try sent.decode("sent_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_500))
            #expect(try sent.decode("delivered_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_550))
            #expect(try sent.decode("read_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_600))
            #expect(try sent.decode("pricing_category", as: String?.self) == "marketing")
            #expect(try sent.decode("pricing_type", as: String?.self) == "regular")
            #expect(try fixture.count(.statusEvents, "wamid = 'wamid.OUT1' AND applied_at IS NOT NULL") == 3)

            // A failure overrides anything before it, with its error.
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "failed", at: 1_749_416_700, extra: #","errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}]"#))))
            // …and nothing moves it back.
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "played", at: 1_749_416_800))))
            try await fixture.process()
            let failed = try #require(try fixture.message("wamid.OUT1"))
            #expect(try failed.decode("status", as: String.self) == "failed")
            #expect(try failed.decode("error_code", as: Int?.self) == 131026)
            #expect(try failed.decode("error_details", as: String?.self) == "Message Undeliverable.")
            #expect(try failed.decode("played_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_416_800))
        }
    }

    @Test func aStatusBeforeItsMessageIsKeptUnapplied() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.store(envelope(messagesChange(statuses: [
                status("wamid.LATER", "sent", at: 1_749_416_500, recipient: "16505557777"),
                status("wamid.LATER", "some_future_status", at: 1_749_416_501, recipient: "16505557777"),
            ].joined(separator: ","))))
            try await fixture.process()
            #expect(try fixture.count(.statusEvents, "wamid = 'wamid.LATER' AND applied_at IS NULL") == 2)
            let recipient = try #require(try fixture.contact(waID: "16505557777"))
            #expect(try recipient.decode("source", as: String.self) == "status")
            #expect(try fixture.count(.statusEvents, "contact_id = \(try recipient.decode("id", as: UInt64.self))") == 2)
        }
    }

    @Test func aStatusNamingAnUnansweredSendSettlesItsOutboxRow() async throws {
        try await ProcessingFixture.with { fixture in
            // The send went out but its answer was lost: the row waits, in doubt, as `sending`.
            let contactID = try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
                VALUES (\(fixture.accountID), '16505557777', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            let outboxID = try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.outbox)) (account_id, contact_id, type, payload_json, state, source, attempt_count, claimed_at,
                                                             next_attempt_at, created_at, updated_at)
                VALUES (\(fixture.accountID), \(contactID), 'text', '{}', 'sending', 'agent', 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6),
                        UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            try fixture.store(envelope(messagesChange(statuses: status(
                "wamid.UNANSWERED", "sent", at: 1_749_416_500, recipient: "16505557777",
                extra: #","biz_opaque_callback_data":"cc1:o:\#(outboxID):1""#))))
            try await fixture.process()
            let row = try #require(try fixture.connection.queryFirst("""
                SELECT state, wamid FROM \(fixture.site.table(.outbox)) WHERE id = \(outboxID)
                """))
            #expect(try row.decode(String.self, at: 0) == "sent", "Meta took it: it must not be sent again")
            #expect(try row.decode(String?.self, at: 1) == "wamid.UNANSWERED")
        }
    }

    @Test func campaignStatusesMoveRecipientsForwardHaltTheCampaignAndRepliesAreCounted() async throws {
        try await ProcessingFixture.with { fixture in
            let (connection, site) = (fixture.connection, fixture.site)
            let campaignID = try connection.execute("""
                INSERT INTO \(site.table(.campaigns))
                    (account_id, name, template_id, template_name, template_language, state, started_at, created_at, updated_at)
                VALUES (\(fixture.accountID), 'Sale', 1, 'spring_sale', 'en_US', 'running', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            var recipients: [UInt64] = []
            for waID in ["16505551234", "16505552222"] {
                let contactID = try connection.execute("""
                    INSERT INTO \(site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
                    VALUES (\(fixture.accountID), \(waID), 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                    """).lastInsertID
                recipients.append(try connection.execute("""
                    INSERT INTO \(site.table(.campaignRecipients))
                        (campaign_id, contact_id, state, attempt_count, claimed_at, next_attempt_at, created_at, updated_at)
                    VALUES (\(campaignID), \(contactID), 'sending', 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                    """).lastInsertID)
            }
            func callback(_ recipient: UInt64) -> String { #","biz_opaque_callback_data":"cc1:r:\#(recipient):1""# }
            // The first recipient's statuses arrive backwards, the answer to the send never came (a crash).
            try fixture.store(envelope(messagesChange(statuses: status("wamid.CAMPAIGN1", "read", at: 1_749_416_600, extra: callback(recipients[0])))))
            try fixture.store(envelope(messagesChange(statuses: [
                status("wamid.CAMPAIGN1", "delivered", at: 1_749_416_550, extra: callback(recipients[0])),
                status("wamid.CAMPAIGN1", "sent", at: 1_749_416_500, extra: callback(recipients[0])),
            ].joined(separator: ","))))
            // The second fails at Meta with the spam-rate limit, by webhook.
            try fixture.store(envelope(messagesChange(statuses: status(
                "wamid.CAMPAIGN2", "failed", at: 1_749_416_520, recipient: "16505552222",
                extra: callback(recipients[1]) + #","errors":[{"code":131048,"title":"Spam rate limit hit"}]"#))))
            // The first writes back within 72 hours.
            try fixture.store(envelope(messagesChange(contacts: contact("16505551234"),
                                                      messages: message("wamid.REPLY", at: 1_749_430_000, #""type":"text","text":{"body":"Yes please"}"#))))
            try await fixture.process()
            let first = try #require(try connection.queryFirst("""
                SELECT state, wamid, sent_at IS NOT NULL, delivered_at IS NOT NULL, read_at IS NOT NULL, replied_at IS NOT NULL
                  FROM \(site.table(.campaignRecipients)) WHERE id = \(recipients[0])
                """))
            #expect(try first.decode(String.self, at: 0) == "read")
            #expect(try first.decode(String?.self, at: 1) == "wamid.CAMPAIGN1")
            #expect(try (2...5).allSatisfy { try first.decode(Int.self, at: $0) == 1 }, "every time is kept, and the reply counted")
            let second = try #require(try connection.queryFirst("""
                SELECT state, state_reason, error_code FROM \(site.table(.campaignRecipients)) WHERE id = \(recipients[1])
                """))
            #expect(try second.decode(String.self, at: 0) == "failed" && second.decode(String?.self, at: 1) == "meta_error")
            #expect(try second.decode(Int?.self, at: 2) == 131048)
            let campaign = try #require(try connection.queryFirst("""
                SELECT state, state_reason, error_code FROM \(site.table(.campaigns)) WHERE id = \(campaignID)
                """))
            #expect(try campaign.decode(String.self, at: 0) == "halted" && campaign.decode(String?.self, at: 1) == "spam_rate_limit")
            #expect(try campaign.decode(Int?.self, at: 2) == 131048)
        }
    }

    @Test func aFailureForStoppedMarketingOptsTheContactOut() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.insertOutbound(wamid: "wamid.PROMO", to: "16505551234")
            try fixture.store(envelope(messagesChange(statuses: status("wamid.PROMO", "failed", at: 1_749_416_700, extra: #","errors":[{"code":131050,"title":"User has stopped marketing messages"}]"#))))
            try await fixture.process()
            let person = try #require(try fixture.contact(waID: "16505551234"))
            #expect(try person.decode("consent_state", as: String.self) == "opted_out")
            #expect(try person.decode("consent_source", as: String?.self) == "meta_error_131050")
            #expect(try fixture.count(.consentEvents, "event = 'opted_out'") == 1)
        }
    }

    @Test func userPreferencesStopAndResumeEndInTheNewerState() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.insertOutbound(wamid: "wamid.X", to: "16505551234")
            func preference(_ value: String, at time: Int) -> String {
                envelope(#"{"field":"user_preferences","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\#(ProcessingFixture.phoneNumberID)"},"contacts":[{"wa_id":"16505551234"}],"user_preferences":[{"wa_id":"16505551234","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"\#(value)","timestamp":\#(time)}]}}"#)
            }
            // Delivered in reverse order.
            try fixture.store(preference("resume", at: 1_749_500_000))
            try fixture.store(preference("stop", at: 1_749_400_000))
            try await fixture.process()
            let person = try #require(try fixture.contact(waID: "16505551234"))
            #expect(try person.decode("consent_state", as: String.self) == "opted_in")
            #expect(try person.decode("consent_changed_at", as: Date?.self) == Date(timeIntervalSince1970: 1_749_500_000))
            #expect(try fixture.count(.consentEvents, "source = 'meta_user_preferences'") == 2, "both kept in the history")
        }
    }

    @Test func templateAndAccountUpdatesApplyNewestFirst() async throws {
        try await ProcessingFixture.with { fixture in
            func templateChange(_ field: String, _ value: String, at time: Int) -> String {
                #"{"object":"whatsapp_business_account","entry":[{"id":"\#(ProcessingFixture.wabaID)","time":\#(time),"changes":[{"field":"\#(field)","value":\#(value)}]}]}"#
            }
            try fixture.store(templateChange("message_template_status_update",
                #"{"event":"APPROVED","message_template_id":806312974732579,"message_template_name":"order_confirmation","message_template_language":"en_US","message_template_category":"UTILITY","reason":"NONE"}"#, at: 1_749_000_100))
            try fixture.store(templateChange("message_template_status_update",
                #"{"event":"PENDING","message_template_id":806312974732579,"message_template_name":"order_confirmation","message_template_language":"en_US","reason":"NONE"}"#, at: 1_749_000_000))
            try fixture.store(templateChange("message_template_quality_update",
                #"{"previous_quality_score":"GREEN","new_quality_score":"YELLOW","message_template_id":806312974732579,"message_template_name":"order_confirmation","message_template_language":"en_US"}"#, at: 1_749_000_200))
            try fixture.store(templateChange("template_category_update",
                #"{"message_template_id":806312974732579,"message_template_name":"order_confirmation","message_template_language":"en_US","previous_category":"UTILITY","new_category":"MARKETING"}"#, at: 1_749_000_300))
            try fixture.store(templateChange("phone_number_quality_update",
                #"{"display_phone_number":"15550783881","event":"THROUGHPUT_UPGRADE","max_daily_conversations_per_business":"TIER_UNLIMITED"}"#, at: 1_749_000_400))
            try fixture.store(templateChange("account_update", #"{"phone_number":"15550783881","event":"ACCOUNT_RESTRICTION"}"#, at: 1_749_000_500))
            let ignored = try fixture.store(templateChange("security", #"{"display_phone_number":"15550783881","event":"PIN_CHANGED"}"#, at: 1_749_000_600))
            try await fixture.process()

            let template = try #require(try fixture.connection.queryFirst("SELECT * FROM \(fixture.site.table(.templates)) WHERE meta_template_id = '806312974732579'"))
            #expect(try template.decode("status", as: String.self) == "APPROVED", "the older PENDING arrived later and was not applied")
            #expect(try template.decode("quality_score", as: String?.self) == "YELLOW")
            #expect(try template.decode("category", as: String?.self) == "MARKETING")
            #expect(try template.decode("previous_category", as: String?.self) == "UTILITY")
            #expect(try template.decode("waba_id", as: String.self) == ProcessingFixture.wabaID)
            let account = try #require(try fixture.connection.queryFirst("SELECT * FROM \(fixture.site.table(.accounts)) WHERE id = \(fixture.accountID)"))
            #expect(try account.decode("messaging_limit_tier", as: String?.self) == "TIER_UNLIMITED")
            #expect(try account.decode("throughput_level", as: String?.self) == "HIGH")
            #expect(try account.decode("account_event", as: String?.self) == "ACCOUNT_RESTRICTION")
            #expect(try fixture.eventState(ignored) == ("processed", nil), "fields the product does not act on are stored and ignored")
        }
    }

    @Test func unreadableBodiesAreMarkedWithTheirReasonAndNeverQuoted() async throws {
        try await ProcessingFixture.with { fixture in
            let broken = try fixture.store(#"{"object":"whatsapp_business_account","entry":[{"id":"secret-text"#)
            let notWhatsApp = try fixture.store(#"{"object":"page","entry":[]}"#)
            let noEntry = try fixture.store(#"{"object":"whatsapp_business_account"}"#)
            let unsigned = try fixture.store(envelope(messagesChange(messages: message("wamid.UNSIGNED", #""type":"text","text":{"body":"x"}"#))), verified: false)
            let oneBadItem = try fixture.store(envelope(messagesChange(contacts: contact("16505551234"), messages: [
                message("wamid.GOOD", #""type":"text","text":{"body":"fine"}"#),
                #"{"from":"16505551234","timestamp":"1749416383","type":"text","text":{"body":"no id"}}"#,
            ].joined(separator: ","))))
            try await fixture.process()

            let (state, error) = try fixture.eventState(broken)
            #expect(state == "invalid")
            #expect(error == "the body is not valid JSON")
            #expect(try fixture.eventState(notWhatsApp).state == "invalid")
            #expect(try fixture.eventState(noEntry).error?.contains("entry") == true)
            #expect(try fixture.eventState(unsigned).state == "rejected")
            #expect(try fixture.message("wamid.UNSIGNED") == nil)
            #expect(try fixture.eventState(oneBadItem).state == "partial")
            #expect(try fixture.eventState(oneBadItem).error?.contains("messages[1]") == true)
            #expect(try fixture.message("wamid.GOOD") != nil)
        }
    }

    @Test func eventsForANumberNoAccountHasWaitUntilTheNumberIsAdded() async throws {
        try await ProcessingFixture.with { fixture in
            let body = envelope(messagesChange(contacts: contact("16505551234"),
                messages: message("wamid.ELSEWHERE", #""type":"text","text":{"body":"hi"}"#), phoneNumberID: "999000111"))
            let event = try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.webhookEvents)) (received_at, phone_number_id, signature_verified, body)
                VALUES ('2026-01-02 03:04:05.123456', '999000111', 1, \(Array(body.utf8)))
                """).lastInsertID
            try await fixture.process()
            #expect(try fixture.eventState(event).state == "unrouted")
            #expect(try fixture.count(.messages) == 0)
            #expect(try UnroutedWebhookEvents.census(site: fixture.site, on: fixture.connection)
                == [.init(phoneNumberID: "999000111", wabaID: nil, count: 1)])

            // Nothing moves while no account has the number.
            var owners = try WebhookSiteRouter.loadOwners(of: [fixture.site], on: fixture.connection)
            #expect(try UnroutedWebhookEvents.reroute(sites: [fixture.site], owners: owners, on: fixture.connection).isEmpty)

            // Once it is added, the event comes back as a new pending row, and is processed.
            let accountID = try ProcessingFixture.addAccount(phoneNumberID: "999000111", display: "15550000111", to: fixture.site, on: fixture.connection)
            owners = try WebhookSiteRouter.loadOwners(of: [fixture.site], on: fixture.connection)
            #expect(try UnroutedWebhookEvents.reroute(sites: [fixture.site], owners: owners, on: fixture.connection) == [fixture.site: 1])
            #expect(try fixture.count(.webhookEvents, "id = \(event)") == 0)
            let moved = try #require(try fixture.connection.queryFirst("""
                SELECT id, received_at, processing_state, body FROM \(fixture.site.table(.webhookEvents))
                """))
            #expect(try moved.decode(UInt64.self, at: 0) > event)
            #expect(abs(try moved.decode(Date.self, at: 1).timeIntervalSince1970 - 1_767_323_045.123456) < 0.000_01)
            #expect(try moved.decode(String.self, at: 2) == "pending")
            #expect(try moved.decode([UInt8].self, at: 3) == Array(body.utf8))
            try await fixture.process()
            #expect(try fixture.message("wamid.ELSEWHERE")?.decode("account_id", as: UInt64.self) == accountID)
            #expect(try UnroutedWebhookEvents.census(site: fixture.site, on: fixture.connection).isEmpty)
        }
    }

    @Test func replayingTheRawEventsYieldsTheSameDomainState() async throws {
        try await ProcessingFixture.with { fixture in
            try fixture.insertOutbound(wamid: "wamid.OUT1", to: "16505551234")
            try fixture.store(envelope(messagesChange(contacts: contact("16505551234"), messages: [
                message("wamid.R1", at: 1_749_416_000, #""type":"text","text":{"body":"one"}"#),
                message("wamid.R2", at: 1_749_416_010, #""type":"image","image":{"mime_type":"image/jpeg","sha256":"eA==","id":"9003383421387256"}"#),
            ].joined(separator: ","), statuses: status("wamid.OUT1", "delivered", at: 1_749_416_020))))
            try fixture.store(envelope(messagesChange(statuses: status("wamid.OUT1", "read", at: 1_749_416_030))))
            try fixture.store(envelope(messagesChange(contacts: contact("16505551234"), messages: message("wamid.R3", at: 1_749_416_040, #""type":"reaction","reaction":{"message_id":"wamid.R1","emoji":"❤️"}"#))))
            try await fixture.process()

            func snapshot() throws -> [String] {
                let tables: [(CloudChatTable, String)] = [
                    (.contacts, "wa_id, user_id, profile_name, source, consent_state"),
                    (.conversations, "unread_count, last_message_at, last_inbound_at, state"),
                    (.messages, "wamid, direction, type, body, status, status_at, delivered_at, read_at, target_wamid, message_at"),
                    (.statusEvents, "wamid, status, status_at, applied_at IS NOT NULL"),
                    (.media, "meta_media_id, state, mime_type"),
                ]
                return try tables.flatMap { table, columns in
                    try fixture.connection.query("SELECT \(unsafeSQL: columns) FROM \(fixture.site.table(table)) ORDER BY 1, 2")
                        .map { row in "\(table): " + row.values.map { "\($0)" }.joined(separator: "|") }
                }
            }
            let before = try snapshot()
            let events = try fixture.connection.queryFirst("SELECT MIN(id), MAX(id) FROM \(fixture.site.table(.webhookEvents))")!
            let ids = try events.decode(UInt64.self, at: 0)...events.decode(UInt64.self, at: 1)

            // Replaying over the existing state changes nothing.
            #expect(try WebhookProcessor.replay(site: fixture.site, ids: ids, on: fixture.connection) == 3)
            #expect(try snapshot() == before)

            // Replaying into emptied domain tables rebuilds the same state (the outbound message is the sender's, so it is kept).
            for table in [CloudChatTable.conversations, .media, .statusEvents] {
                try fixture.connection.execute("DELETE FROM \(fixture.site.table(table))")
            }
            try fixture.connection.execute("DELETE FROM \(fixture.site.table(.messages)) WHERE direction = 'inbound'")
            try fixture.connection.execute("UPDATE \(fixture.site.table(.messages)) SET status = 'accepted', status_at = NULL, delivered_at = NULL, read_at = NULL")
            try WebhookProcessor.replay(site: fixture.site, ids: ids, on: fixture.connection)
            #expect(try snapshot() == before)
        }
    }
}

@Suite("Processing mark")
struct ProcessingMarkTests {
    private func progress(mark: UInt64) throws -> WebhookProcessor.Progress {
        let site = try WordPressSite(blogID: 1, tablePrefix: "wp_")
        return WebhookProcessor.Progress(lease: SiteLease(site: site, name: "processor", ownerID: "a", epoch: 1, progressID: mark), mark: mark)
    }

    @Test func theMarkWaitsAtAHoleUntilItSettles() throws {
        var progress = try progress(mark: 10)
        let start = ContinuousClock.now
        progress.noteRead(late: [], fresh: [11, 12, 14, 15], now: start)
        progress.settle(gapTimeout: .seconds(30), now: start)
        #expect(progress.mark == 12, "13 is missing: maybe still being committed")
        #expect(progress.cursor == 15)

        progress.settle(gapTimeout: .seconds(30), now: start + .seconds(10))
        #expect(progress.mark == 12)
        progress.settle(gapTimeout: .seconds(30), now: start + .seconds(31))
        #expect(progress.mark == 15, "a hole missing for longer than the gap timeout is settled")
        #expect(progress.settled.map(\.range) == [13...13], "and checked again later for a late row")
    }

    @Test func aRowThatFillsAHoleReleasesTheMark() throws {
        var progress = try progress(mark: 0)
        let start = ContinuousClock.now
        progress.noteRead(late: [], fresh: [1, 5, 6], now: start)
        progress.settle(gapTimeout: .seconds(30), now: start)
        #expect(progress.mark == 1)
        progress.noteRead(late: [3], fresh: [], now: start + .seconds(1))
        #expect(progress.holes.map(\.range) == [2...2, 4...4])
        progress.noteRead(late: [2, 4], fresh: [7], now: start + .seconds(2))
        progress.settle(gapTimeout: .seconds(30), now: start + .seconds(2))
        #expect(progress.mark == 7)
        #expect(progress.holes.isEmpty)
    }

    @Test func aRowToRetryHoldsTheMark() throws {
        var progress = try progress(mark: 0)
        let start = ContinuousClock.now
        progress.noteRead(late: [], fresh: [1, 2, 3], now: start)
        progress.retries = [2]
        progress.settle(gapTimeout: .seconds(30), now: start + .seconds(60))
        #expect(progress.mark == 1)
    }
}

@Suite("Site leases")
struct SiteLeaseTests {
    @Test func oneHolderAtATimeAndALostLeaseCannotRecordProgress() throws {
        let scratch = try ScratchSite("l")
        defer { scratch.drop() }
        let (site, connection) = (scratch.site, scratch.connection)
        let first = try #require(try SiteLease.acquire("processor", site: site, ownerID: "daemon-a", duration: .seconds(30), on: connection))
        #expect(try SiteLease.acquire("processor", site: site, ownerID: "daemon-b", duration: .seconds(30), on: connection) == nil)
        try first.record(progress: 42, on: connection)

        // The holder stalls past expiry; another daemon takes over and resumes from the recorded progress.
        try connection.execute("UPDATE \(site.table(.leases)) SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
        let second = try #require(try SiteLease.acquire("processor", site: site, ownerID: "daemon-b", duration: .seconds(30), on: connection))
        #expect(second.progressID == 42)
        #expect(second.epoch == first.epoch + 1)
        #expect(throws: SiteLeaseLost.self) { try first.record(progress: 99, on: connection) }
        #expect(throws: SiteLeaseLost.self) { try first.renew(duration: .seconds(30), on: connection) }
        try second.release(on: connection)
        #expect(try SiteLease.acquire("processor", site: site, ownerID: "daemon-c", duration: .seconds(30), on: connection) != nil)
    }
}
