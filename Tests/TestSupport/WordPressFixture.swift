import MariaDB

/// Creates the WordPress core tables CloudChat touches, with WordPress's own
/// column definitions, under a scratch prefix, so store tests run against a
/// WordPress-shaped database without a full WordPress install.
public enum WordPressFixture {
    /// Creates `{prefix}options` as WordPress 6.1 defines it.
    public static func createOptionsTable(prefix: String, on connection: MariaDBConnection) throws {
        let table = try SQLIdentifier(prefix + "options")
        try connection.execute(unsafeSQL: """
            CREATE TABLE \(table.quoted) (
              option_id BIGINT(20) UNSIGNED NOT NULL AUTO_INCREMENT,
              option_name VARCHAR(191) NOT NULL DEFAULT '',
              option_value LONGTEXT NOT NULL,
              autoload VARCHAR(20) NOT NULL DEFAULT 'yes',
              PRIMARY KEY (option_id),
              UNIQUE KEY option_name (option_name),
              KEY autoload (autoload)
            ) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
            """)
    }

    /// Creates a multisite network's `{prefix}site` and `{prefix}blogs` with the given blogs,
    /// and an options table for each blog (blog 1 uses the base prefix, blog N `{prefix}N_`).
    public static func createNetwork(prefix: String, blogIDs: [Int], on connection: MariaDBConnection) throws {
        let site = try SQLIdentifier(prefix + "site")
        let blogs = try SQLIdentifier(prefix + "blogs")
        try connection.execute(unsafeSQL: """
            CREATE TABLE \(site.quoted) (
              id BIGINT(20) NOT NULL AUTO_INCREMENT, domain VARCHAR(200) NOT NULL DEFAULT '', path VARCHAR(100) NOT NULL DEFAULT '',
              PRIMARY KEY (id)
            ) DEFAULT CHARACTER SET utf8mb4
            """)
        try connection.execute(unsafeSQL: """
            CREATE TABLE \(blogs.quoted) (
              blog_id BIGINT(20) NOT NULL AUTO_INCREMENT, site_id BIGINT(20) NOT NULL DEFAULT 0,
              domain VARCHAR(200) NOT NULL DEFAULT '', path VARCHAR(100) NOT NULL DEFAULT '',
              public TINYINT(2) NOT NULL DEFAULT 1, archived TINYINT(2) NOT NULL DEFAULT 0,
              spam TINYINT(2) NOT NULL DEFAULT 0, deleted TINYINT(2) NOT NULL DEFAULT 0,
              PRIMARY KEY (blog_id), KEY domain (domain(50), path(5))
            ) DEFAULT CHARACTER SET utf8mb4
            """)
        try connection.execute("INSERT INTO \(site) (id, domain, path) VALUES (\(1), \("example.com"), \("/"))")
        for blogID in blogIDs {
            try connection.execute("""
                INSERT INTO \(blogs) (blog_id, site_id, domain, path) VALUES (\(blogID), \(1), \("example.com"), \(blogID == 1 ? "/" : "/site\(blogID)/"))
                """)
            try createOptionsTable(prefix: blogID == 1 ? prefix : "\(prefix)\(blogID)_", on: connection)
        }
    }

    /// Drops every table whose name starts with `prefix`.
    public static func dropTables(prefix: String, on connection: MariaDBConnection) throws {
        let rows = try connection.query("""
            SELECT TABLE_NAME FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE CONCAT(REPLACE(\(prefix), '_', '\\_'), '%')
            """)
        let names = try rows.map { try SQLIdentifier($0.decode(String.self, at: 0)).quoted }
        if !names.isEmpty {
            try connection.execute(unsafeSQL: "DROP TABLE IF EXISTS " + names.joined(separator: ", "))
        }
    }
}
