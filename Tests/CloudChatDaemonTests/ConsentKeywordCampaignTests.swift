import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import MariaDB
import Sending
import TestSupport
import Testing
import WhatsAppCloudAPI

@Suite("Consent keywords and campaigns", .serialized, .timeLimit(.minutes(2)))
struct ConsentKeywordCampaignTests {
    @Test func aContactWhoTextedStopIsSkippedByACampaign() async throws {
        try await RunningDaemon.with(configure: { $0.controlSecret = ControlAPITests.secret }) { daemon in
            let (connection, site) = (daemon.connection, daemon.site)
            let accountID = try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, state, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', 'active', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            #expect(try await ControlAPITests.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1,"topic":"accounts"}"#).0 == 202)
            try connection.execute("""
                INSERT INTO \(site.table(.templates)) (waba_id, name, language, status, components_json, created_at, updated_at)
                VALUES ('102290129340398', 'spring_sale', 'en_US', 'APPROVED', '[]', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            // Two customers who opted in and are tagged for the campaign.
            for waID in ["16505550001", "16505550002"] {
                let id = try connection.execute("""
                    INSERT INTO \(site.table(.contacts)) (account_id, wa_id, consent_state, consent_source, consent_changed_at, source, created_at, updated_at)
                    VALUES (\(accountID), \(waID), 'opted_in', 'import', '2025-01-01 00:00:00', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                    """).lastInsertID
                try connection.execute("INSERT INTO \(site.table(.contactTags)) (contact_id, tag, created_at) VALUES (\(id), 'vip', UTC_TIMESTAMP(6))")
            }
            // One of them texts "Stop" to the business number.
            let body = ContactErasureTests.inbound(from: "16505550001", name: "Ana", wamid: "wamid.STOP1", text: "Stop")
            let answer = try await daemon.request("POST", "/webhook", body: body, headers: [
                "X-Hub-Signature-256": HMACSHA256.signatureHeader(for: body, secret: "app-secret-1"), "Content-Type": "application/json",
            ])
            #expect(answer.0 == 200)
            try await waitUntil("the STOP is processed") {
                (try? connection.queryFirst("SELECT consent_state FROM \(site.table(.contacts)) WHERE wa_id = '16505550001'")?
                    .decode(String.self, at: 0)) == "opted_out"
            }
            let consent = try #require(try connection.queryFirst("""
                SELECT consent_source, event, e.source, detail, e.wamid FROM \(site.table(.contacts)) c
                  JOIN \(site.table(.consentEvents)) e ON e.contact_id = c.id WHERE c.wa_id = '16505550001'
                """))
            #expect(try consent.decode(String.self, at: 0) == "keyword")
            #expect(try consent.decode(String.self, at: 1) == "opted_out")
            #expect(try consent.decode(String.self, at: 3) == "STOP")
            #expect(try consent.decode(String.self, at: 4) == "wamid.STOP1")

            // A campaign to the tag reaches the other customer and records the one who stopped as skipped.
            let store = CampaignStore(site: site)
            let campaign = try store.create(NewCampaign(phoneNumberID: "106540352242922", name: "Spring", templateName: "spring_sale",
                                                        templateLanguage: "en_US", variables: nil,
                                                        audience: .object(["type": "tags", "tags": .array(["vip"]), "match": "any"]),
                                                        rateLimit: nil), on: connection)
            let started = try store.start(campaign, on: connection)
            #expect(started.recipientsTotal == 2)
            let states = try connection.query("""
                SELECT c.wa_id, r.state, COALESCE(r.state_reason, '') FROM \(site.table(.campaignRecipients)) r
                  JOIN \(site.table(.contacts)) c ON c.id = r.contact_id WHERE r.campaign_id = \(campaign) ORDER BY c.wa_id
                """).map { "\(try $0.decode(String.self, at: 0)):\(try $0.decode(String.self, at: 1)):\(try $0.decode(String.self, at: 2))" }
            #expect(states.first == "16505550001:skipped:opted_out")
            #expect(states.last?.hasPrefix("16505550002:") == true && states.last?.contains("skipped") == false)
        }
    }
}
