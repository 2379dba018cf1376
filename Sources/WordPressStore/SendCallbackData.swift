/// What CloudChat puts in `biz_opaque_callback_data` (docs/schema.md §6.5):
/// the row a send was made for and its attempt, so that Meta's status
/// webhooks name the row even when the send's own answer was lost.
public enum SendCallbackData: Sendable, Equatable {
    /// `cc1:o:<outbox id>:<attempt>`
    case outbox(id: UInt64, attempt: Int)
    /// `cc1:r:<campaign recipient id>:<attempt>`
    case recipient(id: UInt64, attempt: Int)

    /// The text sent to Meta.
    public var text: String {
        switch self {
        case .outbox(let id, let attempt): "cc1:o:\(id):\(attempt)"
        case .recipient(let id, let attempt): "cc1:r:\(id):\(attempt)"
        }
    }

    /// Reads callback data echoed in a status; nil for anything CloudChat did not write (other tools' sends).
    public init?(_ text: String?) {
        guard let text, text.hasPrefix("cc1:") else { return nil }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 4, let id = UInt64(fields[2]), let attempt = Int(fields[3]), attempt >= 0 else { return nil }
        switch fields[1] {
        case "o": self = .outbox(id: id, attempt: attempt)
        case "r": self = .recipient(id: id, attempt: attempt)
        default: return nil
        }
    }
}
