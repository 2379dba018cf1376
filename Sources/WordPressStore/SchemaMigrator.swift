import Logging
import MariaDB

/// Where a site's CloudChat schema stands.
public struct SchemaStatus: Sendable, Equatable {
    /// In words.
    public enum State: Sendable, Equatable {
        /// No WordPress options table with this prefix: wrong prefix or WordPress not installed.
        case noWordPress
        /// WordPress is there; CloudChat's tables are not.
        case notInstalled
        /// Installed, at an older version than this build.
        case behind
        /// At this build's version.
        case current
        /// At a newer version than this build knows: this build must not touch it.
        case newer
    }

    /// The site.
    public let site: WordPressSite
    /// The version recorded in `cloudchat_db_version`, if any.
    public let installedVersion: Int?
    /// The newest version this build knows.
    public let latestVersion: Int
    /// Whether the site's options table exists.
    public let hasOptionsTable: Bool

    /// The state derived from the versions.
    public var state: State {
        guard hasOptionsTable else { return .noWordPress }
        guard let installedVersion, installedVersion > 0 else { return .notInstalled }
        if installedVersion < latestVersion { return .behind }
        if installedVersion > latestVersion { return .newer }
        return .current
    }
}

/// What one `migrate` run did for one site.
public struct MigrationOutcome: Sendable, Equatable {
    /// The site.
    public let site: WordPressSite
    /// The version before.
    public let fromVersion: Int
    /// The version after (equal to `fromVersion` when nothing was due or on a dry run).
    public let toVersion: Int
    /// The migrations applied, or due on a dry run.
    public let migrations: [Int]
}

/// A reason `migrate` refused to run.
public struct SchemaMigrationError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public let description: String

    /// Creates the error.
    public init(description: String) {
        self.description = description
    }
}

/// Applies CloudChat's versioned schema to a site's tables.
///
/// The version is kept in the site's `{prefix}options` table as
/// `cloudchat_db_version`, which the WordPress bridge reads to tell the site
/// owner when the schema is missing or behind. Every statement is written to
/// be safe to run again, and the version is recorded after each migration, so
/// a run interrupted half-way is finished by the next. Concurrent runs for one
/// site are serialised by a server-side named lock.
public enum SchemaMigrator {
    /// The option that records the schema version.
    public static let versionOption = "cloudchat_db_version"

    /// The newest schema version this build knows.
    public static var latestVersion: Int { SchemaMigration.all.last?.version ?? 0 }

    /// Reads where a site's schema stands.
    public static func status(of site: WordPressSite, on connection: MariaDBConnection) throws -> SchemaStatus {
        guard try tableExists(site.optionsTable, on: connection) else {
            return SchemaStatus(site: site, installedVersion: nil, latestVersion: latestVersion, hasOptionsTable: false)
        }
        return SchemaStatus(site: site, installedVersion: try installedVersion(of: site, on: connection),
                            latestVersion: latestVersion, hasOptionsTable: true)
    }

    /// Brings a site's schema to ``latestVersion``.
    /// - Parameters:
    ///   - site: the site.
    ///   - connection: a connection to its database, used for the whole run.
    ///   - dryRun: report what is due without changing anything.
    ///   - logger: receives a line per migration.
    /// - Throws: ``SchemaMigrationError`` when the site has no WordPress tables, the schema is newer than this build,
    ///   or another run holds the lock; ``MariaDBError`` when a statement fails.
    @discardableResult
    public static func migrate(_ site: WordPressSite, on connection: MariaDBConnection, dryRun: Bool = false,
                               logger: Logger = Logger(label: "cloudchat.migrate")) throws -> MigrationOutcome {
        let lockName = "cloudchat_migrate:\(site.tablePrefix)"
        if !dryRun {
            let acquired = try connection.queryFirst("SELECT GET_LOCK(CONCAT(COALESCE(\(site.database), DATABASE()), ':', \(lockName)), 60)")?.decode(Int?.self, at: 0)
            guard acquired == 1 else {
                throw SchemaMigrationError(description: "another `cloudchatd migrate` is running for \(site) and did not finish within 60 s; wait for it and try again")
            }
        }
        defer {
            if !dryRun { _ = try? connection.execute("SELECT RELEASE_LOCK(CONCAT(COALESCE(\(site.database), DATABASE()), ':', \(lockName)))") }
        }

        let status = try status(of: site, on: connection)
        let from = status.installedVersion ?? 0
        switch status.state {
        case .noWordPress:
            throw SchemaMigrationError(description: "there is no WordPress options table `\(site.optionsTable)` in this database; check table_prefix and db_name (or --wordpress), and that WordPress is installed")
        case .newer:
            throw SchemaMigrationError(description: "\(site) has CloudChat schema version \(from), newer than this cloudchatd knows (\(latestVersion)); upgrade cloudchatd instead of migrating down")
        case .notInstalled, .behind, .current:
            break
        }
        let due = SchemaMigration.all.filter { $0.version > from }
        if dryRun || due.isEmpty {
            return MigrationOutcome(site: site, fromVersion: from, toVersion: from, migrations: due.map(\.version))
        }
        // Every statement writes `{prefix}name`; a site in another database is written `database`.`prefix…`.
        let qualifiedPrefix = site.database.map { "`\($0)`.`\(site.tablePrefix)" } ?? "`\(site.tablePrefix)"
        for migration in due {
            logger.info("applying schema migration", metadata: [
                "site": "\(site)", "version": "\(migration.version)", "summary": "\(migration.summary)",
            ])
            for statement in migration.statements {
                try connection.execute(unsafeSQL: statement.replacingOccurrences(of: "`{prefix}", with: qualifiedPrefix))
            }
            try recordVersion(migration.version, for: site, on: connection)
        }
        return MigrationOutcome(site: site, fromVersion: from, toVersion: latestVersion, migrations: due.map(\.version))
    }

    /// The version recorded for a site, nil when none.
    static func installedVersion(of site: WordPressSite, on connection: MariaDBConnection) throws -> Int? {
        let row = try connection.queryFirst("SELECT option_value FROM \(site.optionsTable) WHERE option_name = \(versionOption)")
        guard let text = try row?.decode(String.self, at: 0) else { return nil }
        guard let version = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw SchemaMigrationError(description: "\(site.tablePrefix)options holds '\(versionOption)' = '\(text.prefix(40))', which is not a version number; delete that option and run `cloudchatd migrate` again")
        }
        return version
    }

    private static func recordVersion(_ version: Int, for site: WordPressSite, on connection: MariaDBConnection) throws {
        // autoload: the bridge checks the version on every admin page load.
        try connection.execute("""
            INSERT INTO \(site.optionsTable) (option_name, option_value, autoload) VALUES (\(versionOption), \(String(version)), \("yes"))
            ON DUPLICATE KEY UPDATE option_value = VALUES(option_value)
            """)
    }

    static func tableExists(_ table: SQLIdentifier, on connection: MariaDBConnection) throws -> Bool {
        let row = try connection.queryFirst("""
            SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(\(table.database), DATABASE()) AND TABLE_NAME = \(table.name)
            """)
        return try row?.decode(Int.self, at: 0) == 1
    }
}
