import Testing
@testable import WordPressStore

@Suite("DB_HOST parsing")
struct WordPressDatabaseHostTests {
    struct Example: Sendable, CustomTestStringConvertible {
        var value: String
        var expected: WordPressDatabaseHost
        var testDescription: String { "\"\(value)\"" }

        init(_ value: String, host: String, port: Int? = nil, socket: String? = nil, isIPv6: Bool = false) {
            self.value = value
            self.expected = WordPressDatabaseHost(host: host, port: port, socket: socket, isIPv6: isIPv6)
        }
    }

    static let acceptedForms: [Example] = [
        Example("localhost", host: "localhost"),
        Example("db.example.com", host: "db.example.com"),
        Example("127.0.0.1", host: "127.0.0.1"),
        Example("127.0.0.1:3307", host: "127.0.0.1", port: 3307),
        Example("localhost:/var/run/mysqld/mysqld.sock", host: "localhost", socket: "/var/run/mysqld/mysqld.sock"),
        Example(":/tmp/mysql.sock", host: "", socket: "/tmp/mysql.sock"),
        Example("[::1]:3306", host: "::1", port: 3306, isIPv6: true),
        Example("[::1]", host: "::1", isIPv6: true),
        Example("::1", host: "::1", isIPv6: true),
        Example("[2001:db8::5]:3310", host: "2001:db8::5", port: 3310, isIPv6: true),
        Example("db.example.com:3306", host: "db.example.com", port: 3306),
        // Surrounding whitespace, as a hand-edited wp-config.php may have.
        Example("  localhost  ", host: "localhost"),
        Example("\tdb.example.com:3306\n", host: "db.example.com", port: 3306),
        Example(" [::1]:3306 ", host: "::1", port: 3306, isIPv6: true),
        Example(" :/tmp/mysql.sock\n", host: "", socket: "/tmp/mysql.sock"),
        // Further forms WordPress accepts.
        Example("localhost:3306:/tmp/mysql.sock", host: "localhost", port: 3306, socket: "/tmp/mysql.sock"),
        Example("db_1.internal-net", host: "db_1.internal-net"),
        Example("localhost:", host: "localhost"),
        Example("[::1]:", host: "::1", isIPv6: true),
        Example(":3306", host: "", port: 3306),
        Example("127.0.0.1:65535", host: "127.0.0.1", port: 65535),
        Example("127.0.0.1:1", host: "127.0.0.1", port: 1),
        Example("2001:DB8::A", host: "2001:DB8::A", isIPv6: true),
        Example("[fe80::1]:/run/mysqld.sock", host: "fe80::1", socket: "/run/mysqld.sock", isIPv6: true),
        // The socket is everything from the first ":/" on, colons and all.
        Example("localhost:/run/a:/b.sock", host: "localhost", socket: "/run/a:/b.sock"),
        // WordPress tests the host with PHP's empty(), so "0" counts as no host.
        Example("0:3306", host: "", port: 3306),
    ]

    @Test("splits the forms WordPress accepts", arguments: acceptedForms)
    func splitsAcceptedForms(example: Example) throws {
        let parsed = try WordPressDatabaseHost(parsing: example.value)
        #expect(parsed == example.expected)
    }

    @Test(
        "rejects an empty value, bad ports and text WordPress would silently drop",
        arguments: [
            "", "   ", "db.example.com:0", "db.example.com:65536", "127.0.0.1:99999999999999999999999",
            "db.example.com:33o6", "db.example.com:port", "db example.com", "db.example.com/x",
            "::ffff:192.0.2.1", "[::1]x", "::1]", "fe80::1%eth0", "[db.example.com]:3306", "[2001:db8::5]:0",
        ]
    )
    func rejectsInvalidValues(value: String) {
        #expect(throws: WordPressConfigError.self) {
            try WordPressDatabaseHost(parsing: value)
        }
    }

    @Test("a bad port is reported as such, naming the setting but not repeating its value")
    func badPortMessage() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressDatabaseHost(parsing: "db.secret-host.example:99999", path: "/srv/wp-config.php", line: 31)
        }
        #expect(error.path == "/srv/wp-config.php")
        #expect(error.line == 31)
        #expect(error.message.contains("DB_HOST"))
        #expect(error.message.contains("1–65535"))
        #expect(!error.description.contains("secret-host"))
        #expect(!error.description.contains("99999"))
        #expect(error.description.hasPrefix("/srv/wp-config.php:31: DB_HOST"))
    }

    @Test("a port that is not a number gets its own message")
    func nonNumericPortMessage() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressDatabaseHost(parsing: "db.example.com:mysql")
        }
        #expect(error.message.contains("not a number"))
    }

    @Test("errors use the name the caller gives the value")
    func callerChosenName() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressDatabaseHost(parsing: "", name: "db_host", path: "/etc/cloudchat/cloudchatd.toml")
        }
        #expect(error.message.hasPrefix("db_host is empty"))
        #expect(error.description == "/etc/cloudchat/cloudchatd.toml: \(error.message)")
    }

    @Test("an error without a file describes itself by its message alone")
    func descriptionWithoutPath() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressDatabaseHost(parsing: "  ")
        }
        #expect(error.description == error.message)
    }
}
