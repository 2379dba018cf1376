import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import WordPressStore

/// Starts scheduled campaigns when their time comes, and resumes campaigns
/// paused by the messaging limit once it has freed up. Every daemon may run
/// one: the transitions are compare-and-set and making recipients is
/// idempotent, so two daemons cannot start a campaign twice.
public final class CampaignScheduler: Service, Sendable {
    private let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let interval: Duration
    private let onChange: @Sendable (WordPressSite) -> Void
    private let logger: Logger

    public init(sites: [WordPressSite], pool: MariaDBPool, interval: Duration = .seconds(1), logger: Logger,
                onChange: @escaping @Sendable (WordPressSite) -> Void) {
        self.sites = sites
        self.pool = pool
        self.interval = interval
        self.onChange = onChange
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            for site in sites { await runDue(site) }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
    }

    /// Starts and resumes what is due in one site now.
    public func runDue(_ site: WordPressSite, now: Date = Date()) async {
        let store = CampaignStore(site: site)
        do {
            let due = try await pool.withConnection { try store.due(now: now, on: $0) }
            guard !due.toStart.isEmpty || !due.toResume.isEmpty || !due.toFinish.isEmpty else { return }
            for id in due.toStart {
                do {
                    try await pool.withConnection { _ = try store.beginStart(id, now: now, on: $0) }
                    onChange(site)
                    let campaign = try await pool.withConnection { try store.finishStart(id, now: now, on: $0) }
                    logger.info("scheduled campaign started", metadata: [
                        "site": "\(site.key)", "campaign_id": "\(id)", "recipients": "\(campaign.recipientsTotal ?? 0)",
                    ])
                } catch let error as CampaignError {
                    // Not startable as it stands (template no longer approved, empty audience): back to draft, with the reason.
                    logger.error("a scheduled campaign could not start", metadata: ["site": "\(site.key)", "campaign_id": "\(id)", "reason": "\(error)"])
                    _ = try await pool.withConnection { connection in
                        try connection.execute("""
                            UPDATE \(site.table(.campaigns))
                               SET state = 'draft', state_reason = 'start_failed', error_details = \(String(error.description.prefix(1000))),
                                   updated_at = \(now)
                             WHERE id = \(id) AND state = 'scheduled'
                            """)
                    }
                }
            }
            for id in due.toFinish {
                logger.notice("a campaign's recipients were left half made; making the rest", metadata: ["site": "\(site.key)", "campaign_id": "\(id)"])
                try await pool.withConnection { _ = try store.finishStart(id, now: now, on: $0) }
            }
            for id in due.toResume {
                do {
                    try await pool.withConnection { try store.resume(id, now: now, on: $0) }
                    logger.info("campaign resumed: the messaging limit has room again", metadata: ["site": "\(site.key)", "campaign_id": "\(id)"])
                } catch {
                    logger.warning("a campaign could not resume", metadata: ["site": "\(site.key)", "campaign_id": "\(id)", "reason": "\(error)"])
                }
            }
            onChange(site)
        } catch let error as MariaDBError where error.kind == .poolClosed {
            return
        } catch {
            logger.warning("could not look for due campaigns", metadata: ["site": "\(site.key)", "error": "\(error)"])
        }
    }
}
