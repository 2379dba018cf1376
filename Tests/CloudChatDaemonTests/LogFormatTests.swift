import CloudChatDaemon
import Foundation
import Logging
import Synchronization
import Testing

/// Collects what a ``CloudChatLogHandler`` writes, line by line.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    /// An output that appends here.
    var output: LogOutput {
        LogOutput { [self] line in self.lines.withLock { $0.append(line) } }
    }

    /// Every line written so far, each with its newline.
    var written: [String] { lines.withLock { $0 } }

    /// Everything written so far.
    var text: String { written.joined() }

    /// A logger writing here in `format`, following `levelControl`.
    func logger(_ label: String = "cloudchatd", format: LogFormat = .logfmt, levelControl: LogLevelControl = LogLevelControl(.trace)) -> Logger {
        Logger(label: label) { [output] label in
            CloudChatLogHandler(label: label, format: format, levelControl: levelControl, output: output, metadataProvider: nil)
        }
    }
}

@Suite("Log format")
struct LogFormatTests {
    static let time = Date(timeIntervalSince1970: 1_796_605_323.456)  // 2026-12-07T01:02:03.456Z

    static func record(_ message: String, _ metadata: Logger.Metadata = [:], level: Logger.Level = .info) -> LogRecord {
        LogRecord(time: time, level: level, label: "cloudchatd", message: message, metadata: metadata, source: "CloudChatDaemon")
    }

    static func parseJSON(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(LogFormat.timestamp(Self.time) == "2026-12-07T01:02:03.456Z")
        #expect(LogFormat.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(LogFormat.timestamp(Date(timeIntervalSince1970: 1_796_605_323.0099)) == "2026-12-07T01:02:03.009Z")
    }

