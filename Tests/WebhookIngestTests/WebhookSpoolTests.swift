import Foundation
import MariaDB
import ServiceLifecycle
import TestSupport
import Testing
import WordPressStore
@testable import WebhookIngest

@Suite("Webhook spool", .timeLimit(.minutes(2)))
struct WebhookSpoolTests {
    private func entry(_ n: Int, prefix: String = "wp_") -> (siteKey: String, row: WebhookEventRow) {
        (prefix, WebhookEventRow(receivedAt: Date(timeIntervalSince1970: 1_750_000_000.123456 + Double(n)),
                                 phoneNumberID: n % 2 == 0 ? "106540352242922" : nil, wabaID: n == 3 ? "102290129340398" : nil,
                                 isSplit: n == 3, processingState: n == 3 ? "unrouted" : "pending", body: Array("{\"n\":\(n)} 😀".utf8) + [0x00]))
    }

    @Test func batchesSurviveARestartAndSequencesKeepGrowing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let spool = try WebhookSpool(directory: directory.path)
        #expect(!spool.hasPending)
        try await spool.append([entry(1), entry(2)])
        try await spool.append([entry(3)])
        // A torn temporary file from a crash mid-write is not a batch.
        try directory.write("00000000000000000009-00000000000000000009.batch.tmp", "half")

        let reopened = try WebhookSpool(directory: directory.path)
        #expect(reopened.spoolID == spool.spoolID)
        #expect(reopened.pendingBatches == 2)
        let first = try #require(try await reopened.oldest())
        #expect(first.records.map(\.sequence) == [1, 2])
        #expect(first.records[0].row.body == entry(1).row.body)
        #expect(first.records[0].row.phoneNumberID == nil && first.records[1].row.phoneNumberID == "106540352242922")
        #expect(abs(first.records[0].row.receivedAt.timeIntervalSince1970 - entry(1).row.receivedAt.timeIntervalSince1970) < 0.000_002)
        try await reopened.remove(first)
        let second = try #require(try await reopened.oldest())
        var expected = entry(3).row
        expected.receivedAt = second.records[0].row.receivedAt
        #expect(second.records[0].row == expected)
        try await reopened.remove(second)
        #expect(!reopened.hasPending)

        // With every batch drained and removed, numbering still continues, never reusing one.
        let again = try WebhookSpool(directory: directory.path)
        try await again.append([entry(4)])
        #expect(try await again.oldest()?.records.map(\.sequence) == [4])
    }

    @Test func batchesWrittenBeforeWABAAndSplitWereRecordedStillDrain() throws {
        // The first format: magic, count, then sequence, micros, prefix, phone id, state, body.
        var old = Array("CCSP1".utf8)
        func put(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { old += $0 } }
        func put(_ text: String) { put(UInt64(text.utf8.count)); old += Array(text.utf8) }
        put(1)
        put(7)
        put(1_750_000_000_000_000)
        put("wp_")
        put("106540352242922")
        put("pending")
        put("{}")
        let records = try WebhookSpool.decode(old, path: "old.batch")
        #expect(records == [.init(sequence: 7, siteKey: "wp_", row: WebhookEventRow(
            receivedAt: Date(timeIntervalSince1970: 1_750_000_000), phoneNumberID: "106540352242922", processingState: "pending",
            body: Array("{}".utf8)))])
    }

    @Test func aDamagedBatchIsReportedNotMisread() throws {
        #expect(throws: WebhookSpoolError.self) { try WebhookSpool.decode(Array("CCSP1garbage".utf8), path: "x.batch") }
        var encoded = WebhookSpool.encode([.init(sequence: 1, siteKey: "wp_", row: entry(1).row)])
        encoded.removeLast()
        #expect(throws: WebhookSpoolError.self) { try WebhookSpool.decode(encoded, path: "x.batch") }
    }
}

@Suite("Webhook spool with the database", .serialized, .timeLimit(.minutes(2)))
struct WebhookSpoolDatabaseTests {
    private struct Setup {
        let connection: MariaDBConnection
        let site: WordPressSite
        let pool: MariaDBPool
        let spool: WebhookSpool
        let writer: WebhookEventWriter
        let drainer: WebhookSpoolDrainer
        let group: ServiceGroup

        func bodies() throws -> [String] {
            try connection.query("SELECT body FROM \(site.table(.webhookEvents)) ORDER BY id").map { try $0.decode(String.self, at: 0) }
        }

        /// Takes the events table away, as if the database could not take writes, and gives it back.
        func databaseDown() throws {
            try connection.execute(unsafeSQL: "RENAME TABLE \(site.table(.webhookEvents).quoted) TO \(site.table(.webhookEvents).name)_away")
        }
        func databaseBack() throws {
            try connection.execute(unsafeSQL: "RENAME TABLE \(site.table(.webhookEvents).name)_away TO \(site.table(.webhookEvents).quoted)")
        }
    }

