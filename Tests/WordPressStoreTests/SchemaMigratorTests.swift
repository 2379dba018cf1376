import Foundation
import MariaDB
import TestSupport
import Testing
@testable import WordPressStore

@Suite("Schema migrations")
struct SchemaMigratorTests {
    /// A site with a fresh scratch prefix and WordPress's options table; dropped afterwards.
    private func withScratchSite(_ body: (WordPressSite, MariaDBConnection) throws -> Void) throws {
        let scratch = try ScratchSite("t", migrated: false)
        defer { scratch.drop() }
        try body(scratch.site, scratch.connection)
    }

    private func tables(withPrefix prefix: String, on connection: MariaDBConnection) throws -> [String: (engine: String, collation: String)] {
        var result: [String: (String, String)] = [:]
        for row in try connection.query("""
            SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE CONCAT(REPLACE(\(prefix), '_', '\\_'), 'cloudchat\\_%')
            """) {
            result[try row.decode(String.self, at: 0)] = (try row.decode(String.self, at: 1), try row.decode(String.self, at: 2))
        }
        return result
    }

    @Test func createsEveryTableAndRecordsTheVersion() throws {
        try withScratchSite { site, connection in
            #expect(try SchemaMigrator.status(of: site, on: connection).state == .notInstalled)
            let dryRun = try SchemaMigrator.migrate(site, on: connection, dryRun: true)
            #expect(dryRun.migrations == SchemaMigration.all.map(\.version))
            #expect(try self.tables(withPrefix: site.tablePrefix, on: connection).isEmpty, "a dry run changes nothing")

            let outcome = try SchemaMigrator.migrate(site, on: connection)
            #expect(outcome.fromVersion == 0)
            #expect(outcome.toVersion == SchemaMigrator.latestVersion)
            let created = try self.tables(withPrefix: site.tablePrefix, on: connection)
            #expect(Set(created.keys) == Set(CloudChatTable.allCases.map { site.tablePrefix + $0.rawValue }))
            for (name, info) in created {
                #expect(info.engine == "InnoDB", "\(name)")
                #expect(info.collation.hasPrefix("utf8mb4_"), "\(name)")
            }
            let option = try connection.queryFirst("""
                SELECT option_value, autoload FROM \(site.optionsTable) WHERE option_name = \(SchemaMigrator.versionOption)
                """)
            #expect(try option?.decode(String.self, at: 0) == String(SchemaMigrator.latestVersion))
            #expect(try SchemaMigrator.status(of: site, on: connection).state == .current)

            // Running again is a no-op.
            let again = try SchemaMigrator.migrate(site, on: connection)
            #expect(again.migrations.isEmpty)
            #expect(try connection.queryFirst("SELECT COUNT(*) FROM \(site.optionsTable)")?.decode(Int.self, at: 0) == 1)
        }
    }

    @Test func finishesAnInterruptedRun() throws {
        try withScratchSite { site, connection in
            try SchemaMigrator.migrate(site, on: connection)
            // As if the run died after some tables but before recording the version.
            try connection.execute(unsafeSQL: "DROP TABLE \(site.table(.campaigns).quoted), \(site.table(.auditLog).quoted)")
            try connection.execute("DELETE FROM \(site.optionsTable) WHERE option_name = \(SchemaMigrator.versionOption)")
            let outcome = try SchemaMigrator.migrate(site, on: connection)
            #expect(outcome.toVersion == SchemaMigrator.latestVersion)
            #expect(try self.tables(withPrefix: site.tablePrefix, on: connection).count == CloudChatTable.allCases.count)
        }
    }

    @Test func refusesASchemaNewerThanItKnows() throws {
        try withScratchSite { site, connection in
            try connection.execute("""
                INSERT INTO \(site.optionsTable) (option_name, option_value) VALUES (\(SchemaMigrator.versionOption), \("999"))
                """)
            #expect(try SchemaMigrator.status(of: site, on: connection).state == .newer)
            let error = try #require(throws: SchemaMigrationError.self) { try SchemaMigrator.migrate(site, on: connection) }
            #expect(error.description.contains("newer"))
            #expect(error.description.contains("upgrade cloudchatd"))
            #expect(try self.tables(withPrefix: site.tablePrefix, on: connection).isEmpty)
        }
    }

    @Test func refusesADatabaseWithoutWordPress() throws {
        let connection = try TestDatabase.connect()
        let site = try WordPressSite(blogID: 1, tablePrefix: TestDatabase.uniqueName("nowp") + "_")
        #expect(try SchemaMigrator.status(of: site, on: connection).state == .noWordPress)
        let error = try #require(throws: SchemaMigrationError.self) { try SchemaMigrator.migrate(site, on: connection) }
        #expect(error.description.contains("table_prefix"))
    }

