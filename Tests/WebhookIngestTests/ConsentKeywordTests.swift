import Foundation
import Logging
import MariaDB
import TestSupport
import Testing
import WordPressStore
@testable import WebhookIngest

@Suite("Consent keywords")
struct ConsentKeywordMatchingTests {
    @Test(arguments: ["STOP", "stop", " Stop! ", "Unsubscribe", "baja", "¿Baja?", "ALTO", "parar", "Sair", "Arrêt", "arret", "ARRÊTER",
                      "Désabonner", "stopp", "Abmelden", "annulla", "opt   out", "ＳＴＯＰ"])
    func optOutWordsMatchTheWholeTextIgnoringCaseAccentsAndPunctuation(text: String) {
        #expect(ConsentKeywords.defaults.match(text)?.action == .optOut)
    }

    @Test(arguments: ["START", "start", "Unstop", "alta", "Démarrer", "iniciar", "Anmelden"])
    func optInWordsMatch(text: String) {
        #expect(ConsentKeywords.defaults.match(text)?.action == .optIn)
    }

    @Test(arguments: ["please stop", "don't stop me now", "STOP IT", "stopped", "started", "", "   ", "🙏", "S T O P", "STOPSTOP"])
    func otherTextsDoNot(text: String) {
        #expect(ConsentKeywords.defaults.match(text) == nil)
    }

    @Test func configuredListsReplaceTheBuiltInOnes() {
        let keywords = ConsentKeywords(optOut: ConsentKeywords.words(" Basta , HALT,,"), optIn: ConsentKeywords.words("weiter"))
        #expect(keywords.match("basta")! == (.optOut, "BASTA"))
        #expect(keywords.match("Halt.")?.action == .optOut)
        #expect(keywords.match("Weiter")?.action == .optIn)
        #expect(keywords.match("STOP") == nil)
        #expect(ConsentKeywords(optOut: [], optIn: []).isEmpty)
        // A word in both lists opts out; a site's word wins over the daemon's.
        #expect(ConsentKeywords(optOut: ["X"], optIn: ["x"]).match("x")?.action == .optOut)
        #expect(ConsentKeywords.defaults.merging(ConsentKeywords(optOut: [], optIn: ["stop"])).match("Stop")?.action == .optIn)
    }
}

@Suite("Consent keywords in processing", .serialized, .timeLimit(.minutes(2)))
struct ConsentKeywordProcessingTests {
    static let phoneNumberID = "106540352242922"

    final class Fixture {
        let scratch: ScratchSite
        let pool: MariaDBPool
        let accountID: UInt64
        var site: WordPressSite { scratch.site }
        var connection: MariaDBConnection { scratch.connection }