    private func withSetup(spoolPath: ((TemporaryDirectory) -> String)? = nil, _ body: (Setup) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("s")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        let spool = try WebhookSpool(directory: spoolPath?(directory) ?? directory.path + "/spool")
        let writer = WebhookEventWriter(pool: pool, router: WebhookSiteRouter(sites: [site]), spool: spool, logger: .init(label: "test"))
        let drainer = WebhookSpoolDrainer(spool: spool, pool: pool, sites: [site], retryInterval: .milliseconds(50), logger: .init(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [writer], logger: .init(label: "test")))
        async let running: Void = group.run()
        try await body(Setup(connection: connection, site: site, pool: pool, spool: spool, writer: writer, drainer: drainer, group: group))
        await group.triggerGracefulShutdown()
        try await running
        await pool.shutdown()
    }

    private func store(_ setup: Setup, _ names: [String]) async throws {
        for name in names { try await setup.writer.store(AcceptedWebhook(body: Array(name.utf8))) }
    }

    @Test func whileTheDatabaseIsDownWebhooksAreSpooledThenDrainedInOrderExactlyOnce() async throws {
        try await withSetup { setup in
            try await store(setup, ["a1", "a2"])
            try setup.databaseDown()
            try await store(setup, ["b1", "b2", "b3"])          // acknowledged from the spool
            #expect(setup.spool.pendingBatches == 3)
            #expect(setup.writer.currentStatistics.spooled == 3)
            try setup.databaseBack()
            try await store(setup, ["c1"])                       // queues behind the spooled ones
            #expect(setup.spool.pendingBatches == 4)
            while try await setup.drainer.drainOldest() {}
            #expect(!setup.spool.hasPending)
            #expect(try setup.bodies() == ["a1", "a2", "b1", "b2", "b3", "c1"])
            try await store(setup, ["d1"])                       // and straight to the database again
            #expect(try setup.bodies().last == "d1")
            #expect(!setup.spool.hasPending)
        }
    }

    @Test func aCrashBetweenCommitAndRemovalStoresNothingTwice() async throws {
        try await withSetup { setup in
            try setup.databaseDown()
            try await store(setup, ["x1", "x2"])
            try setup.databaseBack()
            // Keep a copy of the batch file, drain, then put the copy back: as if
            // the process died after the commit and before the file's removal.
            let batch = try #require(try await setup.spool.oldest())
            let saved = try Data(contentsOf: URL(fileURLWithPath: batch.path))
            try await setup.drainer.drainOldest()
            try await setup.drainer.drainOldest()
            try saved.write(to: URL(fileURLWithPath: batch.path))
            let restarted = try WebhookSpool(directory: setup.spool.directory)
            #expect(restarted.pendingBatches == 1)
            let drainer = WebhookSpoolDrainer(spool: restarted, pool: setup.pool, sites: [setup.site], logger: .init(label: "test"))
            try await drainer.drainOldest()
            #expect(!restarted.hasPending)
            #expect(try setup.bodies() == ["x1", "x2"])
        }
    }

    @Test func withNeitherDatabaseNorSpoolTheRequestFails() async throws {
        // A spool whose directory has been replaced by a file cannot be written.
        try await withSetup(spoolPath: { $0.path + "/spool" }) { setup in
            try FileManager.default.removeItem(atPath: setup.spool.directory)
            try "not a directory".write(toFile: setup.spool.directory, atomically: true, encoding: .utf8)
            try setup.databaseDown()
            await #expect(throws: WebhookStoreError.self) { try await setup.writer.store(AcceptedWebhook(body: Array("lost?".utf8))) }
            try setup.databaseBack()
            #expect(setup.writer.currentStatistics.failed == 1)
        }
    }
}

@Suite("Webhook writer against a hung database", .timeLimit(.minutes(2)))
struct WebhookHungDatabaseTests {
    @Test func aHungCommitFallsBackToTheSpoolWithinItsTimeout() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("hung")
        defer { scratch.drop() }
        var configuration = TestDatabase.configuration()
        configuration.readTimeoutSeconds = 2
        configuration.writeTimeoutSeconds = 2
        let pool = MariaDBPool(configuration: configuration, size: 1)
        let spool = try WebhookSpool(directory: directory.path + "/spool")
        let writer = WebhookEventWriter(pool: pool, router: WebhookSiteRouter(sites: [scratch.site]), spool: spool, logger: .init(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [writer], logger: .init(label: "test")))
        async let running: Void = group.run()

        // Another session holds a write lock: inserts wait instead of failing.
        let locker = try TestDatabase.connect()
        try locker.execute(unsafeSQL: "LOCK TABLES \(scratch.site.table(.webhookEvents).quoted) WRITE")
        // The lock is still held when this returns, so only the spool can have taken it.
        try await writer.store(AcceptedWebhook(body: Array("during the hang".utf8)))
        #expect(spool.pendingBatches == 1)
        #expect(writer.currentStatistics.spooled == 1)
        try locker.execute(unsafeSQL: "UNLOCK TABLES")

        await group.triggerGracefulShutdown()
        try await running
        await pool.shutdown()
    }
}
