import Foundation
import MariaDB
import TestSupport
import Testing

private struct Rollback: Error {}

@Suite("Transactions and locking")
struct TransactionTests {
    private func makeQueueTable(_ connection: MariaDBConnection, rows: Int) throws -> SQLIdentifier {
        let table = try SQLIdentifier(TestDatabase.uniqueName("queue"))
        try connection.execute(unsafeSQL: """
            CREATE TABLE \(table.quoted) (id INT PRIMARY KEY, state VARCHAR(16) NOT NULL, claimed_by BIGINT NULL, KEY state (state, id))
            ENGINE=InnoDB
            """)
        try connection.execute(try SQLQuery.insert(into: table, columns: ["id", "state"],
                                                   rows: (1...rows).map { [.int(Int64($0)), .string("pending")] }))
        return table
    }

    @Test func commitsOnReturnAndRollsBackOnThrow() throws {
        let connection = try TestDatabase.connect()
        let table = try makeQueueTable(connection, rows: 3)
        defer { _ = try? connection.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }

        let changed = try connection.withTransaction { connection in
            try connection.execute("UPDATE \(table) SET state = \("done") WHERE id = \(1)").affectedRows
        }
        #expect(changed == 1)
        #expect(throws: Rollback.self) {
            try connection.withTransaction { connection in
                try connection.execute("UPDATE \(table) SET state = \("done") WHERE id = \(2)")
                throw Rollback()
            }
        }
        let states = try connection.query("SELECT state FROM \(table) ORDER BY id").map { try $0.decode(String.self, at: 0) }
        #expect(states == ["done", "pending", "pending"])
        #expect(!connection.isInTransaction)

        let nested = try #require(throws: MariaDBError.self) {
            try connection.withTransaction { connection in
                try connection.withTransaction { _ in }
            }
        }
        #expect(nested.kind == .misuse)
    }

    @Test func skipLockedClaimsDoNotOverlap() throws {
        let first = try TestDatabase.connect()
        let second = try TestDatabase.connect()
        let table = try makeQueueTable(first, rows: 10)
        defer { _ = try? first.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }

        let claim: (MariaDBConnection) throws -> [Int] = { connection in
            try connection.query("""
                SELECT id FROM \(table) WHERE state = \("pending") ORDER BY id LIMIT 4 FOR UPDATE SKIP LOCKED
                """).map { try $0.decode(Int.self, at: 0) }
        }
        try first.withTransaction(isolation: .readCommitted) { firstInTransaction in
            let mine = try claim(firstInTransaction)
            #expect(mine == [1, 2, 3, 4])
            // While the first transaction holds its rows, the second claims others without waiting.
            let theirs = try second.withTransaction(isolation: .readCommitted) { secondInTransaction in
                let ids = try claim(secondInTransaction)
                try secondInTransaction.execute("UPDATE \(table) SET state = \("sending"), claimed_by = \(2) WHERE id IN (\(list: ids))")
                return ids
            }
            #expect(theirs == [5, 6, 7, 8])
            try firstInTransaction.execute("UPDATE \(table) SET state = \("sending"), claimed_by = \(1) WHERE id IN (\(list: mine))")
        }
        let remaining = try first.query("SELECT id FROM \(table) WHERE state = \("pending") ORDER BY id").map { try $0.decode(Int.self, at: 0) }
        #expect(remaining == [9, 10])
    }

    @Test func killedConnectionInsideATransactionIsNotReconnected() throws {
        let victim = try TestDatabase.connect()
        let admin = try TestDatabase.connect()
        let table = try makeQueueTable(admin, rows: 2)
        defer { _ = try? admin.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }

        let error = try #require(throws: MariaDBError.self) {
            try victim.withTransaction { connection in
                try connection.execute("UPDATE \(table) SET state = \("done") WHERE id = \(1)")
                try admin.execute(unsafeSQL: "KILL CONNECTION \(connection.connectionID)")
                try connection.execute("UPDATE \(table) SET state = \("done") WHERE id = \(2)")
            }
        }
        #expect(error.kind == .connectionLost)
        #expect(victim.isBroken)
        // No silent reconnect: the connection refuses further work…
        let after = try #require(throws: MariaDBError.self) { try victim.query("SELECT 1") }
        #expect(after.kind == .connectionLost)
        // …and the server rolled the transaction back.
        let states = try admin.query("SELECT state FROM \(table) ORDER BY id").map { try $0.decode(String.self, at: 0) }
        #expect(states == ["pending", "pending"])
    }
}