        init() throws {
            scratch = try ScratchSite("ck")
            pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
            accountID = try scratch.connection.execute("""
                INSERT INTO \(scratch.site.table(.accounts)) (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
                VALUES ('102290129340398', \(ConsentKeywordProcessingTests.phoneNumberID), '15550783881', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
        }

        func close() async {
            await pool.shutdown()
            scratch.drop()
        }

        @discardableResult
        func text(_ body: String, wamid: String, from: String = "16505551234", at time: Int) throws -> UInt64 {
            let json = #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\#(ConsentKeywordProcessingTests.phoneNumberID)"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"\#(from)"}],"messages":[{"from":"\#(from)","id":"\#(wamid)","timestamp":"\#(time)","type":"text","text":{"body":"\#(body)"}}]}}]}]}"#
            return try connection.execute("""
                INSERT INTO \(site.table(.webhookEvents)) (received_at, signature_verified, processing_state, body)
                VALUES (UTC_TIMESTAMP(6), 1, 'pending', \(Array(json.utf8)))
                """).lastInsertID
        }

        func process(_ keywords: ConsentKeywords = .defaults) async throws {
            var options = WebhookProcessor.Options()
            options.consentKeywords = keywords
            let processor = WebhookProcessor(site: site, pool: pool, instanceID: "test:\(UUID().uuidString.prefix(8))", options: options,
                                             logger: Logger(label: "test"))
            _ = try await processor.processAvailable()
        }

        func consent(_ waID: String = "16505551234") throws -> (state: String, source: String?, at: Date?) {
            let row = try #require(try connection.queryFirst("""
                SELECT consent_state, consent_source, consent_changed_at FROM \(site.table(.contacts)) WHERE wa_id = \(waID)
                """))
            return (try row.decode(at: 0), try row.decode(at: 1), try row.decode(at: 2))
        }

        func history() throws -> [String] {
            try connection.query("""
                SELECT CONCAT(event, ':', source, ':', COALESCE(detail, ''), ':', COALESCE(wamid, '')) FROM \(site.table(.consentEvents)) ORDER BY occurred_at, id
                """).map { try $0.decode(String.self, at: 0) }
        }
    }

    @Test func stopOptsOutAndStartOptsBackInWithMetaTimeAndHistory() async throws {
        let fixture = try Fixture()
        do {
            try fixture.text("Hello, is the shop open?", wamid: "wamid.K1", at: 1_749_400_000)
            try await fixture.process()
            #expect(try fixture.consent().state == "unknown")

            let stop = try fixture.text("  Stop! ", wamid: "wamid.K2", at: 1_749_400_100)
            try await fixture.process()
            let out = try fixture.consent()
            #expect(out.state == "opted_out" && out.source == "keyword")
            #expect(out.at == Date(timeIntervalSince1970: 1_749_400_100))
            #expect(try fixture.history() == ["opted_out:keyword:STOP:wamid.K2"])
            let stored = try #require(try fixture.connection.queryFirst("""
                SELECT webhook_event_id FROM \(fixture.site.table(.consentEvents)) WHERE wamid = 'wamid.K2'
                """))
            #expect(try stored.decode(UInt64.self, at: 0) == stop)
            // The message itself is kept like any other.
            #expect(try fixture.connection.queryFirst("SELECT body FROM \(fixture.site.table(.messages)) WHERE wamid = 'wamid.K2'")?
                .decode(String.self, at: 0) == "  Stop! ")

            // Words inside a sentence do nothing.
            try fixture.text("please don't stop the deliveries", wamid: "wamid.K3", at: 1_749_400_200)
            try await fixture.process()
            #expect(try fixture.consent().state == "opted_out")

            try fixture.text("démarrer", wamid: "wamid.K4", at: 1_749_400_300)
            try await fixture.process()
            #expect(try fixture.consent().state == "opted_in")
            #expect(try fixture.history() == ["opted_out:keyword:STOP:wamid.K2", "opted_in:keyword:DEMARRER:wamid.K4"])

            // A STOP delivered late (older Meta time) is kept in the history but does not undo the newer opt-in.
            try fixture.text("BAJA", wamid: "wamid.K0", at: 1_749_400_050)
            // The same STOP delivered again changes nothing.
            try fixture.text("  Stop! ", wamid: "wamid.K2", at: 1_749_400_100)
            try await fixture.process()
            #expect(try fixture.consent().state == "opted_in")
            #expect(try fixture.history().count == 3)

            // Replaying every stored event yields the same state and history.
            try WebhookProcessor.replay(site: fixture.site, ids: 1...100, on: fixture.connection)
            #expect(try fixture.consent().state == "opted_in")
            #expect(try fixture.history().count == 3)
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }

    @Test func theDaemonsListsAndTheSitesRulesDecide() async throws {
        let fixture = try Fixture()
        do {
            // The site adds "PAUSA" for every number, and a disabled rule adds nothing.
            try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.automations)) (account_id, name, kind, is_enabled, trigger_json, created_at, updated_at)
                VALUES (NULL, 'Pause', 'opt_out_keywords', 1, '{"keywords":["Pausa"],"match":"exact"}', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)),
                       (\(fixture.accountID), 'Off', 'opt_out_keywords', 0, '{"keywords":["NO MORE"]}', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)),
                       (\(fixture.accountID), 'Back', 'opt_in_keywords', 1, '{"keywords":["Volver"]}', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            // The daemon is configured with its own words only: STOP is not one of them.
            let keywords = ConsentKeywords(optOut: ["BASTA"], optIn: ["AVANTI"])
            try fixture.text("STOP", wamid: "wamid.S1", from: "16505550001", at: 1_749_400_000)
            try fixture.text("basta", wamid: "wamid.S2", from: "16505550002", at: 1_749_400_000)
            try fixture.text("pausa", wamid: "wamid.S3", from: "16505550003", at: 1_749_400_000)
            try fixture.text("no more", wamid: "wamid.S4", from: "16505550004", at: 1_749_400_000)
            try fixture.text("volver", wamid: "wamid.S5", from: "16505550005", at: 1_749_400_000)
            try await fixture.process(keywords)
            #expect(try fixture.consent("16505550001").state == "unknown")
            #expect(try fixture.consent("16505550002").state == "opted_out")
            #expect(try fixture.consent("16505550003").state == "opted_out")
            #expect(try fixture.consent("16505550004").state == "unknown")
            #expect(try fixture.consent("16505550005").state == "opted_in")
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }
}
