/// Meta's pair rate limit (digest §5.2): per business number and recipient, about
/// one message per `interval` (6 s), with bursts of up to `burst` (45) that borrow
/// future quota. Over it, a send gets 131056.
///
/// Each pair is a token bucket holding `burst` tokens and gaining one per
/// `interval`: after a burst of 20, the pair needs about 2 minutes to be back at
/// one message per 6 s, as Meta describes. A pure state machine; buckets back to
/// full are forgotten now and then, so memory follows the recipients of the last
/// few minutes only.
struct PairRateLimiter: Sendable {
    typealias Instant = ContinuousClock.Instant

    let interval: Duration
    let burst: Int
    private var buckets: [String: Bucket] = [:]
    private var operationsSincePruning = 0

    private struct Bucket {
        var tokens: Double
        var refilledAt: Instant
    }

    init(interval: Duration, burst: Int) {
        precondition(interval > .zero && burst >= 1, "a pair limit needs a positive interval and burst")
        self.interval = interval
        self.burst = burst
    }

    /// Takes the pair's token for a send; false (and nothing taken) over the limit.
    mutating func takeToken(number: String, recipient: String, now: Instant) -> Bool {
        operationsSincePruning += 1
        if operationsSincePruning >= 8192 { prune(now: now) }
        let key = number + "|" + recipient
        var bucket = buckets[key] ?? Bucket(tokens: Double(burst), refilledAt: now)
        refill(&bucket, to: now)
        guard bucket.tokens >= 1 - 1e-9 else {
            buckets[key] = bucket
            return false
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        return true
    }

    /// Forgets every pair.
    mutating func removeAll() {
        buckets.removeAll()
    }

    /// The number of pairs remembered.
    var trackedPairs: Int { buckets.count }

    private func refill(_ bucket: inout Bucket, to now: Instant) {
        guard now > bucket.refilledAt else { return }
        bucket.tokens = min(Double(burst), bucket.tokens + bucket.refilledAt.duration(to: now) / interval)
        bucket.refilledAt = now
    }

    /// Drops the buckets that have refilled completely: a new one starts full anyway.
    private mutating func prune(now: Instant) {
        operationsSincePruning = 0
        let full = Double(burst)
        buckets = buckets.filter { _, bucket in
            bucket.tokens + bucket.refilledAt.duration(to: now) / interval < full
        }
    }
}
