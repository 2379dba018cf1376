import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Privacy
import Synchronization
import TestSupport
import Testing
import WebhookIngest
import WhatsAppCloudAPI
import WordPressStore

/// One daemon serving three separate WordPress installs on one database server: the first,
/// a second beside it in the same database under another prefix, and a third in a database
/// of its own under the very same prefix as the first. Each install's webhooks, control
/// requests, erasures and exports reach its own rows and no other's.
@Suite("Install isolation", .serialized, .timeLimit(.minutes(2)))
struct InstallIsolationTests {
    static let waba = "102290129340398"
    static let numberFirst = "106540352243001"
    static let numberBeside = "106540352243002"
    static let numberApart = "106540352243003"

    /// Three installs, migrated, each with a business number.
    final class Installs {
        let connection: MariaDBConnection
        let first: WordPressSite
        let beside: WordPressSite
        let apart: WordPressSite
        let apartDatabase: String
        let files: TemporaryDirectory

        init() throws {
            connection = try TestDatabase.connect()
            files = try TemporaryDirectory()
            let prefix = TestDatabase.uniqueName("ia") + "_"
            first = try WordPressSite(blogID: 1, tablePrefix: prefix)
            beside = try WordPressSite(blogID: 1, tablePrefix: TestDatabase.uniqueName("ib") + "_")
            // The test user may create databases named cloudchat_…
            apartDatabase = "cloudchat_" + TestDatabase.uniqueName("apart")
            apart = try WordPressSite(blogID: 1, tablePrefix: prefix, database: apartDatabase)
            try connection.execute(unsafeSQL: "CREATE DATABASE `\(apartDatabase)` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            try WordPressFixture.createOptionsTable(prefix: first.tablePrefix, on: connection)
            try WordPressFixture.createOptionsTable(prefix: beside.tablePrefix, on: connection)
            let apartConnection = try MariaDBConnection(configuration: TestDatabase.configuration(database: apartDatabase))
            try WordPressFixture.createOptionsTable(prefix: prefix, on: apartConnection)
            // The third install is migrated through the first's connection, as the daemon does it.
            for (site, number) in [(first, numberFirst), (beside, numberBeside), (apart, numberApart)] {
                try SchemaMigrator.migrate(site, on: connection)
                try connection.execute("""
                    INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
                    VALUES (\(waba), \(number), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                    """)
            }
        }

        var configuration: DaemonConfiguration {
            var configuration = DaemonConfiguration.forTests(prefix: first.tablePrefix)
            configuration.webhookAppSecrets = ["app-secret-1"]
            configuration.controlSecret = ControlAPITests.secret
            configuration.spoolDirectory = files.path + "/spool"
            configuration.secretsKeyFile = files.path + "/no-key-file"
            configuration.uploadsDirectory = files.path + "/first/uploads"
            configuration.otherInstalls = [
                WordPressInstall(source: "beside/wp-config.php", database: nil, tablePrefix: beside.tablePrefix, multisite: false,
                                 uploadsDirectory: files.path + "/beside/uploads"),
                WordPressInstall(source: "apart/wp-config.php", database: apartDatabase, tablePrefix: apart.tablePrefix, multisite: false,
                                 uploadsDirectory: files.path + "/apart/uploads"),
            ]
            return configuration
        }

        func count(_ site: WordPressSite, _ table: CloudChatTable, _ condition: SQLQuery = "1 = 1") throws -> Int {
            try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(table)) WHERE \(condition)")!.decode(Int.self, at: 0)
        }

        func bodies(_ site: WordPressSite) throws -> [String] {
            try connection.query("SELECT body FROM \(site.table(.webhookEvents)) ORDER BY id").map {
                String(decoding: try $0.decode([UInt8].self, at: 0), as: UTF8.self)
            }
        }

        func contactID(_ site: WordPressSite, _ waID: String) throws -> UInt64? {
            try connection.queryFirst("SELECT id FROM \(site.table(.contacts)) WHERE wa_id = \(waID)")?.decode(UInt64.self, at: 0)
        }

        func drop() {
            try? WordPressFixture.dropTables(prefix: first.tablePrefix, on: connection)
            try? WordPressFixture.dropTables(prefix: beside.tablePrefix, on: connection)
            _ = try? connection.execute(unsafeSQL: "DROP DATABASE IF EXISTS `\(apartDatabase)`")
            files.remove()
        }
    }

