import Sending
import Testing

@Suite("Send pacer")
struct SendPacerTests {
    let start = ContinuousClock.now

    /// Runs the pacer on a clock of its own for `seconds`, sending whenever it allows; returns the sends per lane.
    private func drive(_ pacer: inout SendPacer, from: ContinuousClock.Instant, seconds: Int, lanes: Set<SendPacer.Lane>) -> [SendPacer.Lane: Int] {
        var now = from
        let end = from + .seconds(seconds)
        var sent: [SendPacer.Lane: Int] = [:]
        while now < end {
            switch pacer.next(waiting: lanes, now: now) {
            case .send(let lane): sent[lane, default: 0] += 1
            case .wait(let until): now = until
            case .idle: return sent
            }
        }
        return sent
    }

    @Test func sendsAtTheConfiguredRate() {
        var pacer = SendPacer(rate: 80, now: start)
        let sent = drive(&pacer, from: start, seconds: 10, lanes: [.campaign])
        // 80/s for 10 s, plus the opening burst of a tenth of a second.
        #expect((800...809).contains(sent[.campaign] ?? 0), "\(sent)")
    }

    @Test func agentRepliesGoFirstAndCampaignsTakeWhatIsLeft() {
        var pacer = SendPacer(rate: 10, now: start)
        #expect(drive(&pacer, from: start, seconds: 2, lanes: [.campaign, .agentReply, .transactional]).keys.sorted() == [.agentReply])
        #expect(pacer.next(waiting: [.campaign, .transactional], now: start + .seconds(5)) == .send(.transactional))
        #expect(pacer.next(waiting: [], now: start + .seconds(5)) == .idle)
    }

    @Test func inboundMessagesSpendTheSameThroughput() {
        var pacer = SendPacer(rate: 80, now: start)
        pacer.recordInbound(40, now: start)
        // The opening burst of 8 minus 40 inbound leaves a debt of 32: the next send waits 33/80 s.
        #expect(pacer.next(waiting: [.campaign], now: start) == .wait(until: start + .seconds(33.0 / 80)))
    }

    @Test func aThroughputErrorHalvesThePaceWhichThenRecoversInSteps() {
        var pacer = SendPacer(rate: 80, minimumRate: 1, recoveryInterval: .seconds(5), now: start)
        pacer.throughputExceeded(now: start)
        #expect(pacer.currentRate == 40)
        pacer.throughputExceeded(now: start)
        #expect(pacer.currentRate == 20)
        #expect(pacer.next(waiting: [.campaign], now: start) != .send(.campaign), "the burst stops at once")
        _ = pacer.next(waiting: [.campaign], now: start + .seconds(5))
        #expect(pacer.currentRate == 28)
        _ = pacer.next(waiting: [.campaign], now: start + .seconds(60))
        #expect(pacer.currentRate == 80)
        // Measured over a minute after recovery, the rate is the configured one again.
        let sent = drive(&pacer, from: start + .seconds(60), seconds: 60, lanes: [.campaign])
        #expect((4800...4809).contains(sent[.campaign] ?? 0), "\(sent)")
        for _ in 0..<20 { pacer.throughputExceeded(now: start + .seconds(200)) }
        #expect(pacer.currentRate == 1, "never below the floor")
    }

    @Test func aNewRateTakesEffectAtOnce() {
        var pacer = SendPacer(rate: 80, now: start)
        pacer.configure(rate: 20, now: start)
        let sent = drive(&pacer, from: start, seconds: 10, lanes: [.campaign])
        #expect((200...210).contains(sent[.campaign] ?? 0), "\(sent)")
    }
}

@Suite("Recipient spacing")
struct RecipientSpacingTests {
    let start = ContinuousClock.now

    @Test func waitsFourToThePowerOfTheFailuresForThatRecipientOnly() {
        var spacing = RecipientSpacing()
        #expect(spacing.pairLimitHit("16505551234", now: start) == start + .seconds(1))
        #expect(spacing.pairLimitHit("16505551234", now: start) == start + .seconds(4))
        #expect(spacing.pairLimitHit("16505551234", now: start) == start + .seconds(16))
        #expect(spacing.notBefore("16505551234", now: start + .seconds(10)) == start + .seconds(16))
        #expect(spacing.notBefore("16505551234", now: start + .seconds(16)) == nil)
        #expect(spacing.notBefore("16505559999", now: start) == nil)
        spacing.delivered("16505551234")
        #expect(spacing.pairLimitHit("16505551234", now: start) == start + .seconds(1), "a delivery starts the count again")
        for _ in 0..<10 { spacing.pairLimitHit("16505550000", now: start) }
        #expect(spacing.pairLimitHit("16505550000", now: start) == start + .seconds(4096), "capped at 4^6 s")
        spacing.prune(now: start + .seconds(4096 + 3601))
        #expect(spacing.count == 0)
    }
}
