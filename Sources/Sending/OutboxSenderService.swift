import Foundation
import Logging
import MariaDB
import Metrics
import ServiceLifecycle
import Synchronization
import WhatsAppCloudAPI
import WordPressStore

/// Runs one ``NumberSender`` per business number of every site served, and
/// keeps that set current as numbers are added, halted or disabled.
public final class OutboxSenderService: Service, Sendable {
    private struct SenderKey: Hashable { let site: String; let accountID: UInt64 }

    private let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let http: GraphHTTPClient
    private let vault: CredentialVault
    private let configuration: SenderConfiguration
    private let instanceID: String
    private let logger: Logger
    /// The counters of every sender.
    public let statistics: SendStatistics
    private let senders = Mutex<[SenderKey: NumberSender]>([:])
    private let reload = WakeSignal()

    public init(sites: [WordPressSite], pool: MariaDBPool, http: GraphHTTPClient, vault: CredentialVault,
                configuration: SenderConfiguration, instanceID: String, logger: Logger,
                metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        statistics = SendStatistics(metrics: metrics)
        self.sites = sites
        self.pool = pool
        self.http = http
        self.vault = vault
        self.configuration = configuration
        self.instanceID = instanceID
        self.logger = logger
    }

    /// New outbox rows, a campaign changed, or new credentials in a site: its senders look at once.
    public func notify(site: WordPressSite) {
        let siteSenders = senders.withLock { $0.filter { $0.key.site == site.key }.map(\.value) }
        for sender in siteSenders { sender.notify() }
        reload.signal()
    }

    /// Inbound messages received by an account count against its throughput at Meta.
    public func recordInbound(site: WordPressSite, accountID: UInt64, count: Int) {
        senders.withLock { $0[SenderKey(site: site.key, accountID: accountID)] }?.recordInbound(count)
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                for site in sites {
                    do {
                        let accounts = try await pool.withConnection { try SendingAccount.load(site: site, on: $0) }
                        for sender in reconcile(site: site, accounts: accounts) {
                            group.addTask { await sender.run() }
                        }
                    } catch let error as MariaDBError where error.kind == .poolClosed {
                        break
                    } catch {
                        logger.warning("could not read the business numbers to send for", metadata: [
                            "site": "\(site.key)", "error": "\(error)",
                        ])
                    }
                }
                await cancelWhenGracefulShutdown { await self.reload.wait(timeout: .seconds(30)) }
            }
            for sender in senders.withLock({ Array($0.values) }) { sender.stop() }
        }
    }

    /// Starts senders for new numbers, updates the others, stops those disabled or gone.
    /// - Returns: the senders to start.
    private func reconcile(site: WordPressSite, accounts: [SendingAccount]) -> [NumberSender] {
        let wanted = Dictionary(accounts.filter { $0.state != "disabled" }.map { (SenderKey(site: site.key, accountID: $0.id), $0) },
                                uniquingKeysWith: { first, _ in first })
        return senders.withLock { senders -> [NumberSender] in
            var started: [NumberSender] = []
            for (key, sender) in senders where key.site == site.key && wanted[key] == nil {
                sender.stop()
                senders[key] = nil
            }
            for (key, account) in wanted {
                if let sender = senders[key] {
                    if sender.account != account { sender.update(account) }
                } else {
                    let sender = NumberSender(site: site, account: account, pool: pool, http: http, vault: vault, configuration: configuration,
                                              statistics: statistics, instanceID: instanceID, logger: logger)
                    senders[key] = sender
                    started.append(sender)
                }
            }
            return started
        }
    }
}
