@testable import GraphSimulator
import Testing

@Suite("Status planning")
struct StatusPlannerTests {
    private func options(_ change: (inout GraphSimulator.StatusWebhooks) -> Void = { _ in }) -> GraphSimulator.StatusWebhooks {
        var options = GraphSimulator.StatusWebhooks()
        options.sentDelay = .milliseconds(100)
        options.deliveredDelay = .milliseconds(400)
        options.readDelay = .seconds(1)
        options.readProbability = 1
        change(&options)
        return options
    }

    @Test func aReadMessageGetsSentDeliveredAndReadInOrderWithPricingOnTheFirstTwo() {
        var random = SeededRandom(seed: 1)
        let plan = StatusPlanner.plan(options(), failing: false, random: &random)
        #expect(plan.map(\.kind) == [.sent, .delivered, .read])
        #expect(plan.map(\.happensAfter) == [.milliseconds(100), .milliseconds(500), .milliseconds(1500)])
        #expect(plan.map(\.postedAfter) == plan.map(\.happensAfter))
        #expect(plan.map(\.carriesPricing) == [true, true, false])
    }

    @Test func anUnreadMessageStopsAtDelivered() {
        var random = SeededRandom(seed: 1)
        let plan = StatusPlanner.plan(options { $0.readProbability = 0 }, failing: false, random: &random)
        #expect(plan.map(\.kind) == [.sent, .delivered])
    }

    @Test func outOfOrderPostsReadBeforeDeliveredButKeepsTheTimestamps() {
        var random = SeededRandom(seed: 1)
        let plan = StatusPlanner.plan(options { $0.outOfOrderProbability = 1 }, failing: false, random: &random)
        let delivered = plan.first { $0.kind == .delivered }!, read = plan.first { $0.kind == .read }!
        #expect(read.postedAfter < delivered.postedAfter)
        #expect(delivered.happensAfter < read.happensAfter)
    }

    @Test func duplicatesRepeatEveryStatusOnceAndLateOnesComeLater() {
        var random = SeededRandom(seed: 1)
        let duplicated = StatusPlanner.plan(options { $0.duplicateProbability = 1 }, failing: false, random: &random)
        #expect(duplicated.count == 6)
        #expect(duplicated.filter(\.isDuplicate).map(\.kind) == [.sent, .delivered, .read])
        let late = StatusPlanner.plan(options { $0.lateProbability = 1 }, failing: false, random: &random)
        #expect(late.map(\.postedAfter) == late.map { $0.happensAfter + .seconds(5) })
    }

    @Test func anAsynchronousFailureGetsOnlyFailed() {
        var random = SeededRandom(seed: 1)
        let plan = StatusPlanner.plan(options(), failing: true, random: &random)
        #expect(plan.map(\.kind) == [.failed])
        #expect(plan[0].carriesPricing == false)
    }

    @Test func theSameSeedPlansTheSame() {
        let chancy = options { $0.readProbability = 0.5; $0.duplicateProbability = 0.3; $0.lateProbability = 0.2 }
        var first = SeededRandom(seed: 99), second = SeededRandom(seed: 99)
        let plans = (0..<50).map { _ in StatusPlanner.plan(chancy, failing: false, random: &first) }
        #expect(plans == (0..<50).map { _ in StatusPlanner.plan(chancy, failing: false, random: &second) })
    }
}
