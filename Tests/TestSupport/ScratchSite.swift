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

/// A multisite network of a test's own, with CloudChat's schema migrated for
/// every blog. ``drop()`` removes its tables.
public final class ScratchNetwork {
    /// A connection to the test database, for set-up and checks.
    public let connection: MariaDBConnection
    /// The network's base table prefix (blog 1's).
    public let prefix: String
    /// Its sites, blog 1 first.
    public let sites: [WordPressSite]

    /// Creates a network with blogs 1, 2 and 3.
    public init(_ stem: String) throws {
        connection = try TestDatabase.connect()
        prefix = TestDatabase.uniqueName(stem) + "_"
        try WordPressFixture.createNetwork(prefix: prefix, blogIDs: [1, 2, 3], on: connection)
        sites = try WordPressSites.discover(on: connection, basePrefix: prefix, multisite: true)
        for site in sites { try SchemaMigrator.migrate(site, on: connection) }
    }

    /// Adds a business number to a site's accounts.
    public func addAccount(_ site: WordPressSite, phoneNumberID: String, wabaID: String = "102290129340398") throws {
        try connection.execute("""
            INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES (\(wabaID), \(phoneNumberID), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
    }

    /// Drops every table of the network.
    public func drop() {
        try? WordPressFixture.dropTables(prefix: prefix, on: connection)
    }
}
