/// A server's product and version, read from its version string.
public struct MariaDBServerVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    /// Which server.
    public enum Product: String, Sendable { case mariaDB = "MariaDB", mySQL = "MySQL" }

    /// MariaDB or MySQL.
    public let product: Product
    /// Major version.
    public let major: Int
    /// Minor version.
    public let minor: Int
    /// Patch version.
    public let patch: Int

    /// Parses strings such as `10.11.6-MariaDB-0+deb12u1`, `5.5.5-10.6.12-MariaDB` or `8.0.36-0ubuntu0.22.04.1`.
    /// Returns nil for anything else.
    public init?(parsing text: String) {
        var rest = Substring(text)
        // Old MySQL clients need a 5.x version, so MariaDB may prefix its own with "5.5.5-".
        if rest.hasPrefix("5.5.5-") { rest = rest.dropFirst(6) }
        let numbers = rest.prefix { $0.isNumber || $0 == "." }.split(separator: ".").compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        product = text.localizedCaseInsensitiveContains("mariadb") ? .mariaDB : .mySQL
        major = numbers[0]
        minor = numbers[1]
        patch = numbers.count > 2 ? numbers[2] : 0
    }

    /// Creates a version from its parts.
    public init(product: Product, major: Int, minor: Int, patch: Int = 0) {
        self.product = product
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Whether `SELECT … FOR UPDATE SKIP LOCKED` is available (MariaDB 10.6, MySQL 8.0).
    public var supportsSkipLocked: Bool {
        switch product {
        case .mariaDB: return (major, minor) >= (10, 6)
        case .mySQL: return major >= 8
        }
    }

    public var description: String { "\(product.rawValue) \(major).\(minor).\(patch)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }
}
