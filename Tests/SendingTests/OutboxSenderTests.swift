import CloudChatCrypto
import Foundation
import GraphSimulator
import Logging
import MariaDB
@testable import Sending
import ServiceLifecycle
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore

/// The senders of one site against the Graph API simulator, without webhooks.
@Suite("Outbox sender", .serialized, .timeLimit(.minutes(2)))
struct OutboxSenderTests {
    static func with(simulator adjust: (inout GraphSimulator.Configuration) -> Void = { _ in },
                     sender configure: (inout SenderConfiguration) -> Void = { _ in }, sendRate: Int = 80,
                     token: String = "simulator-access-token",
                     _ body: (OutboxFixture, GraphSimulator, OutboxSenderService) async throws -> Void) async throws {
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        adjust(&simulated)
        let simulator = try await GraphSimulator.start(simulated)
        let fixture = try OutboxFixture("os")
        let keyring = try SecretsKeyring(keys: [("k", SymmetricKey.generate())])
        try AccountCredentials.store(.init(accessToken: token, appSecret: nil), accountID: fixture.accountID, site: fixture.site, keyring: keyring,
                                     on: fixture.connection)
        try fixture.connection.execute("UPDATE \(fixture.site.table(.accounts)) SET send_rate_mps = \(sendRate)")
        var configuration = SenderConfiguration()
        configuration.graphBaseURL = simulator.baseURL
        configuration.pollInterval = .milliseconds(200)
        configure(&configuration)
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 4)
        let http = GraphHTTPClient()
        let service = OutboxSenderService(sites: [fixture.site], pool: pool, http: http, vault: CredentialVault(keyring: keyring),
                                          configuration: configuration, instanceID: "test-daemon", logger: Logger(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test")))
        async let running: Void = group.run()
        do {
            try await body(fixture, simulator, service)
        } catch {
            await group.triggerGracefulShutdown()
            try? await running
            await pool.shutdown()
            http.shutdown()
            await simulator.shutdown()
            fixture.drop()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running
        await pool.shutdown()
        http.shutdown()
        await simulator.shutdown()
        fixture.drop()
    }

    static func states(_ fixture: OutboxFixture) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try fixture.connection.query("SELECT state, COUNT(*) FROM \(fixture.site.table(.outbox)) GROUP BY state") {
            counts[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
        }
        return counts
    }

    @Test func overMetasThroughputItSlowsDownAndStillSendsEachRowOnce() async throws {
        // The account says 100/s but "Meta" allows 10/s: 130429s come back, the pace halves, and nothing is lost or doubled.
        let number = GraphSimulator.BusinessNumber(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398",
                                                   messagesPerSecond: 10)
        try await Self.with(simulator: { $0.numbers = [number] }, sendRate: 100) { fixture, simulator, service in
            var contacts: [String] = []
            for index in 0..<40 {
                let waID = "1650555\(String(format: "%04d", index))"
                contacts.append(waID)
                let contact = try OutboxFixture.addContact(waID, lastInboundAt: Date(), accountID: fixture.accountID, site: fixture.site,
                                                           on: fixture.connection)
                try fixture.queue(contactID: contact)
            }
            service.notify(site: fixture.site)
            try await waitUntil("every row is sent", timeout: .seconds(60)) { (try? Self.states(fixture)) == ["sent": 40] }
            #expect(simulator.statistics().sends.throughputLimited > 0)
            #expect(service.statistics.throughputLimited.load(ordering: .relaxed) > 0)
            #expect(service.statistics.currentPaces["106540352242922"].map { $0 < 100 } == true, "the pace was lowered")
            for waID in contacts { #expect(simulator.acceptedCount(to: waID) == 1) }
        }
    }

    @Test func aTransientErrorIsRetriedAndTheRetriesAreBounded() async throws {
        try await Self.with(simulator: { $0.failureRules = [.init(recipientSuffix: "9999", code: 131000, mode: .synchronous)] },
                            sender: { $0.retryBaseDelay = .milliseconds(20) }) { fixture, simulator, service in
            let contact = try OutboxFixture.addContact("16505559999", lastInboundAt: Date(), accountID: fixture.accountID, site: fixture.site,
                                                       on: fixture.connection)
            let id = try fixture.queue(contactID: contact)
            service.notify(site: fixture.site)
            try await waitUntil("the row gives up") { (try? fixture.outbox(id).decode(String.self, at: 0)) == "failed" }
            let row = try fixture.outbox(id)
            #expect(try row.decode(String?.self, at: 1) == "retries_exhausted")
            // 131000 is retried three times after the first attempt.
            #expect(try row.decode(Int.self, at: 2) == 4)
            #expect(try row.decode(Int?.self, at: 5) == 131000)
            #expect(simulator.acceptedCount(to: "16505559999") == 0)
        }
    }

    @Test func aRefusedTokenHaltsTheNumberAndKeepsItsRows() async throws {
        try await Self.with(token: "expired-token") { fixture, simulator, service in
            let id = try fixture.queue()
            service.notify(site: fixture.site)
            try await waitUntil("the number is halted") {
                (try? fixture.connection.queryFirst("SELECT state FROM \(fixture.site.table(.accounts))")?.decode(String.self, at: 0)) == "halted"
            }
            let account = try #require(try fixture.connection.queryFirst("""
                SELECT state_reason, last_error_code FROM \(fixture.site.table(.accounts))
                """))
            #expect(try account.decode(String?.self, at: 0) == "credentials_invalid")
            #expect(try account.decode(Int?.self, at: 1) == 190)
            try await waitUntil("the row is queued again") { (try? fixture.outbox(id).decode(String.self, at: 0)) == "queued" }
            #expect(simulator.statistics().sends.accepted == 0)
        }
    }

    @Test func agentRepliesOvertakeBulkSends() async throws {
        try await Self.with(sendRate: 5) { fixture, simulator, service in
            // Queued in one transaction, so the sender sees the bulk rows and the reply at once.
            let reply = try fixture.connection.withTransaction { _ in
                for _ in 0..<10 { try fixture.queue(priority: 2) }
                return try fixture.queue(priority: 0)
            }
            service.notify(site: fixture.site)
            try await waitUntil("the reply is sent") { (try? fixture.outbox(reply).decode(String.self, at: 0)) == "sent" }
            let bulkSentBefore = try #require(try fixture.connection.queryFirst("""
                SELECT COUNT(*) FROM \(fixture.site.table(.outbox)) b JOIN \(fixture.site.table(.outbox)) r ON r.id = \(reply)
                 WHERE b.priority = 2 AND b.state = 'sent' AND b.sent_at < r.sent_at
                """)).decode(Int.self, at: 0)
            #expect(bulkSentBefore == 0, "the reply went first although it was queued last")
            _ = simulator
        }
    }
}
