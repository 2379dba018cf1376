import Foundation
import MariaDB

/// A MariaDB server of a test's own, started with `scripts/mariadb-dev.sh` in a
/// temporary directory on its own port, for tests that stop or restart the
/// server and so must not disturb the shared one.
public final class PrivateMariaDBServer: Sendable {
    /// Where its data, socket and log live.
    public let directory: TemporaryDirectory
    /// Its TCP port on loopback.
    public let port: Int

    /// Initialises and starts the server.
    public init() throws {
        directory = try TemporaryDirectory()
        port = Int.random(in: 20_000...29_999)
        try control("start")
    }

    /// The connection settings, through the server's socket.
    public var configuration: MariaDBConfiguration {
        MariaDBConfiguration(host: "localhost", socket: directory.path + "/mysqld.sock", database: TestDatabase.database,
                             user: TestDatabase.user, password: TestDatabase.password)
    }

    /// Stops the server (its data is kept).
    public func stop() throws { try control("stop") }

    /// Starts it again.
    public func start() throws { try control("start") }

    /// Stops the server and deletes its directory.
    public func remove() {
        try? control("stop")
        directory.remove()
    }

    private func control(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [TestDatabase.repositoryRoot.appendingPathComponent("scripts/mariadb-dev.sh").path, command]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "CLOUDCHAT_DEV_DIR": directory.path, "CLOUDCHAT_DEV_DB_PORT": String(port),
        ]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "mariadb-dev.sh \(command) failed: \(text)"])
        }
    }
}