    struct Running {
        let installs: Installs
        let listeners: DaemonListeners
    }

    static func withDaemon(_ body: (Running) async throws -> Void) async throws {
        let installs = try Installs()
        defer { installs.drop() }
        try await DaemonListeners.running(installs.configuration) { listeners, parts in
            #expect(parts.sites == [installs.first, installs.beside, installs.apart])
            try await body(Running(installs: installs, listeners: listeners))
        }
    }

    static func siteFields(_ site: WordPressSite) -> String {
        #""table_prefix":"\#(site.tablePrefix)","db_name":"\#(site.database ?? TestDatabase.database)""#
    }

    @Test func eachInstallKeepsItsOwnWebhooksContactsAndRequests() async throws {
        try await Self.withDaemon { daemon in
            let installs = daemon.installs
            let (first, beside, apart) = (installs.first, installs.beside, installs.apart)
            let change = SiteIsolationTests.change
            // Ana writes to the first install's number, Bo to the one beside it; Cy to the first and the one
            // apart, in one body that has to be split between two databases.
            #expect(try await daemon.listeners.webhook(SiteIsolationTests.envelope(change(Self.numberFirst, "16505550001", "Ana", "wamid.IA1", "first only"))) == 200)
            #expect(try await daemon.listeners.webhook(SiteIsolationTests.envelope(change(Self.numberBeside, "16505550002", "Bo", "wamid.IB1", "beside only"))) == 200)
            #expect(try await daemon.listeners.webhook(SiteIsolationTests.envelope(
                change(Self.numberFirst, "16505550003", "Cy", "wamid.IC1", "cy to first"),
                change(Self.numberApart, "16505550003", "Cy", "wamid.IC2", "cy to apart"))) == 200)
            try await waitUntil("every install processed its messages") {
                (try? installs.count(first, .messages)) == 2 && (try? installs.count(beside, .messages)) == 1
                    && (try? installs.count(apart, .messages)) == 1
            }
            #expect(try installs.count(first, .messages, "wamid IN ('wamid.IA1', 'wamid.IC1')") == 2)
            #expect(try installs.count(beside, .messages, "wamid = 'wamid.IB1'") == 1)
            #expect(try installs.count(apart, .messages, "wamid = 'wamid.IC2'") == 1)
            #expect(try installs.count(apart, .contacts, "wa_id = '16505550001'") == 0, "Ana is not the third install's contact")
            #expect(try installs.bodies(first).allSatisfy { !$0.contains("beside only") && !$0.contains("cy to apart") })
            #expect(try installs.bodies(beside).allSatisfy { !$0.contains("first only") && !$0.contains("cy to") })
            #expect(try installs.bodies(apart).allSatisfy { !$0.contains("first only") && !$0.contains("cy to first") && !$0.contains("beside") })

            // A plugin that names only a blog id cannot say which install it is.
            let ambiguous = try await daemon.listeners.control("POST", "/v1/notify", #"{"blog_id":1,"topic":"outbox"}"#)
            #expect(ambiguous.0 == 400 && ambiguous.1.contains("several WordPress installs"), "\(ambiguous.1)")
            // Prefix and database name the install; the same prefix in another database is another site.
            #expect(try await daemon.listeners.control("POST", "/v1/notify", "{\(Self.siteFields(apart)),\"topic\":\"outbox\"}").0 == 202)
            #expect(try await daemon.listeners.control("POST", "/v1/notify", #"{"table_prefix":"nope_","topic":"outbox"}"#).0 == 404)

            // The third install's own secret reaches its site, and nothing of the first's.
            let apartSecret = ControlSecrets.installSecret(controlSecret: ControlAPITests.secret, database: installs.apartDatabase,
                                                           tablePrefix: apart.tablePrefix)
            let status = try await daemon.listeners.control("GET", "/v1/status?blog_id=1&table_prefix=\(apart.tablePrefix)&db_name=\(installs.apartDatabase)",
                                                  secret: apartSecret)
            #expect(status.0 == 200, "\(status.1)")
            let listed = try JSONValue.parse(Array(status.1.utf8))["sites"]?.arrayValue ?? []
            #expect(listed.count == 1 && listed.first?["site"]?.stringValue == apart.key, "\(status.1)")
            let cyFirst = try #require(try installs.contactID(first, "16505550003"))
            let cyApart = try #require(try installs.contactID(apart, "16505550003"))
            let reachFirst = try await daemon.listeners.control("POST", "/v1/contacts/\(cyFirst)/erase", "{\(Self.siteFields(first))}", secret: apartSecret)
            #expect(reachFirst.0 == 401, "another install's secret does not sign for the first: \(reachFirst.1)")
            let live = try await daemon.listeners.control("GET", "/v1/status?live=1&table_prefix=\(apart.tablePrefix)&db_name=\(installs.apartDatabase)",
                                                secret: apartSecret)
            #expect(live.0 == 200 && !live.1.contains("processing") && !live.1.contains(Self.numberFirst), "\(live.1)")
            #expect(try installs.count(first, .contacts, "id = \(cyFirst)") == 1)

            // An export in the third install holds its rows only.
            let export = try ContactExporter(site: apart, mediaDirectory: "/nonexistent")
                .export(contactIDs: [cyApart], actor: .daemon, on: installs.connection)
            let document = String(decoding: export.json, as: UTF8.self)
            #expect(document.contains("cy to apart") && !document.contains("cy to first") && !document.contains("wamid.IC1"))

            // Erasing Cy in the third install, with its own secret, leaves the first install's Cy as they were.
            let erased = try await daemon.listeners.control("POST", "/v1/contacts/\(cyApart)/erase", "{\(Self.siteFields(apart))}", secret: apartSecret)
            #expect(erased.0 == 200, "\(erased.1)")
            #expect(try installs.count(apart, .contacts, "wa_id = '16505550003'") == 0)
            #expect(try installs.bodies(apart).allSatisfy { !$0.contains("16505550003") })
            #expect(try installs.count(first, .contacts, "wa_id = '16505550003'") == 1)
            #expect(try installs.count(first, .messages, "wamid = 'wamid.IC1'") == 1)
            #expect(try installs.bodies(first).contains { $0.contains("cy to first") })
        }
    }

    @Test func installsThatWouldShareTablesOrCannotBeReadStopTheStart() async throws {
        let installs = try Installs()
        defer { installs.drop() }
        var sharing = installs.configuration
        sharing.otherInstalls.append(WordPressInstall(source: "copy/wp-config.php", database: nil, tablePrefix: installs.beside.tablePrefix,
                                                      multisite: false, uploadsDirectory: "/tmp"))
        var unreadable = installs.configuration
        unreadable.otherInstalls = [WordPressInstall(source: "locked/wp-config.php", database: "not_granted_db", tablePrefix: "wp_",
                                                     multisite: false, uploadsDirectory: "/tmp")]
        let shared = #expect(throws: ServeError.self) { try sharing.discoverSites(on: installs.connection) }
        #expect(shared?.description.contains("cannot share tables") == true, "\(String(describing: shared))")
        let denied = #expect(throws: ServeError.self) { try unreadable.discoverSites(on: installs.connection) }
        #expect(denied?.description.contains("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON `not_granted_db`.*") == true,
                "\(String(describing: denied))")
        #expect(try installs.configuration.discoverSites(on: installs.connection) == [installs.first, installs.beside, installs.apart])
    }

    @Test func spooledWebhooksDrainIntoTheDatabaseOfTheirInstall() async throws {
        let installs = try Installs()
        defer { installs.drop() }
        let spool = try WebhookSpool(directory: installs.files.path + "/spool")
        let row = { (text: String) in
            WebhookEventRow(receivedAt: Date(), phoneNumberID: Self.numberApart, wabaID: Self.waba, isSplit: false,
                            processingState: "pending", body: Array(text.utf8))
        }
        try await spool.append([(installs.apart.key, row("for apart")), (installs.first.key, row("for first"))])
        let pool = MariaDBPool(configuration: installs.configuration.mariaDB, size: 1, logger: Logger(label: "test"))
        // The drainer knows only the first install: the key alone names the other's database.
        let drainer = WebhookSpoolDrainer(spool: spool, pool: pool, sites: [installs.first], logger: Logger(label: "test"))
        #expect(try await drainer.drainOldest())
        await pool.shutdown()
        #expect(try installs.bodies(installs.apart) == ["for apart"])
        #expect(try installs.bodies(installs.first) == ["for first"])
    }
}
