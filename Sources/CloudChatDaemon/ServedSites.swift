import MariaDB
import WordPressStore

extension DaemonConfiguration {
    /// Finds the sites of every install served: the first install's (blog 1 first), then those of `also_serve`.
    /// - Throws: ``ServeError`` when an install's database cannot be read or two installs would share tables;
    ///   ``WordPressSiteError`` or ``MariaDBError`` from discovery.
    public func discoverSites(on connection: MariaDBConnection) throws -> [WordPressSite] {
        var sites: [WordPressSite] = []
        var owners: [String: WordPressInstall] = [:]
        for install in installs {
            if let database = install.database {
                try checkAccess(to: database, of: install, on: connection)
            }
            for site in try WordPressSites.discover(on: connection, basePrefix: install.tablePrefix, multisite: install.multisite,
                                                    database: install.database) {
                if let other = owners[site.key] {
                    throw ServeError("""
                        \(install.source) and \(other.source) both use the tables of \(site); two installs cannot share tables, \
                        so give one of them its own $table_prefix or database, or drop it from also_serve
                        """)
                }
                owners[site.key] = install
                sites.append(site)
            }
        }
        return sites
    }

    /// The sites of the first install only: those a one-site command (`campaign`, `contact`) picks from with `--blog-id`.
    public func isFirstInstall(_ site: WordPressSite) -> Bool {
        site.database == nil && site.installPrefix == tablePrefix
    }

    /// An install in another database needs the daemon's database user to have rights there too.
    private func checkAccess(to database: String, of install: WordPressInstall, on connection: MariaDBConnection) throws {
        let options = try SQLIdentifier(install.tablePrefix + "options", database: database)
        do {
            _ = try connection.queryFirst("SELECT 1 FROM \(options) LIMIT 1")
        } catch {
            guard error.kind == .server else { throw error }
            throw ServeError("""
                cannot read \(options), the options table of \(install.source): \(error). cloudchatd connects as \(databaseUser) \
                to \(databaseName); that user needs the same rights on the install's database, e.g. as a database administrator: \
                GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON `\(database)`.* TO '\(databaseUser)'@'localhost';
                """)
        }
    }
}
