import MariaDB

/// One WordPress site whose tables CloudChat uses: a single install, or one blog of a multisite network.
///
/// Each site has its own table prefix and so its own CloudChat tables; no
/// query for one site ever names another site's tables.
public struct WordPressSite: Sendable, Hashable, CustomStringConvertible {
    /// The blog id (1 for a single site and for a network's main site).
    public let blogID: Int
    /// The table prefix of this site, e.g. `wp_` or `wp_3_`.
    public let tablePrefix: String
    /// The site's domain and path, when known (multisite).
    public let domain: String?
    /// The site's path within the domain, when known (multisite).
    public let path: String?

    /// Creates a site.
    /// - Throws: ``WordPressSiteError`` unless the prefix is letters, digits and `_`, as WordPress requires.
    public init(blogID: Int, tablePrefix: String, domain: String? = nil, path: String? = nil) throws(WordPressSiteError) {
        guard !tablePrefix.isEmpty, !tablePrefix.contains("$"), SQLIdentifier.isValid(tablePrefix + "cloudchat_campaign_recipients") else {
            throw WordPressSiteError(description: "'\(tablePrefix.prefix(40))' is not a usable table prefix: WordPress allows letters, digits and _ only")
        }
        self.blogID = blogID
        self.tablePrefix = tablePrefix
        self.domain = domain
        self.path = path
    }

    /// A CloudChat table of this site.
    public func table(_ table: CloudChatTable) -> SQLIdentifier {
        // Safe: the prefix was validated and table names are fixed identifiers.
        try! SQLIdentifier(tablePrefix + table.rawValue)
    }

    /// WordPress's options table of this site, where `cloudchat_db_version` lives.
    public var optionsTable: SQLIdentifier { try! SQLIdentifier(tablePrefix + "options") }

    public var description: String {
        if let domain {
            return "blog \(blogID) (\(domain)\(path ?? ""), prefix \(tablePrefix))"
        }
        return "site with prefix \(tablePrefix)"
    }
}

/// Finds the sites of a WordPress database.
public enum WordPressSites {
    /// Whether the database holds a multisite network's tables (`{prefix}blogs` and `{prefix}site`).
    public static func hasNetworkTables(on connection: MariaDBConnection, basePrefix: String) throws(MariaDBError) -> Bool {
        let rows = try connection.query("""
            SELECT COUNT(*) FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (\(basePrefix + "blogs"), \(basePrefix + "site"))
            """)
        return try rows.first?.decode(Int.self, at: 0) == 2
    }

    /// Lists the sites: the one site, or every blog of a multisite network.
    /// - Parameters:
    ///   - connection: a connection to the WordPress database.
    ///   - basePrefix: `$table_prefix` from wp-config.php.
    ///   - multisite: `MULTISITE` as configured, or nil to detect it from the network tables.
    /// - Returns: the sites, blog 1 first.
    /// - Throws: ``MariaDBError`` from the queries; ``WordPressSiteError`` when MULTISITE is on without the network tables.
    public static func discover(on connection: MariaDBConnection, basePrefix: String, multisite: Bool?) throws -> [WordPressSite] {
        let isNetwork = try multisite ?? hasNetworkTables(on: connection, basePrefix: basePrefix)
        guard isNetwork else { return [try WordPressSite(blogID: 1, tablePrefix: basePrefix)] }
        guard try hasNetworkTables(on: connection, basePrefix: basePrefix) else {
            throw WordPressSiteError(description: "MULTISITE is on but the network tables \(basePrefix)blogs and \(basePrefix)site are missing; finish the network setup in WordPress or set multisite = no")
        }
        let blogs = try SQLIdentifier(basePrefix + "blogs")
        var sites: [WordPressSite] = []
        for row in try connection.query("SELECT blog_id, domain, path FROM \(blogs) ORDER BY blog_id") {
            let blogID = try row.decode(Int.self, at: 0)
            // WordPress: the main site keeps the base prefix, others get "{prefix}{id}_".
            let prefix = blogID == 1 ? basePrefix : "\(basePrefix)\(blogID)_"
            sites.append(try WordPressSite(blogID: blogID, tablePrefix: prefix,
                                           domain: try row.decode(String.self, at: 1), path: try row.decode(String.self, at: 2)))
        }
        return sites
    }
}

/// A site that cannot be used as configured; the message says why and what to do.
public struct WordPressSiteError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public let description: String
}
