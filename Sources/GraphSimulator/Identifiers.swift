import Foundation

/// Ids in Meta's formats.
enum Identifiers {
    /// A wamid as Meta makes them: `wamid.` and the base64 of a small record holding the
    /// user's number and a hex message id (`HBgL…`). The id joins a tag per simulator
    /// instance to a sequence number, so wamids never repeat within a run and rarely across runs.
    static func wamid(user: String, instance: UInt32, sequence: UInt64, inbound: Bool) -> String {
        let id = hex(UInt64(instance & 0xFF_FFFF), digits: 6) + hex(sequence & 0xFFFF_FFFF_FFFF, digits: 12)
        var record: [UInt8] = [0x1C, 0x18, UInt8(truncatingIfNeeded: user.utf8.count)]
        record += user.utf8
        record += [0x15, 0x02, 0x00, inbound ? 0x12 : 0x11, 0x18, UInt8(id.utf8.count)]
        record += id.utf8
        record.append(0x00)
        return "wamid." + Data(record).base64EncodedString()
    }

    /// Uppercase hexadecimal, zero-padded to `digits`.
    static func hex(_ value: UInt64, digits: Int) -> String {
        let alphabet = Array("0123456789ABCDEF".utf8)
        var text = [UInt8](repeating: UInt8(ascii: "0"), count: digits)
        var rest = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            text[index] = alphabet[Int(rest & 0xF)]
            rest >>= 4
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Base64url without padding, for paging cursors.
    static func cursor(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The text of a cursor, or nil when it is not one.
    static func decodeCursor(_ cursor: String) -> String? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { String(decoding: $0, as: UTF8.self) }
    }
}
