import Foundation
import MariaDB

/// Settings for the real MariaDB server the integration tests use.
///
/// `scripts/mariadb-dev.sh start` starts one (its own data directory and
/// socket under `.dev/`); `scripts/test.sh` starts it and exports these
/// variables. Without them the defaults point at that same server.
public enum TestDatabase {
    private static let environment = ProcessInfo.processInfo.environment

    /// The repository root, found from this file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The unix socket of the test server.
    public static var socket: String {
        environment["CLOUDCHAT_TEST_DB_SOCKET"] ?? repositoryRoot.appendingPathComponent(".dev/mariadb/mysqld.sock").path
    }

    /// The TCP port of the test server (on 127.0.0.1 and ::1).
    public static var port: Int { environment["CLOUDCHAT_TEST_DB_PORT"].flatMap(Int.init) ?? 3307 }
    /// The test database.
    public static var database: String { environment["CLOUDCHAT_TEST_DB_NAME"] ?? "cloudchat_test" }
    /// The test user.
    public static var user: String { environment["CLOUDCHAT_TEST_DB_USER"] ?? "cloudchat" }
    /// The test user's password.
    public static var password: String { environment["CLOUDCHAT_TEST_DB_PASSWORD"] ?? "cloudchat-dev-password" }

    /// How a test reaches the server.
    public enum Route: String, Sendable, CaseIterable, CustomStringConvertible {
        case unixSocket, ipv4, ipv6
        public var description: String { rawValue }
    }

    /// A configuration for the test server over the given route.
    public static func configuration(_ route: Route = .unixSocket, database: String? = nil) -> MariaDBConfiguration {
        let name = database ?? self.database
        switch route {
        case .unixSocket:
            return MariaDBConfiguration(host: "localhost", socket: socket, database: name, user: user, password: password)
        case .ipv4:
            return MariaDBConfiguration(host: "127.0.0.1", port: port, database: name, user: user, password: password)
        case .ipv6:
            return MariaDBConfiguration(host: "::1", port: port, database: name, user: user, password: password)
        }
    }

    /// Opens a connection, with a hint on how to start the server when it is not running.
    public static func connect(_ route: Route = .unixSocket) throws -> MariaDBConnection {
        do {
            return try MariaDBConnection(configuration: configuration(route))
        } catch {
            throw TestDatabaseUnavailable(underlying: error)
        }
    }

    /// A name unique to this test run, for scratch tables and prefixes, so tests can run in parallel.
    public static func uniqueName(_ stem: String) -> String {
        let suffix = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        return "\(stem)_\(suffix)"
    }
}

/// The test server could not be reached.
public struct TestDatabaseUnavailable: Error, CustomStringConvertible {
    public let underlying: MariaDBError
    public var description: String {
        "the test MariaDB server is not reachable (\(underlying)); start it with `scripts/mariadb-dev.sh start` or run the tests with `scripts/test.sh`"
    }
}
