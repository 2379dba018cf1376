import Foundation
import Logging
import MariaDB
import Synchronization
import WhatsAppCloudAPI
import WordPressStore

/// Settings of the senders.
public struct SenderConfiguration: Sendable {
    /// Graph API base URL (the simulator's on loopback in tests and the demo).
    public var graphBaseURL = "https://graph.facebook.com"
    public var graphAPIVersion = "v23.0"
    /// How long a send left without an answer waits for status webhooks before it is tried again.
    public var reconcileGrace: Duration = .seconds(600)
    /// How often an idle sender looks for rows without being notified.
    public var pollInterval: Duration = .seconds(2)
    /// Send requests in flight per number at once.
    public var maximumInFlight = 64
    /// Attempts for a request that could not be sent (no connection) before the row fails.
    public var maximumConnectAttempts = 8
    /// The first retry's delay after a transient error; each later one doubles, up to 5 minutes.
    public var retryBaseDelay: Duration = .seconds(5)
    /// The sender lease's duration; it is renewed at a third of it.
    public var leaseDuration: Duration = .seconds(30)

    public init() {}

    /// A Graph client with these settings and an access token.
    public func client(http: GraphHTTPClient, accessToken: String) -> GraphClient {
        GraphClient(http: http, baseURL: graphBaseURL, apiVersion: graphAPIVersion, accessToken: { accessToken })
    }
}

/// A business number as the sender sees it.
public struct SendingAccount: Sendable, Equatable {
    public let id: UInt64
    public let phoneNumberID: String
    public let wabaID: String
    /// `active`, `halted` or `disabled`.
    public let state: String
    /// The configured pace, in messages per second.
    public let sendRate: Int
    /// Meta's messaging limit tier as last read (`TIER_250` … `TIER_UNLIMITED`), if known.
    public let messagingLimitTier: String?

    public init(id: UInt64, phoneNumberID: String, wabaID: String, state: String, sendRate: Int, messagingLimitTier: String? = nil) {
        self.id = id
        self.phoneNumberID = phoneNumberID
        self.wabaID = wabaID
        self.state = state
        self.sendRate = sendRate
        self.messagingLimitTier = messagingLimitTier
    }

    /// Unique users the business may reach outside a service window per moving 24 hours; nil when unlimited or unknown.
    public var messagingLimit: Int? {
        switch messagingLimitTier?.uppercased() {
        case "TIER_50": 50
        case "TIER_250": 250
        case "TIER_1K": 1000
        case "TIER_2K": 2000
        case "TIER_10K": 10_000
        case "TIER_100K": 100_000
        default: nil
        }
    }

    /// Every account of a site that may send or be halted (not disabled).
    public static func load(site: WordPressSite, on connection: MariaDBConnection) throws -> [SendingAccount] {
        try connection.query("""
            SELECT id, phone_number_id, waba_id, state, send_rate_mps, messaging_limit_tier FROM \(site.table(.accounts)) ORDER BY id
            """).map {
            SendingAccount(id: try $0.decode(UInt64.self, at: 0), phoneNumberID: try $0.decode(String.self, at: 1),
                           wabaID: try $0.decode(String.self, at: 2), state: try $0.decode(String.self, at: 3),
                           sendRate: max(1, try $0.decode(Int.self, at: 4)), messagingLimitTier: try $0.decode(String?.self, at: 5))
        }
    }
}

/// Sends one business number's outbox and running campaigns at the number's
/// pace, while it holds the number's sender lease (docs/schema.md §6.5).
///
/// One loop claims small batches (a tenth of a second's worth), asks the pacer
/// which lane may send, and starts each request as a child task; answers are
/// recorded by those tasks. Outbox rows are claimed before campaign recipients
/// and agent replies take the first free token, so they never wait behind a
/// campaign for more than a batch.
final class NumberSender: Sendable {
    let site: WordPressSite
    let phoneNumberID: String
    private let accountState: Mutex<SendingAccount>
    let pool: MariaDBPool
    private let http: GraphHTTPClient
    private let vault: CredentialVault
    let configuration: SenderConfiguration
    private let statistics: SendStatistics
    let logger: Logger
    let store: SendStore
    let wake = WakeSignal()
    /// The number's running campaigns, re-read at least once a second (and at once when notified).
    let campaigns = Mutex(CampaignLane())
    private let stopped = Atomic<Bool>(false)
    private let pacer: Mutex<SendPacer>
    private let spacing = Mutex(RecipientSpacing())
    /// Set by a halt-class answer; cleared when the account is active again.
    private let halted = Atomic<Bool>(false)
    private let templates = Mutex<(loadedAt: ContinuousClock.Instant?, byKey: [String: TemplateDefinition])>((nil, [:]))
    /// Accepted sends waiting to be recorded, written many to a transaction by the recorder.
    private let accepted = Mutex<[(ClaimedSend, SendStore.Acceptance)]>([])
    private let recorderWake = WakeSignal()
    /// Accepted sends not yet recorded beyond which sending waits for the database.
    static let recordingBacklogLimit = 2000

