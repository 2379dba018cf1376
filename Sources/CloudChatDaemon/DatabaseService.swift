import Logging
import MariaDB
import Metrics
import ServiceLifecycle
import WordPressStore

/// Opens the database pool for `serve`, checks that every site's schema is
/// current, and closes the pool on graceful shutdown.
public final class DatabaseService: Service {
    /// The pool other services borrow connections from.
    public let pool: MariaDBPool
    private let configuration: DaemonConfiguration
    private let logger: Logger

    /// Creates the service; nothing is opened until ``prepare()``.
    public init(configuration: DaemonConfiguration, logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.configuration = configuration
        self.logger = logger
        self.pool = MariaDBPool(configuration: configuration.mariaDB, size: configuration.databasePoolSize, logger: logger,
                                metrics: metrics, name: "main")
    }

    /// Connects, finds the sites and checks their schema.
    /// - Returns: the sites this daemon serves.
    /// - Throws: ``ServeError`` when a schema is missing, behind or newer; ``MariaDBError`` when the database cannot be reached.
    public func prepare() async throws -> [WordPressSite] {
        let configuration = self.configuration
        let (sites, statuses) = try await pool.withConnection { connection in
            let sites = try configuration.discoverSites(on: connection)
            return (sites, try sites.map { try SchemaMigrator.status(of: $0, on: connection) })
        }
        for status in statuses where status.state != .current {
            switch status.state {
            case .newer:
                throw ServeError("\(status.site) has schema version \(status.installedVersion ?? 0), newer than this cloudchatd (\(status.latestVersion)); upgrade cloudchatd")
            case .noWordPress:
                throw ServeError("\(status.site): there is no WordPress options table `\(status.site.optionsTable)`; check table_prefix and db_name (or the also_serve entry), or run `cloudchatd doctor`")
            default:
                throw ServeError("\(status.site) has schema version \(status.installedVersion ?? 0), this cloudchatd needs \(status.latestVersion); run `cloudchatd migrate` first")
            }
        }
        logger.info("database ready", metadata: [
            "endpoint": "\(configuration.mariaDB.endpointDescription)", "installs": "\(configuration.installs.count)", "sites": "\(sites.count)",
            "schema_version": "\(SchemaMigrator.latestVersion)", "pool_size": "\(pool.size)",
        ])
        return sites
    }

    /// Keeps the pool open until graceful shutdown, then closes it.
    public func run() async throws {
        try? await gracefulShutdown()
        await pool.shutdown()
        logger.info("database pool closed")
    }
}

/// `serve` cannot start; the message says why and what to do.
public struct ServeError: Error, CustomStringConvertible {
    /// What happened and what to do.
    public let description: String
    /// Creates the error.
    public init(_ description: String) { self.description = description }
}
