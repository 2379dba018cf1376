import CloudChatCrypto
import CloudChatDaemon
import Foundation
import GraphSimulator
import Logging
import MariaDB
import Sending
import TestSupport
import Testing
import WordPressStore

/// Credentials at rest and a key rotation under a running daemon, with sends going to the Graph simulator.
@Suite("Secrets key rotation end to end", .serialized, .timeLimit(.minutes(2)))
struct KeyRotationEndToEndTests {
    static let token = "EAAG-simulator-access-token-7f3a9c"
    static let appSecret = "app-secret-1"

    /// Everything `mariadb-dump` writes for the site's tables.
    static func dump(_ site: WordPressSite, on connection: MariaDBConnection) throws -> String {
        let tables = try connection.query("""
            SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE \(site.tablePrefix + "%")
            """).map { try $0.decode(String.self, at: 0) }
        let database = TestDatabase.configuration()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mariadb-dump")
        process.arguments = ["--socket=\(database.socket ?? "")", "--user=\(database.user)", "--single-transaction", "--skip-lock-tables",
                             "--no-tablespaces", database.database, "--tables"] + tables
        process.environment = ["MYSQL_PWD": database.password]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    static func forms(of secret: String) -> [String] {
        let bytes = Array(secret.utf8)
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        return [secret, Data(bytes).base64EncodedString(), hex, hex.uppercased(), String(secret.reversed())]
    }

    @Test func aDumpHoldsNoUsableTokenAndTheDaemonKeepsSendingAcrossARotation() async throws {
        let webhookPort = try FreePort.reserve()
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        simulated.webhookURL = "http://127.0.0.1:\(webhookPort)/webhook"
        simulated.appSecret = Self.appSecret
        simulated.accessTokens = [Self.token]
        let simulator = try await GraphSimulator.start(simulated)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText(keyID: "k1"))
        chmod(keyFile, 0o600)
        let scratch = try ScratchSite("kre")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        do {
            // Credentials stored encrypted, as `cloudchatd credentials set` and the control API store them.
            let accountID = try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, display_phone_number, state, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', '15550783881', 'active', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            let original = try SecretsKeyring(contentsOf: keyFile)
            try AccountCredentials.store(AccountSecrets(accessToken: Self.token, appSecret: Self.appSecret), accountID: accountID,
                                         site: site, keyring: original, on: connection)

            // The dump holds neither secret in any encoding, nor the key; its ciphertext opens only with the key file.
            let dump = try Self.dump(site, on: connection)
            #expect(dump.contains("cloudchat_accounts") && dump.contains("106540352242922"), "the dump has the account row")
            for form in Self.forms(of: Self.token) + Self.forms(of: Self.appSecret) {
                #expect(!dump.contains(form), "the dump holds a secret as \(form.prefix(6))…")
            }
            let keyBytes = try #require(String(decoding: FileManager.default.contents(atPath: keyFile)!, as: UTF8.self)
                .split(separator: "\n").first { $0.hasPrefix("k1 ") }?.split(separator: " ").last)
            #expect(!dump.contains(String(keyBytes)))
            let ciphertext = try #require(try connection.queryFirst("""
                SELECT access_token_ciphertext FROM \(site.table(.accounts)) WHERE id = \(accountID)
                """)?.decode([UInt8].self, at: 0))
            let box = try AES256GCM.SealedBox(combined: ciphertext)
            let aad = "cloudchat_accounts.access_token_ciphertext#\(accountID)"
            #expect(throws: (any Error).self) { try AES256GCM.open(box, key: try SymmetricKey(bytes: Data(count: 32)), associatedData: aad) }
            #expect(throws: (any Error).self) {
                try AES256GCM.open(box, key: try SymmetricKey(bytes: Data(SecureRandom.bytes(count: 32))), associatedData: aad)
            }
            #expect(String(decoding: try AES256GCM.open(box, key: original.current.key, associatedData: aad), as: UTF8.self) == Self.token)

            // Rotate and drop the old key: the file no longer holds the key the credentials were stored with.
            var options = SecretsKeyRotation.Options()
            options.newKeyID = "k2"
            options.dropOldKeys = true
            let report = try SecretsKeyRotation.rotate(keyFile: keyFile, sites: [site], options: options, on: connection)
            #expect(report.sites.first?.reencrypted == 1 && report.droppedKeys == ["k1"] && report.isComplete)
            #expect(try SecretsKeyring(contentsOf: keyFile).key(id: "k1") == nil)
            #expect(try connection.queryFirst("SELECT secrets_key_id FROM \(site.table(.accounts))")?.decode(String.self, at: 0) == "k2")
            let rotatedDump = try Self.dump(site, on: connection)
            for form in Self.forms(of: Self.token) + Self.forms(of: Self.appSecret) { #expect(!rotatedDump.contains(form)) }

            // The daemon, started on the rotated site, reads the credentials with the new key and sends through "Meta".
            let contactID = try connection.execute("""
                INSERT INTO \(site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
                VALUES (\(accountID), '16505551234', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            try connection.execute("""
                INSERT INTO \(site.table(.conversations)) (account_id, contact_id, last_inbound_at, created_at, updated_at)
                VALUES (\(accountID), \(contactID), UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            let outbox = try connection.execute("""
                INSERT INTO \(site.table(.outbox)) (account_id, contact_id, priority, type, payload_json, source, next_attempt_at, created_at, updated_at)
                VALUES (\(accountID), \(contactID), 0, 'text', '{"type":"text","text":{"body":"Your order has shipped"}}', 'agent',
                        UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            var configuration = DaemonConfiguration.forTests(prefix: site.tablePrefix)
            configuration.httpPort = webhookPort
            configuration.webhookAppSecrets = [Self.appSecret]
            configuration.spoolDirectory = directory.path + "/spool"
            configuration.graphBaseURL = simulator.baseURL
            configuration.secretsKeyFile = keyFile
            configuration.uploadsDirectory = directory.path + "/uploads"
            let parts = try await Daemon.assemble(configuration: configuration, logger: Logger(label: "test"), shutdownSignals: [])
            async let running: Void = parts.group.run()
            do {
                try await waitUntil("the message is sent with the rotated credentials") {
                    (try? connection.queryFirst("SELECT state FROM \(site.table(.outbox)) WHERE id = \(outbox)")?.decode(String.self, at: 0)) == "sent"
                }
                #expect(simulator.acceptedCount(to: "16505551234") == 1)
            } catch {
                await parts.group.triggerGracefulShutdown()
                try await running
                throw error
            }
            await parts.group.triggerGracefulShutdown()
            try await running
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }
}
