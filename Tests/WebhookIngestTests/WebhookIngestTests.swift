import CloudChatCrypto
import Foundation
import MariaDB
import ServiceLifecycle
import TestSupport
import Testing
import WordPressStore
@testable import WebhookIngest

@Suite("Webhook signature")
struct WebhookSignatureTests {
    let body = Array(#"{"object":"whatsapp_business_account","entry":[]}"#.utf8)

    @Test func acceptsAnyConfiguredSecretAndNothingElse() {
        let verifier = WebhookSignatureVerifier(appSecrets: ["old-secret", "new-secret"])
        for secret in ["old-secret", "new-secret"] {
            #expect(verifier.verify(header: HMACSHA256.signatureHeader(for: body, secret: secret), body: body) == .valid)
        }
        #expect(verifier.verify(header: HMACSHA256.signatureHeader(for: body, secret: "other"), body: body) == .invalid)
        #expect(verifier.verify(header: HMACSHA256.signatureHeader(for: body + [0x20], secret: "new-secret"), body: body) == .invalid)
        #expect(verifier.verify(header: "sha256=zz", body: body) == .invalid)
        #expect(verifier.verify(header: nil, body: body) == .missing)
        #expect(WebhookSignatureVerifier(appSecrets: ["", ""]).verify(header: "sha256=00", body: body) == .notConfigured)
    }
}

@Suite("Webhook routing")
struct WebhookRoutingTests {
    @Test(arguments: [
        (#"{"metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}}"#, "106540352242922"),
        (#"{"phone_number_id" : "123456"}"#, "123456"),
        (#"{"messages":[]}"#, nil),
        (#"{"phone_number_id":12345}"#, nil),
        (#"{"phone_number_id":"12a45"}"#, nil),
        (#"{"phone_number_id":""#, nil),
    ] as [(String, String?)])
    func findsTheFirstPhoneNumberID(_ body: String, _ expected: String?) {
        #expect(WebhookSiteRouter.firstPhoneNumberID(in: Array(body.utf8)) == expected)
    }

    @Test func routesByOwnerOnANetwork() throws {
        let main = try WordPressSite(blogID: 1, tablePrefix: "wp_")
        let shop = try WordPressSite(blogID: 2, tablePrefix: "wp_2_")
        let router = WebhookSiteRouter(sites: [main, shop])
        router.update(owners: ["222": shop])
        let known = router.route(Array(#"{"phone_number_id":"222"}"#.utf8))
        #expect(known == .init(site: shop, phoneNumberID: "222", processingState: "pending"))
        let unknown = router.route(Array(#"{"phone_number_id":"999"}"#.utf8))
        #expect(unknown == .init(site: main, phoneNumberID: "999", processingState: "unrouted"))
        // A single site takes everything.
        let single = WebhookSiteRouter(sites: [shop]).route(Array(#"{"phone_number_id":"999"}"#.utf8))
        #expect(single.site == shop && single.processingState == "pending")
    }

    @Test func aNumberClaimedByTwoSitesIsRoutedToNeither() throws {
        let connection = try TestDatabase.connect()
        let prefix = TestDatabase.uniqueName("r") + "_"
        try WordPressFixture.createNetwork(prefix: prefix, blogIDs: [1, 2, 3], on: connection)
        defer { try? WordPressFixture.dropTables(prefix: prefix, on: connection) }
        let sites = try WordPressSites.discover(on: connection, basePrefix: prefix, multisite: true)
        for site in sites { try SchemaMigrator.migrate(site, on: connection) }
        let now = Date()
        func addAccount(_ site: WordPressSite, _ number: String) throws {
            try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
                VALUES (\("w1"), \(number), \(now), \(now))
                """)
        }
        try addAccount(sites[1], "222")
        try addAccount(sites[2], "333")
        try addAccount(sites[0], "333")
        let owners = try WebhookSiteRouter.loadOwners(of: sites, on: connection)
        #expect(owners == ["222": sites[1]])
    }
}

@Suite("Webhook writer", .timeLimit(.minutes(2)))
struct WebhookEventWriterTests {
    private func withWriter(_ body: (WebhookEventWriter, WordPressSite, MariaDBConnection, ServiceGroup) async throws -> Void) async throws {
        let scratch = try ScratchSite("w")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        let writer = WebhookEventWriter(pool: pool, router: WebhookSiteRouter(sites: [site]), logger: .init(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [writer], logger: .init(label: "test")))
        async let running: Void = group.run()
        try await body(writer, site, connection, group)
        await group.triggerGracefulShutdown()
        try await running
        await pool.shutdown()
    }

    @Test func everyAcknowledgedBodyIsInTheDatabaseAndCommitsAreGrouped() async throws {
        try await withWriter { writer, site, connection, _ in
            let count = 400
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        let body = Array(#"{"n":\#(index),"phone_number_id":"555"}"#.utf8)
                        try await writer.store(AcceptedWebhook(body: body))
                        // Acknowledged means committed: another connection sees it now.
                        let reader = try TestDatabase.connect()
                        let seen = try reader.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE body = \(body)")
                        #expect(try seen?.decode(Int.self, at: 0) == 1)
                    }
                }
                try await group.waitForAll()
            }
            let row = try #require(try connection.queryFirst("""
                SELECT COUNT(*), SUM(signature_verified), SUM(processing_state = 'pending'), MIN(phone_number_id), MAX(phone_number_id)
                FROM \(site.table(.webhookEvents))
                """))
            #expect(try row.decode(Int.self, at: 0) == count)
            #expect(try row.decode(Int.self, at: 1) == count)
            #expect(try row.decode(Int.self, at: 2) == count)
            #expect(try row.decode(String.self, at: 3) == "555")
            let statistics = writer.currentStatistics
            #expect(statistics.stored == count)
            #expect(statistics.commits < count, "concurrent bodies share commits (\(statistics.commits) commits)")
        }
    }

    @Test func bodiesAreStoredByteForByte() async throws {
        try await withWriter { writer, site, connection, _ in
            let body: [UInt8] = Array(#"{"broken json", "emoji":"😀"#.utf8) + [0x00, 0xFF, 0x0A]
            try await writer.store(AcceptedWebhook(body: body))
            let stored = try connection.queryFirst("SELECT body FROM \(site.table(.webhookEvents))")?.decode([UInt8].self, at: 0)
            #expect(stored == body)
        }
    }

    @Test func aFailedCommitFailsItsRequestsAndTheWriterRecovers() async throws {
        try await withWriter { writer, site, connection, _ in
            try connection.execute(unsafeSQL: "RENAME TABLE \(site.table(.webhookEvents).quoted) TO \(site.table(.webhookEvents).name)_away")
            await #expect(throws: WebhookStoreError.self) { try await writer.store(AcceptedWebhook(body: [0x7B, 0x7D])) }
            try connection.execute(unsafeSQL: "RENAME TABLE \(site.table(.webhookEvents).name)_away TO \(site.table(.webhookEvents).quoted)")
            try await writer.store(AcceptedWebhook(body: [0x7B, 0x7D]))
            #expect(writer.currentStatistics.failed == 1)
            #expect(writer.currentStatistics.stored == 1)
        }
    }

    @Test func shutdownCommitsWhatWasAcceptedAndRefusesTheRest() async throws {
        try await withWriter { writer, site, connection, group in
            let results = Task {
                await withTaskGroup(of: Bool.self) { tasks in
                    for index in 0..<200 {
                        tasks.addTask { (try? await writer.store(AcceptedWebhook(body: Array("{\"n\":\(index)}".utf8)))) != nil }
                    }
                    return await tasks.reduce(into: [Bool]()) { $0.append($1) }
                }
            }
            await group.triggerGracefulShutdown()
            let acknowledged = await results.value.filter { $0 }.count
            let stored = try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents))")?.decode(Int.self, at: 0)
            #expect(stored == acknowledged, "every acknowledged body is stored, and nothing unacknowledged")
            await #expect(throws: WebhookStoreError.self) { try await writer.store(AcceptedWebhook(body: [0x7B, 0x7D])) }
        }
    }
}

@Suite("Webhook writer limits")
struct WebhookWriterLimitsTests {
    @Test func commitsAndBodiesFitTheServersPacket() {
        let roomy = WebhookEventWriter.Limits.fitting(maxAllowedPacket: 64 * 1024 * 1024, maxBodyBytes: 4 * 1024 * 1024)
        #expect(roomy.limits.maxBytes == 8 * 1024 * 1024)
        #expect(roomy.maxBodyBytes == 4 * 1024 * 1024)
        let tight = WebhookEventWriter.Limits.fitting(maxAllowedPacket: 4 * 1024 * 1024, maxBodyBytes: 4 * 1024 * 1024)
        #expect(tight.limits.maxBytes < 4 * 1024 * 1024)
        #expect(tight.maxBodyBytes == tight.limits.maxBytes, "a body that fits alone also fits a commit")
    }
}
