import Foundation
import MariaDB
import TestSupport
import Testing

@Suite("Typed binds and rows")
struct TypesTests {
    @Test func everyColumnTypeRoundTripsThroughBinds() throws {
        let connection = try TestDatabase.connect()
        let table = try SQLIdentifier(TestDatabase.uniqueName("types"))
        try connection.execute(unsafeSQL: """
            CREATE TABLE \(table.quoted) (
              id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
              tiny TINYINT, small_u SMALLINT UNSIGNED, normal INT, big BIGINT, big_u BIGINT UNSIGNED,
              flag BOOLEAN, ratio DOUBLE, money DECIMAL(12,3),
              name VARCHAR(100), body MEDIUMTEXT, raw VARBINARY(64), blob_data LONGBLOB, doc LONGTEXT,
              at DATETIME(6), day DATE, stamp TIMESTAMP(3) NULL, duration TIME
            ) DEFAULT CHARSET=utf8mb4
            """)
        defer { _ = try? connection.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }

        let instant = Date(timeIntervalSince1970: 1_750_030_073.123456)
        let raw: [UInt8] = [0, 1, 2, 0xFF, 0, 0x7F]
        let big = [UInt8](repeating: 0xAB, count: 2 * 1024 * 1024)
        let inserted = try connection.execute("""
            INSERT INTO \(table) (tiny, small_u, normal, big, big_u, flag, ratio, money, name, body, raw, blob_data, doc, at, day, stamp, duration)
            VALUES (\(Int8(-7)), \(UInt16(65535)), \(Int32(-2_000_000_000)), \(Int64.min), \(UInt64.max), \(true), \(0.125),
                    \("1234.567"), \("Sheena Nelson"), \(String(repeating: "é", count: 70_000)), \(raw), \(big), \(#"{"a":[1,2]}"#),
                    \(instant), \(Date(timeIntervalSince1970: 86_400 * 20_000)), \(instant), \("-01:02:03"))
            """)
        #expect(inserted.affectedRows == 1)
        #expect(inserted.lastInsertID > 0)

        let row = try #require(try connection.queryFirst("SELECT * FROM \(table) WHERE id = \(inserted.lastInsertID)"))
        #expect(try row.decode("tiny", as: Int8.self) == -7)
        #expect(try row.decode("small_u", as: UInt16.self) == 65535)
        #expect(try row.decode("normal", as: Int32.self) == -2_000_000_000)
        #expect(try row.decode("big", as: Int64.self) == Int64.min)
        #expect(try row.decode("big_u", as: UInt64.self) == UInt64.max)
        #expect(row["big_u"] == .uint(UInt64.max))
        #expect(try row.decode("flag", as: Bool.self) == true)
        #expect(try row.decode("ratio", as: Double.self) == 0.125)
        #expect(try row.decode("money", as: String.self) == "1234.567")
        #expect(try row.decode("money", as: Double.self) == 1234.567)
        #expect(try row.decode("name", as: String.self) == "Sheena Nelson")
        #expect(try row.decode("body", as: String.self) == String(repeating: "é", count: 70_000))
        #expect(try row.decode("raw", as: [UInt8].self) == raw)
        #expect(try row.decode("blob_data", as: Data.self) == Data(big))
        #expect(try row.decode("doc", as: String.self) == #"{"a":[1,2]}"#)
        let readBack = try row.decode("at", as: Date.self)
        #expect(abs(readBack.timeIntervalSince1970 - instant.timeIntervalSince1970) < 0.000_001)
        #expect(try row.decode("day", as: Date.self) == Date(timeIntervalSince1970: 86_400 * 20_000))
        let stamp = try row.decode("stamp", as: Date.self)
        #expect(abs(stamp.timeIntervalSince1970 - 1_750_030_073.123) < 0.000_001)
        #expect(try row.decode("duration", as: String.self) == "-01:02:03")

        // The UTC session makes DATETIME text match the instant's UTC rendering.
        let text = try #require(try connection.queryFirst("SELECT CAST(at AS CHAR) FROM \(table)")).decode(String.self, at: 0)
        #expect(text == "2025-06-15 23:27:53.123456")
    }

    @Test func nullsDecodeAsNilForEveryType() throws {
        let connection = try TestDatabase.connect()
        let nothing: String? = nil
        let row = try #require(try connection.queryFirst("""
            SELECT CAST(NULL AS SIGNED) AS i, CAST(NULL AS DOUBLE) AS d, CAST(NULL AS CHAR) AS s,
                   CAST(NULL AS BINARY) AS b, CAST(NULL AS DATETIME) AS t, NULL AS n, \(nothing) AS bound
            """))
        #expect(try row.decode("i", as: Int?.self) == nil)
        #expect(try row.decode("d", as: Double?.self) == nil)
        #expect(try row.decode("s", as: String?.self) == nil)
        #expect(try row.decode("b", as: [UInt8]?.self) == nil)
        #expect(try row.decode("t", as: Date?.self) == nil)
        #expect(try row.decode("n", as: Int?.self) == nil)
        #expect(try row.decode("bound", as: String?.self) == nil)
        #expect(throws: MariaDBError.self) { try row.decode("i", as: Int.self) }
    }

    @Test func decodingMismatchesAreClearErrors() throws {
        let connection = try TestDatabase.connect()
        let row = try #require(try connection.queryFirst("SELECT 'abc' AS word, 300 AS number"))
        let wrongType = try #require(throws: MariaDBError.self) { try row.decode("word", as: Date.self) }
        #expect(wrongType.kind == .decoding)
        #expect(wrongType.description.contains("word"))
        #expect(throws: MariaDBError.self) { try row.decode("number", as: Int8.self) }
        #expect(throws: MariaDBError.self) { try row.decode("missing", as: Int.self) }
    }

    @Test func multiRowInsertWritesEveryRow() throws {
        let connection = try TestDatabase.connect()
        let table = try SQLIdentifier(TestDatabase.uniqueName("batch"))
        try connection.execute(unsafeSQL: "CREATE TABLE \(table.quoted) (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, wamid VARCHAR(64) UNIQUE, body TEXT)")
        defer { _ = try? connection.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }
        let rows: [[MariaDBValue]] = (0..<500).map { [.string("wamid.\($0)"), .string("body \($0) 😀")] }
        let insert = try SQLQuery.insert(into: table, columns: ["wamid", "body"], rows: rows)
        let result = try connection.execute(insert)
        #expect(result.affectedRows == 500)
        #expect(result.lastInsertID > 0)
        // The same batch again with INSERT IGNORE is idempotent: nothing new.
        let again = try connection.execute(try SQLQuery.insert(into: table, columns: ["wamid", "body"], rows: rows, verb: "INSERT IGNORE"))
        #expect(again.affectedRows == 0)
        let count = try #require(try connection.queryFirst("SELECT COUNT(*), COUNT(DISTINCT wamid) FROM \(table)"))
        #expect(try count.decode(Int.self, at: 0) == 500)
        #expect(try count.decode(Int.self, at: 1) == 500)
    }
}
