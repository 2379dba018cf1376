import Foundation
import MariaDB
import Testing

@Suite("SQLQuery")
struct SQLQueryTests {
    @Test func interpolatedValuesBecomePlaceholders() throws {
        let wamid = "wamid.HBgL'; DROP TABLE x; --"
        let table = try SQLIdentifier("wp_cloudchat_messages")
        let query: SQLQuery = "SELECT id FROM \(table) WHERE wamid = \(wamid) AND account_id = \(42)"
        #expect(query.sql == "SELECT id FROM `wp_cloudchat_messages` WHERE wamid = ? AND account_id = ?")
        #expect(query.binds == [.string(wamid), .int(42)])
        #expect(!query.description.contains("DROP"))
    }

    @Test func listsAndOptionals() {
        let ids = [1, 2, 3]
        let missing: String? = nil
        let query: SQLQuery = "SELECT * FROM t WHERE id IN (\(list: ids)) AND note <=> \(missing)"
        #expect(query.sql == "SELECT * FROM t WHERE id IN (?, ?, ?) AND note <=> ?")
        #expect(query.binds == [.int(1), .int(2), .int(3), .null])
        let empty: SQLQuery = "SELECT * FROM t WHERE id IN (\(list: [Int]()))"
        #expect(empty.sql == "SELECT * FROM t WHERE id IN (NULL)")
    }

    @Test(arguments: ["wp_", "wp_3_cloudchat_messages", "A1$", String(repeating: "a", count: 64)])
    func validIdentifiers(_ name: String) throws {
        #expect(try SQLIdentifier(name).quoted == "`\(name)`")
    }

    @Test(arguments: ["", "wp-", "wp_`x", "x y", "wp_;DROP", "é", String(repeating: "a", count: 65)])
    func invalidIdentifiersAreRefused(_ name: String) {
        #expect(throws: MariaDBError.self) { try SQLIdentifier(name) }
    }

    @Test func multiRowInsert() throws {
        let table = try SQLIdentifier("t")
        let query = try SQLQuery.insert(into: table, columns: ["a", "b"], rows: [[.int(1), .string("x")], [.int(2), .null]],
                                        verb: "INSERT IGNORE")
        #expect(query.sql == "INSERT IGNORE INTO `t` (`a`, `b`) VALUES (?, ?), (?, ?)")
        #expect(query.binds.count == 4)
        #expect(throws: MariaDBError.self) {
            try SQLQuery.insert(into: table, columns: ["a", "b"], rows: [[.int(1)]])
        }
        #expect(throws: MariaDBError.self) { try SQLQuery.insert(into: table, columns: ["a"], rows: []) }
        #expect(throws: MariaDBError.self) { try SQLQuery.insert(into: table, columns: ["a;"], rows: [[.int(1)]]) }
    }
}
