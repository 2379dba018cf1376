import Foundation

/// Realistic WhatsApp webhook bodies, each with wamids no other body uses.
///
/// The mix follows a campaign-heavy site: most deliveries are single status
/// updates, some are batches of statuses, the rest inbound messages (mostly
/// text, some media), the shapes of Meta's documented payloads.
struct WebhookBodies {
    private let runID: String
    private var counter = 0
    private var random = SystemRandomNumberGenerator()
    private let phoneNumberID = "106540352242922"

    init() {
        runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    }

    /// The next body and how many updates (messages or statuses) it carries.
    mutating func next() -> (body: [UInt8], updates: Int) {
        counter += 1
        let roll = Int.random(in: 0..<100, using: &random)
        if roll < 50 { return (Array(envelope(statuses: [status()]).utf8), 1) }
        if roll < 60 {
            let count = Int.random(in: 5...20, using: &random)
            return (Array(envelope(statuses: (0..<count).map { _ in status() }).utf8), count)
        }
        // As in Meta's payloads, the contact is the sender, with the profile name they keep.
        let sender = customer()
        return (Array(envelope(message: roll < 95 ? textMessage(from: sender) : imageMessage(from: sender), from: sender).utf8), 1)
    }

    private mutating func wamid() -> String {
        counter += 1
        return "wamid.HBgL\(runID)\(counter)AgARGBI"
    }

    private mutating func customer() -> String {
        "1650555\(String(format: "%04d", Int.random(in: 0..<10_000, using: &random)))"
    }

    private var timestamp: String { String(Int(Date().timeIntervalSince1970)) }

    private mutating func status() -> String {
        let states = ["sent", "delivered", "read"]
        let state = states[Int.random(in: 0..<3, using: &random)]
        let pricing = state == "read" ? "" : #","pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}"#
        return #"{"id":"\#(wamid())","status":"\#(state)","timestamp":"\#(timestamp)","recipient_id":"\#(customer())","biz_opaque_callback_data":"cc1:r:\#(counter):1"\#(pricing)}"#
    }

    private mutating func textMessage(from sender: String) -> String {
        #"{"from":"\#(sender)","id":"\#(wamid())","timestamp":"\#(timestamp)","type":"text","text":{"body":"Hello, is order \#(counter) on its way? 😀"}}"#
    }

    private mutating func imageMessage(from sender: String) -> String {
        #"{"from":"\#(sender)","id":"\#(wamid())","timestamp":"\#(timestamp)","type":"image","image":{"caption":"the receipt","mime_type":"image/jpeg","sha256":"\#(runID)\#(counter)","id":"\#(counter)1234567"}}"#
    }

    private func envelope(statuses: [String]) -> String {
        envelope(value: #""statuses":[\#(statuses.joined(separator: ","))]"#)
    }

    private func envelope(message: String, from sender: String) -> String {
        envelope(value: #""contacts":[{"profile":{"name":"Customer \#(sender.suffix(4))"},"wa_id":"\#(sender)"}],"messages":[\#(message)]"#)
    }

    private func envelope(value: String) -> String {
        #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\#(phoneNumberID)"},\#(value)}}]}]}"#
    }
}
