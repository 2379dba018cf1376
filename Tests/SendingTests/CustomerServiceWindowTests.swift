import Foundation
import Sending
import Testing

@Suite("Customer service window")
struct CustomerServiceWindowTests {
    let now = Date(timeIntervalSince1970: 1_750_000_000)

    @Test func freeFormMessagesNeedACustomerMessageInTheLast24Hours() throws {
        let recent = now.addingTimeInterval(-(24 * 3600 - 1))
        #expect(CustomerServiceWindow.refusal(isTemplate: false, lastInboundAt: recent, now: now) == nil)
        #expect(CustomerServiceWindow.closesAt(lastInboundAt: recent, now: now) == now.addingTimeInterval(1))

        let expired = now.addingTimeInterval(-(30 * 3600))
        let refusal = try #require(CustomerServiceWindow.refusal(isTemplate: false, lastInboundAt: expired, now: now))
        #expect(refusal.contains("30 hours ago") && refusal.contains("template"))
        #expect(CustomerServiceWindow.refusal(isTemplate: false, lastInboundAt: now.addingTimeInterval(-24 * 3600), now: now) != nil,
                "the window is closed at exactly 24 hours")
        #expect(CustomerServiceWindow.closesAt(lastInboundAt: expired, now: now) == nil)

        #expect(CustomerServiceWindow.refusal(isTemplate: false, lastInboundAt: nil, now: now)?.contains("has not written yet") == true)
    }

    @Test func templatesMayAlwaysBeSent() {
        #expect(CustomerServiceWindow.refusal(isTemplate: true, lastInboundAt: nil, now: now) == nil)
        #expect(CustomerServiceWindow.refusal(isTemplate: true, lastInboundAt: now.addingTimeInterval(-90 * 24 * 3600), now: now) == nil)
    }
}
