import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import Synchronization
import WordPressStore

/// Processes one site's stored webhook events into its domain tables.
///
/// It holds the site's `processor` lease, so one daemon at a time processes a
/// site, and keeps a *processed-up-to mark* in that lease row instead of an
/// index on the hot events table (docs/schema.md §6.1): it reads the rows after
/// the mark in primary-key order, processes the pending ones and moves the mark
/// in the same transaction. Ids that are missing (inserts still in flight,
/// rolled-back inserts) hold the mark back until they have been missing for the
/// gap timeout; settled gaps are checked again for late rows for a while.
public final class WebhookProcessor: Service, Sendable {
    /// Tuning; the defaults suit production.
    public struct Options: Sendable {
        /// The most events read and processed per transaction.
        public var batchSize = 500
        /// About how many items (messages and statuses) one transaction applies. Bodies that carry many
        /// statuses make for fewer events per transaction, so no transaction holds its locks for long:
        /// the sender inserts message rows into the same index while statuses are applied.
        public var itemsPerTransaction = 500
        /// How long an id must stay missing before the mark passes it. Must exceed the ingest writer's transaction time.
        public var gapTimeout: Duration = .seconds(30)
        /// How long settled gaps keep being checked for rows that committed late.
        public var recheckWindow: Duration = .seconds(300)
        /// How often settled gaps are checked.
        public var recheckInterval: Duration = .seconds(60)
        /// The lease term; it is renewed at a third of it.
        public var leaseDuration: Duration = .seconds(30)
        /// How often an idle processor looks for work it was not told about (rows written by other daemons).
        public var idlePoll: Duration = .seconds(1)
        /// Failed attempts before an event is marked `failed` and passed over.
        public var maxAttempts = 5
        /// The words that opt a contact out or in when a text message is one of them; the site's rules add to them.
        public var consentKeywords = ConsentKeywords.defaults

        public init() {}
    }

    /// Counts since start, for status and metrics.
    public struct Statistics: Sendable, Equatable {
        /// Events by the state processing gave them (`processed`, `partial`, `invalid`, `unrouted`, `rejected`, `failed`).
        public var outcomes: [String: Int] = [:]
        /// Processing attempts that failed with a database error and will be retried.
        public var retries = 0
        /// Seconds between arrival and processing of the oldest event in the last batch; 0 when idle.
        public var lagSeconds = 0.0
        /// The processed-up-to mark.
        public var mark: UInt64 = 0
        /// Whether this daemon holds the site's processor lease.
        public var holdsLease = false

        /// Events processed, whatever their outcome.
        public var total: Int { outcomes.values.reduce(0, +) }
    }

    public let site: WordPressSite
    private let pool: MariaDBPool
    private let instanceID: String
    private let options: Options
    private let logger: Logger
    private let hasNews = Atomic<Bool>(true)
    private let intakeUnderPressure: @Sendable () -> Bool
    private let onApplied: @Sendable (WordPressSite, AppliedSummary) -> Void
    private let statistics = Mutex(Statistics())

    /// Creates a processor for one site.
    /// - Parameters:
    ///   - instanceID: this daemon run's id, written as the lease owner.
    ///   - intakeUnderPressure: whether webhook intake is busy; processing then gives way between batches.
    ///   - onApplied: told after each batch what it led to (inbound counts for pacing, media to download).
    public init(site: WordPressSite, pool: MariaDBPool, instanceID: String, options: Options = Options(), logger: Logger,
                intakeUnderPressure: @escaping @Sendable () -> Bool = { false },
                onApplied: @escaping @Sendable (WordPressSite, AppliedSummary) -> Void = { _, _ in }) {
        self.intakeUnderPressure = intakeUnderPressure
        self.onApplied = onApplied
        self.site = site
        self.pool = pool
        self.instanceID = instanceID
        self.options = options
        var logger = logger
        logger[metadataKey: "site"] = "\(site.key)"
        self.logger = logger
    }

    /// Counts since start.
    public var currentStatistics: Statistics { statistics.withLock { $0 } }

    /// Tells the processor new events were stored, so it does not wait for its next poll.
    public func notify() {
        hasNews.store(true, ordering: .relaxed)
    }

