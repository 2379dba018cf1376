import Foundation
import Logging

/// How `cloudchatd` writes each log record: one line per record, whatever the record holds.
///
/// - `logfmt` (the default): `time=2026-12-07T01:02:03.456Z level=info logger=cloudchatd msg="cloudchatd ready" http=127.0.0.1:8787`
/// - `json`: `{"time":"2026-12-07T01:02:03.456Z","level":"info","logger":"cloudchatd","msg":"cloudchatd ready","http":"127.0.0.1:8787"}`
/// - `text`: `2026-12-07T01:02:03.456Z info cloudchatd: http=127.0.0.1:8787 [CloudChatDaemon] cloudchatd ready`,
///   close to swift-log's `StreamLogHandler`.
///
/// A newline or other control character inside a message or a value is escaped, so a
/// record is never broken into two lines. Metadata comes after the fixed fields, sorted by key.
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `key=value` pairs, values quoted when they need it: easy to read and to grep.
    case logfmt
    /// One JSON object per line, for log shippers.
    case json
    /// The shape of swift-log's `StreamLogHandler`, with the module in brackets.
    case text

    /// The name as written in the configuration: `logfmt`, `json` or `text`.
    public var description: String { rawValue }

    /// Encodes one record as one line, without the line ending.
    /// - Parameter record: the record, with its metadata already merged and masked.
    /// - Returns: the line; it holds no newline.
    public func encode(_ record: LogRecord) -> String {
        switch self {
        case .logfmt: LogFormat.logfmtLine(record)
        case .json: LogFormat.jsonLine(record)
        case .text: LogFormat.textLine(record)
        }
    }
}

/// One log record, as a ``LogFormat`` encodes it.
public struct LogRecord: Sendable {
    /// When it was logged.
    public var time: Date
    /// Its level.
    public var level: Logger.Level
    /// The logger's label, e.g. `cloudchatd`.
    public var label: String
    /// What happened, in a sentence.
    public var message: String
    /// Every key and value of the record: the logger's, the provider's and the call's.
    public var metadata: Logger.Metadata
    /// The module that logged it, e.g. `Sending`.
    public var source: String

    /// A record.
    public init(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata = [:], source: String = "") {
        self.time = time
        self.level = level
        self.label = label
        self.message = message
        self.metadata = metadata
        self.source = source
    }
}

extension LogFormat {
    /// The fields every record starts with; a metadata key of the same name is written as `meta_<key>`.
    static let fixedKeys: Set<String> = ["time", "level", "logger", "msg"]

    /// A UTC timestamp with milliseconds: `2026-12-07T01:02:03.456Z`.
    public static func timestamp(_ date: Date) -> String {
        // Whole microseconds first, so 0.456 s stored as 0.45599… still shows .456.
        let totalMilliseconds = Int64(((date.timeIntervalSince1970 * 1_000_000).rounded() / 1000).rounded(.down))
        let milliseconds = Int(((totalMilliseconds % 1000) + 1000) % 1000)
        var time = time_t((totalMilliseconds - Int64(milliseconds)) / 1000)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }

    // MARK: logfmt

    static func logfmtLine(_ record: LogRecord) -> String {
        var line = "time=\(timestamp(record.time)) level=\(record.level.rawValue) logger=\(logfmtValue(record.label)) msg=\(logfmtValue(record.message))"
        for (key, value) in flattened(record.metadata) {
            line += " \(logfmtKey(key))=\(logfmtValue(value))"
        }
        return line
    }

    /// A key of letters, digits, `_`, `.`, `-` and `/` only; anything else becomes `_`.
    static func logfmtKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        var sanitised = String.UnicodeScalarView()
        for scalar in key.unicodeScalars {
            let allowed = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "." || scalar == "-" || scalar == "/"
            sanitised.append(allowed ? scalar : "_")
        }
        return String(sanitised)
    }

    /// The value as it is when it needs no quotes, else quoted with `\"`, `\\` and control characters escaped.
    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "\"" || scalar == "=" || scalar == "\\" || needsEscape(scalar)
        }
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default: quoted += escaped(scalar) ?? String(scalar)
            }
        }
        return quoted + "\""
    }

    // MARK: JSON

    static func jsonLine(_ record: LogRecord) -> String {
        var line = "{\"time\":\"\(timestamp(record.time))\",\"level\":\"\(record.level.rawValue)\",\"logger\":\(jsonString(record.label))"
        line += ",\"msg\":\(jsonString(record.message))"
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            let name = fixedKeys.contains(key) ? "meta_" + key : key
            line += ",\(jsonString(name)):\(jsonValue(value))"
        }
        return line + "}"
    }

    /// Strings as strings, dictionaries as objects (keys sorted), arrays as arrays.
    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): jsonString(text)
        case .stringConvertible(let convertible): jsonString(convertible.description)
        case .dictionary(let members):
            "{" + members.sorted(by: { $0.key < $1.key }).map { "\(jsonString($0.key)):\(jsonValue($0.value))" }.joined(separator: ",") + "}"
        case .array(let items): "[" + items.map(jsonValue).joined(separator: ",") + "]"
        }
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`… or `\u00XX`.
    static func jsonString(_ text: String) -> String {
        var literal = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": literal += "\\\""
            case "\\": literal += "\\\\"
            default: literal += escaped(scalar) ?? String(scalar)
            }
        }
        return literal + "\""
    }

    // MARK: text

    static func textLine(_ record: LogRecord) -> String {
        var line = "\(timestamp(record.time)) \(record.level.rawValue) \(singleLine(record.label)):"
        for (key, value) in flattened(record.metadata) {
            line += " \(logfmtKey(key))=\(logfmtValue(value))"
        }
        if !record.source.isEmpty { line += " [\(singleLine(record.source))]" }
        return line + " " + singleLine(record.message)
    }

    /// The text with control characters escaped and nothing else changed.
    static func singleLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var escapedText = ""
        for scalar in text.unicodeScalars { escapedText += escaped(scalar) ?? String(scalar) }
        return escapedText
    }

    // MARK: Shared

    /// Nested metadata as dotted keys (`request.id`, `items.0`), sorted; fixed field names get `meta_`.
    static func flattened(_ metadata: Logger.Metadata) -> [(String, String)] {
        var pairs: [(String, String)] = []
        func add(_ key: String, _ value: Logger.MetadataValue) {
            switch value {
            case .string(let text): pairs.append((key, text))
            case .stringConvertible(let convertible): pairs.append((key, convertible.description))
            case .dictionary(let members):
                if members.isEmpty { pairs.append((key, "{}")) }
                for (name, member) in members.sorted(by: { $0.key < $1.key }) { add("\(key).\(name)", member) }
            case .array(let items):
                if items.isEmpty { pairs.append((key, "[]")) }
                for (index, item) in items.enumerated() { add("\(key).\(index)", item) }
            }
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            add(fixedKeys.contains(key) ? "meta_" + key : key, value)
        }
        return pairs
    }

    /// Control characters, and the characters some viewers take for line breaks (U+0085, U+2028, U+2029).
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x85 || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// The escape of a character that must not appear raw in a line; nil for any other.
    static func escaped(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default:
            guard needsEscape(scalar) else { return nil }
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }
}