    @Test func logfmtWritesFixedFieldsThenSortedMetadata() {
        let line = LogFormat.logfmt.encode(Self.record("cloudchatd ready", ["version": "1.0.0", "http": "127.0.0.1:8787"]))
        #expect(line == #"time=2026-12-07T01:02:03.456Z level=info logger=cloudchatd msg="cloudchatd ready" http=127.0.0.1:8787 version=1.0.0"#)
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("two words", #""two words""#),
        (#"say "hi""#, #""say \"hi\"""#),
        ("a=b", #""a=b""#),
        (#"C:\path"#, #""C:\\path""#),
        ("line one\nline two", #""line one\nline two""#),
        ("tab\there\r", #""tab\there\r""#),
        ("bell\u{7}", #""bell\u0007""#),
        ("separator\u{2028}here", #""separator\u2028here""#),
        ("", #""""#),
        ("héllo•wörld", "héllo•wörld"),
        ("日本語 テキスト", #""日本語 テキスト""#),
    ])
    func logfmtQuotesAndEscapesValues(_ value: String, _ encoded: String) {
        let line = LogFormat.logfmt.encode(Self.record("m", ["k": .string(value)]))
        #expect(line.hasSuffix(" k=" + encoded), "\(line)")
        #expect(!line.contains("\n") && !line.contains("\r"))
    }

    @Test func logfmtSanitisesKeysAndKeepsFixedFieldsFirst() {
        let line = LogFormat.logfmt.encode(Self.record("m", ["a key": "1", "x=y": "2", "ünï": "3", "": "4", "msg": "5", "level": "6"]))
        #expect(line.hasPrefix("time=2026-12-07T01:02:03.456Z level=info logger=cloudchatd msg=m "))
        for pair in ["_=4", "a_key=1", "x_y=2", "_n_=3", "meta_msg=5", "meta_level=6"] {
            #expect(line.contains(" " + pair), "\(pair) in \(line)")
        }
    }

    @Test func logfmtFlattensNestedMetadata() {
        let line = LogFormat.logfmt.encode(Self.record("m", [
            "request": .dictionary(["id": "7", "path": "/v1/notify"]), "ids": .array(["1", "2"]), "empty": .dictionary([:]),
        ]))
        #expect(line.hasSuffix(" empty={} ids.0=1 ids.1=2 request.id=7 request.path=/v1/notify"), "\(line)")
    }

    @Test func messagesWithNewlinesStayOnOneLine() {
        for format in LogFormat.allCases {
            let line = format.encode(Self.record("first\nsecond\r\nthird\u{85}fourth\u{2029}", ["k": "v\nw"]))
            #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{85}") && !line.contains("\u{2029}"), "\(format): \(line)")
            #expect(line.contains(#"first\nsecond\r\nthird\u0085fourth\u2029"#), "\(format): \(line)")
        }
    }

    @Test func jsonIsOneObjectWithStringFieldsAndNestedObjects() throws {
        let line = LogFormat.json.encode(Self.record("said \"hi\"\n\tand left \\ ü 日本 \u{1}", [
            "count": "3", "nested": .dictionary(["a": "1", "b": .array(["x", "y"])]), "msg": "clash", "convertible": .stringConvertible(42),
        ], level: .warning))
        #expect(!line.contains("\n"))
        #expect(line.hasPrefix(#"{"time":"2026-12-07T01:02:03.456Z","level":"warning","logger":"cloudchatd","msg":"#))
        let object = try Self.parseJSON(line)
        #expect(object["msg"] as? String == "said \"hi\"\n\tand left \\ ü 日本 \u{1}")
        #expect(object["count"] as? String == "3")
        #expect(object["convertible"] as? String == "42")
        #expect(object["meta_msg"] as? String == "clash")
        let nested = try #require(object["nested"] as? [String: Any])
        #expect(nested["a"] as? String == "1")
        #expect(nested["b"] as? [String] == ["x", "y"])
    }

    @Test func jsonEscapesEveryControlCharacter() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar($0)! })) + "\u{7F}\u{2028}"
        let line = LogFormat.json.encode(Self.record(controls, [controls: .string(controls)]))
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x2028 })
        let object = try Self.parseJSON(line)
        #expect(object["msg"] as? String == controls)
        #expect(object[controls] as? String == controls)
    }

    @Test func textIsCloseToStreamLogHandler() {
        let line = LogFormat.text.encode(Self.record("cloudchatd ready", ["http": "127.0.0.1:8787", "note": "two words"]))
        #expect(line == #"2026-12-07T01:02:03.456Z info cloudchatd: http=127.0.0.1:8787 note="two words" [CloudChatDaemon] cloudchatd ready"#)
    }
}

@Suite("Log handler")
struct CloudChatLogHandlerTests {
    @Test func writesOneLinePerRecord() {
        let capture = LogCapture()
        let logger = capture.logger()
        logger.info("first\nrecord", metadata: ["k": "v"])
        logger.warning("second")
        #expect(capture.written.count == 2)
        #expect(capture.written.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().firstIndex(of: "\n") == nil })
        #expect(capture.written[0].contains(#"level=info logger=cloudchatd msg="first\nrecord" k=v"#))
        #expect(capture.written[1].contains("level=warning"))
    }

    @Test func everyHandlerFollowsTheLevelControl() {
        let control = LogLevelControl(.info)
        let capture = LogCapture()
        let before = capture.logger(levelControl: control)
        before.debug("hidden")
        #expect(capture.written.isEmpty)
        control.set(.debug)
        let after = capture.logger("other", levelControl: control)
        before.debug("shown by the logger made before")
        after.debug("shown by the logger made after")
        #expect(capture.written.count == 2)
        control.set(.error)
        before.warning("hidden again")
        after.warning("hidden again")
        #expect(capture.written.count == 2)
        #expect(before.logLevel == .error && control.level == .error)
    }

    @Test func aLevelSetOnOneLoggerStaysWithIt() {
        let control = LogLevelControl(.info)
        let capture = LogCapture()
        var own = capture.logger(levelControl: control)
        own.logLevel = .trace
        let shared = capture.logger(levelControl: control)
        own.trace("own level")
        shared.trace("shared level")
        #expect(capture.written.count == 1)
        #expect(shared.logLevel == .info)
    }

    @Test func customerNumbersAreMaskedEvenWhenACallSiteForgets() {
        let capture = LogCapture()
        var logger = capture.logger(format: .json)
        logger[metadataKey: "wa_id"] = "16505551234"
        logger.info("delivery to +447700900123 failed", metadata: [
            "to": "16505551234", "From": "+1 650 555 1234", "recipient": .stringConvertible(16_505_551_234),
            "phone": .dictionary(["home": "16505551234"]), "contacts": .array([.dictionary(["wa_id": "16505551234"])]),
            "note": "call +16505551234", "phone_number_id": "106540352242922",
        ])
        let text = capture.text
        #expect(!text.contains("16505551234") && !text.contains("650 555 1234") && !text.contains("447700900123"), "\(text)")
        #expect(text.contains(#""to":"+1650•••1234""#))
        #expect(text.contains(#""From":"+1650•••1234""#))
        #expect(text.contains(#""wa_id":"+1650•••1234""#))
        #expect(text.contains(#""recipient":"+1650•••1234""#))
        #expect(text.contains("delivery to +4477•••0123 failed"))
        #expect(text.contains(#""phone_number_id":"106540352242922""#), "a business number's id is kept")
    }

    @Test func anAttachedErrorIsWrittenByItsDescription() {
        struct Refused: Error, CustomStringConvertible { var description: String { "refused" } }
        let capture = LogCapture()
        capture.logger().error("it failed", error: Refused())
        #expect(capture.text.contains("error=refused"))
    }
}