    /// Processes until graceful shutdown, then releases the lease.
    public func run() async throws {
        var progress: Progress?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if progress == nil {
                    progress = try await acquire()
                    if progress == nil {
                        try await idle(for: options.leaseDuration / 3, wakeOnNews: false)
                        continue
                    }
                }
                let started = ContinuousClock.now
                let outcome = try await step(&progress!)
                if !outcome.moreWaiting {
                    try await idle(for: options.idlePoll, wakeOnNews: true)
                } else if intakeUnderPressure() {
                    // A burst: acknowledging webhooks comes first. Processing continues at
                    // a quarter of its pace and catches up once the burst is over.
                    try await Task.sleep(for: started.duration(to: .now) * 3)
                }
            } catch is SiteLeaseLost {
                logger.warning("another daemon took over processing of this site's webhooks")
                progress = nil
                statistics.withLock { $0.holdsLease = false }
            } catch is CancellationError {
                break
            } catch let error as MariaDBError where error.kind == .poolClosed {
                // The daemon is stopping (or failed to start): nothing more can be done here.
                break
            } catch {
                logger.error("webhook processing paused after a database error; retrying", metadata: ["error": "\(error)"])
                do { try await Task.sleep(for: .seconds(1)) } catch { break }
            }
        }
        if let lease = progress?.lease {
            try? await pool.withConnection { try lease.release(on: $0) }
        }
        logger.info("webhook processor stopped", metadata: ["processed": "\(currentStatistics.total)"])
    }

    /// Processes everything available now (for tests and replays): returns once no pending event is left below the newest row.
    /// - Returns: false when another daemon holds the lease.
    @discardableResult
    public func processAvailable() async throws -> Bool {
        guard var progress = try await acquire() else { return false }
        while try await step(&progress).moreWaiting {}
        let lease = progress.lease
        try await pool.withConnection { try lease.release(on: $0) }
        return true
    }

    /// Applies stored events again, whatever their processing state, without changing the raw rows.
    ///
    /// Every write of processing is idempotent, so replaying yields the same domain
    /// state; it also rebuilds that state after domain rows were lost.
    /// - Parameter progress: called after each batch with the events replayed so far and the last id.
    /// - Returns: how many events were replayed.
    @discardableResult
    public static func replay(site: WordPressSite, ids: ClosedRange<UInt64>, batchSize: Int = 200,
                              consentKeywords: ConsentKeywords = .defaults, on connection: MariaDBConnection,
                              progress: (_ replayed: Int, _ lastID: UInt64) -> Void = { _, _ in }) throws -> Int {
        var after = ids.lowerBound > 0 ? ids.lowerBound - 1 : 0
        var replayed = 0
        while after < ids.upperBound {
            let rows = try readRows(site: site, after: after, limit: batchSize, on: connection).filter { $0.event.id <= ids.upperBound }
            guard let last = rows.last else { break }
            try connection.withTransaction { connection in
                var applier = try WebhookEventApplier(site: site, connection: connection, consentKeywords: consentKeywords)
                try applier.prefetch(rows.map(\.event))
                for row in rows { _ = try applier.apply(row.event) }
                try applier.finish()
            }
            replayed += rows.count
            after = last.event.id
            progress(replayed, after)
        }
        return replayed
    }

    // MARK: Steps

    struct Progress: Sendable {
        var lease: SiteLease
        /// Every id up to here is finished or a settled hole.
        var mark: UInt64
        /// The highest id read so far; everything between the mark and here is finished except `holes` and `retries`.
        var cursor: UInt64
        /// Ids missing between the mark and the cursor, and when each run of them was first seen missing.
        var holes: [Hole] = []
        /// Rows whose processing failed and will be tried again.
        var retries: Set<UInt64> = []
        /// Holes the mark passed, checked again for rows that committed late.
        var settled: [Hole] = []
        var renewedAt = ContinuousClock.now
        var recheckedAt = ContinuousClock.now
        /// Events to read in the next batch, from the items per event seen lately; nil means the batch size.
        var eventsPerBatch: Int?

        init(lease: SiteLease, mark: UInt64) {
            self.lease = lease
            self.mark = mark
            self.cursor = mark
        }
    }

    struct Hole: Sendable, Equatable {
        var range: ClosedRange<UInt64>
        var since: ContinuousClock.Instant
    }

    struct StepOutcome: Sendable {
        /// More rows are waiting; step again at once.
        var moreWaiting: Bool
    }

    private func acquire() async throws -> Progress? {
        let (site, instanceID, duration) = (site, instanceID, options.leaseDuration)
        guard let lease = try await pool.withConnection({
            try SiteLease.acquire("processor", site: site, ownerID: instanceID, duration: duration, on: $0)
        }) else { return nil }
        logger.info("processing this site's webhooks", metadata: ["from_event_id": "\((lease.progressID ?? 0) + 1)"])
        statistics.withLock {
            $0.holdsLease = true
            $0.mark = lease.progressID ?? 0
        }
        return Progress(lease: lease, mark: lease.progressID ?? 0)
    }

    private func step(_ progress: inout Progress) async throws -> StepOutcome {
        hasNews.store(false, ordering: .relaxed)
        let (site, options) = (site, options)
        let now = ContinuousClock.now
        if progress.renewedAt.duration(to: now) > options.leaseDuration / 3 {
            let lease = progress.lease
            try await pool.withConnection { try lease.renew(duration: options.leaseDuration, on: $0) }
            progress.renewedAt = now
        }
        if progress.recheckedAt.duration(to: now) > options.recheckInterval {
            try await recheckSettledGaps(&progress)
        }
        let before = progress
        let (after, report) = try await pool.withConnection { connection in
            var progress = before
            let report = try Self.processNextBatch(&progress, site: site, options: options, connection: connection)
            return (progress, report)
        }
        progress = after
        record(report, mark: progress.mark)
        logger.debug("webhook batch processed", metadata: [
            "read": "\(report.rowsRead)", "processed": "\(report.outcomes.values.reduce(0, +))", "mark": "\(progress.mark)",
            "cursor": "\(progress.cursor)", "holes": "\(progress.holes.count)", "retries": "\(progress.retries.count)",
        ])
        let limit = before.eventsPerBatch ?? options.batchSize
        if report.eventsApplied > 0 {
            let itemsPerEvent = max(1, Double(report.summary.items) / Double(report.eventsApplied))
            progress.eventsPerBatch = max(1, min(options.batchSize, Int(Double(options.itemsPerTransaction) / itemsPerEvent)))
        }
        return StepOutcome(moreWaiting: report.rowsRead == limit)
    }

    /// What one batch did.
    struct BatchReport: Sendable {
        var rowsRead = 0
        var advanced = false
        var outcomes: [String: Int] = [:]
        var retries = 0
        var oldestProcessed: Date?
        var summary = AppliedSummary()
        /// Pending events applied (the others read were already finished).
        var eventsApplied = 0
    }

    /// Reads new rows and rows that filled holes, processes the pending ones, and moves the mark, in one transaction when it can.
    static func processNextBatch(_ progress: inout Progress, site: WordPressSite, options: Options,
                                 connection: MariaDBConnection, now: ContinuousClock.Instant = .now) throws -> BatchReport {
        let late = try readHolesAndRetries(progress, site: site, on: connection)
        let fresh = try readRows(site: site, after: progress.cursor, limit: progress.eventsPerBatch ?? options.batchSize, on: connection)
        var report = BatchReport(rowsRead: fresh.count)
        var next = progress
        next.noteRead(late: late.map(\.event.id), fresh: fresh.map(\.event.id), now: now)
        let pending = (late + fresh).filter { $0.state == "pending" }
        report.eventsApplied = pending.count
        next.retries.subtract(late.filter { $0.state != "pending" }.map(\.event.id))
        let startingMark = progress.mark

        do {
            try connection.withTransaction { connection in
                var summary = AppliedSummary()
                let outcomes = try apply(pending.map(\.event), site: site, consentKeywords: options.consentKeywords, on: connection, summary: &summary)
                report.summary = summary
                var attempt = next
                attempt.retries.subtract(pending.map(\.event.id))
                attempt.settle(gapTimeout: options.gapTimeout, now: now)
                if attempt.mark != startingMark { try attempt.lease.record(progress: attempt.mark, on: connection) }
                for outcome in outcomes { report.outcomes[outcome.state, default: 0] += 1 }
                progress = attempt
            }
        } catch let error as SiteLeaseLost {
            throw error
        } catch {
            // One bad event must not hold up the rest: process them one by one, and count the failures.
            report.outcomes = [:]
            for row in pending {
                do {
                    var summary = AppliedSummary()
                    let outcome = try connection.withTransaction { try apply([row.event], site: site, consentKeywords: options.consentKeywords, on: $0, summary: &summary)[0] }
                    report.summary.add(summary)
                    next.retries.remove(row.event.id)
                    report.outcomes[outcome.state, default: 0] += 1
                } catch {
                    if try recordFailure(row, error: error, site: site, maxAttempts: options.maxAttempts, on: connection) {
                        next.retries.remove(row.event.id)
                        report.outcomes["failed", default: 0] += 1
                    } else {
                        next.retries.insert(row.event.id)
                        report.retries += 1
                    }
                }
            }
            next.settle(gapTimeout: options.gapTimeout, now: now)
            if next.mark != startingMark { try next.lease.record(progress: next.mark, on: connection) }
            progress = next
        }
        report.advanced = progress.mark != startingMark || !fresh.isEmpty
        report.oldestProcessed = pending.map(\.event.receivedAt).min()
        return report
    }

    /// Applies events and marks each with its outcome; runs inside the caller's transaction.
    static func apply(_ events: [StoredWebhookEvent], site: WordPressSite, consentKeywords: ConsentKeywords = .defaults,
                      on connection: MariaDBConnection, summary: inout AppliedSummary) throws -> [ProcessingOutcome] {
        guard !events.isEmpty else { return [] }
        var applier = try WebhookEventApplier(site: site, connection: connection, consentKeywords: consentKeywords)
        try applier.prefetch(events)
        var outcomes: [ProcessingOutcome] = []
        for event in events {
            let outcome = try applier.apply(event)
            outcomes.append(outcome)
        }
        try applier.finish()
        summary.add(applier.summary)
        // Events without an error share one statement per state; the others carry their own error.
        var plain: [String: [UInt64]] = [:]
        for (event, outcome) in zip(events, outcomes) {
            guard let error = outcome.error else {
                plain[outcome.state, default: []].append(event.id)
                continue
            }
            try connection.execute("""
                UPDATE \(site.table(.webhookEvents))
                   SET processing_state = \(outcome.state), processing_error = \(error), processed_at = UTC_TIMESTAMP(6)
                 WHERE id = \(event.id) AND processing_state = 'pending'
                """)
        }
        for (state, ids) in plain.sorted(by: { $0.key < $1.key }) {
            try connection.execute("""
                UPDATE \(site.table(.webhookEvents)) SET processing_state = \(state), processed_at = UTC_TIMESTAMP(6)
                 WHERE id IN (\(list: ids)) AND processing_state = 'pending'
                """)
        }
        return outcomes
    }

    /// Counts a failed attempt; after the last one the event is marked `failed`.
    /// - Returns: whether the event was given up on.
    private static func recordFailure(_ row: StoredRow, error: any Error, site: WordPressSite, maxAttempts: Int,
                                      on connection: MariaDBConnection) throws -> Bool {
        let attempts = row.attempts + 1
        let gaveUp = attempts >= maxAttempts
        let reason = "processing failed \(attempts) time(s): \(error)"
        try connection.execute("""
            UPDATE \(site.table(.webhookEvents))
               SET processing_state = \(gaveUp ? "failed" : "pending"), processing_attempts = \(attempts),
                   processing_error = \(String(reason.prefix(1024))), processed_at = \(gaveUp ? Date() : nil)
             WHERE id = \(row.event.id) AND processing_state = 'pending'
            """)
        return gaveUp
    }

    /// Processes rows that committed into holes after the mark passed them.
    private func recheckSettledGaps(_ progress: inout Progress) async throws {
        let now = ContinuousClock.now
        progress.recheckedAt = now
        progress.settled.removeAll { $0.since.duration(to: now) > options.recheckWindow }
        let ranges = progress.settled.map(\.range)
        guard !ranges.isEmpty else { return }
        let (site, keywords) = (site, options.consentKeywords)
        let report = try await pool.withConnection { connection -> BatchReport in
            var report = BatchReport()
            for range in ranges {
                let late = try Self.readRows(site: site, from: range.lowerBound, through: range.upperBound, on: connection)
                    .filter { $0.state == "pending" }
                guard !late.isEmpty else { continue }
                var summary = AppliedSummary()
                let outcomes = try connection.withTransaction { try Self.apply(late.map(\.event), site: site, consentKeywords: keywords, on: $0, summary: &summary) }
                report.summary.add(summary)
                for outcome in outcomes { report.outcomes[outcome.state, default: 0] += 1 }
            }
            return report
        }
        if report.outcomes.values.reduce(0, +) > 0 {
            logger.info("processed webhook events that were stored late", metadata: ["count": "\(report.outcomes.values.reduce(0, +))"])
            record(report, mark: progress.mark)
        }
    }

    private func record(_ report: BatchReport, mark: UInt64) {
        if !report.summary.isEmpty { onApplied(site, report.summary) }
        statistics.withLock { statistics in
            for (state, count) in report.outcomes { statistics.outcomes[state, default: 0] += count }
            statistics.retries += report.retries
            statistics.mark = mark
            statistics.lagSeconds = report.oldestProcessed.map { max(0, Date().timeIntervalSince($0)) } ?? 0
        }
    }

    private func idle(for duration: Duration, wakeOnNews: Bool) async throws {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline && !Task.isShuttingDownGracefully {
            if wakeOnNews && hasNews.load(ordering: .relaxed) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: Reading

    struct StoredRow: Sendable {
        let event: StoredWebhookEvent
        let state: String
        let attempts: Int
    }

    /// Rows that appeared in holes, and rows to try again. Only the oldest holes are looked at: the mark waits for them first.
    private static func readHolesAndRetries(_ progress: Progress, site: WordPressSite, on connection: MariaDBConnection) throws -> [StoredRow] {
        guard !progress.holes.isEmpty || !progress.retries.isEmpty else { return [] }
        var conditions: [SQLQuery] = progress.holes.prefix(50).map { "id BETWEEN \($0.range.lowerBound) AND \($0.range.upperBound)" }
        if !progress.retries.isEmpty { conditions.append("id IN (\(list: progress.retries.sorted().prefix(50).map { $0 }))") }
        var query: SQLQuery = "SELECT \(unsafeSQL: rowColumns) FROM \(site.table(.webhookEvents)) WHERE "
        for (index, condition) in conditions.enumerated() {
            if index > 0 { query.append(unsafeSQL: " OR ") }
            query.append(condition)
        }
        query.append(unsafeSQL: " ORDER BY id")
        return try decodeRows(connection.query(query))
    }

    private static func readRows(site: WordPressSite, after mark: UInt64, limit: Int, on connection: MariaDBConnection) throws -> [StoredRow] {
        try decodeRows(connection.query("""
            SELECT \(unsafeSQL: rowColumns)
              FROM \(site.table(.webhookEvents)) WHERE id > \(mark) ORDER BY id LIMIT \(limit)
            """))
    }

    private static func readRows(site: WordPressSite, from first: UInt64, through last: UInt64,
                                 on connection: MariaDBConnection) throws -> [StoredRow] {
        try decodeRows(connection.query("""
            SELECT \(unsafeSQL: rowColumns)
              FROM \(site.table(.webhookEvents)) WHERE id BETWEEN \(first) AND \(last) ORDER BY id
            """))
    }

    /// The columns every read of raw events selects, in the order ``decodeRows(_:)`` expects.
    private static let rowColumns = "id, received_at, signature_verified, processing_state, processing_attempts, body"

    private static func decodeRows(_ rows: [MariaDBRow]) throws -> [StoredRow] {
        try rows.map { row in
            StoredRow(
                event: StoredWebhookEvent(id: try row.decode(at: 0), receivedAt: try row.decode(at: 1),
                                          signatureVerified: try row.decode(at: 2), body: try row.decode(at: 5)),
                state: try row.decode(at: 3), attempts: try row.decode(at: 4))
        }
    }
}

extension WebhookProcessor.Progress {
    /// Takes note of rows read: rows found in holes fill them; gaps before and between fresh rows become holes.
    mutating func noteRead(late: [UInt64], fresh: [UInt64], now: ContinuousClock.Instant) {
        for id in late { fill(id) }
        var expected = cursor + 1
        for id in fresh.sorted() {
            if id > expected { holes.append(WebhookProcessor.Hole(range: expected...(id - 1), since: now)) }
            expected = id + 1
            cursor = max(cursor, id)
        }
    }

    /// Removes one id from the hole that contains it, splitting the hole if needed.
    private mutating func fill(_ id: UInt64) {
        guard let index = holes.firstIndex(where: { $0.range.contains(id) }) else { return }
        let hole = holes.remove(at: index)
        if hole.range.lowerBound < id { holes.append(.init(range: hole.range.lowerBound...(id - 1), since: hole.since)) }
        if id < hole.range.upperBound { holes.append(.init(range: (id + 1)...hole.range.upperBound, since: hole.since)) }
        holes.sort { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// Settles holes missing for longer than the timeout and moves the mark to just before the first unsettled hole or retry.
    mutating func settle(gapTimeout: Duration, now: ContinuousClock.Instant) {
        let (old, young) = (holes.filter { $0.since.duration(to: now) >= gapTimeout }, holes.filter { $0.since.duration(to: now) < gapTimeout })
        settled += old.map { WebhookProcessor.Hole(range: $0.range, since: now) }
        holes = young
        var newMark = cursor
        if let first = holes.map(\.range.lowerBound).min() { newMark = min(newMark, first - 1) }
        if let retry = retries.min() { newMark = min(newMark, retry - 1) }
        mark = max(mark, newMark)
    }
}
