/// The statuses one accepted send will get, and when: a pure function of the
/// options and the seeded generator, so tests can check each misbehaviour alone.
struct PlannedStatus: Sendable, Equatable {
    enum Kind: String, Sendable { case sent, delivered, read, failed }

    let kind: Kind
    /// When it happened, after the send was accepted: its `timestamp`.
    let happensAfter: Duration
    /// When it is posted, after the send was accepted (late, swapped or duplicate ones differ from ``happensAfter``).
    var postedAfter: Duration
    /// Whether it carries `pricing` (and `conversation`): `sent`, and the first of `delivered` and `read`.
    let carriesPricing: Bool
    /// A second copy of a status already planned.
    var isDuplicate = false
}

enum StatusPlanner {
    /// Plans a message's statuses: `sent`, `delivered`, maybe `read`; or only `failed` for an asynchronous failure.
    static func plan(_ options: GraphSimulator.StatusWebhooks, failing: Bool, random: inout SeededRandom) -> [PlannedStatus] {
        let sentAt = options.sentDelay
        var statuses: [PlannedStatus]
        if failing {
            statuses = [PlannedStatus(kind: .failed, happensAfter: sentAt, postedAfter: sentAt, carriesPricing: false)]
        } else {
            let deliveredAt = sentAt + options.deliveredDelay
            statuses = [
                PlannedStatus(kind: .sent, happensAfter: sentAt, postedAfter: sentAt, carriesPricing: true),
                PlannedStatus(kind: .delivered, happensAfter: deliveredAt, postedAfter: deliveredAt, carriesPricing: true),
            ]
            if random.chance(options.readProbability) {
                let readAt = deliveredAt + options.readDelay
                statuses.append(PlannedStatus(kind: .read, happensAfter: readAt, postedAfter: readAt, carriesPricing: false))
                if random.chance(options.outOfOrderProbability) {
                    // Read is posted when delivered would have been, and delivered after it; timestamps stay true.
                    statuses[1].postedAfter = readAt
                    statuses[2].postedAfter = deliveredAt
                }
            }
        }
        for index in statuses.indices where random.chance(options.lateProbability) {
            statuses[index].postedAfter += options.lateDelay
        }
        let duplicateGap = max(options.batchWindow, .milliseconds(10))
        for status in statuses where random.chance(options.duplicateProbability) {
            var copy = status
            copy.postedAfter += duplicateGap
            copy.isDuplicate = true
            statuses.append(copy)
        }
        return statuses
    }
}
