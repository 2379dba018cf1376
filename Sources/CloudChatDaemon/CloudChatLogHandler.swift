import Foundation
import Logging
import WhatsAppCloudAPI

/// cloudchatd's swift-log handler: one line per record, in a ``LogFormat``, to a ``LogOutput``.
///
/// Its level is the shared ``LogLevelControl``'s, read on every call, so the level
/// can change while the daemon runs.
///
/// As a safety net it masks what a call site should never have logged whole: values
/// under the keys that hold a customer's number (``customerNumberKeys``) become
/// `+1650•••1234`, and any `+` with seven to fifteen digits in a message or value is
/// masked the same way. Call sites still log only what is safe on their own: no
/// message bodies, tokens or secrets, and numbers through ``PhoneNumberMask``.
public struct CloudChatLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// How records are written.
    public let format: LogFormat
    /// The shared level this handler follows.
    public let levelControl: LogLevelControl
    /// Where lines go.
    public let output: LogOutput

    /// Metadata of this logger, written with every record.
    public var metadata: Logger.Metadata = [:]
    /// Adds metadata to every record, e.g. from task-locals.
    public var metadataProvider: Logger.MetadataProvider?
    private var ownLevel: Logger.Level?

    /// Metadata keys whose values are a customer's number, compared without case; they are always masked.
    /// A business number's `phone_number_id` is not one of them.
    public static let customerNumberKeys: Set<String> = ["wa_id", "from", "to", "recipient", "recipient_id", "phone", "phone_number"]

    /// A handler.
    /// - Parameters:
    ///   - label: the logger's label.
    ///   - format: how records are written.
    ///   - levelControl: the level to follow.
    ///   - output: where lines go; standard error by default.
    ///   - metadataProvider: adds metadata to every record, e.g. from task-locals.
    public init(label: String, format: LogFormat, levelControl: LogLevelControl, output: LogOutput = .standardError,
                metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.format = format
        self.levelControl = levelControl
        self.output = output
        self.metadataProvider = metadataProvider
    }

    /// The shared control's level, unless a level was assigned to this handler (and so to this logger only).
    public var logLevel: Logger.Level {
        get { ownLevel ?? levelControl.level }
        set { ownLevel = newValue }
    }

    /// One key of this logger's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line: this logger's metadata, the provider's and the call's (later ones win), an attached
    /// error's description under `error`, with customers' numbers masked.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = "\(error)"
        }
        let record = LogRecord(time: Date(), level: event.level, label: label, message: PhoneNumberMask.scrub(event.message.description),
                               metadata: Self.masked(merged), source: format == .text ? event.source : "")
        output.write(line: format.encode(record))
    }

    /// The metadata with customers' numbers masked: wholly under ``customerNumberKeys``, and wherever a `+` number appears.
    static func masked(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.reduce(into: [:]) { result, entry in
            result[entry.key] = masked(entry.value, isNumber: customerNumberKeys.contains(entry.key.lowercased()))
        }
    }

    private static func masked(_ value: Logger.MetadataValue, isNumber: Bool) -> Logger.MetadataValue {
        switch value {
        case .string(let text):
            return .string(isNumber ? PhoneNumberMask.mask(text) : PhoneNumberMask.scrub(text))
        case .stringConvertible(let convertible):
            let text = convertible.description
            return .string(isNumber ? PhoneNumberMask.mask(text) : PhoneNumberMask.scrub(text))
        case .dictionary(let members):
            return .dictionary(members.reduce(into: [:]) { result, entry in
                result[entry.key] = masked(entry.value, isNumber: isNumber || customerNumberKeys.contains(entry.key.lowercased()))
            })
        case .array(let items):
            return .array(items.map { masked($0, isNumber: isNumber) })
        }
    }
}
