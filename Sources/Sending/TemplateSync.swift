import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import Synchronization
import WhatsAppCloudAPI
import WordPressStore

/// Copies a WABA's message templates from the Graph API into `cloudchat_templates`
/// (docs/schema.md §5.10): every template listed is upserted by (WABA, name,
/// language); one no longer listed gets `removed_at`. Template webhooks keep
/// the rows current between syncs.
public enum TemplateSync {
    /// What a sync did.
    public struct Result: Sendable, Equatable, CustomStringConvertible {
        public var listed = 0
        public var approved = 0
        public var removed = 0

        public var description: String { "\(listed) templates listed (\(approved) approved), \(removed) no longer at Meta" }
    }

    /// Lists every template of the WABA and writes them to the site's table.
    public static func sync(wabaID: String, site: WordPressSite, client: GraphClient, pool: MariaDBPool) async throws -> Result {
        let templates = try await client.allTemplates(of: wabaID)
        return try await pool.withTransaction { connection in
            try write(templates, wabaID: wabaID, site: site, now: Date(), on: connection)
        }
    }

    static func write(_ templates: [GraphClient.MessageTemplate], wabaID: String, site: WordPressSite, now: Date,
                      on connection: MariaDBConnection) throws -> Result {
        var result = Result()
        for template in templates {
            try connection.execute("""
                INSERT INTO \(site.table(.templates))
                    (waba_id, meta_template_id, name, language, category, status, quality_score, parameter_format, components_json,
                     status_updated_at, synced_at, created_at, updated_at)
                VALUES (\(wabaID), \(template.id), \(template.name), \(template.language), \(template.category), \(template.status),
                        \(template.qualityScore), \(template.parameterFormat), \(template.components.jsonText), \(now), \(now), \(now), \(now))
                ON DUPLICATE KEY UPDATE
                    meta_template_id = VALUES(meta_template_id), category = COALESCE(VALUES(category), category),
                    status = VALUES(status), status_updated_at = GREATEST(COALESCE(status_updated_at, VALUES(status_updated_at)), VALUES(status_updated_at)),
                    quality_score = COALESCE(VALUES(quality_score), quality_score), parameter_format = VALUES(parameter_format),
                    components_json = VALUES(components_json), synced_at = VALUES(synced_at), removed_at = NULL, updated_at = VALUES(updated_at)
                """)
            result.listed += 1
            if template.status == "APPROVED" { result.approved += 1 }
        }
        let removed = try connection.execute("""
            UPDATE \(site.table(.templates)) SET removed_at = \(now), updated_at = \(now)
             WHERE waba_id = \(wabaID) AND removed_at IS NULL AND (synced_at IS NULL OR synced_at < \(now))
            """)
        result.removed = Int(removed.affectedRows)
        return result
    }
}

/// Syncs every WABA of every site at start and then on a schedule, and on request.
/// One daemon syncs a WABA at a time (the `templates:<waba_id>` lease).
public final class TemplateSyncService: Service, Sendable {
    private let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let http: GraphHTTPClient
    private let vault: CredentialVault
    private let configuration: SenderConfiguration
    private let interval: Duration
    private let instanceID: String
    private let logger: Logger
    private let wake = WakeSignal()
    private let requested = Mutex<Set<String>>([])

    public init(sites: [WordPressSite], pool: MariaDBPool, http: GraphHTTPClient, vault: CredentialVault, configuration: SenderConfiguration,
                interval: Duration, instanceID: String, logger: Logger) {
        self.sites = sites
        self.pool = pool
        self.http = http
        self.vault = vault
        self.configuration = configuration
        self.interval = interval
        self.instanceID = instanceID
        self.logger = logger
    }

    /// Asks for a sync of a site's WABAs now.
    public func requestSync(site: WordPressSite) {
        requested.withLock { _ = $0.insert(site.key) }
        wake.signal()
    }

    public func run() async throws {
        var lastFullSync: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let due = lastFullSync.map { ContinuousClock.now - $0 >= interval } ?? true
            let asked = requested.withLock { asked in
                defer { asked.removeAll() }
                return asked
            }
            for site in sites where due || asked.contains(site.key) {
                do {
                    for (waba, result) in try await syncSite(site) {
                        logger.info("templates synced", metadata: ["site": "\(site.key)", "waba_id": "\(waba)", "result": "\(result)"])
                    }
                } catch let error as MariaDBError where error.kind == .poolClosed {
                    return
                } catch {
                    logger.warning("template sync failed; it runs again at the next interval", metadata: [
                        "site": "\(site.key)", "error": "\(error)",
                    ])
                }
            }
            if due { lastFullSync = .now }
            await cancelWhenGracefulShutdown { await self.wake.wait(timeout: min(self.interval, .seconds(60))) }
        }
    }

    /// Syncs each WABA of a site with the credentials of one of its active numbers.
    /// - Returns: the result per WABA synced (WABAs another daemon is syncing are skipped).
    public func syncSite(_ site: WordPressSite) async throws -> [(String, TemplateSync.Result)] {
        let accounts = try await pool.withConnection { try SendingAccount.load(site: site, on: $0) }.filter { $0.state == "active" }
        var results: [(String, TemplateSync.Result)] = []
        for account in Dictionary(grouping: accounts, by: \.wabaID).compactMap(\.value.first).sorted(by: { $0.wabaID < $1.wabaID }) {
            let lease = try await pool.withConnection { [instanceID] in
                try SiteLease.acquire("templates:\(account.wabaID)", site: site, ownerID: instanceID, duration: .seconds(120), on: $0)
            }
            guard let lease else { continue }
            let outcome: Result<TemplateSync.Result?, any Error>
            do {
                if let client = try await vault.graphClient(site: site, accountID: account.id, pool: pool, http: http,
                                                            configuration: configuration) {
                    outcome = .success(try await TemplateSync.sync(wabaID: account.wabaID, site: site, client: client, pool: pool))
                } else {
                    outcome = .success(nil)  // no token yet: nothing to sync with
                }
            } catch {
                outcome = .failure(error)
            }
            try? await pool.withConnection { try lease.release(on: $0) }
            if let result = try outcome.get() { results.append((account.wabaID, result)) }
        }
        return results
    }
}
