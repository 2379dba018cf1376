import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import Synchronization
import WhatsAppCloudAPI
import WordPressStore

/// Downloads the media customers send, verifies it and stores it as a file (docs/schema.md §5.9).
///
/// For each site it serves, the worker holds the site's `media` lease, so one
/// daemon at a time downloads a site's media. It claims due `pending` rows a few
/// at a time (`FOR UPDATE SKIP LOCKED`, `READ COMMITTED`), marks them
/// `downloading`, commits, and only then downloads, a bounded number at once.
/// Bytes stream into a file under the site's media directory and are hashed as
/// they arrive; a verified file is moved into place and the row set `stored` in
/// one short write. Failures go back to `pending` with a backoff, or end in
/// `failed` or `expired`. Rows left `downloading` by a daemon that lost the
/// lease, or claimed too long ago, are put back to `pending`.
///
/// Logs name row ids and error codes, never file names, URLs, phone numbers or tokens.
///
/// ```swift
/// let worker = MediaDownloadWorker(
///     sites: sites, pool: pool, instanceID: instanceID,
///     mediaDirectory: { MediaStorage.defaultRoot(of: $0, uploadsDirectory: "/var/www/html/wp-content/uploads") },
///     graphClient: { site, accountID in try await credentials.client(for: site, accountID: accountID) },
///     logger: logger)
/// ```
public final class MediaDownloadWorker: Service, Sendable {
    /// Tuning; the defaults suit production.
    public struct Configuration: Sendable {
        /// The largest file accepted: 100 MiB, Meta's limit for documents, the largest media type.
        public var maximumBytes: Int64 = 100 * 1024 * 1024
        /// Downloads running at once, over all sites.
        public var concurrentDownloads = 4
        /// The most rows claimed in one transaction (never more than there are free download slots).
        public var claimBatchSize = 4
        /// How often an idle worker looks for due rows it was not told about.
        public var pollInterval: Duration = .seconds(5)
        /// The `media` lease's term; it is renewed at a third of it.
        public var leaseDuration: Duration = .seconds(30)
        /// Attempts before a row fails with `retries_exhausted`.
        public var maximumAttempts = 8
        /// Attempts that may end in a checksum mismatch before the row fails with `checksum_mismatch`.
        public var checksumAttempts = 3
        /// The delay after the first failed attempt; it doubles with each attempt.
        public var initialBackoff: Duration = .seconds(30)
        /// The longest delay between attempts.
        public var maximumBackoff: Duration = .seconds(3600)
        /// When an account has no usable credentials, how long until its rows are tried again (not counted as attempts).
        public var credentialsRetryDelay: Duration = .seconds(300)
        /// How long after receipt the webhook's download URL is tried; Meta's URLs live 5 minutes.
        public var downloadURLLifetime: Duration = .seconds(240)
        /// A `downloading` row claimed this long ago, and not being downloaded, is put back to `pending`.
        public var staleClaimAfter: Duration = .seconds(600)
        /// How often `downloading` rows are checked for recovery (also right after the lease is acquired).
        public var recoveryInterval: Duration = .seconds(60)
        /// The longest one transfer may take; a transfer that stalls for a minute ends sooner.
        public var downloadTimeout: Duration = .seconds(600)
        /// On graceful shutdown, how long running downloads may finish before they are cut short and their rows put back.
        public var shutdownGracePeriod: Duration = .seconds(20)

        public init() {}
    }

    /// Counts since start, for metrics.
    public struct Statistics: Sendable, Equatable {
        /// Files stored.
        public var downloaded = 0
        /// Bytes of the files stored.
        public var bytes: Int64 = 0
        /// Rows set `failed`.
        public var failed = 0
        /// Rows set `expired`.
        public var expired = 0
        /// Failed attempts that will be retried.
        public var retried = 0
        /// Attempts given back without counting: no credentials yet, or cut short by shutdown.
        public var deferred = 0
        /// `downloading` rows put back to `pending` after their claimer stopped.
        public var recovered = 0
        /// Downloads running now.
        public var inFlight = 0
        /// Sites whose `media` lease this worker holds.
        public var leasesHeld = 0

        public init() {}
    }

    /// Gives the Graph client for an account (`cloudchat_accounts.id`) of a site, or nil while it has no credentials.
    public typealias GraphClientProvider = @Sendable (_ site: WordPressSite, _ accountID: UInt64) async throws -> GraphClient?

