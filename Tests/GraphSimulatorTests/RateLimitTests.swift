@testable import GraphSimulator
import Testing

/// The throughput and pair limits as pure state machines, driven by a clock of the test's own.
@Suite("Rate limits")
struct RateLimitTests {
    private let start = ContinuousClock.now

    @Test(arguments: [1.0, 20, 80, 1000])
    func aSenderPacingAtExactlyTheRateIsNeverRefused(rate: Double) {
        var bucket = ThroughputBucket(rate: rate, now: start)
        let spacing = Duration.seconds(1 / rate)
        let sends = Int(rate * 10)
        let refused = (0..<sends).filter { !bucket.takeToken(now: start + spacing * $0) }
        #expect(refused.isEmpty)
    }

    @Test func aSenderWithJitterAroundTheRateIsNeverRefused() {
        // Sends scheduled at exactly 80/s arrive up to 100 ms late, in any order of lateness.
        var bucket = ThroughputBucket(rate: 80, now: start)
        var random = SeededRandom(seed: 7)
        let arrivals = (0..<800).map { start + .milliseconds(12.5 * Double($0)) + .milliseconds(Int.random(in: 0...100, using: &random)) }
        let refused = arrivals.sorted().filter { !bucket.takeToken(now: $0) }
        #expect(refused.isEmpty)
    }

    @Test func aSenderOverTheRateIsRefusedOnceTheSecondsWorthIsSpent() {
        var bucket = ThroughputBucket(rate: 10, now: start)
        // 40 sends in 2 s at 20/s: the full bucket (10) plus 2 s of refill (20) go through.
        let accepted = (0..<40).filter { bucket.takeToken(now: start + .milliseconds(50 * $0)) }.count
        #expect((29...31).contains(accepted))
    }

    @Test func inboundMessagesSpendThroughputAndMayLeaveDebt() {
        var bucket = ThroughputBucket(rate: 5, now: start)
        for _ in 0..<10 { bucket.spendForInbound(now: start) }
        #expect(bucket.tokens == -5)
        let tooSoon = bucket.takeToken(now: start + .milliseconds(1100))  // 5.5 tokens earned back: still under 1
        let paidFor = bucket.takeToken(now: start + .milliseconds(1300))
        #expect(!tooSoon && paidFor)
    }

    @Test func thePairLimitAllowsABurstThenOneMessagePerInterval() {
        var pairs = PairRateLimiter(interval: .seconds(6), burst: 45)
        let burst = (0..<46).map { _ in pairs.takeToken(number: "1", recipient: "16505551234", now: start) }
        #expect(burst.filter { $0 }.count == 45)
        #expect(burst.last == false)
        let otherRecipient = pairs.takeToken(number: "1", recipient: "16505559999", now: start)
        let otherNumber = pairs.takeToken(number: "2", recipient: "16505551234", now: start)
        #expect(otherRecipient && otherNumber)
        let later = [5, 6, 6].map { pairs.takeToken(number: "1", recipient: "16505551234", now: start + .seconds($0)) }
        #expect(later == [false, true, false])
    }

    @Test func aBurstOfTwentyTakesAboutTwoMinutesToEarnBack() {
        var pairs = PairRateLimiter(interval: .seconds(6), burst: 45)
        for _ in 0..<20 { _ = pairs.takeToken(number: "1", recipient: "1555", now: start) }
        // Two minutes later the pair is whole again: 45 more go at once, the 46th does not.
        let after = start + .seconds(120)
        var accepted = 0
        for _ in 0..<45 where pairs.takeToken(number: "1", recipient: "1555", now: after) { accepted += 1 }
        #expect(accepted == 45)
        let overflow = pairs.takeToken(number: "1", recipient: "1555", now: after)
        #expect(!overflow)
    }

    @Test func pairsBackToFullAreForgotten() {
        var pairs = PairRateLimiter(interval: .seconds(6), burst: 45)
        for index in 0..<9000 { _ = pairs.takeToken(number: "1", recipient: String(index), now: start + .seconds(index)) }
        #expect(pairs.trackedPairs < 1000)
    }
}
