
/// The send rate of one business number: a token bucket shared by priority lanes.
///
/// A pure state machine: every call is given the time, so tests drive it with a
/// clock of their own. Meta counts a number's inbound and outbound messages
/// against its throughput, so inbound traffic spends tokens too. A throughput
/// error (130429) halves the rate; it then recovers in steps while no error
/// comes (additive increase, multiplicative decrease).
public struct SendPacer: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// Who is waiting to send; a lower lane goes first whenever a token is free.
    public enum Lane: Int, Sendable, CaseIterable, Comparable {
        /// An agent answering in the inbox.
        case agentReply
        /// Transactional messages and automations.
        case transactional
        /// Template campaigns.
        case campaign

        public static func < (lhs: Lane, rhs: Lane) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// What to do now.
    public enum Decision: Sendable, Equatable {
        /// Send one message of this lane.
        case send(Lane)
        /// Nothing may be sent before this time.
        case wait(until: Instant)
        /// No lane has work.
        case idle
    }

    /// The account's configured rate, in messages per second.
    public private(set) var configuredRate: Double
    /// The rate in force, lowered after throughput errors.
    public private(set) var currentRate: Double
    /// The lowest rate a throughput error can bring the pace down to.
    public let minimumRate: Double
    /// How long the rate must go without a throughput error before each step back up.
    public let recoveryInterval: Duration
    private var tokens: Double
    private var refilledAt: Instant
    private var rateChangedAt: Instant

    /// Creates a pacer.
    /// - Parameters:
    ///   - rate: messages per second (Meta's default is 80 per number).
    ///   - minimumRate: the floor for lowering after errors.
    ///   - recoveryInterval: the quiet time before each step back towards `rate`.
    ///   - now: the time it starts at, with one burst's worth of tokens.
    public init(rate: Double, minimumRate: Double = 1, recoveryInterval: Duration = .seconds(5), now: Instant) {
        precondition(rate > 0, "a send rate must be positive")
        configuredRate = rate
        currentRate = rate
        self.minimumRate = min(minimumRate, rate)
        self.recoveryInterval = recoveryInterval
        refilledAt = now
        rateChangedAt = now
        tokens = 0
        tokens = burst
    }

    /// The most tokens kept: a tenth of a second of sending, and at least one message.
    public var burst: Double { max(1, currentRate / 10) }

    /// Decides which lane may send now; a `.send` spends the token.
    public mutating func next(waiting lanes: Set<Lane>, now: Instant) -> Decision {
        guard let lane = lanes.min() else { return .idle }
        advance(to: now)
        if tokens >= 1 {
            tokens -= 1
            return .send(lane)
        }
        return .wait(until: now + .seconds((1 - tokens) / currentRate))
    }

    /// Counts inbound messages, which Meta counts against the same throughput.
    public mutating func recordInbound(_ count: Int = 1, now: Instant) {
        advance(to: now)
        // Debt is allowed: sending resumes once the inbound burst has been paid for.
        tokens = max(tokens - Double(count), -currentRate)
    }

    /// Meta answered 130429: halve the pace and stop the current burst.
    public mutating func throughputExceeded(now: Instant) {
        advance(to: now)
        currentRate = max(minimumRate, currentRate / 2)
        tokens = min(tokens, 0)
        rateChangedAt = now
    }

    /// The account's throughput setting changed (an upgrade, or the operator's choice).
    public mutating func configure(rate: Double, now: Instant) {
        precondition(rate > 0, "a send rate must be positive")
        advance(to: now)
        configuredRate = rate
        currentRate = min(currentRate, rate)
        if currentRate < minimumRate { currentRate = min(minimumRate, rate) }
        rateChangedAt = now
    }

    /// Refills the bucket at the rate in force, then steps the rate back up when it has been quiet long enough.
    private mutating func advance(to now: Instant) {
        guard now > refilledAt else { return }
        let elapsed = refilledAt.duration(to: now)
        tokens = min(burst, tokens + currentRate * (elapsed / .seconds(1)))
        refilledAt = now
        while currentRate < configuredRate, rateChangedAt.duration(to: now) >= recoveryInterval {
            // A tenth of the configured rate per quiet interval.
            currentRate = min(configuredRate, currentRate + configuredRate / 10)
            rateChangedAt = rateChangedAt + recoveryInterval
        }
    }
}

/// Spacing of messages to one recipient after Meta's pair rate limit (131056).
///
/// Meta's guidance is to wait 4^X seconds after the X-th consecutive failure
/// (X from 0); other recipients are not slowed down. A delivered message
/// clears the recipient's count.
public struct RecipientSpacing: Sendable {
    public typealias Instant = ContinuousClock.Instant

    private struct Backoff: Sendable {
        var failures: Int
        var notBefore: Instant
    }

    private var backoffs: [String: Backoff] = [:]
    /// The largest X used: 4^6 s is a little over an hour.
    public static let maximumExponent = 6

    public init() {}

    /// Records a 131056 for a recipient and returns when it may be tried again.
    @discardableResult
    public mutating func pairLimitHit(_ recipient: String, now: Instant) -> Instant {
        let failures = backoffs[recipient]?.failures ?? 0
        let exponent = min(failures, Self.maximumExponent)
        let notBefore = now + .seconds(1 << (2 * exponent))
        backoffs[recipient] = Backoff(failures: failures + 1, notBefore: notBefore)
        return notBefore
    }

    /// A message to the recipient went through: no more spacing.
    public mutating func delivered(_ recipient: String) {
        backoffs[recipient] = nil
    }

    /// When the recipient may next be sent to, or nil for now.
    public func notBefore(_ recipient: String, now: Instant) -> Instant? {
        guard let backoff = backoffs[recipient], backoff.notBefore > now else { return nil }
        return backoff.notBefore
    }

    /// Forgets recipients whose wait ended long ago (an hour), so the table stays small.
    public mutating func prune(now: Instant) {
        backoffs = backoffs.filter { $0.value.notBefore.duration(to: now) < .seconds(3600) }
    }

    /// Recipients with a recorded failure.
    public var count: Int { backoffs.count }
}
