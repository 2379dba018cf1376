import MariaDB
import Testing

@Suite("Server version")
struct ServerVersionTests {
    @Test(arguments: [
        ("10.11.6-MariaDB-0+deb12u1", MariaDBServerVersion.Product.mariaDB, 10, 11, true),
        ("5.5.5-10.6.12-MariaDB-log", .mariaDB, 10, 6, true),
        ("10.5.21-MariaDB", .mariaDB, 10, 5, false),
        ("10.3.39-MariaDB-0+deb10u1", .mariaDB, 10, 3, false),
        ("11.4.2-MariaDB", .mariaDB, 11, 4, true),
        ("8.0.36-0ubuntu0.22.04.1", .mySQL, 8, 0, true),
        ("5.7.44-log", .mySQL, 5, 7, false),
    ])
    func parses(_ text: String, _ product: MariaDBServerVersion.Product, _ major: Int, _ minor: Int, _ skipLocked: Bool) throws {
        let version = try #require(MariaDBServerVersion(parsing: text))
        #expect(version.product == product)
        #expect(version.major == major)
        #expect(version.minor == minor)
        #expect(version.supportsSkipLocked == skipLocked)
    }

    @Test func rejectsGarbage() {
        #expect(MariaDBServerVersion(parsing: "") == nil)
        #expect(MariaDBServerVersion(parsing: "MariaDB") == nil)
    }
}