    /// The sites served.
    public let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let instanceID: String
    private let configuration: Configuration
    private let policy: MediaRetryPolicy
    private let mediaDirectory: @Sendable (WordPressSite) -> String
    private let graphClient: GraphClientProvider
    private let logger: Logger
    private let files = FileQueue()
    private let wakeup = WakeSignal()
    /// Set on graceful shutdown or cancellation: no more claims.
    private let stopping = Atomic<Bool>(false)
    /// Set when running downloads must end now; their sinks throw at the next chunk.
    private let abortDownloads = Atomic<Bool>(false)
    private let counters = Mutex(Statistics())
    /// Row ids being downloaded, per site.
    private let downloading = Mutex<[WordPressSite: Set<UInt64>]>([:])

    /// Creates a worker; it starts when the service group runs it.
    /// - Parameters:
    ///   - sites: the sites to download media for.
    ///   - pool: the database pool.
    ///   - instanceID: this daemon run's id, written as lease owner and `claimed_by`.
    ///   - configuration: tuning.
    ///   - mediaDirectory: the absolute media directory of a site; see ``MediaStorage/defaultRoot(of:uploadsDirectory:)``.
    ///   - graphClient: the Graph client of an account, or nil while it has no credentials (the row waits, and the
    ///     wait does not count as an attempt). Called once per download attempt.
    ///   - logger: receives row ids and error codes only.
    public init(sites: [WordPressSite], pool: MariaDBPool, instanceID: String, configuration: Configuration = Configuration(),
                mediaDirectory: @escaping @Sendable (WordPressSite) -> String, graphClient: @escaping GraphClientProvider, logger: Logger) {
        self.sites = sites
        self.pool = pool
        self.instanceID = instanceID
        self.configuration = configuration
        policy = MediaRetryPolicy(initialBackoff: configuration.initialBackoff, maximumBackoff: configuration.maximumBackoff,
                                  maximumAttempts: max(1, configuration.maximumAttempts), checksumAttempts: max(1, configuration.checksumAttempts),
                                  accountRetryDelay: configuration.credentialsRetryDelay)
        self.mediaDirectory = mediaDirectory
        self.graphClient = graphClient
        self.logger = logger
    }

    /// Counts since start.
    public var statistics: Statistics {
        var statistics = counters.withLock { $0 }
        statistics.inFlight = downloading.withLock { $0.values.reduce(0) { $0 + $1.count } }
        return statistics
    }

    /// Tells the worker a site has new media (the processor just inserted rows), so it claims now instead of at its next poll.
    public func notify(_ site: WordPressSite) {
        wakeup.signal()
    }

    // MARK: Running

    /// Per-site state of the loop.
    private struct SiteState {
        var lease: SiteLease?
        var storage: MediaStorage?
        var renewedAt = ContinuousClock.now
        var nextLeaseTry = ContinuousClock.now
        var nextRecovery = ContinuousClock.now
        /// After an unexpected error, the site rests until then.
        var resumeAt = ContinuousClock.now
    }

    /// Downloads until graceful shutdown; then lets running downloads finish for the grace period, puts back the
    /// rows of those still running, and releases the leases.
    public func run() async throws {
        var states = Dictionary(uniqueKeysWithValues: sites.map { ($0, SiteState()) })
        logger.info("media downloads starting", metadata: ["sites": "\(sites.count)"])
        await withDiscardingTaskGroup { group in
            await withTaskCancellationOrGracefulShutdownHandler {
                await schedule(&states, group: &group)
            } onCancelOrGracefulShutdown: { [self] in
                stopping.store(true, ordering: .relaxed)
                wakeup.signal()
            }
            await drain()
        }
        for (site, state) in states {
            guard let lease = state.lease else { continue }
            do {
                try await pool.withConnection { try lease.release(on: $0) }
            } catch {
                logger.debug("media lease not released; it expires by itself", metadata: ["site": "\(site.key)", "error": "\(error)"])
            }
        }
        counters.withLock { $0.leasesHeld = 0 }
        let final = statistics
        logger.info("media downloads stopped", metadata: ["downloaded": "\(final.downloaded)", "failed": "\(final.failed)", "expired": "\(final.expired)"])
    }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Whether running downloads are being cut short (shutdown after the grace period, or cancellation).
    var isAbortingDownloads: Bool { abortDownloads.load(ordering: .relaxed) }

