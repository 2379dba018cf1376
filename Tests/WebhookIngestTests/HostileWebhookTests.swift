import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MariaDB
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore
@testable import WebhookIngest

/// Malformed, truncated, deeply nested, huge-number and wrong-typed bodies thrown at the
/// router, the parser and the processor. The seed is printed; `CLOUDCHAT_FUZZ_SEED=<seed>`
/// replays the same bodies.
@Suite("Hostile webhook bodies", .serialized, .timeLimit(.minutes(2)))
struct HostileWebhookTests {
    static let parsedBodies = 100_000
    static let processedBodies = 2_500

    /// What one stream of bodies led to.
    struct Tally: Sendable {
        var decoded = 0
        var refused = 0
        var split = 0
        var largest = 0
        var bytes = 0
        var quotedPayload = 0
    }

    /// Routes and parses `count` bodies of one seeded stream.
    static func run(seed: UInt64, count: Int) throws -> Tally {
        var bodies = HostileWebhookBodies(seed: seed)
        let one = try WordPressSite(blogID: 1, tablePrefix: "wp_")
        let two = try WordPressSite(blogID: 2, tablePrefix: "wp_2_")
        let router = WebhookSiteRouter(sites: [one, two])
        router.update(owners: .init(numbers: [bodies.phoneNumberID: two, "106540352242999": one], wabas: [bodies.wabaID: [one, two]]))
        var tally = Tally()
        // Envelopes are costly to make; byte-level variants of a few thousand of them are not.
        let envelopes = (0..<1_000).map { _ in bodies.envelope() }
        for _ in 0..<count {
            let body = bodies.mutated(envelopes[bodies.index(below: envelopes.count)])
            tally.largest = max(tally.largest, body.count)
            tally.bytes += body.count
            let routes = router.route(body)
            if routes.isEmpty { tally.refused = -1_000_000 }
            if routes.contains(where: \.isSplit) {
                tally.split += 1
                // A split part is itself a body the parser reads.
                for route in routes { _ = try? WebhookNotification.decode(route.body(from: body)) }
            }
            do {
                _ = try WebhookNotification.decode(body)
                tally.decoded += 1
            } catch {
                tally.refused += 1
                // The reason never quotes the body.
                let reason = "\(error)"
                if reason.contains("<script>") || reason.contains("DROP TABLE") { tally.quotedPayload += 1 }
            }
        }
        return tally
    }

    /// Runs `work` on a new thread and resumes with its result.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                // The lowest priority: the tests running beside this CPU-bound loop keep their time
                // (leases renewed on time, polls answered), and the loop takes what is left.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)  // on Linux, 0 is the calling thread
                continuation.resume(with: Result { try work() })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    @Test func theRouterAndParserTakeEveryBodyWithoutCrashingOrHanging() async throws {
        let seed = HostileWebhookBodies().seed
        print("hostile webhook bodies: seed \(seed) (CLOUDCHAT_FUZZ_SEED=\(seed) replays them)")
        // Two streams, each from its own seed derived from the printed one, each on a thread of its own:
        // this CPU-bound loop must not hold the cooperative pool's threads from the tests running beside it.
        async let first = Self.onOwnThread { try Self.run(seed: seed, count: Self.parsedBodies / 2) }
        async let second = Self.onOwnThread { try Self.run(seed: seed &+ 1, count: Self.parsedBodies - Self.parsedBodies / 2) }
        let tallies = try await [first, second]
        let decoded = tallies.map(\.decoded).reduce(0, +)
        let refused = tallies.map(\.refused).reduce(0, +)
        print("hostile webhook bodies: \(decoded) decoded, \(refused) refused, \(tallies.map(\.split).reduce(0, +)) split between sites, "
              + "\(tallies.map(\.bytes).reduce(0, +) / Self.parsedBodies) bytes on average, largest \(tallies.map(\.largest).max() ?? 0)")
        #expect(decoded + refused == Self.parsedBodies, "every body was routed somewhere and parsed or refused")
        #expect(tallies.allSatisfy { $0.quotedPayload == 0 }, "no parse error quotes the body")
        #expect(decoded > Self.parsedBodies / 20 && refused > Self.parsedBodies / 10, "the generator covers both kinds")
    }

    @Test func everyStoredBodyEndsProcessedOrWithItsErrorAndNoneIsLeftPending() async throws {
        var bodies = HostileWebhookBodies()
        print("hostile webhook processing: seed \(bodies.seed) (CLOUDCHAT_FUZZ_SEED=\(bodies.seed) replays them)")
        let scratch = try ScratchSite("hw")
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        do {
            let (connection, site) = (scratch.connection, scratch.site)
            try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
                VALUES (\(bodies.wabaID), \(bodies.phoneNumberID), '15550783881', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            var stored = 0
            var batch: [[MariaDBValue]] = []
            for index in 0..<Self.processedBodies {
                let body = bodies.nextBody()
                // The listener refuses bodies over its cap before they are stored.
                guard body.count <= 1_048_576 else { continue }
                batch.append([.date(Date()), .int(1), .string("pending"), .bytes(body)])
                if batch.count == 100 || index == Self.processedBodies - 1 {
                    try connection.execute(try SQLQuery.insert(into: site.table(.webhookEvents),
                                                               columns: ["received_at", "signature_verified", "processing_state", "body"], rows: batch))
                    stored += batch.count
                    batch.removeAll()
                }
            }
            var options = WebhookProcessor.Options()
            options.gapTimeout = .milliseconds(1)
            let processor = WebhookProcessor(site: site, pool: pool, instanceID: "fuzz", options: options, logger: Logger(label: "test"))
            func pending() throws -> Int {
                try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE processing_state = 'pending'")!.decode(Int.self, at: 0)
            }
            var rounds = 0
            while try pending() > 0, rounds < 200 {
                _ = try await processor.processAvailable()
                rounds += 1
            }
            var states: [String: Int] = [:]
            for row in try connection.query("SELECT processing_state, COUNT(*) FROM \(site.table(.webhookEvents)) GROUP BY processing_state") {
                states[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
            }
            print("hostile webhook processing: \(stored) stored, outcomes \(states.sorted { $0.key < $1.key })")
            #expect(states.values.reduce(0, +) == stored)
            #expect(states["pending"] == nil, "every body was processed")
            let failed = try failures(site, connection)
            #expect(states["failed"] == nil, "no body made processing fail: \(failed)")
            #expect(Set(states.keys).isSubset(of: ["processed", "partial", "invalid", "unrouted"]))
            // A body that was refused says why; a processed one does not.
            #expect(try connection.queryFirst("""
                SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE processing_state IN ('invalid', 'partial') AND processing_error IS NULL
                """)!.decode(Int.self, at: 0) == 0)
            #expect((states["processed"] ?? 0) > 0 && (states["invalid"] ?? 0) > 0)
        } catch {
            await pool.shutdown()
            scratch.drop()
            throw error
        }
        await pool.shutdown()
        scratch.drop()
    }

    private func failures(_ site: WordPressSite, _ connection: MariaDBConnection) throws -> [String] {
        try connection.query("""
            SELECT CONCAT(id, ': ', COALESCE(processing_error, '')) FROM \(site.table(.webhookEvents)) WHERE processing_state = 'failed' LIMIT 5
            """).map { try $0.decode(String.self, at: 0) }
    }
}
