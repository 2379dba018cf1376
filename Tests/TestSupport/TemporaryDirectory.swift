import Foundation

/// A directory under the system's temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    /// Its path.
    public let path: String

    /// Creates a fresh, empty directory.
    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cloudchat-test-" + UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes a file inside the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ contents: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension TestDatabase {
    /// A wp-config.php for the test server, reached through its socket, with the given table prefix.
    public static func wpConfig(prefix: String, password: String? = nil, extra: String = "") -> String {
        """
        <?php
        /** Test site. */
        define( 'DB_NAME', '\(database)' );
        define( 'DB_USER', '\(user)' );
        define( 'DB_PASSWORD', '\(password ?? self.password)' );
        define( 'DB_HOST', 'localhost:\(socket)' );
        define( 'DB_CHARSET', 'utf8mb4' );
        \(extra)
        $table_prefix = '\(prefix)';
        require_once ABSPATH . 'wp-settings.php';
        """
    }
}
