import CloudChatCrypto
import Logging
import NIOCore
import Synchronization
import WhatsAppCloudAPI

/// Posts webhooks to the configured URL, signed with the app secret.
///
/// Statuses wait on a timeline until they are due; each tick takes those due within
/// the batch window and posts them, grouped by number, up to the batch size per body.
/// Other bodies (inbound messages, template updates) go out as they are. A post that
/// gets no 2xx, or no answer, is tried again with doubling waits, as Meta does, up to
/// the attempt limit; then it is given up and counted. Ticks are scheduled on an
/// event loop only while something waits; the posts themselves run on the Graph
/// HTTP client's own thread.
final class WebhookDispatcher: Sendable {
    typealias Instant = ContinuousClock.Instant

    /// Counts since start (or the last reset).
    struct Counts: Sendable, Equatable {
        var postsDelivered = 0
        var postsGivenUp = 0
        var failedAttempts = 0
        var statusesDelivered = 0
        var statusesGivenUp = 0
        var droppedAtShutdown = 0
    }

    private struct Post: Sendable {
        let body: [UInt8]
        let signature: String?
        let statuses: Int
        var attempt = 1
    }

    private enum Item: Sendable {
        /// A status written as JSON text, to be batched with others of its number.
        case status(NumberIdentity, [UInt8])
        case post(Post)
    }

    /// A place on the timeline: small and trivially copied, as the heap moves it often; the item waits in a slot.
    private struct Scheduled: Sendable, Comparable {
        let due: Instant
        let sequence: UInt64
        let slot: Int

        static func < (lhs: Scheduled, rhs: Scheduled) -> Bool {
            (lhs.due, lhs.sequence) < (rhs.due, rhs.sequence)
        }

        static func == (lhs: Scheduled, rhs: Scheduled) -> Bool { lhs.sequence == rhs.sequence }
    }

    private struct State: Sendable {
        var timeline = MinimumHeap<Scheduled>()
        var slots: [Item?] = []
        var freeSlots: [Int] = []
        var ready: [Post] = []
        var readyStart = 0
        var inFlight = 0
        var nextTick: Instant?
        var sequence: UInt64 = 0
        var counts = Counts()
        var isShutDown = false

        mutating func schedule(_ item: Item, at due: Instant) {
            sequence += 1
            let slot: Int
            if let free = freeSlots.popLast() {
                slot = free
                slots[slot] = item
            } else {
                slot = slots.count
                slots.append(item)
            }
            timeline.insert(Scheduled(due: due, sequence: sequence, slot: slot))
        }

        /// Takes the earliest item if it is due by `horizon`.
        mutating func takeDue(by horizon: Instant) -> Item? {
            guard let first = timeline.minimum, first.due <= horizon else { return nil }
            _ = timeline.removeMinimum()
            let item = slots[first.slot]
            slots[first.slot] = nil
            freeSlots.append(first.slot)
            return item
        }

        var readyCount: Int { ready.count - readyStart }

        mutating func takeReady() -> Post? {
            guard readyStart < ready.count else { return nil }
            let post = ready[readyStart]
            readyStart += 1
            if readyStart > 1024, readyStart * 2 > ready.count {
                ready.removeFirst(readyStart)
                readyStart = 0
            }
            return post
        }
    }

    private let url: String
    private let appSecret: String?
    private let statusOptions: GraphSimulator.StatusWebhooks
    private let delivery: GraphSimulator.WebhookDelivery
    private let eventLoop: any EventLoop
    private let http: GraphHTTPClient
    private let logger: Logger
    private let state = Mutex(State())

    init(url: String, appSecret: String?, statuses: GraphSimulator.StatusWebhooks, delivery: GraphSimulator.WebhookDelivery,
         eventLoop: any EventLoop, logger: Logger) {
        self.url = url
        self.appSecret = appSecret
        statusOptions = statuses
        self.delivery = delivery
        self.eventLoop = eventLoop
        self.logger = logger
        // Meta's webhook user agent.
        http = GraphHTTPClient(userAgent: "facebookexternalua")
    }

    // MARK: Enqueueing

    /// Schedules statuses of one number, each at its own time.
    func enqueueStatuses(_ statuses: [(due: Instant, status: [UInt8])], of number: NumberIdentity) {
        guard !statuses.isEmpty else { return }
        state.withLock { state in
            guard !state.isShutDown else { return }
            for (due, status) in statuses { state.schedule(.status(number, status), at: due) }
            scheduleTickIfNeeded(&state, now: .now)
        }
    }

    /// Posts a body as soon as a post is free.
    func enqueueBody(_ body: [UInt8]) {
        let post = Post(body: body, signature: sign(body), statuses: 0)
        let start = state.withLock { state -> [Post] in
            guard !state.isShutDown else { return [] }
            state.ready.append(post)
            return takeStartable(&state)
        }
        start.forEach(send)
    }

    // MARK: Counts

    var counts: Counts { state.withLock { $0.counts } }

    /// Statuses and posts waiting, and posts in flight.
    var backlog: (waiting: Int, inFlight: Int) {
        state.withLock { ($0.timeline.count + $0.readyCount, $0.inFlight) }
    }

    func resetCounts() {
        state.withLock { $0.counts = Counts() }
    }

    // MARK: Ticks