    private var inFlightCount: Int { downloading.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Claims and starts downloads until stopping.
    private func schedule(_ states: inout [WordPressSite: SiteState], group: inout DiscardingTaskGroup) async {
        var turn = 0
        while !isStopping {
            var moreWaiting = false
            // Each pass starts at the next site, so one site's backlog cannot keep the free slots from the others.
            let order = sites.indices.map { sites[($0 + turn) % sites.count] }
            turn = sites.isEmpty ? 0 : (turn + 1) % sites.count
            for site in order {
                guard !isStopping else { break }
                var state = states[site]!
                defer { states[site] = state }
                guard ContinuousClock.now >= state.resumeAt else { continue }
                do {
                    guard try await keepLease(site, &state), let storage = state.storage else { continue }
                    if ContinuousClock.now >= state.nextRecovery {
                        try await recover(site)
                        state.nextRecovery = .now + configuration.recoveryInterval
                    }
                    let free = configuration.concurrentDownloads - inFlightCount
                    guard free > 0 else { continue }
                    let limit = min(max(1, configuration.claimBatchSize), free)
                    let claim = try await claim(site, limit: limit)
                    for row in claim.rows { start(row, site: site, storage: storage, group: &group) }
                    if claim.rows.count + claim.expired.count + claim.exhausted.count == limit { moreWaiting = true }
                } catch let error as SiteLeaseLost {
                    logger.warning("another daemon took over this site's media downloads", metadata: ["site": "\(site.key)", "lease": "\(error.name)"])
                    state.lease = nil
                    counters.withLock { $0.leasesHeld -= 1 }
                } catch let error as MariaDBError where error.kind == .poolClosed {
                    return
                } catch {
                    logger.error("media downloads paused for this site after an error; retrying", metadata: [
                        "site": "\(site.key)", "error": "\(error)",
                    ])
                    state.resumeAt = .now + .seconds(1)
                }
            }
            if moreWaiting && inFlightCount < configuration.concurrentDownloads && !isStopping { continue }
            await wakeup.wait(timeout: min(configuration.pollInterval, configuration.leaseDuration / 3))
        }
    }

    /// After stopping: waits for running downloads for the grace period, then cuts the rest short.
    private func drain() async {
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while inFlightCount > 0 && ContinuousClock.now < deadline && !Task.isCancelled {
            await wakeup.wait(timeout: ContinuousClock.now.duration(to: deadline))
        }
        let left = inFlightCount
        if left > 0 {
            logger.info("cutting media downloads short for shutdown; their rows are put back", metadata: ["count": "\(left)"])
            abortDownloads.store(true, ordering: .relaxed)
        }
    }

    /// Holds the site's lease: acquires it (after preparing the media directory) or renews it when due.
    /// - Returns: whether this worker holds it.
    private func keepLease(_ site: WordPressSite, _ state: inout SiteState) async throws -> Bool {
        let now = ContinuousClock.now
        let duration = configuration.leaseDuration
        if let lease = state.lease {
            if state.renewedAt.duration(to: now) >= duration / 3 {
                try await pool.withConnection { try lease.renew(duration: duration, on: $0) }
                state.renewedAt = now
            }
            return true
        }
        guard now >= state.nextLeaseTry else { return false }
        state.nextLeaseTry = now + duration / 3
        // The directory comes first: claiming without a place for the files would only use up attempts.
        let storage = MediaStorage(root: mediaDirectory(site))
        let partialAge = max(.seconds(3600), configuration.downloadTimeout * 2)
        do {
            let swept = try await files.run {
                try storage.prepare()
                return storage.sweepPartials(olderThan: partialAge)
            }
            if swept > 0 { logger.info("removed unfinished downloads left by a stopped daemon", metadata: ["site": "\(site.key)", "count": "\(swept)"]) }
        } catch {
            logger.error("the media directory cannot be used; media downloads wait", metadata: ["site": "\(site.key)", "error": "\(error)"])
            state.nextLeaseTry = now + .seconds(60)
            return false
        }
        let instanceID = instanceID
        guard let lease = try await pool.withConnection({
            try SiteLease.acquire("media", site: site, ownerID: instanceID, duration: duration, on: $0)
        }) else { return false }
        state.lease = lease
        state.storage = storage
        state.renewedAt = now
        state.nextRecovery = now
        counters.withLock { $0.leasesHeld += 1 }
        logger.info("downloading this site's media", metadata: ["site": "\(site.key)", "epoch": "\(lease.epoch)"])
        return true
    }

    private func recover(_ site: WordPressSite) async throws {
        let (instanceID, staleAfter) = (instanceID, configuration.staleClaimAfter)
        let ours = downloading.withLock { Array($0[site] ?? []) }
        let recovered = try await pool.withConnection {
            try MediaQueue.recover(site: site, instanceID: instanceID, staleAfter: staleAfter, downloading: ours, on: $0)
        }
        guard recovered > 0 else { return }
        counters.withLock { $0.recovered += recovered }
        logger.info("put media downloads of a stopped claimer back in the queue", metadata: ["site": "\(site.key)", "count": "\(recovered)"])
    }

    private func claim(_ site: WordPressSite, limit: Int) async throws -> MediaQueue.Claim {
        let (instanceID, lifetime, attempts) = (instanceID, configuration.downloadURLLifetime, policy.maximumAttempts)
        let claim = try await pool.withConnection {
            try MediaQueue.claim(site: site, instanceID: instanceID, limit: limit, urlLifetime: lifetime, maximumAttempts: attempts, on: $0)
        }
        if !claim.expired.isEmpty || !claim.exhausted.isEmpty {
            counters.withLock {
                $0.expired += claim.expired.count
                $0.failed += claim.exhausted.count
            }
            for id in claim.expired { logger.info("media expired before it could be downloaded", metadata: ["site": "\(site.key)", "media_row": "\(id)"]) }
            for id in claim.exhausted { logger.warning("media download gave up: no attempts left", metadata: ["site": "\(site.key)", "media_row": "\(id)"]) }
        }
        return claim
    }

    private func start(_ row: ClaimedMedia, site: WordPressSite, storage: MediaStorage, group: inout DiscardingTaskGroup) {
        downloading.withLock { _ = $0[site, default: []].insert(row.id) }
        group.addTask { [self] in
            await download(row, site: site, storage: storage)
            downloading.withLock { _ = $0[site]?.remove(row.id) }
            wakeup.signal()
        }
    }

    // MARK: One download

    /// Runs one attempt and records its outcome.
    private func download(_ row: ClaimedMedia, site: WordPressSite, storage: MediaStorage) async {
        let outcome = await attempt(row, site: site, storage: storage)
        let instanceID = instanceID
        let recorded: Bool
        do {
            recorded = try await pool.withConnection {
                try MediaQueue.record(outcome, for: row, site: site, instanceID: instanceID, on: $0)
            }
        } catch {
            // The write may have happened (a connection lost during the commit), so a stored file stays:
            // an unreferenced file is better than a row pointing at a missing one.
            logger.error("could not record a media download; the row is downloaded again after recovery", metadata: [
                "site": "\(site.key)", "media_row": "\(row.id)", "error": "\(error)",
            ])
            return
        }
        guard recorded else {
            logger.warning("a media row was taken over while it downloaded; this download is dropped", metadata: [
                "site": "\(site.key)", "media_row": "\(row.id)",
            ])
            if case .stored(let path, _, _, _) = outcome { try? await files.run { storage.remove(relativePath: path) } }
            return
        }
        note(outcome, row: row, site: site)
    }

    /// Downloads, verifies and stores one row's media; never throws, every failure becomes an outcome.
    private func attempt(_ row: ClaimedMedia, site: WordPressSite, storage: MediaStorage) async -> MediaAttemptOutcome {
        let client: GraphClient?
        do {
            client = try await graphClient(site, row.accountID)
        } catch {
            logger.error("could not read an account's credentials; its media waits", metadata: [
                "site": "\(site.key)", "account_id": "\(row.accountID)", "error": "\(error)",
            ])
            return .putBack(after: configuration.credentialsRetryDelay, reason: "no_credentials", code: nil,
                            details: "the account's credentials could not be read")
        }
        guard let client else {
            return .putBack(after: configuration.credentialsRetryDelay, reason: "no_credentials", code: nil, details: nil)
        }
        // The webhook's URL saves a Graph call while it lives; once it is dead, Meta gives a fresh one.
        var urlIsDead = false
        if row.urlIsFresh, let url = row.downloadURL, client.acceptsDownloadURL(url) {
            do {
                return try await fetch(from: url, client: client, row: row, sha256: row.sha256, mimeType: row.mimeType, storage: storage)
            } catch let error as GraphAPIError where [401, 403, 404].contains(error.httpStatus) {
                urlIsDead = true
            } catch {
                return policy.outcome(of: .classify(error, fromDownloadURL: true), attempt: row.attempt)
            }
        }
        guard let mediaID = row.metaMediaID else {
            return .fail(reason: "meta_error", code: nil, details: "no Meta media id to ask for a download URL")
        }
        let info: GraphClient.MediaInfo
        do {
            info = try await client.mediaInfo(mediaID)
        } catch {
            return policy.outcome(of: .classify(error, fromDownloadURL: false), attempt: row.attempt, urlIsDead: urlIsDead)
        }
        if let size = info.fileSize, size > configuration.maximumBytes {
            return policy.outcome(of: .tooLarge(details: "Meta gives a size of \(size) bytes; the limit is \(configuration.maximumBytes)"),
                                  attempt: row.attempt)
        }
        // The row keeps Meta's digest from the webhook; the answer's is used when the row has none it can read.
        let sha256 = MediaFileType.sha256Digest(row.sha256) != nil ? row.sha256 : info.sha256
        do {
            return try await fetch(from: info.url, client: client, row: row, sha256: sha256, mimeType: row.mimeType ?? info.mimeType,
                                   storage: storage)
        } catch {
            return policy.outcome(of: .classify(error, fromDownloadURL: true), attempt: row.attempt, urlIsDead: urlIsDead)
        }
    }

    /// Streams one URL into a new file, checks the digest, and moves the file into place.
    /// - Returns: `stored`, or the outcome of a checksum mismatch.
    /// - Throws: what the download or the file system threw; the file is removed.
    private func fetch(from url: String, client: GraphClient, row: ClaimedMedia, sha256: String?, mimeType: String?,
                       storage: MediaStorage) async throws -> MediaAttemptOutcome {
        let expected = MediaFileType.sha256Digest(sha256)
        let file = try await files.run { try storage.createPartial() }
        do {
            let size = try await client.downloadMedia(from: url, maximumBytes: configuration.maximumBytes, timeout: configuration.downloadTimeout) {
                [self] chunk in
                // On the Graph client's transfer thread: a file write and a digest update, nothing more.
                if abortDownloads.load(ordering: .relaxed) { throw DownloadInterrupted() }
                try file.write(chunk)
            }
            let actual = file.digest()
            if let expected, actual != expected {
                try? await files.run { file.discard() }
                return policy.outcome(of: .checksumMismatch(details: "the SHA-256 of the \(size) bytes received does not match Meta's"),
                                      attempt: row.attempt)
            }
            if expected == nil {
                logger.warning("Meta gave no readable checksum; the media is stored unverified", metadata: ["media_row": "\(row.id)"])
            }
            let fileExtension = MediaFileType.fileExtension(forMIMEType: mimeType)
            let path = try await files.run { try storage.store(file, fileExtension: fileExtension) }
            return .stored(path: path, mimeType: mimeType, sizeBytes: size, sha256: sha256)
        } catch {
            try? await files.run { file.discard() }
            throw error
        }
    }

    /// Counts and logs an outcome that was written.
    private func note(_ outcome: MediaAttemptOutcome, row: ClaimedMedia, site: WordPressSite) {
        var metadata: Logger.Metadata = ["site": "\(site.key)", "media_row": "\(row.id)", "attempt": "\(row.attempt)"]
        switch outcome {
        case .stored(_, _, let size, _):
            counters.withLock {
                $0.downloaded += 1
                $0.bytes += size
            }
            metadata["bytes"] = "\(size)"
            logger.debug("media stored", metadata: metadata)
        case .retry(let delay, let reason, let code, let details, _):
            counters.withLock { $0.retried += 1 }
            metadata["reason"] = "\(reason)"
            metadata["retry_in"] = "\(delay)"
            // A Graph error's details may quote the request: the code is logged, the text stays in the row.
            if let code { metadata["error_code"] = "\(code)" } else { metadata["error"] = "\(details)" }
            logger.info("media download failed; it is tried again later", metadata: metadata)
        case .fail(let reason, let code, let details):
            counters.withLock { $0.failed += 1 }
            metadata["reason"] = "\(reason)"
            if let code { metadata["error_code"] = "\(code)" } else { metadata["error"] = "\(details)" }
            logger.warning("media download failed for good", metadata: metadata)
        case .expire(let code, _):
            counters.withLock { $0.expired += 1 }
            if let code { metadata["error_code"] = "\(code)" }
            logger.info("media no longer available from Meta", metadata: metadata)
        case .putBack(let delay, let reason, let code, _):
            counters.withLock { $0.deferred += 1 }
            metadata["reason"] = "\(reason)"
            metadata["retry_in"] = "\(delay)"
            if let code { metadata["error_code"] = "\(code)" }
            logger.debug("media download put back without counting an attempt", metadata: metadata)
        }
    }
}
