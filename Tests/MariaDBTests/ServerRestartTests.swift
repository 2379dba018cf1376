import Foundation
import MariaDB
import TestSupport
import Testing

@Suite("Server restart", .serialized, .timeLimit(.minutes(3)))
struct ServerRestartTests {
    @Test func poolReplacesConnectionsAfterARestart() async throws {
        let server = try PrivateMariaDBServer()
        defer { server.remove() }
        // Long idle-ping interval: only the loss itself can make the pool replace a connection.
        let pool = MariaDBPool(configuration: server.configuration, size: 2, idlePingInterval: .seconds(3600))
        // Open both connections by holding them at once.
        async let first: UInt64 = pool.withConnection { _ = try $0.query("SELECT SLEEP(0.2)"); return $0.connectionID }
        async let second: UInt64 = pool.withConnection { _ = try $0.query("SELECT SLEEP(0.2)"); return $0.connectionID }
        let before = try await Set([first, second])
        #expect(before.count == 2)

        try server.stop()
        try server.start()

        // The call that meets the dead connection fails, typed as a lost connection…
        let error = await #expect(throws: MariaDBError.self) { try await pool.withConnection { try $0.query("SELECT 1") } }
        #expect(error?.kind == .connectionLost)
        // …and from then on both slots work again: the broken one reconnects, and the
        // other is pinged (it predates the loss) and replaced without failing a caller.
        async let third: UInt64 = pool.withConnection { _ = try $0.query("SELECT SLEEP(0.2)"); return $0.connectionID }
        async let fourth: UInt64 = pool.withConnection { _ = try $0.query("SELECT SLEEP(0.2)"); return $0.connectionID }
        // Both complete: without the ping of the older connection, one would throw.
        _ = try await (third, fourth)
        await pool.shutdown()
    }

    @Test func idleConnectionsArePingedBeforeUse() async throws {
        let server = try PrivateMariaDBServer()
        defer { server.remove() }
        let pool = MariaDBPool(configuration: server.configuration, size: 1, idlePingInterval: .zero)
        _ = try await pool.withConnection { try $0.query("SELECT 1") }
        try server.stop()
        try server.start()
        // The idle connection fails its ping and is replaced before the caller
        // sees it, so this query succeeds instead of meeting the dead connection.
        let value = try await pool.withConnection { try $0.queryFirst("SELECT 41 + 1")?.decode(Int.self, at: 0) }
        #expect(value == 42)
        await pool.shutdown()
    }
}
