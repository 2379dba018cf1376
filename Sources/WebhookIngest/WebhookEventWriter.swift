import Foundation
import Logging
import MariaDB
import Metrics
import ServiceLifecycle
import Synchronization
import WordPressStore

/// One webhook body accepted at the door, waiting to be stored.
public struct AcceptedWebhook: Sendable {
    /// The body exactly as received.
    public let body: [UInt8]
    /// When it arrived.
    public let receivedAt: Date

    /// Creates an accepted webhook.
    public init(body: [UInt8], receivedAt: Date = Date()) {
        self.body = body
        self.receivedAt = receivedAt
    }
}

/// Stores accepted webhooks durably with group commit.
///
/// Many requests, one transaction: while one commit is in flight, newly
/// accepted bodies queue up, and the next commit writes all of them with one
/// multi-row `INSERT` per site. ``store(_:)`` returns only after the commit
/// that holds its body has returned, so the HTTP handler answers 200 for
/// bodies that are on disk and never before.
public final class WebhookEventWriter: Service, Sendable {
    /// Limits on one commit.
    public struct Limits: Sendable {
        /// The most bodies in one commit.
        public var maxEvents = 1_000
        /// The most body bytes in one commit (kept under the server's `max_allowed_packet`, 16 MiB by default).
        public var maxBytes = 8 * 1024 * 1024

        /// The defaults.
        public init() {}

        /// Limits that fit the server: one commit's statement, with its row overhead,
        /// stays below `max_allowed_packet`.
        /// - Returns: the limits, and the largest body that can be stored at all.
        public static func fitting(maxAllowedPacket packet: Int, maxBodyBytes: Int) -> (limits: Limits, maxBodyBytes: Int) {
            // Room for the statement text and each row's other columns.
            let usable = max(64 * 1024, packet - 256 * 1024)
            var limits = Limits()
            limits.maxBytes = min(limits.maxBytes, usable)
            return (limits, min(maxBodyBytes, usable))
        }
    }

    /// Called once a body is committed (or could not be); may run on any thread.
    public typealias Completion = @Sendable (Result<[WebhookSiteRouter.Route], WebhookStoreError>) -> Void

    private struct Pending {
        var webhook: AcceptedWebhook
        /// One route, or one per site for a body that was split.
        var routes: [WebhookSiteRouter.Route]
        var completion: Completion
    }

    private struct State {
        var queue: [Pending] = []
        var wakeUp: CheckedContinuation<Void, Never>?
        var isShuttingDown = false
    }

    private let pool: MariaDBPool
    private let router: WebhookSiteRouter
    private let spool: WebhookSpool?
    private let limits: Limits
    private let logger: Logger
    /// Bodies per group commit, and how long each commit took.
    private let batchSizes: Recorder
    private let commitTimer: Metrics.Timer
    private let onStored: @Sendable (WordPressSite) -> Void
    private let state = Mutex(State())
    private let statistics = Mutex(Statistics())

    /// Counts since start, for status and metrics.
    public struct Statistics: Sendable, Equatable {
        /// Bodies committed.
        public var stored = 0
        /// Commits made.
        public var commits = 0
        /// Bodies whose commit failed (their requests were answered 503).
        public var failed = 0
        /// The largest number of bodies in one commit.
        public var largestCommit = 0
        /// Bodies per commit, averaged over the last commits.
        public var recentCommitSize = 0.0
        /// When the last commit returned.
        public var lastCommitAt: ContinuousClock.Instant?
        /// Bodies written to the local spool instead of the database.
        public var spooled = 0
        /// Bodies (or parts of split ones) stored `unrouted`: no site has their number or WABA.
        public var unrouted = 0
    }

    /// Creates a writer; ``run()`` must be running for ``store(_:)`` to return.
    /// - Parameters:
    ///   - spool: where bodies go while the database cannot take them; without one they are answered 503.
    ///   - onStored: called after each commit for every site that received bodies (to wake its processor).
    ///   - metrics: where `cloudchat_webhook_commit_batch_size` and `cloudchat_webhook_commit_seconds` go.
    public init(pool: MariaDBPool, router: WebhookSiteRouter, spool: WebhookSpool? = nil, limits: Limits = Limits(), logger: Logger,
                metrics: any MetricsFactory = NOOPMetricsHandler.instance,
                onStored: @escaping @Sendable (WordPressSite) -> Void = { _ in }) {
        batchSizes = Recorder(label: "cloudchat_webhook_commit_batch_size", dimensions: [], aggregate: true, factory: metrics)
        commitTimer = Timer(label: "cloudchat_webhook_commit_seconds", dimensions: [], factory: metrics)
        self.onStored = onStored
        self.pool = pool
        self.router = router
        self.spool = spool
        self.limits = limits
        self.logger = logger
    }

