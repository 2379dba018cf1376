/// Meta's throughput limit for one business number (digest §5.1): a token bucket
/// that refills at the number's rate and holds at most one second's worth.
///
/// A pure state machine: every call is given the time. A sender pacing at exactly
/// the rate always finds a token, since the bucket starts full and refills as fast
/// as it is spent. Inbound messages spend tokens too, as Meta counts them, and may
/// leave the bucket in debt (at most one second's worth), so that sends after an
/// inbound burst wait until it is paid for.
struct ThroughputBucket: Sendable {
    typealias Instant = ContinuousClock.Instant

    /// Messages per second.
    let rate: Double
    /// The most tokens kept: one second's worth, and at least one message.
    let capacity: Double
    private(set) var tokens: Double
    private var refilledAt: Instant

    /// A full bucket.
    init(rate: Double, now: Instant) {
        precondition(rate > 0, "a throughput must be positive")
        self.rate = rate
        capacity = max(1, rate)
        tokens = capacity
        refilledAt = now
    }

    /// Takes a token for a send; false (and nothing taken) when the number is over its throughput.
    mutating func takeToken(now: Instant) -> Bool {
        refill(to: now)
        // A sender's exact 1/rate spacing can land a hair under a whole token in floating point.
        guard tokens >= 1 - 1e-9 else { return false }
        tokens -= 1
        return true
    }

    /// Spends a token for an inbound message, which is never refused.
    mutating func spendForInbound(now: Instant) {
        refill(to: now)
        tokens = max(tokens - 1, -capacity)
    }

    /// Back to full.
    mutating func refillCompletely(now: Instant) {
        tokens = capacity
        refilledAt = now
    }

    private mutating func refill(to now: Instant) {
        guard now > refilledAt else { return }
        tokens = min(capacity, tokens + rate * (refilledAt.duration(to: now) / .seconds(1)))
        refilledAt = now
    }
}
