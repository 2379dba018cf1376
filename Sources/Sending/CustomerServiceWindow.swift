import Foundation

/// Meta's customer service window: an inbound message opens (or refreshes) 24
/// hours in which any message may be sent; outside it only templates may be,
/// and anything else fails with 131047. CloudChat refuses such a message
/// before calling Meta, with a reason the inbox can show.
public enum CustomerServiceWindow {
    /// How long the window stays open after the customer's last message.
    public static let length: TimeInterval = 24 * 3600

    /// Whether a message may be sent now.
    /// - Parameters:
    ///   - isTemplate: templates may always be sent.
    ///   - lastInboundAt: when the customer last wrote (`conversations.last_inbound_at`); nil if never.
    /// - Returns: nil when it may; otherwise why not, in words for the agent.
    public static func refusal(isTemplate: Bool, lastInboundAt: Date?, now: Date) -> String? {
        if isTemplate { return nil }
        guard let lastInboundAt else {
            return "the customer has not written yet: only an approved template can start the conversation"
        }
        let age = now.timeIntervalSince(lastInboundAt)
        guard age < length else {
            let hours = Int(age / 3600)
            return "the customer last wrote \(hours) hours ago, outside WhatsApp's 24-hour window: send an approved template instead"
        }
        return nil
    }

    /// When the window closes, or nil if it is not open.
    public static func closesAt(lastInboundAt: Date?, now: Date) -> Date? {
        guard let lastInboundAt else { return nil }
        let closes = lastInboundAt.addingTimeInterval(length)
        return closes > now ? closes : nil
    }
}
