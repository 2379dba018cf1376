import Foundation
import WhatsAppCloudAPI

/// The text `cloudchatd status` prints, from two readings of the control API's `GET /v1/status`.
public struct DaemonStatusReport: Sendable {
    /// One answer of `GET /v1/status` and when it came.
    public struct Reading: Sendable {
        /// The status document.
        public var document: JSONValue
        /// When it was read.
        public var at: ContinuousClock.Instant

        /// A reading.
        public init(document: JSONValue, at: ContinuousClock.Instant) {
            self.document = document
            self.at = at
        }
    }

    let current: Reading
    let previous: Reading
    let address: String

    /// A report of the current reading; rates are the change since the previous one.
    public init(current: Reading, previous: Reading, address: String) {
        self.current = current
        self.previous = previous
        self.address = address
    }

    /// The lines to print: counts and rates only, never a phone number of a customer or a message.
    public var text: String {
        let now = current.document
        let seconds = max((current.at - previous.at) / .seconds(1), 0.001)
        func count(_ path: String...) -> Double {
            var value: JSONValue? = now
            for key in path { value = value?[key] }
            return value?.numberValue ?? 0
        }
        func rate(_ path: String...) -> String {
            var old: JSONValue? = previous.document
            var new: JSONValue? = now
            for key in path {
                old = old?[key]
                new = new?[key]
            }
            let perSecond = max((new?.numberValue ?? 0) - (old?.numberValue ?? 0), 0) / seconds
            return String(format: "%.1f/s", perSecond)
        }
        var lines: [String] = []
        let version = now["version"]?.stringValue ?? "?"
        lines.append("cloudchatd \(version) at \(address), up \(Self.duration(count("uptime_seconds")))")
        lines.append("webhooks   \(Int(count("webhooks", "accepted"))) accepted (\(rate("webhooks", "accepted"))), "
            + "\(Int(count("webhooks", "stored"))) stored, \(Int(count("webhooks", "spooled"))) spooled; "
            + "spool \(Int(count("spool_batches"))) batches waiting")
        for site in now["processing"]?.arrayValue ?? [] {
            let lag = site["lag_seconds"]?.numberValue ?? 0
            let lease = site["holds_lease"]?.boolValue == true ? "" : " (another daemon holds the lease)"
            lines.append("processing \(Self.siteName(site)): \(Int(site["processed"]?.numberValue ?? 0)) events, lag \(String(format: "%.1f", lag)) s\(lease)")
        }
        lines.append("sending    \(Int(count("sending", "accepted"))) accepted (\(rate("sending", "accepted"))), "
            + "\(Int(count("sending", "failed"))) failed, \(Int(count("sending", "retried"))) retried, "
            + "\(Int(count("sending", "in_doubt"))) in doubt, \(Int(count("sending", "throughput_limited"))) throughput-limited")
        var paces: [String: Double] = [:]
        if case .object(let members)? = now["sending"]?["pace_per_number"] {
            for (number, pace) in members { paces[number] = pace.numberValue }
        }
        var queues: [String: [String: Int]] = [:]
        for queue in now["queues"]?.arrayValue ?? [] {
            guard let number = queue["phone_number_id"]?.stringValue, let lane = queue["lane"]?.stringValue else { continue }
            queues[number, default: [:]][lane] = Int(queue["queued"]?.numberValue ?? 0)
        }
        for number in Set(paces.keys).union(queues.keys).sorted() {
            let pace = paces[number].map { String(format: "pace %.0f/s", $0) } ?? "not sending"
            let lanes = ["agent", "transactional", "bulk", "campaign"].map { "\($0) \(queues[number]?[$0] ?? 0)" }.joined(separator: ", ")
            lines.append("number     \(number): \(pace); queued \(lanes)")
        }
        for campaign in now["campaigns"]?.arrayValue ?? [] {
            let id = Int(campaign["campaign_id"]?.numberValue ?? 0)
            let state = campaign["state"]?.stringValue ?? "?"
            var parts: [String] = []
            if case .object(let recipients)? = campaign["recipients"] {
                for (name, value) in recipients.sorted(by: { $0.key < $1.key }) { parts.append("\(name) \(Int(value.numberValue ?? 0))") }
            }
            lines.append("campaign   #\(id) (\(Self.siteName(campaign))) \(state): \(parts.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }

    /// `blog 3`, and the site's key after it when the daemon names one (`blog 1 of shop.wp_`).
    static func siteName(_ object: JSONValue) -> String {
        let blog = "blog \(Int(object["blog_id"]?.numberValue ?? 0))"
        guard let key = object["site"]?.stringValue else { return blog }
        return "\(blog) of \(key)"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        if total < 86_400 { return "\(total / 3600) h \(total % 3600 / 60) min" }
        return "\(total / 86_400) d \(total % 86_400 / 3600) h"
    }
}
