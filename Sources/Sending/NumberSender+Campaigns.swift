import Foundation
import Logging
import MariaDB
import WordPressStore

/// The running campaigns of one number, as its sender sees them.
struct CampaignLane: Sendable {
    struct Running: Sendable {
        let send: SendStore.CampaignSend
        /// The campaign's own cap, when it has one.
        var cap: SendPacer?
        /// Nothing was due when last asked: not asked again before this.
        var idleUntil: ContinuousClock.Instant?
        var completionCheckedAt: ContinuousClock.Instant?
    }

    /// By campaign id.
    var running: [UInt64: Running] = [:]
    /// Oldest first: earlier campaigns are served first.
    var order: [UInt64] = []
    /// Set when notified; the next loop re-reads the campaigns.
    var stale = true
    var refreshedAt: ContinuousClock.Instant?
    /// Unique users the WABA may still reach in the moving 24 hours, when its tier has a limit.
    var budget: (remaining: Int, freesAt: Date, countedAt: ContinuousClock.Instant)?
}

extension NumberSender {
    /// Re-reads the running campaigns when notified or a second has passed.
    /// - Returns: whether the set of running campaigns changed.
    func refreshCampaignsIfDue(now: ContinuousClock.Instant) async -> Bool {
        let due = campaigns.withLock { lane in lane.stale || lane.refreshedAt.map { now - $0 >= .seconds(1) } ?? true }
        guard due else { return false }
        campaigns.withLock {
            $0.stale = false
            $0.refreshedAt = now
        }
        let rows: [(id: UInt64, name: String, language: String, cap: Double?)]
        do {
            rows = try await pool.withConnection { [site, store] connection in
                try connection.query("""
                    SELECT id, template_name, template_language, CAST(rate_limit_mps AS DOUBLE) FROM \(site.table(.campaigns))
                     WHERE account_id = \(store.accountID) AND state = 'running' ORDER BY started_at, id
                    """).map { (try $0.decode(UInt64.self, at: 0), try $0.decode(String.self, at: 1), try $0.decode(String.self, at: 2),
                                try $0.decode(Double?.self, at: 3)) }
            }
        } catch {
            logger.warning("could not read the running campaigns", metadata: ["site": "\(site.key)", "error": "\(error)"])
            return false
        }
        var fresh: [UInt64: CampaignLane.Running] = [:]
        let known = campaigns.withLock { $0.running }
        for row in rows {
            if let existing = known[row.id] {
                fresh[row.id] = existing
                continue
            }
            let template = await templateDefinition(name: row.name, language: row.language)
            fresh[row.id] = CampaignLane.Running(
                send: SendStore.CampaignSend(campaignID: row.id, templateName: row.name, templateLanguage: row.language, template: template),
                cap: row.cap.flatMap { $0 > 0 ? SendPacer(rate: $0, now: now) : nil })
            logger.info("campaign is running", metadata: ["site": "\(site.key)", "campaign_id": "\(row.id)"])
        }
        return campaigns.withLock { lane in
            let changed = Set(lane.running.keys) != Set(fresh.keys)
            lane.running = fresh
            lane.order = rows.map(\.id)
            return changed
        }
    }

    /// Claims recipients of the running campaigns, oldest campaign first, within each campaign's cap and
    /// the messaging limit. When the limit is used up, the campaigns pause once `nothingQueued` says the
    /// recipients already claimed within it have gone out.
    /// - Returns: the claimed sends, and whether more may be claimable right away.
    func claimCampaignRecipients(limit: Int, nothingQueued: Bool) async -> (claimed: [ClaimedSend], mayHaveMore: Bool) {
        let now = ContinuousClock.now
        let order = campaigns.withLock { $0.order }
        guard !order.isEmpty else { return ([], false) }
        var remaining = limit
        if let budget = await messagingBudget(now: now) {
            guard budget > 0 else {
                if nothingQueued, let freesAt = campaigns.withLock({ $0.budget?.freesAt }) {
                    await pauseForMessagingLimit(until: freesAt, limit: account.messagingLimit ?? 0)
                }
                return ([], false)
            }
            remaining = min(remaining, budget)
        }
        var claimed: [ClaimedSend] = []
        var mayHaveMore = false
        for id in order where remaining > 0 {
            let allowed = campaigns.withLock { lane -> Int in
                guard var campaign = lane.running[id], campaign.idleUntil.map({ now >= $0 }) ?? true else { return 0 }
                var allowed = remaining
                if var cap = campaign.cap {
                    allowed = 0
                    while allowed < remaining, case .send = cap.next(waiting: [.campaign], now: now) { allowed += 1 }
                    campaign.cap = cap
                    lane.running[id] = campaign
                }
                return allowed
            }
            guard allowed > 0, let send = campaigns.withLock({ $0.running[id]?.send }) else { continue }
            let result: (claimed: [ClaimedSend], skipped: Int)
            do {
                result = try await pool.withConnection { [store] in try store.claimRecipients(of: send, limit: allowed, on: $0) }
            } catch {
                logger.warning("could not claim campaign recipients", metadata: [
                    "site": "\(site.key)", "campaign_id": "\(id)", "error": "\(error)",
                ])
                continue
            }
            claimed += result.claimed
            remaining -= result.claimed.count
            campaigns.withLock { lane in
                if lane.budget != nil { lane.budget!.remaining -= result.claimed.count }
            }
            if result.claimed.count + result.skipped >= allowed {
                mayHaveMore = true
            } else if result.claimed.isEmpty && result.skipped == 0 {
                await campaignHasNothingDue(id, now: now)
            }
        }
        return (claimed, mayHaveMore)
    }

