import Foundation

/// A seeded generator of hostile webhook bodies: Meta's envelope with values of
/// the wrong type, huge numbers, long and strange strings, deep nesting, then
/// truncated, bit-flipped or padded. The same seed gives the same bodies, so a
/// failure reproduces from the seed the test prints.
public struct HostileWebhookBodies {
    /// The seed this generator started from.
    public let seed: UInt64
    private var state: UInt64
    /// The business number most bodies name, so many reach the processor's domain writes.
    public let phoneNumberID: String
    /// The WABA most bodies name.
    public let wabaID: String

    /// A generator; `seed` nil takes `CLOUDCHAT_FUZZ_SEED` from the environment, or a random one.
    public init(seed: UInt64? = nil, phoneNumberID: String = "106540352242922", wabaID: String = "102290129340398") {
        let chosen = seed ?? ProcessInfo.processInfo.environment["CLOUDCHAT_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        self.seed = chosen
        state = chosen
        self.phoneNumberID = phoneNumberID
        self.wabaID = wabaID
    }

    // MARK: Randomness (SplitMix64)

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }
    private mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    private mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    // MARK: Values

    static let strangeStrings = [
        "'); DROP TABLE x;--", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\\u0000", "a\\u0000b", "\\ud800", "\\udfff\\ud800",
        "\\\"", "\\\\", "مرحبا بالعالم", "שלום \\u202e gnp.exe", "👍🏽👨‍👩‍👧", "\\n\\r\\t", "%s%n%x", "${jndi:ldap://x}", "NaN", "",
        "16505551234", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "\\u00e9\\u0301", "STOP", "arrêt",
    ]
    static let hugeNumbers = [
        "1e999999", "-1e999999", "123456789012345678901234567890", "-0", "0.0000000000000000000000001", "18446744073709551616",
        "9223372036854775808", "-9223372036854775809", "1E+400", "4.9e-325", "2e308", "0e0", "-0.0e-0",
    ]

    /// A value of any JSON type, sometimes nested deep.
    private mutating func anyValue(depth: Int = 0) -> String {
        switch below(depth > 3 ? 6 : 9) {
        case 0: return "null"
        case 1: return chance(50) ? "true" : "false"
        case 2: return pick(Self.hugeNumbers)
        case 3: return String(Int64(bitPattern: next()))
        case 4: return "\"\(pick(Self.strangeStrings))\""
        case 5: return "\"\(String(repeating: pick(["x", "é", "🙂", "\\u0041"]), count: 1 + below(chance(1) ? 20_000 : 60)))\""
        case 6: return "[" + (0..<below(4)).map { _ in anyValue(depth: depth + 1) }.joined(separator: ",") + "]"
        case 7: return "{" + (0..<below(4)).map { _ in "\"\(pick(["id", "type", "text", "body", "value", "", "__proto__"]))\":\(anyValue(depth: depth + 1))" }
            .joined(separator: ",") + "}"
        default:
            let depth = 1 + below(chance(10) ? 1_000 : 100)
            return String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        }
    }

    /// Usually a value of the expected kind, sometimes anything.
    private mutating func string(_ good: String) -> String { chance(85) ? "\"\(good)\"" : anyValue() }
    private mutating func field(_ name: String, _ value: String) -> String? { chance(4) ? nil : "\"\(name)\":\(value)" }
    private mutating func object(_ fields: [String?]) -> String { "{" + fields.compactMap { $0 }.joined(separator: ",") + "}" }

    private mutating func timestamp() -> String {
        chance(80) ? "\"\(1_749_400_000 + below(1_000_000))\"" : pick(["\"\(pick(Self.hugeNumbers))\"", anyValue(), "\"-5\"", "\"1e3\"", "1749400000"])
    }

    private mutating func waID() -> String {
        chance(85) ? "\"1650555\(1000 + below(9000))\"" : anyValue()
    }

    private mutating func message() -> String {
        let type = chance(80) ? pick(["text", "image", "reaction", "interactive", "button", "location", "contacts", "system", "edit", "revoke",
                                      "order", "unsupported", "request_welcome", "sticker", "document"]) : pick(Self.strangeStrings)
        let content: String
        switch type {
        case "text": content = object([field("body", string(pick(Self.strangeStrings)))])
        case "image", "sticker", "document":
            content = object([field("id", string("\(below(1_000_000_000))")), field("mime_type", string("image/jpeg")),
                              field("sha256", string("abc")), field("caption", string(pick(Self.strangeStrings))), field("url", anyValue())])
        case "reaction": content = object([field("message_id", string("wamid.R\(below(1000))")), field("emoji", string("👍"))])
        case "interactive":
            content = object([field("type", string(pick(["button_reply", "list_reply", "nfm_reply"]))),
                              field("button_reply", object([field("id", anyValue()), field("title", string("Yes"))])),
                              field("nfm_reply", object([field("response_json", string("{\\\"a\\\":1}")), field("body", anyValue())]))])
        case "system": content = object([field("body", anyValue()), field("wa_id", waID()), field("type", string("user_changed_number"))])
        case "edit", "revoke":
            content = object([field("original_message_id", string("wamid.E\(below(1000))")),
                              field("message", object([field("type", string("text")), field("text", object([field("body", anyValue())]))]))])
        default: content = chance(50) ? anyValue() : object([field("body", anyValue())])
        }
        return object([field("from", waID()), field("id", chance(85) ? "\"wamid.F\(next() % 100_000_000)\"" : anyValue()),
                       field("timestamp", timestamp()), field("type", "\"\(type)\""), field(type, content),
                       chance(20) ? field("context", object([field("id", anyValue()), field("forwarded", anyValue())])) : nil,
                       chance(10) ? field("referral", anyValue()) : nil,
                       chance(10) ? field("errors", "[" + object([field("code", anyValue()), field("title", anyValue())]) + "]") : nil])
    }

