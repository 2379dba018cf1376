import MariaDB

/// One WordPress site whose tables CloudChat uses: a single install, or one blog of a multisite network.
///
/// Each site has its own table prefix and so its own CloudChat tables; no
/// query for one site ever names another site's tables. One daemon may serve
/// several installs on one database server: each in its own database, or
/// side by side in one database under different prefixes. A site is known by
/// its database and table prefix together (``key``); the blog id alone names
/// a site only within its install.
public struct WordPressSite: Sendable, Hashable, CustomStringConvertible {
    /// The blog id (1 for a single site and for a network's main site).
    public let blogID: Int
    /// The table prefix of this site, e.g. `wp_` or `wp_3_`.
    public let tablePrefix: String
    /// The site's domain and path, when known (multisite).
    public let domain: String?
    /// The site's path within the domain, when known (multisite).
    public let path: String?
    /// The database holding the site's tables, when it is not the connection's own.
    public let database: String?
    /// The install's `$table_prefix` (the network's base prefix for every blog of a network).
    public let installPrefix: String

    /// Creates a site.
    /// - Parameters:
    ///   - database: the site's database when it is not the one the daemon connects to.
    ///   - installPrefix: the install's `$table_prefix`; the site's own prefix when nil.
    /// - Throws: ``WordPressSiteError`` unless the prefix is letters, digits and `_`, as WordPress requires,
    ///   and the database name letters, digits, `_`, `$` and `-`.
    public init(blogID: Int, tablePrefix: String, domain: String? = nil, path: String? = nil,
                database: String? = nil, installPrefix: String? = nil) throws(WordPressSiteError) {
        guard Self.isUsablePrefix(tablePrefix), installPrefix.map(Self.isUsablePrefix) ?? true else {
            throw WordPressSiteError(description: "'\(tablePrefix.prefix(40))' is not a usable table prefix: WordPress allows letters, digits and _ only")
        }
        if let database, !SQLIdentifier.isValidDatabaseName(database) {
            throw WordPressSiteError(description: "'\(database.prefix(70))' is not a database name CloudChat can use: letters, digits, _, $ and - only, at most 64")
        }
        self.blogID = blogID
        self.tablePrefix = tablePrefix
        self.domain = domain
        self.path = path
        self.database = database
        self.installPrefix = installPrefix ?? tablePrefix
    }

    private static func isUsablePrefix(_ prefix: String) -> Bool {
        !prefix.isEmpty && !prefix.contains("$") && SQLIdentifier.isValid(prefix + "cloudchat_campaign_recipients")
    }

    /// What names this site among every site a daemon serves: the table prefix, after the
    /// database name and a `.` when the site's database is not the daemon's own (`wp_3_`, `shop.wp_`).
    public var key: String { database.map { "\($0).\(tablePrefix)" } ?? tablePrefix }

    /// A CloudChat table of this site.
    public func table(_ table: CloudChatTable) -> SQLIdentifier {
        wordPressTable(table.rawValue)
    }

    /// WordPress's options table of this site, where `cloudchat_db_version` lives.
    public var optionsTable: SQLIdentifier { wordPressTable("options") }

    /// A table of this site by its name after the prefix (`options`, `cloudchat_contacts`).
    public func wordPressTable(_ name: String) -> SQLIdentifier {
        // Safe: the prefix and database were validated and table names are fixed identifiers.
        try! SQLIdentifier(tablePrefix + name, database: database)
    }

    public var description: String {
        let place = database.map { "prefix \(tablePrefix) in database \($0)" } ?? "prefix \(tablePrefix)"
        if let domain {
            return "blog \(blogID) (\(domain)\(path ?? ""), \(place))"
        }
        return "site with \(place)"
    }
}

/// Finds the sites of a WordPress database.
public enum WordPressSites {
    /// Whether the database holds a multisite network's tables (`{prefix}blogs` and `{prefix}site`).
    /// - Parameter database: the install's database when it is not the connection's own.
    public static func hasNetworkTables(on connection: MariaDBConnection, basePrefix: String,
                                        database: String? = nil) throws(MariaDBError) -> Bool {
        let rows = try connection.query("""
            SELECT COUNT(*) FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = COALESCE(\(database), DATABASE()) AND TABLE_NAME IN (\(basePrefix + "blogs"), \(basePrefix + "site"))
            """)
        return try rows.first?.decode(Int.self, at: 0) == 2
    }

    /// Lists the sites of one install: the one site, or every blog of a multisite network.
    /// - Parameters:
    ///   - connection: a connection to the database server.
    ///   - basePrefix: `$table_prefix` from wp-config.php.
    ///   - multisite: `MULTISITE` as configured, or nil to detect it from the network tables.
    ///   - database: the install's database when it is not the connection's own.
    /// - Returns: the sites, blog 1 first.
    /// - Throws: ``MariaDBError`` from the queries; ``WordPressSiteError`` when MULTISITE is on without the network tables.
    public static func discover(on connection: MariaDBConnection, basePrefix: String, multisite: Bool?,
                                database: String? = nil) throws -> [WordPressSite] {
        let isNetwork = try multisite ?? hasNetworkTables(on: connection, basePrefix: basePrefix, database: database)
        guard isNetwork else { return [try WordPressSite(blogID: 1, tablePrefix: basePrefix, database: database)] }
        guard try hasNetworkTables(on: connection, basePrefix: basePrefix, database: database) else {
            let place = database.map { " in database \($0)" } ?? ""
            throw WordPressSiteError(description: "MULTISITE is on but the network tables \(basePrefix)blogs and \(basePrefix)site are missing\(place); finish the network setup in WordPress or set multisite = no")
        }
        let blogs = try SQLIdentifier(basePrefix + "blogs", database: database)
        var sites: [WordPressSite] = []
        for row in try connection.query("SELECT blog_id, domain, path FROM \(blogs) ORDER BY blog_id") {
            let blogID = try row.decode(Int.self, at: 0)
            // WordPress: the main site keeps the base prefix, others get "{prefix}{id}_".
            let prefix = blogID == 1 ? basePrefix : "\(basePrefix)\(blogID)_"
            sites.append(try WordPressSite(blogID: blogID, tablePrefix: prefix,
                                           domain: try row.decode(String.self, at: 1), path: try row.decode(String.self, at: 2),
                                           database: database, installPrefix: basePrefix))
        }
        return sites
    }
}

/// A site that cannot be used as configured; the message says why and what to do.
public struct WordPressSiteError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public let description: String
}
