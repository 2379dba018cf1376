import Foundation
import Logging
import MariaDB
import Metrics
import ServiceLifecycle
import Synchronization
import WordPressStore

/// The daemon's retention service: once an hour, for each site, it reads the site's policy (the
/// `cloudchat_retention` option over the daemon's defaults) and purges what is older, while holding the
/// site's `janitor` lease so only one daemon purges a site at a time.
///
/// It logs and records counts only (rows per table, files), never personal data, writes a
/// `retention.purged` audit entry when something went, and counts in metrics:
/// `cloudchat_retention_deleted_rows_total{site,class}`, `cloudchat_retention_deleted_files_total{site}`
/// and `cloudchat_retention_runs_total{site,outcome}`.
public final class RetentionJanitor: Service, Sendable {
    /// Tuning; the defaults suit production.
    public struct Configuration: Sendable {
        /// Time between two purges of a site.
        public var interval: Duration = .seconds(3600)
        /// Time from start to the first purge, so a start is not slowed by it.
        public var firstRunDelay: Duration = .seconds(60)
        /// The `janitor` lease's term; it is renewed between batches.
        public var leaseDuration: Duration = .seconds(300)
        /// Batch size and pause.
        public var purger = RetentionPurger.Options()

        public init() {}
    }

    /// The sites purged.
    public let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let instanceID: String
    private let defaults: RetentionPolicy
    private let mediaDirectory: @Sendable (WordPressSite) -> String
    private let configuration: Configuration
    private let logger: Logger
    private let metrics: any MetricsFactory
    private let wake = WakeSignal()

    /// Creates the janitor; it starts when the service group runs it.
    /// - Parameters:
    ///   - sites: the sites to purge.
    ///   - pool: the database pool.
    ///   - instanceID: this daemon run's id, written as the lease owner.
    ///   - defaults: the daemon's retention, for classes a site's option does not set.
    ///   - mediaDirectory: the absolute media directory of a site.
    ///   - configuration: tuning.
    ///   - logger: receives counts only.
    ///   - metrics: where the retention counters go.
    public init(sites: [WordPressSite], pool: MariaDBPool, instanceID: String, defaults: RetentionPolicy,
                mediaDirectory: @escaping @Sendable (WordPressSite) -> String, configuration: Configuration = Configuration(),
                logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.sites = sites
        self.pool = pool
        self.instanceID = instanceID
        self.defaults = defaults
        self.mediaDirectory = mediaDirectory
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
    }

    /// Purges every site once an hour until graceful shutdown; a purge in progress stops between batches.
    public func run() async throws {
        var wait = configuration.firstRunDelay
        while !Task.isShuttingDownGracefully {
            let pause = wait
            await cancelWhenGracefulShutdown { await self.wake.wait(timeout: pause) }
            wait = configuration.interval
            for site in sites {
                guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
                do {
                    _ = try await purge(site)
                } catch let error as MariaDBError where error.kind == .poolClosed {
                    return
                } catch is CancellationError {
                    return
                } catch {
                    count(site, outcome: "failed")
                    logger.error("retention purge stopped after an error; it runs again at the next round", metadata: [
                        "site": "\(site.key)", "error": "\(error)",
                    ])
                }
            }
        }
    }

    /// Runs the next round now (tests, and an operator's request).
    public func runSoon() {
        wake.signal()
    }

    /// Purges one site now, under its `janitor` lease.
    /// - Parameters:
    ///   - site: the site.
    ///   - actorType: who the audit entry names: `daemon`, or `cli` for `cloudchatd purge`.
    ///   - actorLabel: the audit entry's label; nil means this daemon's instance id.
    /// - Returns: the report, or nil when another daemon holds the lease.
    public func purge(_ site: WordPressSite, actorType: String = "daemon", actorLabel: String? = nil) async throws -> RetentionPurger.Report? {
        let (instanceID, duration, defaults) = (instanceID, configuration.leaseDuration, defaults)
        guard let (lease, policy) = try await pool.withConnection({ connection -> (SiteLease, RetentionPolicy)? in
            guard let lease = try SiteLease.acquire("janitor", site: site, ownerID: instanceID, duration: duration, on: connection) else { return nil }
            return (lease, try RetentionPolicy.read(site, defaults: defaults, on: connection))
        }) else {
            count(site, outcome: "lease_held_elsewhere")
            return nil
        }
        for problem in policy.problems {
            logger.warning("a retention setting of this site is not usable; the daemon's default applies", metadata: [
                "site": "\(site.key)", "problem": "\(problem)",
            ])
        }
        let renewed = Mutex(ContinuousClock.now)
        let pool = pool
        let purger = RetentionPurger(site: site, mediaDirectory: mediaDirectory(site), options: configuration.purger, logger: logger)
        let report: RetentionPurger.Report
        do {
            report = try await purger.run(policy: policy, pool: pool, dryRun: false) {
                if Task.isShuttingDownGracefully || Task.isCancelled { throw CancellationError() }
                let now = ContinuousClock.now
                if renewed.withLock({ now - $0 }) > duration / 3 {
                    try await pool.withConnection { try lease.renew(duration: duration, on: $0) }
                    renewed.withLock { $0 = now }
                }
            }
        } catch {
            try? await pool.withConnection { try lease.release(on: $0) }
            if error is SiteLeaseLost {
                count(site, outcome: "lease_lost")
                logger.warning("another daemon took over this site's retention purge", metadata: ["site": "\(site.key)"])
                return nil
            }
            throw error
        }
        record(report)
        try await pool.withConnection { connection in
            try RetentionPurger.audit(report, actorType: actorType, actorLabel: actorLabel ?? instanceID, on: connection)
            try lease.release(on: connection)
        }
        return report
    }

    private func record(_ report: RetentionPurger.Report) {
        let site = report.site.key
        count(report.site, outcome: "completed")
        for (retentionClass, classReport) in report.classes where classReport.rows > 0 {
            Counter(label: "cloudchat_retention_deleted_rows_total", dimensions: [("site", site), ("class", retentionClass.rawValue)],
                    factory: metrics).increment(by: classReport.rows)
        }
        if let media = report.classes[.messages]?.mediaRows, media > 0 {
            Counter(label: "cloudchat_retention_deleted_rows_total", dimensions: [("site", site), ("class", "media")],
                    factory: metrics).increment(by: media)
        }
        if report.totalFiles > 0 {
            Counter(label: "cloudchat_retention_deleted_files_total", dimensions: [("site", site)], factory: metrics)
                .increment(by: report.totalFiles)
        }
        var metadata: Logger.Metadata = ["site": "\(report.site.key)", "files": "\(report.totalFiles)"]
        for (table, rows) in report.rowsByTable { metadata[table] = "\(rows)" }
        if report.totalRows > 0 || report.totalFiles > 0 {
            logger.info("retention purge removed old data", metadata: metadata)
        } else {
            logger.debug("retention purge found nothing old enough", metadata: metadata)
        }
    }

    private func count(_ site: WordPressSite, outcome: String) {
        Counter(label: "cloudchat_retention_runs_total", dimensions: [("site", site.key), ("outcome", outcome)], factory: metrics)
            .increment()
    }
}
