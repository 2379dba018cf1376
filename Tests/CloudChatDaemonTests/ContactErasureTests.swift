import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import MariaDB
import TestSupport
import WhatsAppCloudAPI
import Testing

@Suite("Contact erasure", .serialized, .timeLimit(.minutes(2)))
struct ContactErasureTests {
    static func inbound(from waID: String, name: String, wamid: String, text: String) -> [UInt8] {
        Array("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
            "contacts":[{"profile":{"name":"\(name)"},"wa_id":"\(waID)"}],
            "messages":[{"from":"\(waID)","id":"\(wamid)","timestamp":"\(Int(Date().timeIntervalSince1970))","type":"text","text":{"body":"\(text)"}}]}}]}]}
            """.utf8)
    }

    @Test func erasesEveryRowFileAndRawWebhookOfTheContactAndNothingOfOthers() async throws {
        let media = try TemporaryDirectory()
        defer { media.remove() }
        try await RunningDaemon.with(configure: {
            $0.controlSecret = ControlAPITests.secret
            $0.uploadsDirectory = media.path
        }) { daemon in
            let (connection, site) = (daemon.connection, daemon.site)
            try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, state, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', 'active', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            #expect(try await ControlAPITests.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1,"topic":"accounts"}"#).0 == 202)
            for (waID, name, wamid) in [("16505550001", "Ana", "wamid.ERASE1"), ("16505550002", "Bo", "wamid.KEEP1")] {
                let body = Self.inbound(from: waID, name: name, wamid: wamid, text: "hello from \(name)")
                let answer = try await daemon.request("POST", "/webhook", body: body, headers: [
                    "X-Hub-Signature-256": HMACSHA256.signatureHeader(for: body, secret: "app-secret-1"), "Content-Type": "application/json",
                ])
                #expect(answer.0 == 200)
            }
            func count(_ sql: SQLQuery) throws -> Int { try connection.queryFirst(sql)?.decode(Int.self, at: 0) ?? -1 }
            for _ in 0..<100 where try count("SELECT COUNT(*) FROM \(site.table(.messages))") < 2 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let ana = try #require(try connection.queryFirst("SELECT id FROM \(site.table(.contacts)) WHERE wa_id = '16505550001'")?.decode(UInt64.self, at: 0))
            // A stored file, a tag, consent, an outbox row: all of it is Ana's.
            let directory = media.path + "/cloudchat/2026/11"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data("photo".utf8).write(to: URL(fileURLWithPath: directory + "/k3v9.jpg"))
            try connection.execute("""
                INSERT INTO \(site.table(.media)) (account_id, contact_id, direction, state, storage_path, created_at, updated_at)
                VALUES (1, \(ana), 'inbound', 'stored', '2026/11/k3v9.jpg', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            try connection.execute("INSERT INTO \(site.table(.contactTags)) (contact_id, tag, created_at) VALUES (\(ana), 'vip', UTC_TIMESTAMP(6))")
            try connection.execute("""
                INSERT INTO \(site.table(.outbox)) (account_id, contact_id, type, payload_json, source, next_attempt_at, created_at, updated_at)
                VALUES (1, \(ana), 'text', '{"type":"text","text":{"body":"hi Ana"}}', 'agent', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)

            let erased = try await ControlAPITests.signed(daemon, "POST", "/v1/contacts/\(ana)/erase", #"{"blog_id":1,"actor_user_id":3}"#)
            #expect(erased.0 == 200, "\(erased.1)")
            let report = try JSONValue.parse(Array(erased.1.utf8))
            #expect(report["files"] == .number(1))
            #expect(report["erased"]?["contacts"] == .number(1) && report["erased"]?["messages"] == .number(1))
            #expect(report["erased"]?["webhook_events"] == .number(1), "only the raw webhook naming Ana")
            #expect(!FileManager.default.fileExists(atPath: directory + "/k3v9.jpg"))
            for table in [site.table(.messages), site.table(.conversations), site.table(.contactTags), site.table(.outbox), site.table(.media)] {
                #expect(try count("SELECT COUNT(*) FROM \(table) WHERE contact_id = \(ana)") == 0, "\(table)")
            }
            #expect(try count("SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE body LIKE '%16505550001%'") == 0)
            // Bo is untouched.
            #expect(try count("SELECT COUNT(*) FROM \(site.table(.contacts)) WHERE wa_id = '16505550002'") == 1)
            #expect(try count("SELECT COUNT(*) FROM \(site.table(.messages)) WHERE wamid = 'wamid.KEEP1'") == 1)
            #expect(try count("SELECT COUNT(*) FROM \(site.table(.webhookEvents))") == 1)
            // The audit entry names the former id and counts, never the number or name.
            let audit = try #require(try connection.queryFirst("""
                SELECT details_json FROM \(site.table(.auditLog)) WHERE action = 'contact.erased' AND object_id = \(ana) AND actor_user_id = 3
                """)?.decode(String.self, at: 0))
            #expect(audit.contains(#""messages":1"#) && !audit.contains("16505550001") && !audit.contains("Ana"))
            // Erasing again finds nothing: 404, and nothing else changes.
            #expect(try await ControlAPITests.signed(daemon, "POST", "/v1/contacts/\(ana)/erase", #"{"blog_id":1}"#).0 == 404)
        }
    }
}
