import Foundation
import MariaDB
import TestSupport
import Testing

@Suite("Connection")
struct ConnectionTests {
    @Test(arguments: TestDatabase.Route.allCases)
    func connectsOverEveryRoute(_ route: TestDatabase.Route) throws {
        let connection = try TestDatabase.connect(route)
        let row = try #require(try connection.queryFirst(
            "SELECT @@session.time_zone AS tz, @@character_set_connection AS cs, @@character_set_results AS rs, CONNECTION_ID() AS id"))
        #expect(try row.decode("tz", as: String.self) == "+00:00")
        #expect(try row.decode("cs", as: String.self) == "utf8mb4")
        #expect(try row.decode("rs", as: String.self) == "utf8mb4")
        #expect(try row.decode("id", as: UInt64.self) == connection.connectionID)
        #expect(connection.serverVersion.contains("MariaDB"))
        if route != .unixSocket {
            // Proves the route really is TCP: the server sees a TCP peer, not a socket.
            let host = try #require(try connection.queryFirst(
                "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")).decode(String.self, at: 0)
            #expect(host.hasPrefix(route == .ipv6 ? "::1" : "127.0.0.1"))
        }
    }

    @Test func fourByteCharactersRoundTrip() throws {
        let connection = try TestDatabase.connect()
        let table = try SQLIdentifier(TestDatabase.uniqueName("utf8"))
        try connection.execute(unsafeSQL: "CREATE TABLE \(table.quoted) (id INT PRIMARY KEY, body TEXT) DEFAULT CHARSET=utf8mb4")
        defer { _ = try? connection.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }
        let text = "Olá 😀 👍🏽 𠜎𠝹 漢字 — end"
        try connection.execute("INSERT INTO \(table) (id, body) VALUES (\(1), \(text))")
        let prepared = try #require(try connection.queryFirst("SELECT body FROM \(table) WHERE id = \(1)")).decode(String.self, at: 0)
        #expect(prepared == text)
        // The text protocol decodes the same way.
        let unprepared = try connection.execute(unsafeSQL: "SELECT body, CHAR_LENGTH(body) AS chars FROM \(table.quoted)")
        #expect(try unprepared.rows[0].decode("body", as: String.self) == text)
        #expect(try unprepared.rows[0].decode("chars", as: Int.self) == text.unicodeScalars.count)
        // Lookups by a 4-byte value bind correctly too.
        let found = try connection.query("SELECT id FROM \(table) WHERE body = \(text)")
        #expect(found.count == 1)
    }

    @Test func wrongPasswordIsATypedErrorWithoutThePassword() throws {
        var configuration = TestDatabase.configuration(.ipv4)
        configuration.password = "definitely-not-the-password-7d1e"
        let error = try #require(throws: MariaDBError.self) { try MariaDBConnection(configuration: configuration) }
        #expect(error.kind == .connectionFailed)
        #expect(error.errorNumber == 1045)
        #expect(error.sqlState == "28000")
        for text in [error.description, error.debugDescription, "\(error)", configuration.description] {
            #expect(!text.contains("definitely-not-the-password-7d1e"))
        }
        #expect(error.description.contains("access denied"))
    }

    @Test func unknownDatabaseAndRefusedPortSayWhatToCheck() throws {
        let unknown = try #require(throws: MariaDBError.self) {
            try MariaDBConnection(configuration: TestDatabase.configuration(.unixSocket, database: "cloudchat_no_such_db"))
        }
        #expect(unknown.errorNumber == 1049 || unknown.errorNumber == 1044)
        var refused = TestDatabase.configuration(.ipv4)
        refused.port = 1  // nothing listens on port 1
        refused.connectTimeoutSeconds = 2
        let error = try #require(throws: MariaDBError.self) { try MariaDBConnection(configuration: refused) }
        #expect(error.kind == .connectionFailed)
        #expect(error.errorNumber == 2003 || error.errorNumber == 2002)
        #expect(error.description.contains("TCP 127.0.0.1:1"))
    }

    @Test func serverErrorsAreTypedAndKeepDataOutOfTheDescription() throws {
        let connection = try TestDatabase.connect()
        let table = try SQLIdentifier(TestDatabase.uniqueName("dup"))
        try connection.execute(unsafeSQL: "CREATE TABLE \(table.quoted) (wa_id VARCHAR(32) PRIMARY KEY)")
        defer { _ = try? connection.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }
        try connection.execute("INSERT INTO \(table) (wa_id) VALUES (\("16505551234"))")
        let duplicate = try #require(throws: MariaDBError.self) {
            try connection.execute("INSERT INTO \(table) (wa_id) VALUES (\("16505551234"))")
        }
        #expect(duplicate.isDuplicateKey)
        #expect(duplicate.sqlState == "23000")
        #expect(duplicate.kind == .server)
        #expect(!duplicate.description.contains("16505551234"))
        #expect(duplicate.debugDescription.contains("16505551234"))
        // The connection stays usable after a server error.
        #expect(try connection.query("SELECT wa_id FROM \(table)").count == 1)

        let syntax = try #require(throws: MariaDBError.self) { try connection.execute("SELEC 1") }
        #expect(syntax.errorNumber == 1064)
        let misuse = try #require(throws: MariaDBError.self) {
            try connection.execute(SQLQuery(unsafeSQL: "SELECT ?", binds: []))
        }
        #expect(misuse.kind == .misuse)
        #expect(!connection.isBroken)
    }

    @Test func manyDistinctStatementsCycleThroughTheCache() throws {
        let connection = try TestDatabase.connect()
        for value in 0..<300 {
            let query = SQLQuery(unsafeSQL: "SELECT ? + \(value)", binds: [.int(1)])
            #expect(try connection.queryFirst(query)?.decode(Int.self, at: 0) == value + 1)
        }
    }
}