    init(site: WordPressSite, account: SendingAccount, pool: MariaDBPool, http: GraphHTTPClient, vault: CredentialVault,
         configuration: SenderConfiguration, statistics: SendStatistics, instanceID: String, logger: Logger) {
        self.site = site
        phoneNumberID = account.phoneNumberID
        accountState = Mutex(account)
        self.pool = pool
        self.http = http
        self.vault = vault
        self.configuration = configuration
        self.statistics = statistics
        self.logger = logger
        store = SendStore(site: site, accountID: account.id, instanceID: instanceID)
        pacer = Mutex(SendPacer(rate: Double(account.sendRate), now: .now))
        halted.store(account.state == "halted", ordering: .relaxed)
    }

    var account: SendingAccount { accountState.withLock { $0 } }

    /// The account row changed (rate, state).
    func update(_ account: SendingAccount) {
        let previous = accountState.withLock { state in
            defer { state = account }
            return state
        }
        if previous.sendRate != account.sendRate {
            pacer.withLock { $0.configure(rate: Double(account.sendRate), now: .now) }
        }
        if account.state == "active" && halted.load(ordering: .relaxed) {
            halted.store(false, ordering: .relaxed)
            logger.info("sending resumes for a business number", metadata: ["site": "\(site.key)", "account_id": "\(account.id)"])
        }
        wake.signal()
    }

    /// Inbound messages count against the number's throughput at Meta.
    func recordInbound(_ count: Int) {
        pacer.withLock { $0.recordInbound(count, now: .now) }
    }

    /// New outbox rows or a campaign changed: look at once.
    func notify() {
        campaigns.withLock { $0.stale = true }
        wake.signal()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
    }

    var isStopped: Bool { stopped.load(ordering: .relaxed) || Task.isCancelled }

    // MARK: Lease

    func run() async {
        let leaseName = "sender:\(phoneNumberID)"
        while !isStopped {
            let lease: SiteLease?
            do {
                lease = try await pool.withConnection { [site, store, configuration] connection in
                    try SiteLease.acquire(leaseName, site: site, ownerID: store.instanceID, duration: configuration.leaseDuration, on: connection)
                }
            } catch {
                logger.warning("could not take the sender lease", metadata: ["site": "\(site.key)", "error": "\(error)"])
                lease = nil
            }
            guard let lease else {
                // Another daemon sends for this number; check again later.
                await wake.wait(timeout: configuration.leaseDuration / 3)
                continue
            }
            await sendWhileHolding(lease)
            try? await pool.withConnection { try lease.release(on: $0) }
        }
    }

    // MARK: The loop

    private func sendWhileHolding(_ lease: SiteLease) async {
        let sendingEnded = Atomic<Bool>(false)
        async let recorder: Void = recordAcceptedSends(until: sendingEnded)
        await sendClaimed(lease)
        sendingEnded.store(true, ordering: .relaxed)
        recorderWake.signal()
        await recorder
    }

    /// Writes accepted sends as they come, many per transaction, until sending has ended and none is left.
    private func recordAcceptedSends(until sendingEnded: borrowing Atomic<Bool>) async {
        while true {
            let batch = accepted.withLock { waiting in
                let batch = Array(waiting.prefix(500))
                waiting.removeFirst(batch.count)
                return batch
            }
            if batch.isEmpty {
                if sendingEnded.load(ordering: .relaxed) { return }
                await recorderWake.wait(timeout: .milliseconds(100))
                continue
            }
            do {
                try await pool.withConnection { [store] in _ = try store.recordAccepted(batch, now: Date(), on: $0) }
            } catch {
                // One at a time, so one bad row does not keep the others from being recorded.
                for (item, acceptance) in batch {
                    await finish(item) { [store] in _ = try store.recordAccepted(item, acceptance, now: Date(), on: $0) }
                }
            }
        }
    }