    /// Counts since start.
    public var currentStatistics: Statistics { statistics.withLock { $0 } }

    /// Whether webhooks are arriving faster than commits return one by one: many wait for each
    /// commit. Processing then gives way, so acknowledgements stay fast through a burst.
    public var isUnderPressure: Bool {
        statistics.withLock { statistics in
            guard let last = statistics.lastCommitAt, last.duration(to: .now) < .seconds(1) else { return false }
            return statistics.recentCommitSize >= Self.pressureCommitSize
        }
    }

    /// Bodies per commit from which intake counts as under pressure; at 2,000 webhooks/s commits hold about 10.
    static let pressureCommitSize = 40.0

    /// Stores a webhook and returns once it is committed.
    /// - Returns: where it went (one route per site when it was split).
    /// - Throws: ``WebhookStoreError`` when the writer is shutting down or the commit failed.
    @discardableResult
    public func store(_ webhook: AcceptedWebhook) async throws -> [WebhookSiteRouter.Route] {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(webhook) { continuation.resume(with: $0) }
        }
    }

    /// Queues a webhook for the next commit and calls `completion` once it is
    /// committed, without a task per request (for callers on an event loop).
    public func enqueue(_ webhook: AcceptedWebhook, completion: @escaping Completion) {
        let routes = router.route(webhook.body)
        let outcome: (wake: CheckedContinuation<Void, Never>?, refused: Bool) = state.withLock { state in
            if state.isShuttingDown { return (nil, true) }
            state.queue.append(Pending(webhook: webhook, routes: routes, completion: completion))
            let wake = state.wakeUp
            state.wakeUp = nil
            return (wake, false)
        }
        if outcome.refused {
            completion(.failure(WebhookStoreError(description: "the webhook writer is shutting down")))
        }
        outcome.wake?.resume()
    }

    /// Commits queued bodies until graceful shutdown; then commits what is left and returns.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while let batch = await nextBatch() {
                await commit(batch)
            }
        } onGracefulShutdown: {
            let wake = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.isShuttingDown = true
                let wake = state.wakeUp
                state.wakeUp = nil
                return wake
            }
            wake?.resume()
        }
        logger.info("webhook writer stopped", metadata: ["stored": "\(currentStatistics.stored)"])
    }

    /// Waits for queued bodies and takes up to one commit's worth; nil once shut down and drained.
    private func nextBatch() async -> [Pending]? {
        while true {
            let taken: [Pending]? = state.withLock { state in
                guard !state.queue.isEmpty else { return state.isShuttingDown ? [] : nil }
                var bytes = 0
                var count = 0
                for pending in state.queue {
                    // Always take at least one body, however large.
                    if count > 0 && (count == limits.maxEvents || bytes + pending.webhook.body.count > limits.maxBytes) { break }
                    bytes += pending.webhook.body.count
                    count += 1
                }
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            if let taken {
                return taken.isEmpty ? nil : taken
            }
            await withCheckedContinuation { (wake: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.queue.isEmpty || state.isShuttingDown { return true }
                    state.wakeUp = wake
                    return false
                }
                if resumeNow { wake.resume() }
            }
        }
    }

    private func commit(_ batch: [Pending]) async {
        // While earlier bodies wait in the spool, later ones queue behind them there.
        if let spool, spool.hasPending {
            await spoolOrFail(batch, spool: spool, reason: nil)
            return
        }
        // One INSERT per site, all in one transaction: one fsync for the lot.
        var rowsBySite: [WordPressSite: [[MariaDBValue]]] = [:]
        for pending in batch {
            for route in pending.routes {
                rowsBySite[route.site, default: []].append(WebhookEventRow(route: route, webhook: pending.webhook).values)
            }
        }
        let inserts = try? rowsBySite.map { site, rows in
            try SQLQuery.insert(into: site.table(.webhookEvents), columns: WebhookEventRow.columns, rows: rows)
        }
        let started = ContinuousClock.now
        do {
            guard let inserts else { throw WebhookStoreError(description: "could not build the insert") }
            if inserts.count == 1 {
                // One multi-row INSERT is atomic on its own: one round trip, one fsync.
                _ = try await pool.withConnection { try $0.execute(inserts[0]) }
            } else {
                try await pool.withTransaction { connection in
                    for insert in inserts { try connection.execute(insert) }
                }
            }
            commitTimer.record(duration: ContinuousClock.now - started)
            batchSizes.record(batch.count)
            let unrouted = batch.reduce(0) { $0 + $1.routes.count { $0.processingState == "unrouted" } }
            statistics.withLock {
                $0.unrouted += unrouted
                $0.stored += batch.count
                $0.commits += 1
                $0.largestCommit = max($0.largestCommit, batch.count)
                $0.recentCommitSize = 0.9 * $0.recentCommitSize + 0.1 * Double(batch.count)
                $0.lastCommitAt = .now
            }
            for pending in batch { pending.completion(.success(pending.routes)) }
            for site in rowsBySite.keys { onStored(site) }
        } catch {
            if let spool {
                await spoolOrFail(batch, spool: spool, reason: error)
                return
            }
            fail(batch, because: "the database did not accept the webhook: \(error)")
        }
    }

    private func spoolOrFail(_ batch: [Pending], spool: WebhookSpool, reason: (any Error)?) async {
        do {
            try await spool.append(batch.flatMap { pending in
                pending.routes.map { ($0.site.key, WebhookEventRow(route: $0, webhook: pending.webhook)) }
            })
            statistics.withLock { $0.spooled += batch.count }
            if let reason {
                logger.warning("database unavailable: webhooks kept in the local spool until it is back", metadata: [
                    "count": "\(batch.count)", "error": "\(reason)",
                ])
            }
            for pending in batch { pending.completion(.success(pending.routes)) }
        } catch {
            fail(batch, because: "neither the database nor the spool took the webhook: \(error)")
        }
    }

    private func fail(_ batch: [Pending], because reason: String) {
        statistics.withLock { $0.failed += batch.count }
        logger.error("could not store webhooks; their requests are answered 503 and Meta will retry them", metadata: [
            "count": "\(batch.count)", "reason": "\(reason)",
        ])
        let failure = WebhookStoreError(description: reason)
        for pending in batch { pending.completion(.failure(failure)) }
    }
}

