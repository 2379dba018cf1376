import Logging
import MariaDB
import Synchronization
import WordPressStore

/// What waits in the database, read when `/metrics` is scraped: queued sends per number and lane,
/// and the recipients of every campaign that is not finished, by state.
///
/// Each query walks an index prefix (`idx_claim` per account, `idx_campaign_state_next_attempt`
/// per campaign), and a reading is reused for a few seconds, so scrapes stay cheap on large tables.
final class DatabaseGauges: Sendable {
    struct Reading: Sendable {
        /// (blog id, phone number id, lane) → queued rows.
        var queued: [(site: WordPressSite, phoneNumberID: String, lane: String, count: Int)] = []
        /// (blog id, campaign id, campaign state, recipient state) → recipients.
        var campaigns: [(site: WordPressSite, campaignID: UInt64, campaignState: String, recipientState: String, count: Int)] = []
    }

    /// The outbox's priority column, named as the docs name the lanes.
    static let lanes = [0: "agent", 1: "transactional", 2: "bulk"]
    private static let freshFor: Duration = .seconds(5)

    private let sites: [WordPressSite]
    private let pool: MariaDBPool
    private let logger: Logger
    private let cache = Mutex<(reading: Reading, at: ContinuousClock.Instant)?>(nil)

    init(sites: [WordPressSite], pool: MariaDBPool, logger: Logger) {
        self.sites = sites
        self.pool = pool
        self.logger = logger
    }

    /// The latest reading; nil when the database cannot be read (the page then leaves these out).
    func read() async -> Reading? {
        if let cached = cache.withLock({ $0 }), cached.at.duration(to: .now) < Self.freshFor { return cached.reading }
        let sites = self.sites
        do {
            let reading = try await pool.withConnection { connection in
                var reading = Reading()
                for site in sites {
                    try Self.read(site, on: connection, into: &reading)
                }
                return reading
            }
            cache.withLock { $0 = (reading, .now) }
            return reading
        } catch {
            logger.warning("metrics: could not read the queue depths", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private static func read(_ site: WordPressSite, on connection: MariaDBConnection, into reading: inout Reading) throws {
        let accounts = try connection.query("SELECT id, phone_number_id FROM \(site.table(.accounts))").map {
            (try $0.decode(UInt64.self, at: 0), try $0.decode(String.self, at: 1))
        }
        for (accountID, phoneNumberID) in accounts {
            let rows = try connection.query("""
                SELECT priority, COUNT(*) FROM \(site.table(.outbox))
                WHERE account_id = \(accountID) AND state = 'queued' GROUP BY priority
                """)
            var byLane = Dictionary(uniqueKeysWithValues: lanes.values.map { ($0, 0) })
            for row in rows {
                let lane = lanes[try row.decode(Int.self, at: 0)] ?? "bulk"
                byLane[lane, default: 0] += try row.decode(Int.self, at: 1)
            }
            for (lane, count) in byLane.sorted(by: { $0.key < $1.key }) {
                reading.queued.append((site, phoneNumberID, lane, count))
            }
        }
        let campaigns = try connection.query("""
            SELECT c.id, c.state, a.phone_number_id FROM \(site.table(.campaigns)) c
            JOIN \(site.table(.accounts)) a ON a.id = c.account_id
            WHERE c.state IN ('scheduled', 'running', 'paused', 'halted')
            """).map { (try $0.decode(UInt64.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(String.self, at: 2)) }
        var campaignLane: [String: Int] = [:]
        for (campaignID, state, phoneNumberID) in campaigns {
            let rows = try connection.query("""
                SELECT state, COUNT(*) FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(campaignID) GROUP BY state
                """)
            for row in rows {
                let recipientState = try row.decode(String.self, at: 0)
                let count = try row.decode(Int.self, at: 1)
                reading.campaigns.append((site, campaignID, state, recipientState, count))
                if state == "running" && recipientState == "pending" { campaignLane[phoneNumberID, default: 0] += count }
            }
        }
        // Campaigns are the last lane of their number.
        for (_, phoneNumberID) in accounts {
            reading.queued.append((site, phoneNumberID, "campaign", campaignLane[phoneNumberID] ?? 0))
        }
    }
}
