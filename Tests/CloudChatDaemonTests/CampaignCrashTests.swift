import CloudChatCrypto
import Foundation
import GraphSimulator
import MariaDB
import Sending
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore

/// A campaign sent by a real `cloudchatd serve` process that is killed without warning, then restarted.
@Suite("Campaign crash safety", .serialized, .timeLimit(.minutes(5)))
struct CampaignCrashTests {
    static let recipients = 1500
    // At 200 messages/s the campaign takes 7.5 s, so every kill point falls inside it even when the
    // machine is busy and the test looks at the count late.

    @Test(arguments: [1, 300, 1100])
    func killMinusNineAtAnyMomentStillMessagesEveryoneExactlyOnce(killAfterAccepted: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("kc")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText())
        chmod(keyFile, 0o600)
        let webhookPort = try FreePort.reserve()

        // "Meta": fast, with status webhooks that are retried while the daemon is down.
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        simulated.numbers = [GraphSimulator.BusinessNumber(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881",
                                                           wabaID: "102290129340398", messagesPerSecond: 1000)]
        simulated.webhookURL = "http://127.0.0.1:\(webhookPort)/webhook"
        simulated.appSecret = "crash-secret"
        simulated.statuses.sentDelay = .milliseconds(50)
        simulated.statuses.deliveredDelay = .milliseconds(150)
        simulated.statuses.readProbability = 0
        simulated.delivery.firstRetryDelay = .milliseconds(200)
        simulated.delivery.maximumRetryDelay = .seconds(1)
        simulated.delivery.maximumAttempts = 300
        let simulator = try await GraphSimulator.start(simulated)
        defer { Task { await simulator.shutdown() } }

        let accountID = try connection.execute("""
            INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, send_rate_mps, created_at, updated_at)
            VALUES ('102290129340398', '106540352242922', 200, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
        try AccountCredentials.store(.init(accessToken: "simulator-access-token", appSecret: nil), accountID: accountID, site: site,
                                     keyring: try SecretsKeyring(contentsOf: keyFile), on: connection)
        try connection.execute("""
            INSERT INTO \(site.table(.templates)) (waba_id, name, language, status, components_json, created_at, updated_at)
            VALUES ('102290129340398', 'hello_world', 'en_US', 'APPROVED', '[]', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        let numbers = (0..<Self.recipients).map { String(16_505_550_000 + $0) }
        for chunk in numbers.chunked(into: 500) {
            try connection.execute(try SQLQuery.insert(
                into: site.table(.contacts), columns: ["account_id", "wa_id", "consent_state", "source", "created_at", "updated_at"],
                rows: chunk.map { [.uint(accountID), .string($0), .string("opted_in"), .string("import"), .date(Date()), .date(Date())] }))
        }
        let campaignID = try CampaignStore(site: site).create(NewCampaign(
            phoneNumberID: "106540352242922", name: "Crash test", templateName: "hello_world", templateLanguage: "en_US",
            audience: .object(["type": "all_opted_in"])), on: connection)
        try CampaignStore(site: site).start(campaignID, on: connection)

        let environment = [
            "CLOUDCHAT_HTTP_LISTEN": "127.0.0.1:\(webhookPort)", "CLOUDCHAT_CONTROL_LISTEN": "127.0.0.1:0",
            "CLOUDCHAT_WEBHOOK_APP_SECRET": "crash-secret", "CLOUDCHAT_SPOOL_DIR": directory.path + "/spool",
            "CLOUDCHAT_SECRETS_KEY_FILE": keyFile, "CLOUDCHAT_GRAPH_BASE_URL": simulator.baseURL,
            // Long enough for the webhooks held back while the daemon is down to arrive after the restart.
            "CLOUDCHAT_SEND_RECONCILE_GRACE": "6",
        ]
        let first = try ServeProcess(["--wordpress", directory.path + "/site"], environment: environment)
        _ = try await first.waitUntilReady()
        try await waitUntil("\(killAfterAccepted) sends were accepted", timeout: .seconds(60)) {
            simulator.statistics().sends.accepted >= killAfterAccepted
        }
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(first.process.terminationReason == .uncaughtSignal)
        #expect(simulator.statistics().sends.accepted < Self.recipients, "it was killed while the campaign ran")

        // The killed daemon's sender lease would expire after its 30-second term; expire it now instead of waiting.
        try connection.execute("UPDATE \(site.table(.leases)) SET expires_at = UTC_TIMESTAMP(6) WHERE name LIKE 'sender:%'")
        let second = try ServeProcess(["--wordpress", directory.path + "/site"], environment: environment)
        _ = try await second.waitUntilReady()
        try await waitUntil("the campaign completes", timeout: .seconds(90)) {
            (try? CampaignStore(site: site).load(campaignID, on: connection).state) == .completed
        }
        let duplicates = numbers.filter { simulator.acceptedCount(to: $0) > 1 }
        let missed = numbers.filter { simulator.acceptedCount(to: $0) == 0 }
        #expect(duplicates.isEmpty, "\(duplicates.count) recipients were messaged twice")
        #expect(missed.isEmpty, "\(missed.count) recipients were never messaged")
        #expect(simulator.statistics().sends.accepted == Self.recipients)
        let states = try connection.query("""
            SELECT state, COUNT(*) FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(campaignID) GROUP BY state
            """).map { "\(try $0.decode(String.self, at: 0))=\(try $0.decode(Int.self, at: 1))" }
        #expect(states.allSatisfy { $0.hasPrefix("sent=") || $0.hasPrefix("delivered=") }, "\(states)")
        // Statuses reach the recipients through the webhooks: everyone ends delivered.
        do {
            try await waitUntil("every recipient is delivered", timeout: .seconds(90)) {
                (try? connection.queryFirst("""
                    SELECT COUNT(*) FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(campaignID) AND state = 'delivered'
                    """)?.decode(Int.self, at: 0)) == Self.recipients
            }
        } catch {
            Issue.record("status webhooks: \(simulator.statistics().webhooks); the daemon said: \(second.logText.suffix(2000))")
            throw error
        }
        kill(second.process.processIdentifier, SIGTERM)
        second.process.waitUntilExit()
    }
}