/// One row of `webhook_events` as the writer and the spool drainer insert it.
public struct WebhookEventRow: Sendable, Equatable {
    public var receivedAt: Date
    public var phoneNumberID: String?
    public var wabaID: String?
    public var isSplit: Bool
    /// `pending` or `unrouted`.
    public var processingState: String
    /// The body as received, or one site's part of a split body.
    public var body: [UInt8]

    public init(receivedAt: Date, phoneNumberID: String?, wabaID: String? = nil, isSplit: Bool = false, processingState: String, body: [UInt8]) {
        self.receivedAt = receivedAt
        self.phoneNumberID = phoneNumberID
        self.wabaID = wabaID
        self.isSplit = isSplit
        self.processingState = processingState
        self.body = body
    }

    /// The row for one route of an accepted webhook.
    init(route: WebhookSiteRouter.Route, webhook: AcceptedWebhook) {
        self.init(receivedAt: webhook.receivedAt, phoneNumberID: route.phoneNumberID, wabaID: route.wabaID, isSplit: route.isSplit,
                  processingState: route.processingState, body: route.body(from: webhook.body))
    }

    /// The columns ``values`` fills, in order. Only signature-checked bodies are ever stored.
    static let columns = ["received_at", "phone_number_id", "waba_id", "signature_verified", "is_split", "processing_state", "body"]

    var values: [MariaDBValue] {
        [.date(receivedAt), phoneNumberID.map { .string($0) } ?? .null, wabaID.map { .string($0) } ?? .null, .int(1),
         .int(isSplit ? 1 : 0), .string(processingState), .bytes(body)]
    }
}

/// A webhook could not be stored; the request is answered 503 so Meta retries it.
public struct WebhookStoreError: Error, Sendable, CustomStringConvertible {
    /// What happened (never the body).
    public let description: String
}
