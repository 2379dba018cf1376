import Foundation
import MariaDB
import TestSupport
import Testing
import WordPressStore

/// docs/schema.md is the contract the daemon and the WordPress plugin both code
/// against; these tests keep it and the migrations saying the same thing.
@Suite("Schema document")
struct SchemaDocumentTests {
    /// Column names per table, from each `### … \`cloudchat_…\`` section's column table.
    private func documentedColumns() throws -> [String: [String]] {
        let path = TestDatabase.repositoryRoot.appendingPathComponent("docs/schema.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var columns: [String: [String]] = [:]
        var table: String?
        var inColumnTable = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") {
                // A heading naming one table opens its section; any other heading closes it.
                let names = line.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
                table = line.hasPrefix("### ") && names.count == 1 && names[0].hasPrefix("cloudchat_") ? names[0] : nil
                continue
            }
            // Only the section's "| Column | Type | Meaning |" table lists columns.
            if line.hasPrefix("| Column |") { inColumnTable = true; continue }
            if !line.hasPrefix("|") { inColumnTable = false; continue }
            guard let table, inColumnTable, line.hasPrefix("| `") else { continue }
            // The first cell names one column or several related ones: "`created_at`, `updated_at`".
            let cell = line.dropFirst(1).prefix { $0 != "|" }
            let names = cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }
            columns[table, default: []].append(contentsOf: names.map { String($0.element) })
        }
        return columns
    }

    @Test func everyTableAndColumnIsDocumented() throws {
        let scratch = try ScratchSite("doc")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)

        let documented = try documentedColumns()
        #expect(Set(documented.keys) == Set(CloudChatTable.allCases.map(\.rawValue)), "docs/schema.md has a section per table")
        for table in CloudChatTable.allCases {
            let actual = try connection.query("""
                SELECT COLUMN_NAME FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = \(site.table(table).name) ORDER BY ORDINAL_POSITION
                """).map { try $0.decode(String.self, at: 0) }
            let listed = documented[table.rawValue] ?? []
            #expect(Set(actual).subtracting(listed).isEmpty, "\(table.rawValue): columns missing from docs/schema.md: \(Set(actual).subtracting(listed).sorted())")
            #expect(Set(listed).subtracting(actual).isEmpty, "\(table.rawValue): docs/schema.md lists columns the schema lacks: \(Set(listed).subtracting(actual).sorted())")
        }
    }
}
