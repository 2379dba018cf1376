import Foundation

/// How a campaign's progress reads on a terminal.
public enum CampaignProgressView {
    /// Recipients finished per second over the last few seconds.
    public struct RateMeter: Sendable {
        private var samples: [(finished: Int, at: Date)] = []
        /// How far back the rate looks.
        public let window: TimeInterval

        public init(window: TimeInterval = 5) {
            self.window = window
        }

        public mutating func add(finished: Int, at time: Date) {
            samples.append((finished, time))
            while samples.count > 2, time.timeIntervalSince(samples[0].at) > window { samples.removeFirst() }
        }

        /// Nil until two samples a little apart exist.
        public var rate: Double? {
            guard let first = samples.first, let last = samples.last, last.at.timeIntervalSince(first.at) >= 0.5 else { return nil }
            return Double(last.finished - first.finished) / last.at.timeIntervalSince(first.at)
        }
    }

    /// One line: a bar, counts, rate and time left.
    /// `[##########..........]  48.2%  48,210/100,000  1,001/s  ETA 0:51  delivered 40,100  read 12,000  failed 3  running`
    public static func bar(_ progress: CampaignProgress, rate: Double?, width: Int = 24) -> String {
        let total = max(progress.total, 1)
        let share = Double(progress.finished) / Double(total)
        let filled = min(width, Int((share * Double(width)).rounded(.down)))
        var line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
        line += String(format: " %5.1f%%  ", share * 100) + "\(grouped(progress.finished))/\(grouped(progress.total))"
        if let rate {
            line += "  \(grouped(Int(rate.rounded())))/s"
            let left = progress.pending + progress.sending
            if rate > 0.5, left > 0, progress.campaign.state == .running { line += "  ETA " + duration(Double(left) / rate) }
        }
        line += "  delivered \(grouped(progress.delivered))  read \(grouped(progress.read))"
        if progress.failed > 0 { line += "  failed \(grouped(progress.failed))" }
        if progress.skipped > 0 { line += "  skipped \(grouped(progress.skipped))" }
        if progress.replied > 0 { line += "  replied \(grouped(progress.replied))" }
        line += "  " + state(progress.campaign)
        return line
    }

    /// Several lines: the campaign, its state and every count.
    public static func summary(_ progress: CampaignProgress) -> String {
        let campaign = progress.campaign
        var lines = ["campaign \(campaign.id) \"\(campaign.name)\": \(state(campaign))",
                     "  template \(campaign.templateName) (\(campaign.templateLanguage)), audience \(campaign.audienceType)"
                         + (campaign.rateLimit.map { ", capped at \($0) msg/s" } ?? "")]
        if let details = campaign.errorDetails, campaign.state == .halted || campaign.stateReason == "start_failed" {
            lines.append("  why: \(details)")
        }
        if let resumeAt = campaign.resumeAt { lines.append("  resumes by itself at \(ISO8601DateFormatter().string(from: resumeAt))") }
        lines.append("  recipients \(grouped(progress.total)): pending \(grouped(progress.pending)), sending \(grouped(progress.sending)), "
                     + "sent \(grouped(progress.sent)), delivered \(grouped(progress.delivered)), read \(grouped(progress.read)), "
                     + "failed \(grouped(progress.failed)), skipped \(grouped(progress.skipped)), replied \(grouped(progress.replied))")
        if !progress.failedByCode.isEmpty {
            lines.append("  failed by code: " + progress.failedByCode.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "none" : String($0.key)) × \(grouped($0.value))" }
                .joined(separator: ", "))
        }
        if !progress.skippedByReason.isEmpty {
            lines.append("  skipped: " + progress.skippedByReason.sorted { $0.key < $1.key }.map { "\($0.key) × \(grouped($0.value))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    static func state(_ campaign: Campaign) -> String {
        var text = campaign.state.rawValue
        if let reason = campaign.stateReason { text += " (\(reason)" + (campaign.errorCode.map { ", code \($0)" } ?? "") + ")" }
        return text
    }

    /// 12,345
    static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// 1:05:09 or 4:07
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, rest) = (total / 3600, total % 3600 / 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
