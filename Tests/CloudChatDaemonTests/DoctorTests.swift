import CloudChatCrypto
import CloudChatDaemon
import Foundation
import GraphSimulator
import Logging
import MariaDB
import TestSupport
import Sending
import Testing
import WordPressStore

@Suite("Doctor")
struct DoctorTests {
    private func run(_ wpConfigPath: String, _ directory: TemporaryDirectory) async -> [DoctorFinding] {
        let loader = ConfigurationLoader(environment: ["CLOUDCHAT_SPOOL_DIR": directory.path + "/spool"], commandLine: [.wpConfig: wpConfigPath],
                                         defaultConfigFile: directory.path + "/absent.conf")
        return await Doctor.run(loading: loader, logger: Logger(label: "test"))
    }

    private func finding(_ findings: [DoctorFinding], _ check: String) -> DoctorFinding? {
        findings.first { $0.check == check }
    }

    @Test func reportsAMissingSchemaThenAllClearAfterMigrating() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("d", migrated: false)
        defer { scratch.drop() }
        let (connection, prefix) = (scratch.connection, scratch.prefix)
        let wpConfig = try directory.write("wp-config.php", TestDatabase.wpConfig(prefix: prefix))

        let before = await run(wpConfig, directory)
        #expect(finding(before, "database connection")?.outcome == .ok)
        #expect(finding(before, "server version")?.outcome == .ok)
        #expect(finding(before, "privileges")?.outcome == .ok)
        let schema = try #require(finding(before, "schema (\(prefix))"))
        #expect(schema.outcome == .failed)
        #expect(schema.fix == "run: cloudchatd migrate")
        // Where each setting came from is shown, the password never.
        let configuration = try #require(finding(before, "configuration"))
        #expect(configuration.detail.contains("db_name = \(TestDatabase.database)  [wp-config.php:3]"))
        #expect(!before.contains { $0.detail.contains(TestDatabase.password) || ($0.fix ?? "").contains(TestDatabase.password) })

        // Without webhook secrets, the webhooks check warns and says what to set.
        let webhooks = try #require(finding(before, "webhooks"))
        #expect(webhooks.outcome == .warning)
        #expect(webhooks.detail.contains("webhook_app_secret"))
        #expect(finding(before, "max_allowed_packet")?.outcome == .ok)

        try SchemaMigrator.migrate(try WordPressSite(blogID: 1, tablePrefix: prefix), on: connection)
        let keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText())
        chmod(keyFile, 0o600)
        let loader = ConfigurationLoader(environment: ["CLOUDCHAT_WEBHOOK_APP_SECRET": "s1,s2", "CLOUDCHAT_WEBHOOK_VERIFY_TOKEN": "t",
                                                       "CLOUDCHAT_SPOOL_DIR": directory.path + "/spool", "CLOUDCHAT_SECRETS_KEY_FILE": keyFile,
                                                       "CLOUDCHAT_CONTROL_SECRET": "control-secret"],
                                         commandLine: [.wpConfig: wpConfig], defaultConfigFile: directory.path + "/absent.conf")
        let after = await Doctor.run(loading: loader, logger: Logger(label: "test"))
        #expect(after.allSatisfy { $0.outcome == .ok }, "\(after.filter { $0.outcome != .ok })")
        #expect(finding(after, "webhooks")?.detail.contains("2 app secrets configured") == true)
        #expect(!after.contains { $0.detail.contains("s1,s2") })
    }

    @Test func namesANumberThatTwoSitesOfANetworkHave() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let network = try ScratchNetwork("dn")
        defer { network.drop() }
        let wpConfig = try directory.write("wp-config.php", TestDatabase.wpConfig(prefix: network.prefix, extra: "define( 'MULTISITE', true );"))

        let clear = await run(wpConfig, directory)
        #expect(finding(clear, "number owners")?.outcome == .ok)
        for site in network.sites.dropFirst() { try network.addAccount(site, phoneNumberID: "106540352242922") }
        let contested = try #require(finding(await run(wpConfig, directory), "number owners"))
        #expect(contested.outcome == .failed)
        #expect(contested.detail.contains("phone_number_id 106540352242922 (blogs 2, 3)"), "\(contested.detail)")
    }

    @Test func checksEachNumbersTokenWithTheGraphAPI() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("dt")
        defer { scratch.drop() }
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        let simulator = try await GraphSimulator.start(simulated)
        let keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText())
        chmod(keyFile, 0o600)
        let keyring = try SecretsKeyring(contentsOf: keyFile)
        func account(_ number: String, token: String) throws {
            let id = try scratch.connection.execute("""
                INSERT INTO \(scratch.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
                VALUES ('102290129340398', \(number), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            try AccountCredentials.store(.init(accessToken: token, appSecret: nil), accountID: id, site: scratch.site, keyring: keyring,
                                         on: scratch.connection)
        }
        try account("106540352242922", token: "simulator-access-token")
        try account("106540352242923", token: "a-revoked-token")
        let wpConfig = try directory.write("wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let loader = ConfigurationLoader(environment: ["CLOUDCHAT_SPOOL_DIR": directory.path + "/spool", "CLOUDCHAT_SECRETS_KEY_FILE": keyFile,
                                                       "CLOUDCHAT_GRAPH_BASE_URL": simulator.baseURL],
                                         commandLine: [.wpConfig: wpConfig], defaultConfigFile: directory.path + "/absent.conf")
        let findings = await Doctor.run(loading: loader, logger: Logger(label: "test"))
        await simulator.shutdown()
        let good = try #require(findings.first { $0.check.hasPrefix("token of number 106540352242922") })
        #expect(good.outcome == .ok, "\(good.detail)")
        #expect(good.detail.contains("CloudChat Demo"))
        let revoked = try #require(findings.first { $0.check.hasPrefix("token of number 106540352242923") })
        #expect(revoked.outcome == .failed)
        #expect(revoked.detail.contains("190"))
        #expect(!findings.contains { $0.detail.contains("simulator-access-token") || $0.detail.contains("a-revoked-token") })
    }

    @Test func explainsAWrongPasswordWithoutShowingIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let wpConfig = try directory.write("wp-config.php", TestDatabase.wpConfig(prefix: "wp_", password: "not-the-password-91f3"))
        let findings = await run(wpConfig, directory)
        let connection = try #require(finding(findings, "database connection"))
        #expect(connection.outcome == .failed)
        #expect(connection.detail.contains("access denied"))
        #expect(connection.fix?.contains("db_password") == true)
        #expect(!findings.contains { $0.detail.contains("not-the-password-91f3") || ($0.fix ?? "").contains("not-the-password-91f3") })
    }

    @Test func namesAWrongTablePrefix() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let wpConfig = try directory.write("wp-config.php", TestDatabase.wpConfig(prefix: TestDatabase.uniqueName("absent") + "_"))
        let findings = await run(wpConfig, directory)
        let schema = try #require(findings.first { $0.check.hasPrefix("schema") })
        #expect(schema.outcome == .failed)
        #expect(schema.fix?.contains("table_prefix") == true)
    }

    @Test func reportsAConfigurationErrorAsAFinding() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let findings = await run(directory.path + "/missing/wp-config.php", directory)
        #expect(findings.count == 1)
        #expect(findings[0].check == "configuration")
        #expect(findings[0].outcome == .failed)
        #expect(findings[0].detail.contains("missing/wp-config.php"))
    }
}
