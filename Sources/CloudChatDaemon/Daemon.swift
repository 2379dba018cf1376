import Foundation
import Logging
import MariaDB
import MediaDownload
import Privacy
import Prometheus
import Sending
import ServiceLifecycle
import Synchronization
import UnixSignals
import WebhookIngest
import WhatsAppCloudAPI
import WordPressStore

/// Puts `cloudchatd serve` together: the database pool, the webhook writer and
/// the HTTP listener, as one service group.
public enum Daemon {
    /// The running parts, for callers (and tests) that need to reach them.
    public struct Parts: Sendable {
        /// The service group to run.
        public let group: ServiceGroup
        /// The database pool.
        public let pool: MariaDBPool
        /// The webhook writer.
        public let writer: WebhookEventWriter
        /// The spool, when its directory could be used.
        public let spool: WebhookSpool?
        /// The sites served.
        public let sites: [WordPressSite]
        /// One webhook processor per site.
        public let processors: [WebhookProcessor]
        /// The outbox senders.
        public let sender: OutboxSenderService
        /// Template sync.
        public let templates: TemplateSyncService
    }

    /// Connects, checks the schema of every site, and builds the services.
    /// - Parameters:
    ///   - configuration: the daemon's configuration.
    ///   - logger: the daemon's logger.
    ///   - shutdownSignals: signals that start a graceful shutdown (none in tests).
    ///   - onListening: called with the HTTP port once the listener is bound.
    ///   - onControlListening: called with the control API's port once it is bound.
    ///   - systemd: where to send `READY=1`, `WATCHDOG=1` and `STATUS=` (nil: not run by systemd).
    ///   - watchdogInterval: how often systemd wants `WATCHDOG=1` (nil: no watchdog).
    ///   - onReload: on SIGHUP, applies what can change at run time (the log level); the daemon
    ///     then re-reads every business number's rate and state.
    /// - Throws: ``ServeError`` or ``MariaDBError`` when the database or schema is not ready.
    public static func assemble(
        configuration: DaemonConfiguration, logger: Logger, shutdownSignals: [UnixSignal] = [.sigterm, .sigint],
        onListening: @escaping @Sendable (Int) async -> Void = { _ in },
        onControlListening: @escaping @Sendable (Int) async -> Void = { _ in },
        systemd: SystemdNotifier? = nil, watchdogInterval: Duration? = nil,
        onReload: @escaping @Sendable () async -> Void = {}
    ) async throws -> Parts {
        // Each daemon has its own registry (tests run several in one process).
        let registry = PrometheusCollectorRegistry()
        let metricsFactory = DaemonMetrics.factory(registry: registry)
        let database = DatabaseService(configuration: configuration, logger: logger, metrics: metricsFactory)
        let sites: [WordPressSite]
        do {
            sites = try await database.prepare()
        } catch {
            await database.pool.shutdown()
            throw error
        }
        var home: WordPressSite?
        if let homeBlogID = configuration.homeBlogID {
            home = sites.first { $0.blogID == homeBlogID && configuration.isFirstInstall($0) }
            if home == nil {
                await database.pool.shutdown()
                throw ServeError("home_blog_id is \(homeBlogID), but this network has no site with that blog id; "
                                 + "set it to one of: " + sites.filter(configuration.isFirstInstall).map { "\($0.blogID)" }.joined(separator: ", "))
            }
        }
        let router = WebhookSiteRouter(sites: sites, home: home)
        // Route correctly from the first request on; the routing service keeps it current.
        let owners = try await database.pool.withConnection { try WebhookSiteRouter.loadOwners(of: sites, on: $0) }
        router.update(owners: owners)
        var spool: WebhookSpool?
        do {
            spool = try WebhookSpool(directory: configuration.spoolDirectory)
        } catch {
            logger.error("running without a webhook spool: while the database is down, webhooks are answered 503 (Meta retries them)", metadata: [
                "error": "\(error)",
            ])
        }
        // The writer has connections of its own with short timeouts: when the
        // database hangs instead of refusing, webhooks reach the spool within
        // seconds rather than after the default minute.
        var writerDatabase = configuration.mariaDB
        writerDatabase.connectTimeoutSeconds = 3
        writerDatabase.readTimeoutSeconds = UInt32(configuration.webhookCommitTimeoutSeconds)
        writerDatabase.writeTimeoutSeconds = UInt32(configuration.webhookCommitTimeoutSeconds)
        let writerPool = MariaDBPool(configuration: writerDatabase, size: 2, logger: logger, metrics: metricsFactory, name: "webhooks")
        // A statement larger than the server's max_allowed_packet can never be
        // stored (and would block the spool), so batches and bodies are sized to fit.
        let packet = try await database.pool.withConnection {
            try $0.queryFirst("SELECT @@max_allowed_packet")?.decode(Int.self, at: 0) ?? 16 * 1024 * 1024
        }
        let (limits, storableBodyBytes) = WebhookEventWriter.Limits.fitting(maxAllowedPacket: packet, maxBodyBytes: configuration.webhookMaxBodyBytes)
        var listenerConfiguration = configuration
        if storableBodyBytes < configuration.webhookMaxBodyBytes {
            logger.warning("the server's max_allowed_packet limits webhook bodies; raise it to 16M (see cloudchatd doctor)", metadata: [
                "max_allowed_packet": "\(packet)", "largest_body": "\(storableBodyBytes)",
            ])
            listenerConfiguration.webhookMaxBodyBytes = storableBodyBytes
        }
        let instanceID = DaemonInstance.id()
        let keyring: SecretsKeyring?
        do {
            keyring = try loadKeyring(configuration.secretsKeyFile, logger: logger)
        } catch {
            await database.pool.shutdown()
            await writerPool.shutdown()
            throw error
        }
        let vault = CredentialVault(keyring: keyring, keyFile: configuration.secretsKeyFile)
        let graphHTTP = GraphHTTPClient(userAgent: "cloudchatd/\(CloudChatVersion.current)")
        let sending = configuration.sending
        let sender = OutboxSenderService(sites: sites, pool: database.pool, http: graphHTTP, vault: vault, configuration: sending,
                                         instanceID: instanceID, logger: logger, metrics: metricsFactory)
        let templates = TemplateSyncService(sites: sites, pool: database.pool, http: graphHTTP, vault: vault, configuration: sending,
                                            interval: .seconds(configuration.templateSyncIntervalSeconds), instanceID: instanceID, logger: logger)
        var mediaConfiguration = MediaDownloadWorker.Configuration()
        mediaConfiguration.maximumBytes = configuration.mediaMaxBytes
        let media = MediaDownloadWorker(
            sites: sites, pool: database.pool, instanceID: instanceID, configuration: mediaConfiguration,
            mediaDirectory: { configuration.mediaDirectory(of: $0) },
            graphClient: { [pool = database.pool, sending] site, accountID in
                try await vault.graphClient(site: site, accountID: accountID, pool: pool, http: graphHTTP, configuration: sending)
            },
            logger: logger)
        // Processing gives way to the writer during bursts; the writer is built after the processors it wakes.
        let writerBinding = LateBinding<WebhookEventWriter>()
        var processorOptions = WebhookProcessor.Options()
        processorOptions.consentKeywords = ConsentKeywords(optOut: configuration.consentOptOutKeywords, optIn: configuration.consentOptInKeywords)
        let processors = sites.map {
            WebhookProcessor(site: $0, pool: database.pool, instanceID: instanceID, options: processorOptions, logger: logger,
                             intakeUnderPressure: { writerBinding.value?.isUnderPressure ?? false },
                             onApplied: { site, summary in
                                 for (accountID, count) in summary.inboundByAccount {
                                     sender.recordInbound(site: site, accountID: accountID, count: count)
                                 }
                                 if summary.mediaQueued > 0 { media.notify(site) }
                                 if summary.campaignsHalted { sender.notify(site: site) }
                             })
        }
        let processorsBySite = Dictionary(uniqueKeysWithValues: processors.map { ($0.site, $0) })
        let wakeProcessor: @Sendable (WordPressSite) -> Void = { processorsBySite[$0]?.notify() }
        // Webhooks are checked against the configured app secrets and those stored with the numbers.
        let appSecrets = WebhookAppSecrets(configured: configuration.webhookAppSecrets)
        let routing = SiteRoutingService(router: router, sites: sites, owners: owners, pool: database.pool, logger: logger,
                                         appSecrets: appSecrets,
                                         loadAppSecrets: { [pool = database.pool] in
                                             await Self.storedAppSecrets(sites: sites, pool: pool, vault: vault, logger: logger)
                                         },
                                         onMoved: wakeProcessor)
        // Checked from the first request on; the routing service keeps them current.
        appSecrets.replaceStored(await storedAppSecrets(sites: sites, pool: database.pool, vault: vault, logger: logger) ?? [])
        let writer = WebhookEventWriter(pool: writerPool, router: router, spool: spool, limits: limits, logger: logger, metrics: metricsFactory,
                                        onStored: wakeProcessor)
        writerBinding.bind(writer)
        let drainer = spool.map { WebhookSpoolDrainer(spool: $0, pool: writerPool, sites: sites, logger: logger) }
        if configuration.webhookAppSecrets.isEmpty {
            logger.notice("""
                no webhook_app_secret is configured: webhooks are checked with the app secrets stored with the numbers, \
                and answered 503 while there is none (Meta retries them)
                """)
        }
        let scheduler = CampaignScheduler(sites: sites, pool: database.pool, logger: logger, onChange: { sender.notify(site: $0) })
        // READY=1 waits for both listeners.
        let readiness = ReadinessGate(parts: 2)
        let metrics = DaemonMetrics(door: WebhookDoorCounters(), writer: writer, spool: spool, processors: processors, routing: routing,
                                    sending: sender.statistics, media: media, registry: registry,
                                    queues: DatabaseGauges(sites: sites, pool: database.pool, logger: logger))
        let http = WebhookListener(
            configuration: listenerConfiguration, appSecrets: appSecrets, writer: writer, pool: database.pool, logger: logger,
            counters: metrics.door, metrics: { await metrics.render() },
            onListening: { port in
                logger.info("cloudchatd ready", metadata: [
                    "version": "\(CloudChatVersion.current)", "http": "\(configuration.httpHost):\(port)",
                ])
                readiness.arrive()
                await onListening(port)
            })
        let control = ControlListener(
            host: configuration.controlHost, port: configuration.controlPort,
            api: ControlAPI(secret: configuration.controlSecret, sites: sites, ownDatabase: configuration.databaseName, pool: database.pool, vault: vault, sender: sender,
                            templates: templates, http: graphHTTP, sending: sending, logger: logger,
                            webhookStatus: { [door = metrics.door, verifyToken = configuration.webhookVerifyToken] in
                                let written = writer.currentStatistics
                                var status: [String: JSONValue] = ["webhooks": .object([
                                    "accepted": .number(Double(door.accepted.load(ordering: .relaxed))),
                                    "stored": .number(Double(written.stored)), "spooled": .number(Double(written.spooled)),
                                ])]
                                if let verifyToken { status["webhook_verify_token"] = .string(verifyToken) }
                                return status
                            },
                            mediaDirectory: { configuration.mediaDirectory(of: $0) },
                            metrics: { await metrics.render() },
                            liveStatus: { await metrics.liveStatus() },
                            onAccountsChanged: { routing.reloadNow() }),
            logger: logger, onListening: { port in
                readiness.arrive()
                await onControlListening(port)
            })
        if configuration.controlSecret == nil {
            logger.warning("no control_secret is configured: the WordPress plugin cannot notify the daemon or hand it credentials")
        }
        // Retention: each site's option over the configured defaults, purged hourly under the site's janitor lease.
        let janitor = RetentionJanitor(sites: sites, pool: database.pool, instanceID: instanceID, defaults: configuration.retention,
                                       mediaDirectory: { configuration.mediaDirectory(of: $0) },
                                       logger: logger, metrics: metricsFactory)
        let statusLine = DaemonStatusLine { [door = metrics.door, statistics = sender.statistics, spool] in
            DaemonStatusLine.Counts(
                accepted: door.accepted.load(ordering: .relaxed),
                processed: processors.reduce(0) { $0 + $1.currentStatistics.total },
                sent: statistics.accepted.load(ordering: .relaxed),
                spoolBatches: spool?.pendingBatches ?? 0,
                lagSeconds: processors.map(\.currentStatistics.lagSeconds).max() ?? 0)
        }
        let systemdService = SystemdService(
            notifier: systemd, watchdogInterval: watchdogInterval, ready: readiness, status: statusLine,
            reload: {
                logger.notice("reloading on SIGHUP: the log level from the configuration, every number's rate and state")
                await onReload()
                for site in sites { sender.notify(site: site) }
                routing.reloadNow()
            },
            logger: logger)
        // Services stop in reverse order: the listeners first (in-flight requests
        // finish), then the writer (its queue is committed), the spool drainer,
        // the senders (in-flight sends are recorded), the processors, the database last.
        var services: [any Service] = [database, GraphClientService(http: graphHTTP), routing]
        services += processors as [any Service]
        services += [sender, scheduler, templates, media, janitor, PoolService(pool: writerPool)] as [any Service]
        if let drainer { services.append(drainer) }
        services += [writer, http, control, systemdService] as [any Service]
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: shutdownSignals,
            logger: logger)
        // A bounded stop: what has not finished by then is cancelled (sends in flight stay
        // recorded as such and are reconciled at the next start).
        groupConfiguration.maximumGracefulShutdownDuration = Duration.seconds(configuration.shutdownTimeoutSeconds)
        groupConfiguration.maximumCancellationDuration = Duration.seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        return Parts(group: group, pool: database.pool, writer: writer, spool: spool, sites: sites, processors: processors,
                     sender: sender, templates: templates)
    }

    /// The app secrets site owners stored with their numbers (from wp-admin), decrypted; nil when they
    /// cannot be read now (the last ones read stay in force).
    static func storedAppSecrets(sites: [WordPressSite], pool: MariaDBPool, vault: CredentialVault, logger: Logger) async -> [String]? {
        guard vault.hasKeyring else { return [] }
        do {
            return try await pool.withConnection { connection in
                var secrets: [String] = []
                for site in sites {
                    let accounts = try connection.query("""
                        SELECT id FROM \(site.table(.accounts)) WHERE app_secret_ciphertext IS NOT NULL
                        """).map { try $0.decode(UInt64.self, at: 0) }
                    for account in accounts {
                        if let secret = try vault.secrets(site: site, accountID: account, on: connection)?.appSecret { secrets.append(secret) }
                    }
                }
                return secrets
            }
        } catch let error as MariaDBError where error.kind == .poolClosed {
            return nil
        } catch {
            logger.warning("could not read the app secrets stored with the numbers; webhooks are checked with those read before",
                           metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Reads the secrets key file. A missing file is allowed (nothing can be sent until one exists);
    /// a file that is unsafe or unreadable stops the start, since it would fail every send.
    static func loadKeyring(_ path: String, logger: Logger) throws -> SecretsKeyring? {
        guard FileManager.default.fileExists(atPath: path) else {
            logger.warning("no secrets key file: access tokens cannot be stored or read, so nothing is sent until one exists", metadata: [
                "secrets_key_file": "\(path)", "fix": "cloudchatd secrets-key generate --file \(path)",
            ])
            return nil
        }
        do {
            return try SecretsKeyring(contentsOf: path)
        } catch {
            throw ServeError("\(error)")
        }
    }
}

/// Closes a pool once the services after it in the group have stopped.
/// Stops the Graph client's transfer thread once the services using it have stopped.
final class GraphClientService: Service {
    private let http: GraphHTTPClient

    init(http: GraphHTTPClient) {
        self.http = http
    }

    func run() async throws {
        try? await gracefulShutdown()
        http.shutdown()
    }
}

final class PoolService: Service {
    private let pool: MariaDBPool

    init(pool: MariaDBPool) {
        self.pool = pool
    }

    func run() async throws {
        try? await gracefulShutdown()
        await pool.shutdown()
    }
}

/// Keeps the webhook router's map of numbers and WABAs to sites current
/// (reloaded every 30 s), and when an account appears, moves the stored events
/// that were waiting for it (`unrouted`) to its site's processor.
final class SiteRoutingService: Service, Sendable {
    private let router: WebhookSiteRouter
    private let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let logger: Logger
    private let onMoved: @Sendable (WordPressSite) -> Void
    /// The map assemble loaded, used for the first round instead of reading it again.
    private let initialOwners: WebhookSiteRouter.Owners
    /// Events moved to their owner since start.
    let rerouted = Atomic<Int>(0)
    private let wake = WakeSignal()

    /// Reads the app secrets stored with the numbers, each round (nil: they cannot be read now).
    private let loadAppSecrets: @Sendable () async -> [String]?
    private let appSecrets: WebhookAppSecrets

    init(router: WebhookSiteRouter, sites: [WordPressSite], owners: WebhookSiteRouter.Owners, pool: MariaDBPool, logger: Logger,
         appSecrets: WebhookAppSecrets = WebhookAppSecrets(configured: []), loadAppSecrets: @escaping @Sendable () async -> [String]? = { nil },
         onMoved: @escaping @Sendable (WordPressSite) -> Void) {
        initialOwners = owners
        self.appSecrets = appSecrets
        self.loadAppSecrets = loadAppSecrets
        self.router = router
        self.sites = sites
        self.pool = pool
        self.logger = logger
        self.onMoved = onMoved
    }

    func run() async throws {
        let sites = self.sites
        // Owners the last move worked from; nil until the first one, which runs at start.
        var movedFor: WebhookSiteRouter.Owners?
        // A processor batch that read the accounts just before a number was added
        // may mark events unrouted after the move, so a change is followed by one more.
        var moveAgain = false
        var firstRound = true
        while !Task.isShuttingDownGracefully {
            do {
                let owners = firstRound
                    ? initialOwners : try await pool.withConnection { try WebhookSiteRouter.loadOwners(of: sites, on: $0) }
                firstRound = false
                router.update(owners: owners)
                if let stored = await loadAppSecrets() { appSecrets.replaceStored(stored) }
                if owners.contested != movedFor?.contested {
                    for (number, claimants) in owners.contested.sorted(by: { $0.key < $1.key }) {
                        logger.error("a business number is an account of several sites; its webhooks wait, unrouted, until only one site has it", metadata: [
                            "phone_number_id": "\(number)", "sites": "\(claimants.map(\.key).sorted())",
                        ])
                    }
                }
                let changed = movedFor.map { owners.knowsMore(than: $0) } ?? true
                if changed || moveAgain {
                    let moved = try await pool.withConnection { try UnroutedWebhookEvents.reroute(sites: sites, owners: owners, on: $0) }
                    moveAgain = changed
                    movedFor = owners
                    for (site, count) in moved.sorted(by: { $0.key.key < $1.key.key }) {
                        rerouted.add(count, ordering: .relaxed)
                        logger.info("moved webhook events that waited for their number to be added", metadata: [
                            "site": "\(site.key)", "count": "\(count)",
                        ])
                        onMoved(site)
                    }
                }
            } catch let error as MariaDBError where error.kind == .poolClosed {
                break
            } catch {
                logger.warning("could not reload which site owns which phone number", metadata: ["error": "\(error)"])
            }
            await cancelWhenGracefulShutdown { await self.wake.wait(timeout: .seconds(30)) }
        }
    }

    /// Reloads the owners now (an account was added or changed).
    func reloadNow() {
        wake.signal()
    }
}

/// A value set once, after the parts that refer to it were built.
final class LateBinding<Value: Sendable>: Sendable {
    private let storage = Mutex<Value?>(nil)

    func bind(_ value: Value) {
        storage.withLock { $0 = value }
    }

    var value: Value? { storage.withLock { $0 } }
}

/// This daemon run's identity in lease rows: host name and random hex, unique per run.
enum DaemonInstance {
    static func id() -> String {
        // gethostname, not ProcessInfo.hostName: that one may resolve the name over DNS, a blocking call at start-up.
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "cloudchatd"
        let host = name.filter { $0.isASCII && !$0.isWhitespace && $0 != ":" }.prefix(100)
        let random = (0..<8).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
        return "\(host):\(random)"
    }
}