    private func sendClaimed(_ lease: SiteLease) async {
        var queue: [ClaimedSend] = []
        var renewedAt = ContinuousClock.now
        let leaseTakenAt = renewedAt
        var reconciledAt: ContinuousClock.Instant?
        var nothingClaimable = false
        var recordedPace: Double?
        // After a restart, status webhooks held back while no daemon ran may still be on their way: a
        // send left in doubt is retried only once this daemon has itself waited the grace period.
        let reconcileInterval = min(.seconds(60), configuration.reconcileGrace / 4)
        campaigns.withLock { $0.stale = true }
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            while !isStopped {
                let now = ContinuousClock.now
                if now - renewedAt >= configuration.leaseDuration / 3 {
                    do {
                        try await pool.withConnection { [configuration] in try lease.renew(duration: configuration.leaseDuration, on: $0) }
                        renewedAt = now
                    } catch {
                        logger.warning("lost the sender lease; another daemon may take over", metadata: [
                            "site": "\(site.key)", "error": "\(error)",
                        ])
                        break
                    }
                }
                if now - leaseTakenAt >= configuration.reconcileGrace, reconciledAt.map({ now - $0 >= reconcileInterval }) ?? true {
                    reconciledAt = now
                    await reconcile()
                }
                if await refreshCampaignsIfDue(now: now) {
                    // Recipients of campaigns no longer running go back unsent.
                    let running = campaigns.withLock { Set($0.running.keys) }
                    let stopped = queue.filter { $0.origin.campaignID.map { !running.contains($0) } ?? false }
                    if !stopped.isEmpty {
                        queue.removeAll { $0.origin.campaignID.map { !running.contains($0) } ?? false }
                        await finish(nil) { [store] in try store.release(stopped, now: Date(), on: $0) }
                    }
                    nothingClaimable = false
                }
                let rate = pacer.withLock { $0.currentRate }
                if rate != recordedPace {
                    statistics.recordPace(rate, phoneNumberID: phoneNumberID)
                    recordedPace = rate
                }
                let batch = max(1, min(200, Int(rate / 10)))
                if queue.count <= batch / 2 && !nothingClaimable && !halted.load(ordering: .relaxed) {
                    do {
                        var claimed = try await pool.withConnection { [store] in try store.claim(limit: batch, on: $0) }
                        var campaignsHaveMore = false
                        if claimed.count < batch {
                            let fromCampaigns = await claimCampaignRecipients(limit: batch - claimed.count, nothingQueued: queue.isEmpty && claimed.isEmpty)
                            claimed += fromCampaigns.claimed
                            campaignsHaveMore = fromCampaigns.mayHaveMore
                        }
                        nothingClaimable = claimed.count < batch && !campaignsHaveMore
                        queue.append(contentsOf: claimed)
                        queue.sort { $0.lane < $1.lane }
                    } catch {
                        logger.warning("could not claim rows to send", metadata: ["site": "\(site.key)", "error": "\(error)"])
                        await wake.wait(timeout: configuration.pollInterval)
                        continue
                    }
                }
                guard let first = queue.first else {
                    await waitForWork()
                    nothingClaimable = false
                    continue
                }
                if accepted.withLock({ $0.count }) > Self.recordingBacklogLimit {
                    // The database is behind on recording sends: wait for it rather than pile up answers in memory.
                    try? await Task.sleep(for: .milliseconds(5))
                    continue
                }
                if halted.load(ordering: .relaxed) {
                    // Rows already claimed wait for the number to be fixed; none are spent.
                    try? await pool.withConnection { [store, queue] in try store.release(queue, now: Date(), on: $0) }
                    queue.removeAll()
                    continue
                }
                switch pacer.withLock({ $0.next(waiting: [first.lane], now: .now) }) {
                case .send:
                    queue.removeFirst()
                    guard let prepared = await prepare(first) else { continue }
                    group.addTask { await self.send(prepared) }
                    inFlight += 1
                    if inFlight >= configuration.maximumInFlight {
                        await group.next()
                        inFlight -= 1
                    }
                case .wait(let until):
                    try? await Task.sleep(until: until, clock: .continuous)
                case .idle:
                    break
                }
            }
            // Rows claimed but not started go back without spending an attempt.
            if !queue.isEmpty {
                try? await pool.withConnection { [store, queue] in try store.release(queue, now: Date(), on: $0) }
            }
            await group.waitForAll()
        }
    }

    private func reconcile() async {
        do {
            let requeued = try await pool.withConnection { [store, configuration] in
                try store.reconcile(grace: configuration.reconcileGrace, on: $0)
            }
            if requeued > 0 {
                statistics.reconciled.add(requeued, ordering: .relaxed)
                logger.notice("sends left without an answer got no status within the grace period; they are queued again",
                              metadata: ["site": "\(site.key)", "count": "\(requeued)"])
            }
        } catch {
            logger.warning("could not reconcile unanswered sends", metadata: ["site": "\(site.key)", "error": "\(error)"])
        }
    }

    /// Sleeps until notified, the next queued row falls due, or the poll interval passes.
    private func waitForWork() async {
        var timeout = configuration.pollInterval
        // Running campaigns have work that caps, the messaging limit or backoff hold back: look again soon.
        if campaigns.withLock({ !$0.running.isEmpty }) { timeout = min(timeout, .milliseconds(100)) }
        if !halted.load(ordering: .relaxed), let due = try? await pool.withConnection({ [store] in try store.nextDue(on: $0) }) {
            let seconds = due.timeIntervalSinceNow
            timeout = min(timeout, .milliseconds(max(1, Int(seconds * 1000))))
        }
        await wake.wait(timeout: timeout)
    }

    // MARK: One row

    /// A row ready to go: its request body and what to record.
    struct PreparedSend: Sendable {
        let item: ClaimedSend
        let body: JSONValue
        let client: GraphClient
        let template: TemplateDefinition?
    }

    /// Checks a row before sending; a row that may not be sent is finished here and nil returned.
    private func prepare(_ item: ClaimedSend) async -> PreparedSend? {
        let now = Date()
        if let campaignID = item.origin.campaignID, campaigns.withLock({ $0.running[campaignID] == nil }) {
            // Paused, cancelled or halted since the claim: it goes back unsent.
            await finish(item) { [store] in try store.release([item], now: now, on: $0) }
            return nil
        }
        func fail(_ reason: String, _ details: String) async -> PreparedSend? {
            logger.debug("a send was refused before Meta was asked; the row keeps the reason", metadata: [
                "site": "\(site.key)", "row": "\(item.origin.description)", "to": "\(PhoneNumberMask.mask(item.recipient ?? ""))",
                "reason": "\(reason)",
            ])
            await finish(item) { [store] connection in
                try store.recordFailed(item, .init(reason: reason, details: details), payloadJSON: item.payloadJSON, now: now, on: connection)
            }
            statistics.failed.add(1, ordering: .relaxed)
            return nil
        }
        guard item.contactExists else { return await fail("invalid_payload", "the contact no longer exists") }
        guard let recipient = item.recipient else { return await fail("invalid_payload", "the contact has no WhatsApp number to send to") }
        if item.restricted && item.source == "automation" {
            return await fail("restricted", "the contact is restricted: automations do not message them")
        }
        guard case .object(var body)? = item.payloadValue else {
            return await fail("invalid_payload", "payload_json is not a JSON object")
        }
        var template: TemplateDefinition?
        if item.type == "template" {
            guard let send = body["template"], let name = send["name"]?.stringValue,
                  let language = send["language"]?["code"]?.stringValue else {
                return await fail("invalid_payload", "a template send needs template.name and template.language.code")
            }
            let definition = await templateDefinition(name: name, language: language)
            if let campaignID = item.origin.campaignID, definition?.status != "APPROVED" {
                // The whole campaign waits for the template to be approved again; nobody is skipped for it.
                let status = definition?.status ?? "not synced"
                await haltCampaigns([campaignID], reason: "template_not_approved", code: nil,
                                    details: "template \(name) (\(language)) is \(status); campaigns send APPROVED templates only")
                await finish(item) { [store] in try store.release([item], now: now, on: $0) }
                return nil
            }
            guard let definition else {
                return await fail("template_not_approved", "no template \(name) (\(language)) is synced for this number's WhatsApp Business "
                                  + "Account; sync templates, or check the name and language")
            }
            // A campaign's values were checked against the template when it started, and each recipient's are
            // non-empty by construction: only its status is checked per send.
            if item.origin.campaignID == nil, let problem = TemplateCheck.problem(with: send, against: definition) {
                return await fail(definition.status == "APPROVED" ? "invalid_payload" : "template_not_approved", problem)
            }
            template = definition
        } else if item.type != "mark_read",
                  let refusal = CustomerServiceWindow.refusal(isTemplate: false, lastInboundAt: item.lastInboundAt, now: now) {
            return await fail("outside_service_window", refusal)
        }
        if let notBefore = spacing.withLock({ $0.notBefore(recipient, now: .now) }) {
            // Meta's pair limit for this recipient: wait, without slowing anyone else.
            let due = now.addingTimeInterval((notBefore - .now) / .seconds(1))
            await finish(item) { [store] in try store.requeue(item, at: due, code: 131056, details: nil, now: now, on: $0) }
            return nil
        }
        let client: GraphClient?
        do {
            client = try await vault.graphClient(site: site, accountID: store.accountID, pool: pool, http: http, configuration: configuration)
        } catch {
            logger.error("cannot read the business number's access token; sending waits", metadata: [
                "site": "\(site.key)", "account_id": "\(store.accountID)", "error": "\(error)",
            ])
            await halt(reason: "credentials_invalid", code: nil, details: "\(error)")
            await finish(item) { [store] in try store.release([item], now: now, on: $0) }
            return nil
        }
        guard let client else {
            await halt(reason: "credentials_missing", code: nil, details: "no access token is stored for this number; enter it in wp-admin")
            await finish(item) { [store] in try store.release([item], now: now, on: $0) }
            return nil
        }
        if item.type == "mark_read" {
            return PreparedSend(item: item, body: .object(body), client: client, template: nil)
        }
        body["messaging_product"] = .string("whatsapp")
        body["recipient_type"] = .string("individual")
        body["to"] = .string(recipient)
        body["type"] = .string(item.type)
        body["biz_opaque_callback_data"] = .string(item.origin.callbackData(attempt: item.attempt).text)
        return PreparedSend(item: item, body: .object(body), client: client, template: template)
    }

    private func send(_ prepared: PreparedSend) async {
        let item = prepared.item
        let started = ContinuousClock.now
        do {
            if item.type == "mark_read" {
                guard let wamid = prepared.body["message_id"]?.stringValue else {
                    throw GraphSendError.invalid("a read receipt needs message_id")
                }
                try await prepared.client.markRead(wamid, from: phoneNumberID, showTyping: prepared.body["typing_indicator"] != nil)
                statistics.latency.record(ContinuousClock.now - started)
                await finish(item) { [store] in try store.recordReadReceiptSent(item, now: Date(), on: $0) }
            } else {
                let sent = try await prepared.client.send(json: prepared.body, from: phoneNumberID)
                statistics.latency.record(ContinuousClock.now - started)
                var stored = prepared.body
                if case .object(var members) = stored {
                    members["to"] = nil
                    stored = .object(members)
                }
                let acceptance = SendStore.Acceptance(
                    wamid: sent.wamid, status: sent.status == "held_for_quality_assessment" ? "held" : "accepted", payloadJSON: stored.jsonText,
                    body: Self.readableText(of: prepared.body), contextWamid: prepared.body["context"]?["message_id"]?.stringValue,
                    templateID: prepared.template?.id, resolvedWaID: sent.waID)
                accepted.withLock { $0.append((item, acceptance)) }
                recorderWake.signal()
                if let recipient = item.recipient { spacing.withLock { $0.delivered(recipient) } }
                logger.trace("send accepted by Meta", metadata: [
                    "site": "\(site.key)", "row": "\(item.origin.description)", "type": "\(item.type)",
                    "to": "\(PhoneNumberMask.mask(item.recipient ?? ""))",
                ])
            }
            statistics.accepted.add(1, ordering: .relaxed)
            statistics.recordResult("accepted")
        } catch let error as GraphAPIError {
            statistics.latency.record(ContinuousClock.now - started)
            statistics.recordResult(error.code.map(String.init) ?? "http_\(error.httpStatus)")
            await handle(error, for: item)
        } catch let error as GraphHTTPError where error.requestWasNotSent {
            statistics.recordResult("not_sent")
            await retryOrFail(item, attemptsAllowed: configuration.maximumConnectAttempts, code: nil, details: error.description)
        } catch let error as GraphSendError {
            if case .invalid(let reason) = error {
                await fail(item, reason: "invalid_payload", code: nil, details: reason, traceID: nil)
            } else {
                statistics.recordResult("no_answer")
                await leaveInDoubt(item, details: error.description)
            }
        } catch {
            statistics.recordResult("no_answer")
            await leaveInDoubt(item, details: "\(error)")
        }
    }

    private func handle(_ error: GraphAPIError, for item: ClaimedSend) async {
        let now = Date()
        let details = error.details ?? error.message ?? "Graph API error \(error.code.map(String.init) ?? "without a code") (HTTP \(error.httpStatus))"
        switch error.action {
        case .retryLater(.throughput):
            statistics.throughputLimited.add(1, ordering: .relaxed)
            pacer.withLock { $0.throughputExceeded(now: .now) }
            logger.notice("Meta's throughput limit was reached; the pace is lowered", metadata: [
                "site": "\(site.key)", "rate": "\(pacer.withLock { $0.currentRate })",
            ])
            await requeue(item, at: now, code: error.code, details: details)
        case .retryLater(.recipient):
            statistics.pairLimited.add(1, ordering: .relaxed)
            let notBefore = item.recipient.map { recipient in spacing.withLock { $0.pairLimitHit(recipient, now: .now) } } ?? .now + .seconds(6)
            await requeue(item, at: now.addingTimeInterval((notBefore - .now) / .seconds(1)), code: error.code, details: details)
        case .retryLater:
            // App, WABA, registration or Flow rate limits: Meta asks for minutes, not seconds.
            await requeue(item, at: now.addingTimeInterval(60), code: error.code, details: details)
        case .retryWithBackoff(let attempts):
            // A campaign can wait: its recipients get as many tries as a send that could not connect, so a
            // run of passing errors (5 % of requests failing gives four in a row about once in 160,000) does
            // not lose anyone.
            let allowed = item.origin.campaignID == nil ? attempts + 1 : max(attempts + 1, configuration.maximumConnectAttempts)
            await retryOrFail(item, attemptsAllowed: allowed, code: error.code, details: details)
        case .halt(.template) where item.origin.campaignID != nil:
            // A paused or disabled template stops its campaign; the recipient is sent when it resumes.
            await haltCampaigns([item.origin.campaignID!], reason: GraphErrorAction.haltReason(forCode: error.code), code: error.code, details: details)
            await requeue(item, at: now, code: error.code, details: details)
        case .failMessage, .halt(.template):
            await fail(item, reason: "meta_error", code: error.code, details: details, traceID: error.fbtraceID)
        case .halt(.sender):
            await halt(reason: GraphErrorAction.haltReason(forCode: error.code), code: error.code, details: details)
            await requeue(item, at: now, code: error.code, details: details)
        }
    }

    private func retryOrFail(_ item: ClaimedSend, attemptsAllowed: Int, code: Int?, details: String) async {
        guard item.attempt < attemptsAllowed else {
            await fail(item, reason: "retries_exhausted", code: code, details: "gave up after \(item.attempt) attempts: \(details)", traceID: nil)
            return
        }
        // 5 s, 10 s, 20 s… (by default) at most 5 minutes.
        let delay = min(300, configuration.retryBaseDelay / .seconds(1) * pow(2, Double(max(0, item.attempt - 1))))
        await requeue(item, at: Date().addingTimeInterval(delay), code: code, details: details)
    }

    private func requeue(_ item: ClaimedSend, at due: Date, code: Int?, details: String) async {
        statistics.retried.add(1, ordering: .relaxed)
        await finish(item) { [store] in try store.requeue(item, at: due, code: code, details: details, now: Date(), on: $0) }
    }

    private func fail(_ item: ClaimedSend, reason: String, code: Int?, details: String, traceID: String?) async {
        statistics.failed.add(1, ordering: .relaxed)
        // Meta's details may quote the request (the number, a parameter): they stay in the row.
        logger.debug("a send failed; the row keeps Meta's reason", metadata: [
            "site": "\(site.key)", "row": "\(item.origin.description)", "to": "\(PhoneNumberMask.mask(item.recipient ?? ""))",
            "reason": "\(reason)", "code": "\(code.map(String.init) ?? "-")",
        ])
        await finish(item) { [store] in
            try store.recordFailed(item, .init(reason: reason, code: code, details: details, traceID: traceID), payloadJSON: item.payloadJSON,
                                   now: Date(), on: $0)
        }
    }

    private func leaveInDoubt(_ item: ClaimedSend, details: String) async {
        statistics.inDoubt.add(1, ordering: .relaxed)
        logger.warning("a send got no answer; it waits for Meta's status webhooks before any retry", metadata: [
            "site": "\(site.key)", "row": "\(item.origin.description)",
        ])
        await finish(item) { [store] in try store.markInDoubt(item, details: "no answer from Meta: \(details)", now: Date(), on: $0) }
    }

    /// Stops sending for the number until its credentials or standing are fixed, and records why on the
    /// account; its running campaigns are halted with the same reason, to be resumed by a person.
    private func halt(reason: String, code: Int?, details: String) async {
        let running = campaigns.withLock { Array($0.running.keys) }
        if !running.isEmpty { await haltCampaigns(running, reason: reason, code: code, details: details) }
        guard !halted.exchange(true, ordering: .relaxed) else { return }
        logger.error("sending is halted for a business number", metadata: [
            "site": "\(site.key)", "account_id": "\(store.accountID)", "reason": "\(reason)", "code": "\(code.map(String.init) ?? "-")",
        ])
        let now = Date()
        await finish(nil) { [site, store] connection in
            try connection.execute("""
                UPDATE \(site.table(.accounts))
                   SET state = IF(state = 'active', 'halted', state), state_reason = IF(state = 'halted', \(reason), state_reason),
                       last_error_code = \(code), last_error_details = \(String(details.prefix(1000))), last_error_at = \(now), updated_at = \(now)
                 WHERE id = \(store.accountID)
                """)
        }
    }

    /// Runs a recording statement; a database failure is logged (the row stays `sending`, and reconciliation settles it).
    func finish(_ item: ClaimedSend?, _ body: @escaping @Sendable (MariaDBConnection) throws -> Void) async {
        do {
            try await pool.withConnection(body)
        } catch {
            logger.error("could not record a send's outcome; reconciliation will settle the row", metadata: [
                "site": "\(site.key)", "row": "\(item.map(\.origin.description) ?? "-")", "error": "\(error)",
            ])
        }
    }

    func templateDefinition(name: String, language: String) async -> TemplateDefinition? {
        let key = name + "\u{0}" + language
        let cached = templates.withLock { state -> TemplateDefinition?? in
            guard let loadedAt = state.loadedAt, ContinuousClock.now - loadedAt < .seconds(30) else { return nil }
            return .some(state.byKey[key])
        }
        if let cached, cached != nil { return cached }
        // Unknown or stale: read this WABA's templates again (a new template may have just been synced).
        do {
            let loaded = try await pool.withConnection { [site, account] connection in
                try connection.query("""
                    SELECT id, name, language, status, parameter_format, components_json FROM \(site.table(.templates))
                     WHERE waba_id = \(account.wabaID) AND removed_at IS NULL
                    """).map { row in
                    TemplateDefinition(id: try row.decode(UInt64.self, at: 0), name: try row.decode(String.self, at: 1),
                                       language: try row.decode(String.self, at: 2), status: try row.decode(String.self, at: 3),
                                       parameterFormat: try row.decode(String?.self, at: 4),
                                       components: (try? JSONValue.parse(Array(try row.decode(String.self, at: 5).utf8))) ?? .array([]))
                }
            }
            let byKey = Dictionary(loaded.map { ($0.name + "\u{0}" + $0.language, $0) }, uniquingKeysWith: { first, _ in first })
            templates.withLock { $0 = (.now, byKey) }
            return byKey[key]
        } catch {
            logger.warning("could not read templates", metadata: ["site": "\(site.key)", "error": "\(error)"])
            return nil
        }
    }

    /// What a person reads in a sent message: the text body or the media caption.
    static func readableText(of body: JSONValue) -> String? {
        guard let type = body["type"]?.stringValue else { return nil }
        if type == "text" { return body["text"]?["body"]?.stringValue }
        if type == "interactive" { return body["interactive"]?["body"]?["text"]?.stringValue }
        if type == "reaction" { return body["reaction"]?["emoji"]?.stringValue }
        return body[type]?["caption"]?.stringValue
    }
}
