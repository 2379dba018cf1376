/// Where and how to connect to a MariaDB (or MySQL) server.
///
/// The endpoint follows the same rules as PHP's mysqli, so a WordPress
/// `DB_HOST` means the same thing here as it does to WordPress: a `host` of
/// `localhost` (or empty) with no `socket` uses the client library's default
/// unix socket; a `socket` path is used whenever the host is `localhost` or
/// empty; anything else is TCP (IPv4, IPv6 or a name) on `port`.
public struct MariaDBConfiguration: Sendable, CustomStringConvertible {
    /// Host name or address; `localhost` or empty means a unix socket.
    public var host: String
    /// TCP port; `nil` means 3306.
    public var port: Int?
    /// Unix socket path, used when `host` is `localhost` or empty.
    public var socket: String?
    /// The database (schema) to use.
    public var database: String
    /// The user name.
    public var user: String
    /// The password. Never part of `description` or any error.
    public var password: String
    /// Seconds to wait for a connection to open.
    public var connectTimeoutSeconds: UInt32 = 10
    /// Seconds to wait for the server to answer one statement. Must exceed the
    /// longest statement the caller runs (the default allows a minute).
    public var readTimeoutSeconds: UInt32 = 60
    /// Seconds to wait when sending to the server.
    public var writeTimeoutSeconds: UInt32 = 60
    /// Shown in the server's process list and performance schema.
    public var programName: String = "cloudchatd"

    /// Creates a configuration.
    public init(host: String, port: Int? = nil, socket: String? = nil, database: String, user: String, password: String) {
        self.host = host
        self.port = port
        self.socket = socket
        self.database = database
        self.user = user
        self.password = password
    }

    /// True when this configuration connects through a unix socket.
    public var usesUnixSocket: Bool { host.isEmpty || host == "localhost" }

    /// The endpoint in words, e.g. `unix socket /run/mysqld/mysqld.sock` or `TCP [::1]:3306`.
    public var endpointDescription: String {
        if usesUnixSocket {
            return "unix socket \(socket ?? "(client default)")"
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "TCP \(shownHost):\(port ?? 3306)"
    }

    /// Safe to log: the password is never shown.
    public var description: String {
        "\(user)@\(endpointDescription)/\(database)"
    }
}
