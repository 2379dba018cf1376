import MariaDB
import WordPressStore

/// A WordPress site of a test's own: WordPress's options table under a fresh
/// prefix, optionally with CloudChat's schema migrated. ``drop()`` removes its tables.
public final class ScratchSite {
    /// A connection to the test database, for set-up and checks.
    public let connection: MariaDBConnection
    /// The site.
    public let site: WordPressSite
    /// Its table prefix.
    public var prefix: String { site.tablePrefix }

    /// Creates the site; `migrated` also applies CloudChat's schema.
    public init(_ stem: String, migrated: Bool = true) throws {
        connection = try TestDatabase.connect()
        site = try WordPressSite(blogID: 1, tablePrefix: TestDatabase.uniqueName(stem) + "_")
        try WordPressFixture.createOptionsTable(prefix: site.tablePrefix, on: connection)
        if migrated { try SchemaMigrator.migrate(site, on: connection) }
    }

    /// Drops every table with the site's prefix.
    public func drop() {
        try? WordPressFixture.dropTables(prefix: site.tablePrefix, on: connection)
    }
}