    private mutating func status() -> String {
        object([field("id", chance(85) ? "\"wamid.S\(below(1000))\"" : anyValue()),
                field("status", string(pick(["sent", "delivered", "read", "failed", "played", "deleted", "held_for_quality_assessment"]))),
                field("timestamp", timestamp()), field("recipient_id", waID()),
                chance(30) ? field("biz_opaque_callback_data", string(pick(["cc1:r:1:1", "cc1:o:99999999999999999999:1", "cc1:r:-1:x", "cc1:"]))) : nil,
                chance(30) ? field("errors", "[" + object([field("code", chance(50) ? "131050" : anyValue()), field("title", anyValue())]) + "]") : nil,
                chance(30) ? field("pricing", anyValue()) : nil, chance(20) ? field("conversation", anyValue()) : nil])
    }

    private mutating func change() -> String {
        let number = chance(90) ? "\"\(phoneNumberID)\"" : anyValue()
        switch below(10) {
        case 0...5:
            var value: [String?] = [field("messaging_product", "\"whatsapp\""),
                                    field("metadata", object([field("display_phone_number", "\"15550783881\""), field("phone_number_id", number)]))]
            value.append(field("contacts", "[" + (0..<(chance(80) ? 1 : below(3))).map { _ in
                object([field("profile", object([field("name", string(pick(Self.strangeStrings)))])), field("wa_id", waID())])
            }.joined(separator: ",") + "]"))
            if chance(60) {
                value.append(field("messages", chance(90) ? "[" + (0..<(chance(75) ? 1 : 2 + below(2))).map { _ in message() }.joined(separator: ",") + "]" : anyValue()))
            } else {
                value.append(field("statuses", chance(90) ? "[" + (0..<(chance(75) ? 1 : 2 + below(2))).map { _ in status() }.joined(separator: ",") + "]" : anyValue()))
            }
            if chance(5) { value.append(field("errors", anyValue())) }
            return object([field("field", "\"messages\""), field("value", object(value))])
        case 6:
            return object([field("field", "\"user_preferences\""), field("value", object([
                field("metadata", object([field("phone_number_id", number)])),
                field("user_preferences", "[" + object([field("wa_id", waID()), field("value", string(pick(["stop", "resume", "other"]))),
                                                       field("category", anyValue()), field("timestamp", anyValue())]) + "]"),
            ]))])
        case 7:
            return object([field("field", string(pick(["message_template_status_update", "message_template_quality_update", "template_category_update"]))),
                           field("value", object([field("event", anyValue()), field("message_template_id", chance(50) ? pick(Self.hugeNumbers) : anyValue()),
                                                  field("message_template_name", anyValue()), field("message_template_language", anyValue())]))])
        case 8:
            return object([field("field", string(pick(["account_update", "phone_number_quality_update", "security", "calls"]))), field("value", anyValue())])
        default:
            return anyValue()
        }
    }

    /// The next body, as bytes: a new envelope, mutated.
    public mutating func nextBody() -> [UInt8] {
        mutated(envelope())
    }

    /// A new envelope with hostile values, not yet mutated at the byte level.
    public mutating func envelope() -> [UInt8] {
        var text: String
        if chance(3) {
            text = anyValue()
        } else {
            let entries = (0..<(chance(90) ? 1 : below(4))).map { _ in
                object([field("id", string(wabaID)), chance(30) ? field("time", anyValue()) : nil,
                        field("changes", chance(95) ? "[" + (0..<(chance(75) ? 1 : 2 + below(2))).map { _ in change() }.joined(separator: ",") + "]" : anyValue())])
            }
            text = object([field("object", string("whatsapp_business_account")), field("entry", "[" + entries.joined(separator: ",") + "]")])
        }
        return Array(text.utf8)
    }

    /// A random index below `bound`, for picking among bodies made earlier.
    public mutating func index(below bound: Int) -> Int { below(bound) }

    /// The body truncated, bit-flipped, padded with random bytes or a repeated span, wrapped in deep
    /// nesting, followed by garbage, emptied, or (most often) as it was.
    public mutating func mutated(_ body: [UInt8]) -> [UInt8] {
        var bytes = body
        switch below(20) {
        case 0, 1:  // truncated
            bytes = Array(bytes.prefix(below(bytes.count + 1)))
        case 2:  // bits flipped
            for _ in 0..<(1 + below(8)) where !bytes.isEmpty { bytes[below(bytes.count)] ^= UInt8(1 << below(8)) }
        case 3:  // random bytes put in
            let insert = (0..<(1 + below(16))).map { _ in UInt8(truncatingIfNeeded: next()) }
            bytes.insert(contentsOf: insert, at: below(bytes.count + 1))
        case 4:  // a span repeated
            if bytes.count > 2 {
                let start = below(bytes.count - 1)
                let span = bytes[start..<min(bytes.count, start + 1 + below(64))]
                bytes.insert(contentsOf: Array(repeating: Array(span), count: 1 + below(50)).joined(), at: start)
            }
        case 5:  // wrapped in deep nesting
            let depth = 1 + below(chance(2) ? 100_000 : 2_000)
            bytes = Array(repeating: UInt8(ascii: "["), count: depth) + bytes + Array(repeating: UInt8(ascii: "]"), count: depth)
        case 6:  // garbage after the value, or none at all
            bytes += chance(50) ? Array(" {}".utf8) : []
            if chance(30) { bytes = [] }
        default:
            break
        }
        return bytes
    }
}