    /// Makes sure a tick comes when the earliest waiting item is due. Called with the lock held.
    private func scheduleTickIfNeeded(_ state: inout State, now: Instant) {
        guard !state.isShutDown, let earliest = state.timeline.minimum?.due else { return }
        if let next = state.nextTick, next <= earliest { return }
        let at = max(earliest, now)
        state.nextTick = at
        let wait = TimeAmount.nanoseconds(max(0, Int64(now.duration(to: at) / .nanoseconds(1))))
        eventLoop.scheduleTask(in: wait) { [self] in tick(scheduledFor: at) }
    }

    private func tick(scheduledFor at: Instant) {
        let now = Instant.now
        let horizon = now + statusOptions.batchWindow
        var groups: [(NumberIdentity, [[UInt8]])] = []
        var groupIndex: [NumberIdentity: Int] = [:]
        var retries: [Post] = []
        state.withLock { state in
            if state.nextTick == at { state.nextTick = nil }
            while let item = state.takeDue(by: horizon) {
                switch item {
                case .status(let number, let status):
                    if let index = groupIndex[number] {
                        groups[index].1.append(status)
                    } else {
                        groupIndex[number] = groups.count
                        groups.append((number, [status]))
                    }
                case .post(let post):
                    retries.append(post)
                }
            }
            scheduleTickIfNeeded(&state, now: now)
        }
        guard !groups.isEmpty || !retries.isEmpty else { return }
        // Bodies are built outside the lock: requests keep being answered meanwhile.
        var posts = retries
        let batchSize = max(1, statusOptions.batchSize)
        for (number, statuses) in groups {
            for start in stride(from: 0, to: statuses.count, by: batchSize) {
                let batch = Array(statuses[start..<min(start + batchSize, statuses.count)])
                let body = WebhookPayloads.statusesBody(number, batch)
                posts.append(Post(body: body, signature: sign(body), statuses: batch.count))
            }
        }
        let start = state.withLock { state -> [Post] in
            guard !state.isShutDown else { return [] }
            state.ready.append(contentsOf: posts)
            return takeStartable(&state)
        }
        start.forEach(send)
    }

    // MARK: Posting

    /// Takes as many ready posts as may start now. Called with the lock held.
    private func takeStartable(_ state: inout State) -> [Post] {
        var posts: [Post] = []
        while state.inFlight < max(1, delivery.maximumConcurrentPosts), let post = state.takeReady() {
            state.inFlight += 1
            posts.append(post)
        }
        return posts
    }

    private func sign(_ body: [UInt8]) -> String? {
        appSecret.map { HMACSHA256.signatureHeader(for: body, secret: $0) }
    }

    private func send(_ post: Post) {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if let signature = post.signature { headers.append(("X-Hub-Signature-256", signature)) }
        let request = GraphHTTPClient.Request(method: "POST", url: url, headers: headers, body: post.body, timeout: delivery.timeout)
        let http = self.http
        Task { [self] in
            let delivered: Bool
            do {
                delivered = (200..<300).contains(try await http.send(request).status)
            } catch {
                delivered = false
            }
            finished(post, delivered: delivered)
        }
    }

    private func finished(_ post: Post, delivered: Bool) {
        let now = Instant.now
        var gaveUp = false
        let start = state.withLock { state -> [Post] in
            state.inFlight -= 1
            if delivered {
                state.counts.postsDelivered += 1
                state.counts.statusesDelivered += post.statuses
            } else {
                state.counts.failedAttempts += 1
                if post.attempt >= delivery.maximumAttempts || state.isShutDown {
                    state.counts.postsGivenUp += 1
                    state.counts.statusesGivenUp += post.statuses
                    gaveUp = true
                } else {
                    var retry = post
                    retry.attempt += 1
                    state.schedule(.post(retry), at: now + retryDelay(afterAttempt: post.attempt))
                    scheduleTickIfNeeded(&state, now: now)
                }
            }
            return state.isShutDown ? [] : takeStartable(&state)
        }
        if gaveUp {
            logger.warning("webhook post given up", metadata: ["attempts": "\(post.attempt)", "statuses": "\(post.statuses)"])
        }
        start.forEach(send)
    }

    /// The wait after the n-th failed attempt: the first retry delay, doubled each time, at most the maximum.
    func retryDelay(afterAttempt attempt: Int) -> Duration {
        var wait = delivery.firstRetryDelay
        for _ in 1..<max(1, attempt) where wait < delivery.maximumRetryDelay { wait *= 2 }
        return min(wait, delivery.maximumRetryDelay)
    }

    // MARK: Shutdown

    /// Stops scheduling, counts what was still waiting as dropped, and lets posts in flight finish (for at most `grace`).
    func shutdown(grace: Duration = .seconds(2)) async {
        let dropped = state.withLock { state -> Int in
            state.isShutDown = true
            let dropped = state.readyCount + state.timeline.count
            state.timeline.removeAll()
            state.slots.removeAll()
            state.freeSlots.removeAll()
            state.ready.removeAll()
            state.readyStart = 0
            state.counts.droppedAtShutdown += dropped
            return dropped
        }
        if dropped > 0 { logger.notice("webhooks still waiting at shutdown were dropped", metadata: ["count": "\(dropped)"]) }
        let deadline = ContinuousClock.now + grace
        while state.withLock({ $0.inFlight }) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        http.shutdown()
    }
}