    @Test func concurrentRunsForOneSiteAreSerialised() async throws {
        let scratch = try ScratchSite("t", migrated: false)
        defer { scratch.drop() }
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 3)
        let site = scratch.site
        let outcomes = try await withThrowingTaskGroup(of: MigrationOutcome.self) { group in
            for _ in 0..<3 {
                group.addTask { try await pool.withConnection { try SchemaMigrator.migrate(site, on: $0) } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Exactly one run applied the migrations; the others found the schema current.
        #expect(outcomes.filter { !$0.migrations.isEmpty }.count == 1)
        #expect(outcomes.allSatisfy { $0.toVersion == SchemaMigrator.latestVersion })
        await pool.shutdown()
    }

    @Test func uniqueKeysMakeIngestAndSendsIdempotent() throws {
        try withScratchSite { site, connection in
            try SchemaMigrator.migrate(site, on: connection)
            // Every unique key the contract promises exists, by its columns.
            var uniqueColumns: [String: Set<String>] = [:]
            for row in try connection.query("""
                SELECT TABLE_NAME, INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM information_schema.STATISTICS
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE CONCAT(REPLACE(\(site.tablePrefix), '_', '\\_'), '%') AND NON_UNIQUE = 0
                GROUP BY TABLE_NAME, INDEX_NAME
                """) {
                let table = String(try row.decode(String.self, at: 0).dropFirst(site.tablePrefix.count))
                uniqueColumns[table, default: []].insert(try row.decode(String.self, at: 2))
            }
            #expect(uniqueColumns["cloudchat_messages"]?.contains("wamid") == true)
            #expect(uniqueColumns["cloudchat_status_events"]?.contains("wamid,status") == true)
            #expect(uniqueColumns["cloudchat_campaign_recipients"]?.contains("campaign_id,contact_id") == true)
            #expect(uniqueColumns["cloudchat_contacts"]?.contains("account_id,wa_id") == true)
        }
    }
}

@Suite("WordPress sites")
struct WordPressSitesTests {
    @Test func aSingleSiteIsBlogOne() throws {
        let connection = try TestDatabase.connect()
        let prefix = TestDatabase.uniqueName("s") + "_"
        try WordPressFixture.createOptionsTable(prefix: prefix, on: connection)
        defer { try? WordPressFixture.dropTables(prefix: prefix, on: connection) }
        for multisite in [false, nil] as [Bool?] {
            let sites = try WordPressSites.discover(on: connection, basePrefix: prefix, multisite: multisite)
            #expect(sites == [try WordPressSite(blogID: 1, tablePrefix: prefix)])
        }
        // MULTISITE on without the network tables is a clear error, not a guess.
        let error = try #require(throws: WordPressSiteError.self) {
            try WordPressSites.discover(on: connection, basePrefix: prefix, multisite: true)
        }
        #expect(error.description.contains("network tables"))
    }

    @Test func everyBlogOfANetworkGetsItsOwnPrefixAndTables() throws {
        let connection = try TestDatabase.connect()
        let prefix = TestDatabase.uniqueName("n") + "_"
        try WordPressFixture.createNetwork(prefix: prefix, blogIDs: [1, 2, 5], on: connection)
        defer { try? WordPressFixture.dropTables(prefix: prefix, on: connection) }

        // Detected from the network tables when MULTISITE is not known.
        let sites = try WordPressSites.discover(on: connection, basePrefix: prefix, multisite: nil)
        #expect(sites.map(\.tablePrefix) == [prefix, prefix + "2_", prefix + "5_"])
        #expect(sites.map(\.blogID) == [1, 2, 5])
        #expect(sites[1].path == "/site2/")

        for site in sites { try SchemaMigrator.migrate(site, on: connection) }
        for site in sites {
            #expect(try SchemaMigrator.status(of: site, on: connection).state == .current)
        }
        // One site's rows are not in another site's tables.
        let now = Date()
        try connection.execute("""
            INSERT INTO \(sites[1].table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
            VALUES (\(1), \("16505551234"), \("inbound"), \(now), \(now))
            """)
        #expect(try connection.queryFirst("SELECT COUNT(*) FROM \(sites[1].table(.contacts))")?.decode(Int.self, at: 0) == 1)
        #expect(try connection.queryFirst("SELECT COUNT(*) FROM \(sites[2].table(.contacts))")?.decode(Int.self, at: 0) == 0)
        #expect(try connection.queryFirst("SELECT COUNT(*) FROM \(sites[0].table(.contacts))")?.decode(Int.self, at: 0) == 0)
    }

    @Test(arguments: ["wp-", "wp_;", "", "wp_$"])
    func invalidPrefixesAreRefused(_ prefix: String) {
        #expect(throws: WordPressSiteError.self) { try WordPressSite(blogID: 1, tablePrefix: prefix) }
    }
}
