import WhatsAppCloudAPI

/// Writes JSON text straight into bytes, the way Meta's webhooks are written:
/// compact, with every character outside ASCII escaped as `\uXXXX` (digest §1.2),
/// so receivers must check signatures on the raw bytes, not on re-encoded JSON.
///
/// Status webhooks are written with it field by field: at thousands of statuses
/// a second, building a `JSONValue` tree for each costs more than the rest of a send.
struct JSONWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// JSON text written as given: punctuation and keys.
    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Bytes of JSON text written before.
    mutating func raw(_ text: [UInt8]) {
        bytes.append(contentsOf: text)
    }

    /// A quoted, escaped string.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x20..<0x7F: bytes.append(UInt8(scalar.value))
            case 0x10000...:
                // Outside the Basic Multilingual Plane: a UTF-16 surrogate pair.
                let value = scalar.value - 0x10000
                escape(UInt16(0xD800 + (value >> 10)))
                escape(UInt16(0xDC00 + (value & 0x3FF)))
            default:
                escape(UInt16(scalar.value))
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// An integer.
    mutating func number(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Any value; object keys in sorted order, numbers as `JSONValue.jsonText` writes them.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .number: raw(value.jsonText)
        case .string(let text): string(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(key)
                bytes.append(UInt8(ascii: ":"))
                self.value(members[key]!)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private mutating func escape(_ unit: UInt16) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), digits[Int(unit >> 12)], digits[Int(unit >> 8 & 0xF)],
                                  digits[Int(unit >> 4 & 0xF)], digits[Int(unit & 0xF)]])
    }
}
