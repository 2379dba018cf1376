import Metrics
import Synchronization

/// Counters of the outbox senders, for `/metrics` and the benchmark report.
public final class SendStatistics: Sendable {
    /// Sends Meta accepted.
    public let accepted = Atomic<Int>(0)
    /// Rows ended `failed` (refused before sending, or by Meta).
    public let failed = Atomic<Int>(0)
    /// Attempts put back for later (rate limits, transient errors).
    public let retried = Atomic<Int>(0)
    /// Sends with no answer, left for reconciliation.
    public let inDoubt = Atomic<Int>(0)
    /// 130429 answers.
    public let throughputLimited = Atomic<Int>(0)
    /// 131056 answers.
    public let pairLimited = Atomic<Int>(0)
    /// Rows requeued by reconciliation after the grace period.
    public let reconciled = Atomic<Int>(0)
    /// Send request durations (from the request to Meta's answer), in milliseconds.
    public let latency = LatencyHistogram()
    private let paces = Mutex<[String: Double]>([:])
    private let metrics: any MetricsFactory
    private let resultCounters = Mutex<[String: Counter]>([:])

    /// - Parameter metrics: where `cloudchat_send_results_total{code}` goes: Meta's answers by error code.
    public init(metrics: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.metrics = metrics
    }

    /// Counts one answer to a send: `accepted`, Meta's error code, `not_sent` (no connection) or
    /// `no_answer` (the request went out, nothing came back).
    func recordResult(_ code: String) {
        // One counter per code, made once: this runs for every send.
        let counter = resultCounters.withLock { counters in
            if let known = counters[code] { return known }
            let made = Counter(label: "cloudchat_send_results_total", dimensions: [("code", code)], factory: metrics)
            counters[code] = made
            return made
        }
        counter.increment()
    }

    /// Records the pace in force for a business number.
    func recordPace(_ rate: Double, phoneNumberID: String) {
        paces.withLock { $0[phoneNumberID] = rate }
    }

    /// The pace in force per business number, in messages per second.
    public var currentPaces: [String: Double] { paces.withLock { $0 } }
}

/// A fixed-bucket histogram of durations, cheap to record from many tasks.
public final class LatencyHistogram: Sendable {
    /// Upper bounds of the buckets, in milliseconds; the last bucket is everything above.
    public static let boundsMilliseconds: [Double] = [1, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 200, 500, 1000, 2000, 5000, 10000]
    private let counts = Mutex<[Int]>(Array(repeating: 0, count: boundsMilliseconds.count + 1))
    private let total = Mutex<(count: Int, sum: Double)>((0, 0))

    public init() {}

    public func record(_ duration: Duration) {
        let milliseconds = duration / .milliseconds(1)
        let index = Self.boundsMilliseconds.firstIndex { milliseconds <= $0 } ?? Self.boundsMilliseconds.count
        counts.withLock { $0[index] += 1 }
        total.withLock { $0.count += 1; $0.sum += milliseconds }
    }

    /// Counts per bucket (not cumulative), the last one for durations above every bound.
    public var bucketCounts: [Int] { counts.withLock { $0 } }

    /// How many durations were recorded, and their sum in milliseconds.
    public var countAndSum: (count: Int, sum: Double) { total.withLock { $0 } }

    /// The bucket bound at or below which the given share of durations fell (e.g. 0.99), or nil if none were recorded.
    public func quantileUpperBound(_ quantile: Double) -> Double? {
        let counts = bucketCounts
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        var seen = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if Double(seen) >= quantile * Double(total) {
                return index < Self.boundsMilliseconds.count ? Self.boundsMilliseconds[index] : .infinity
            }
        }
        return .infinity
    }
}
