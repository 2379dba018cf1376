import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import WordPressStore

/// Moves spooled webhooks into the database once it is back: oldest batch
/// first, exactly once (see ``WebhookSpool``).
public final class WebhookSpoolDrainer: Service, Sendable {
    private let spool: WebhookSpool
    private let pool: MariaDBPool
    private let sitesByKey: [String: WordPressSite]
    private let retryInterval: Duration
    private let logger: Logger

    /// Creates a drainer for the sites a daemon serves.
    public init(spool: WebhookSpool, pool: MariaDBPool, sites: [WordPressSite], retryInterval: Duration = .seconds(1), logger: Logger) {
        self.spool = spool
        self.pool = pool
        self.sitesByKey = Dictionary(sites.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        self.retryInterval = retryInterval
        self.logger = logger
    }

    /// Drains until graceful shutdown; what is left stays on disk for the next start.
    public func run() async throws {
        if spool.hasPending {
            logger.notice("webhooks are waiting in the local spool", metadata: ["batches": "\(spool.pendingBatches)"])
        }
        while !Task.isShuttingDownGracefully {
            var drained = false
            do {
                drained = try await drainOldest()
            } catch {
                logger.warning("could not drain the webhook spool yet; retrying", metadata: [
                    "batches": "\(spool.pendingBatches)", "error": "\(error)",
                ])
            }
            if !drained {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.retryInterval) }
            }
        }
    }

    /// Drains the oldest batch; false when there was none.
    @discardableResult
    public func drainOldest() async throws -> Bool {
        guard let batch = try await spool.oldest() else { return false }
        let marker = "spool:" + spool.spoolID
        let bySite = Dictionary(grouping: batch.records, by: \.siteKey)
        // A site no longer served still gets what was accepted for it: the key names its tables.
        let sites = try bySite.keys.sorted().map { key in
            try sitesByKey[key] ?? Self.site(forKey: key)
        }
        let inserted = try await pool.withTransaction(isolation: .readCommitted) { connection -> Int in
            var inserted = 0
            for site in sites {
                let leases = site.table(.leases)
                let now = Date()
                try connection.execute("INSERT IGNORE INTO \(leases) (name, progress_id, updated_at) VALUES (\(marker), \(0), \(now))")
                let drainedUpTo = try connection.queryFirst("SELECT progress_id FROM \(leases) WHERE name = \(marker) FOR UPDATE")?
                    .decode(UInt64?.self, at: 0) ?? 0
                // Records at or below the marker were committed before a crash kept their file.
                let fresh = bySite[site.key, default: []].filter { $0.sequence > drainedUpTo }
                guard let last = fresh.last?.sequence else { continue }
                try connection.execute(try SQLQuery.insert(
                    into: site.table(.webhookEvents), columns: WebhookEventRow.columns, rows: fresh.map(\.row.values)))
                try connection.execute("UPDATE \(leases) SET progress_id = \(last), updated_at = \(now) WHERE name = \(marker)")
                inserted += fresh.count
            }
            return inserted
        }
        try await spool.remove(batch)
        logger.info("drained spooled webhooks into the database", metadata: [
            "records": "\(inserted)", "batches_left": "\(spool.pendingBatches)",
        ])
        return true
    }

    /// The site a spooled key names: `prefix`, or `database.prefix`.
    static func site(forKey key: String) throws -> WordPressSite {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        return parts.count == 2
            ? try WordPressSite(blogID: 0, tablePrefix: parts[1], database: parts[0])
            : try WordPressSite(blogID: 0, tablePrefix: key)
    }
}