    /// Nothing of the campaign was due: ask again in half a second, and complete it if nothing is left at all
    /// (at most twice a second: one indexed read).
    private func campaignHasNothingDue(_ id: UInt64, now: ContinuousClock.Instant) async {
        let check = campaigns.withLock { lane -> Bool in
            guard var campaign = lane.running[id] else { return false }
            campaign.idleUntil = now + .milliseconds(500)
            let check = campaign.completionCheckedAt.map { now - $0 >= .milliseconds(500) } ?? true
            if check { campaign.completionCheckedAt = now }
            lane.running[id] = campaign
            return check
        }
        guard check else { return }
        do {
            let completed = try await pool.withConnection { [site] in try CampaignStore(site: site).completeIfDone(id, on: $0) }
            if completed {
                campaigns.withLock { lane in
                    lane.running[id] = nil
                    lane.order.removeAll { $0 == id }
                }
                logger.info("campaign completed", metadata: ["site": "\(site.key)", "campaign_id": "\(id)"])
            }
        } catch {
            logger.warning("could not complete a campaign", metadata: ["site": "\(site.key)", "campaign_id": "\(id)", "error": "\(error)"])
        }
    }

    /// Halts campaigns after an error of the halt class; they wait for a person to resume them.
    func haltCampaigns(_ ids: [UInt64], reason: String, code: Int?, details: String) async {
        campaigns.withLock { lane in
            for id in ids { lane.running[id] = nil }
            lane.order.removeAll { ids.contains($0) }
            lane.stale = true
        }
        for id in ids {
            do {
                let halted = try await pool.withConnection { [site] in
                    try CampaignStore(site: site).halt(id, reason: reason, code: code, details: details, on: $0)
                }
                if halted {
                    logger.error("campaign halted; resume it once the cause is fixed", metadata: [
                        "site": "\(site.key)", "campaign_id": "\(id)", "reason": "\(reason)", "code": "\(code.map(String.init) ?? "-")",
                    ])
                }
            } catch {
                logger.error("could not halt a campaign", metadata: ["site": "\(site.key)", "campaign_id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// How many more unique users may be messaged now under the WABA's messaging limit; nil when unlimited.
    /// When none may, the running campaigns are paused until the oldest counted send leaves the 24 hours.
    private func messagingBudget(now: ContinuousClock.Instant) async -> Int? {
        guard let limit = account.messagingLimit else {
            campaigns.withLock { $0.budget = nil }
            return nil
        }
        let cached = campaigns.withLock { $0.budget }
        if let cached, now - cached.countedAt < .seconds(30), cached.remaining > 0 { return cached.remaining }
        do {
            let (used, oldest) = try await pool.withConnection { [site, account] connection -> (Int, Date?) in
                // Campaign sends in the moving 24 hours, by every number of the WABA, with those claimed now.
                let row = try connection.queryFirst("""
                    SELECT COUNT(DISTINCT r.contact_id), MIN(r.sent_at) FROM \(site.table(.campaignRecipients)) r
                     WHERE r.campaign_id IN (SELECT c.id FROM \(site.table(.campaigns)) c JOIN \(site.table(.accounts)) a ON a.id = c.account_id
                                              WHERE a.waba_id = \(account.wabaID)
                                                AND (c.state IN ('running', 'paused', 'halted')
                                                     OR c.completed_at >= UTC_TIMESTAMP(6) - INTERVAL 1 DAY
                                                     OR c.cancelled_at >= UTC_TIMESTAMP(6) - INTERVAL 1 DAY))
                       AND (r.sent_at >= UTC_TIMESTAMP(6) - INTERVAL 1 DAY OR r.state = 'sending')
                    """)
                return (try row?.decode(Int.self, at: 0) ?? 0, try row?.decode(Date?.self, at: 1))
            }
            let freesAt = (oldest ?? Date()).addingTimeInterval(24 * 3600)
            let remaining = limit - used
            campaigns.withLock { $0.budget = (remaining, freesAt, now) }
            return remaining
        } catch {
            logger.warning("could not count sends against the messaging limit", metadata: ["site": "\(site.key)", "error": "\(error)"])
            return 0
        }
    }

    private func pauseForMessagingLimit(until freesAt: Date, limit: Int) async {
        let ids = campaigns.withLock { lane in
            defer {
                lane.running = [:]
                lane.order = []
                lane.stale = true
            }
            return lane.order
        }
        for id in ids {
            let paused = (try? await pool.withConnection { [site] in
                try CampaignStore(site: site).pauseForMessagingLimit(id, resumeAt: freesAt, on: $0)
            }) ?? false
            if paused {
                logger.notice("campaign paused: the messaging limit is reached; it resumes by itself", metadata: [
                    "site": "\(site.key)", "campaign_id": "\(id)", "limit": "\(limit)",
                    "resume_at": "\(ISO8601DateFormatter().string(from: freesAt))",
                ])
            }
        }
    }
}
