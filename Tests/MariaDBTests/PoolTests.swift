import Foundation
import MariaDB
import Synchronization
import TestSupport
import Testing

/// A counter and a set shared with closures that run on connection threads.
private final class Shared: Sendable {
    let sleepersDone = Atomic<Int>(0)
    let connectionIDs = Mutex<Set<UInt64>>([])
}

@Suite("Connection pool", .timeLimit(.minutes(2)))
struct PoolTests {
    @Test func keepsServingWhileConnectionsSleep() async throws {
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 4)
        let shared = Shared()
        // Two connections block in the server. With a two-thread cooperative pool,
        // blocking calls on it would stall every other task until they return.
        let sleeper: @Sendable (MariaDBConnection) throws -> MariaDBError? = { connection in
            shared.connectionIDs.withLock { _ = $0.insert(connection.connectionID) }
            defer { shared.sleepersDone.add(1, ordering: .relaxed) }
            do {
                _ = try connection.query("SELECT SLEEP(30)")
                return nil
            } catch let error as MariaDBError {
                // Killed: the interruption is a server error, and the connection stays usable.
                #expect(!connection.isBroken)
                #expect(try connection.queryFirst("SELECT 1")?.decode(Int.self, at: 0) == 1)
                return error
            }
        }
        async let sleeperA = pool.withConnection(sleeper)
        async let sleeperB = pool.withConnection(sleeper)
        try await waitUntil("both sleepers hold a connection") { shared.connectionIDs.withLock { $0.count } == 2 }
        for index in 0..<50 {
            let value = try await pool.withConnection { connection in
                try connection.queryFirst("SELECT \(index) + 1")!.decode(Int.self, at: 0)
            }
            #expect(value == index + 1)
        }
        #expect(shared.sleepersDone.load(ordering: .relaxed) == 0, "queries must not wait behind the sleeping connections")
        // End the sleeps early.
        let admin = try TestDatabase.connect()
        for id in shared.connectionIDs.withLock({ $0 }) { try admin.execute(unsafeSQL: "KILL QUERY \(id)") }
        for interrupted in try await [sleeperA, sleeperB] {
            #expect(interrupted?.errorNumber == 1317)  // ER_QUERY_INTERRUPTED
            #expect(interrupted?.kind == .server)
        }
        await pool.shutdown()
    }

    @Test func boundedAndFairUnderContention() async throws {
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        let shared = Shared()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    try await pool.withConnection { connection in
                        _ = try connection.query("SELECT SLEEP(0.01)")
                        shared.connectionIDs.withLock { _ = $0.insert(connection.connectionID) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(shared.connectionIDs.withLock { $0.count } <= 2)
        #expect(pool.statistics == .init(idle: 2, inUse: 0, waiting: 0))
        await pool.shutdown()
        let closed = await #expect(throws: MariaDBError.self) { try await pool.withConnection { _ in 1 } }
        #expect(closed?.kind == .poolClosed)
    }

    @Test func replacesAKilledConnection() async throws {
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 1)
        let admin = try TestDatabase.connect()
        let firstID = try await pool.withConnection { $0.connectionID }
        try admin.execute(unsafeSQL: "KILL CONNECTION \(firstID)")
        // The kill is noticed by the call that meets it…
        let error = await #expect(throws: MariaDBError.self) {
            try await pool.withConnection { try $0.query("SELECT 1") }
        }
        #expect(error?.kind == .connectionLost)
        // …and the pool hands out a fresh connection next time.
        let secondID = try await pool.withConnection { connection in
            _ = try connection.query("SELECT 1")
            return connection.connectionID
        }
        #expect(secondID != firstID)
        await pool.shutdown()
    }

    @Test func transactionsThroughThePool() async throws {
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        let table = try SQLIdentifier(TestDatabase.uniqueName("pooltx"))
        _ = try await pool.withConnection { try $0.execute(unsafeSQL: "CREATE TABLE \(table.quoted) (id INT PRIMARY KEY)") }
        struct Abort: Error {}
        _ = try await pool.withTransaction { try $0.execute("INSERT INTO \(table) (id) VALUES (\(1))") }
        await #expect(throws: Abort.self) {
            try await pool.withTransaction { connection in
                try connection.execute("INSERT INTO \(table) (id) VALUES (\(2))")
                throw Abort()
            }
        }
        let ids = try await pool.withConnection { try $0.query("SELECT id FROM \(table)").map { try $0.decode(Int.self, at: 0) } }
        #expect(ids == [1])
        _ = try await pool.withConnection { try $0.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }
        await pool.shutdown()
    }

    @Test func cancelledWaiterLeavesThePoolConsistent() async throws {
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 1)
        let gate = Gate()
        // The holder keeps the only connection until the test opens the gate.
        async let holder: Void = pool.withConnection { _ in gate.wait() }
        try await waitUntil("the holder has the connection") { pool.statistics.inUse == 1 }
        let waiter = Task { try await pool.withConnection { $0.connectionID } }
        try await waitUntil("the second caller waits") { pool.statistics.waiting == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(pool.statistics.waiting == 0)
        gate.open()
        try await holder
        #expect(pool.statistics == .init(idle: 1, inUse: 0, waiting: 0))
        #expect(try await pool.withConnection { try $0.queryFirst("SELECT 7")!.decode(Int.self, at: 0) } == 7)
        await pool.shutdown()
    }
}
