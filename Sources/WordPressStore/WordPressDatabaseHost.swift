import Foundation

/// A WordPress `DB_HOST` value split into host, port and socket the way WordPress's own
/// `wpdb::parse_db_host` splits it before it connects with mysqli.
///
/// WordPress accepts a host name or IP address, optionally followed by `:port`, by
/// `:/path/to/socket`, or by both (`host:port:/path/to/socket`). IPv6 addresses may be written
/// bare (`::1`, which then cannot carry a port) or in brackets (`[::1]`, `[2001:db8::5]:3310`).
///
/// Where WordPress would quietly drop part of a value (`db.example.com:33o6` connects to port
/// 3306 nowhere near what was meant), this type throws instead, so a typo is reported rather than
/// turned into a confusing connection failure.
public struct WordPressDatabaseHost: Sendable, Equatable {
    /// The host name or IP address, IPv6 addresses without brackets. Empty when only a socket was
    /// given; `"localhost"` means the client library's default Unix socket, as it does for mysqli.
    public var host: String
    /// The TCP port, when one was given.
    public var port: Int?
    /// The Unix socket path, when one was given: everything from the first `":/"` on, starting at the `/`.
    public var socket: String?
    /// Whether `host` is an IPv6 address.
    public var isIPv6: Bool

    /// Creates a value from parts that are already split.
    public init(host: String, port: Int? = nil, socket: String? = nil, isIPv6: Bool = false) {
        self.host = host
        self.port = port
        self.socket = socket
        self.isIPv6 = isIPv6
    }

    /// Splits a `DB_HOST` value as WordPress does.
    ///
    /// - Parameters:
    ///   - value: The value as written; whitespace around it is ignored.
    ///   - name: What to call the value in error messages, such as `DB_HOST` or `db_host`.
    ///   - path: The file the value came from, for error messages; empty when there is none.
    ///   - line: The line the value was set on, for error messages.
    /// - Throws: ``WordPressConfigError`` when the value is empty, has a port outside 1...65535, or
    ///   has text WordPress would silently ignore. The message names the value, never repeats it.
    public init(
        parsing value: String,
        name: String = "DB_HOST",
        path: String = "",
        line: Int? = nil
    ) throws(WordPressConfigError) {
        func failure(_ message: String) -> WordPressConfigError {
            WordPressConfigError(path: path, line: line, message: message)
        }
        let examples = "localhost, db.example.com:3306, [::1]:3306 or localhost:/var/run/mysqld/mysqld.sock"
        let unrecognised = failure(
            "\(name) is not a host name or IP address with an optional :port or :/socket/path; write it like \(examples)"
        )

        let bytes = Array(value.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard !bytes.isEmpty else {
            throw failure("\(name) is empty; set it to the database server's address, e.g. \(examples)")
        }

        // WordPress peels the socket off first, at the first ":/", keeping the "/" in the path.
        var hostPart = bytes[...]
        var socket: String?
        if let colon = bytes.indices.first(where: {
            bytes[$0] == WordPressConfigBytes.colon && $0 + 1 < bytes.count && bytes[$0 + 1] == WordPressConfigBytes.slash
        }) {
            socket = String(decoding: bytes[(colon + 1)...], as: UTF8.self)
            hostPart = bytes[..<colon]
        }

        var cursor = hostPart.startIndex
        let end = hostPart.endIndex
        var portDigits: ArraySlice<UInt8>?
        let hostBytes: ArraySlice<UInt8>
        // As in WordPress: two or more colons can only be an IPv6 address.
        let isIPv6 = hostPart.count(where: { $0 == WordPressConfigBytes.colon }) > 1

        if isIPv6 {
            let isBracketed = hostPart.first == WordPressConfigBytes.openBracket
            if isBracketed { cursor += 1 }
            let hostStart = cursor
            while cursor < end, WordPressConfigBytes.isHexDigit(hostPart[cursor]) || hostPart[cursor] == WordPressConfigBytes.colon {
                cursor += 1
            }
            hostBytes = hostPart[hostStart..<cursor]
            guard !hostBytes.isEmpty else { throw unrecognised }
            // The port is only recognised after a closing bracket: "[::1]:3306".
            if cursor + 2 < end, hostPart[cursor] == WordPressConfigBytes.closeBracket,
               hostPart[cursor + 1] == WordPressConfigBytes.colon, WordPressConfigBytes.isDigit(hostPart[cursor + 2]) {
                let digitsStart = cursor + 2
                cursor = digitsStart
                while cursor < end, WordPressConfigBytes.isDigit(hostPart[cursor]) { cursor += 1 }
                portDigits = hostPart[digitsStart..<cursor]
            }
            let rest = hostPart[cursor...]
            // WordPress's pattern leaves the closing bracket of "[::1]" (or "[::1]:", an empty port) unmatched.
            let restClosesBracket = isBracketed
                && (rest.elementsEqual([WordPressConfigBytes.closeBracket]) || rest.elementsEqual([WordPressConfigBytes.closeBracket, WordPressConfigBytes.colon]))
            guard rest.isEmpty || restClosesBracket else { throw unrecognised }
        } else {
            while cursor < end, hostPart[cursor] != WordPressConfigBytes.colon, hostPart[cursor] != WordPressConfigBytes.slash {
                cursor += 1
            }
            hostBytes = hostPart[hostPart.startIndex..<cursor]
            if cursor < end, hostPart[cursor] == WordPressConfigBytes.colon {
                let digitsStart = cursor + 1
                cursor = digitsStart
                while cursor < end, WordPressConfigBytes.isDigit(hostPart[cursor]) { cursor += 1 }
                // An empty port ("localhost:") means no port, as in WordPress.
                if cursor > digitsStart { portDigits = hostPart[digitsStart..<cursor] }
                if cursor < end {
                    throw failure("\(name) has a port that is not a number; write it as host:port, e.g. db.example.com:3306")
                }
            }
            guard cursor == end else { throw unrecognised }
            guard hostBytes.allSatisfy(WordPressConfigBytes.isHostNameCharacter) else { throw unrecognised }
        }

        var port: Int?
        if let portDigits {
            guard let number = Int(String(decoding: portDigits, as: UTF8.self)), (1...65535).contains(number) else {
                throw failure("\(name) has a port outside 1–65535; give a port from 1 to 65535, e.g. db.example.com:3306")
            }
            port = number
        }

        var host = String(decoding: hostBytes, as: UTF8.self)
        // WordPress tests the host with PHP's empty(), which treats "0" as no host at all.
        if host == "0" { host = "" }

        self.init(host: host, port: port, socket: socket, isIPv6: isIPv6)
    }
}

/// Byte classes for reading the ASCII parts of wp-config.php and `DB_HOST` values.
enum WordPressConfigBytes {
    static let colon = UInt8(ascii: ":")
    static let slash = UInt8(ascii: "/")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")

    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// Letters, digits, `.`, `-` and `_`: what DNS names and IPv4 addresses are made of.
    static func isHostNameCharacter(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }
}
