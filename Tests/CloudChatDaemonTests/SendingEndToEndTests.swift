import CloudChatDaemon
import Foundation
import GraphSimulator
import MariaDB
import Sending
import TestSupport
import Testing
import WordPressStore

/// cloudchatd and the Graph API simulator wired to each other: sends go to the
/// simulator, and its signed status webhooks come back through the daemon's
/// webhook listener and processor.
@Suite("Sending end to end", .serialized, .timeLimit(.minutes(2)))
struct SendingEndToEndTests {
    static let secret = ControlAPITests.secret

    static func withDaemonAndSimulator(_ adjust: (inout GraphSimulator.Configuration) -> Void = { _ in },
                                       _ body: (RunningDaemon, GraphSimulator) async throws -> Void) async throws {
        let webhookPort = try FreePort.reserve()
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        simulated.webhookURL = "http://127.0.0.1:\(webhookPort)/webhook"
        simulated.appSecret = "app-secret-1"
        simulated.statuses.sentDelay = .milliseconds(20)
        simulated.statuses.deliveredDelay = .milliseconds(60)
        simulated.statuses.readDelay = .milliseconds(120)
        simulated.statuses.readProbability = 1
        simulated.statuses.batchWindow = .milliseconds(5)
        adjust(&simulated)
        let simulator = try await GraphSimulator.start(simulated)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText())
        chmod(keyFile, 0o600)
        do {
            try await RunningDaemon.with(configure: { configuration in
                configuration.httpPort = webhookPort
                configuration.graphBaseURL = simulator.baseURL
                configuration.secretsKeyFile = keyFile
                configuration.controlSecret = Self.secret
                configuration.uploadsDirectory = directory.path + "/uploads"
            }) { daemon in
                try await body(daemon, simulator)
            }
        } catch {
            await simulator.shutdown()
            throw error
        }
        await simulator.shutdown()
    }

    static func addContact(_ waID: String, wroteAt: Date?, accountID: UInt64, daemon: RunningDaemon) throws -> UInt64 {
        let contactID = try daemon.connection.execute("""
            INSERT INTO \(daemon.site.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
            VALUES (\(accountID), \(waID), 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
        if let wroteAt {
            try daemon.connection.execute("""
                INSERT INTO \(daemon.site.table(.conversations)) (account_id, contact_id, last_inbound_at, created_at, updated_at)
                VALUES (\(accountID), \(contactID), \(wroteAt), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
        }
        return contactID
    }

    static func queue(_ type: String, _ payload: String, contactID: UInt64, accountID: UInt64, daemon: RunningDaemon) throws -> UInt64 {
        try daemon.connection.execute("""
            INSERT INTO \(daemon.site.table(.outbox)) (account_id, contact_id, priority, type, payload_json, source, next_attempt_at, created_at, updated_at)
            VALUES (\(accountID), \(contactID), 0, \(type), \(payload), 'agent', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
    }

    static func value<T: MariaDBDecodable>(_ sql: SQLQuery, _ daemon: RunningDaemon, as type: T.Type = T.self) throws -> T? {
        try daemon.connection.queryFirst(sql)?.decode(T.self, at: 0)
    }

    @Test func credentialsTemplatesSendsAndStatusesGoRound() async throws {
        try await Self.withDaemonAndSimulator { daemon, simulator in
            let table = daemon.site.table
            // The plugin hands over the credentials; the daemon checks them with "Meta" and stores them encrypted.
            let stored = try await ControlAPITests.signed(daemon, "POST", "/v1/credentials", #"""
                {"blog_id":1,"phone_number_id":"106540352242922","waba_id":"102290129340398","access_token":"simulator-access-token","app_secret":"app-secret-1"}
                """#)
            #expect(stored.0 == 200, "\(stored.1)")
            let accountID = try #require(try Self.value("SELECT id FROM \(table(.accounts))", daemon, as: UInt64.self))
            #expect(try Self.value("SELECT verified_name FROM \(table(.accounts))", daemon, as: String.self) == "CloudChat Demo")
            let ciphertext = try #require(try Self.value("SELECT access_token_ciphertext FROM \(table(.accounts))", daemon, as: [UInt8].self))
            #expect(!String(decoding: ciphertext, as: UTF8.self).contains("simulator-access-token"))

            // New credentials start a template sync.
            try await waitUntil("templates are synced") {
                (try? Self.value("SELECT COUNT(*) FROM \(table(.templates)) WHERE name = 'hello_world' AND status = 'APPROVED'", daemon, as: Int.self)) == 1
            }

            let recent = try Self.addContact("16505551234", wroteAt: Date().addingTimeInterval(-3600), accountID: accountID, daemon: daemon)
            let silent = try Self.addContact("16505559876", wroteAt: nil, accountID: accountID, daemon: daemon)
            let reply = try Self.queue("text", #"{"type":"text","text":{"body":"Your order has shipped"}}"#, contactID: recent, accountID: accountID, daemon: daemon)
            let refused = try Self.queue("text", #"{"type":"text","text":{"body":"Hello?"}}"#, contactID: silent, accountID: accountID, daemon: daemon)
            let template = try Self.queue("template", #"{"type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}"#,
                                          contactID: silent, accountID: accountID, daemon: daemon)
            #expect(try await ControlAPITests.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1,"topic":"outbox"}"#).0 == 202)

            // The reply goes out once, and Meta's statuses carry its message row to read.
            try await waitUntil("the reply is read") {
                (try? Self.value("""
                    SELECT m.status FROM \(table(.outbox)) o JOIN \(table(.messages)) m ON m.id = o.message_id WHERE o.id = \(reply)
                    """, daemon, as: String.self)) == "read"
            }
            #expect(simulator.acceptedCount(to: "16505551234") == 1)
            #expect(simulator.acceptedCount(callbackData: "cc1:o:\(reply):1") == 1)
            let message = try #require(try daemon.connection.queryFirst("""
                SELECT m.direction, m.source, m.body, m.sent_at IS NOT NULL, m.delivered_at IS NOT NULL, o.state, o.wamid = m.wamid
                  FROM \(table(.outbox)) o JOIN \(table(.messages)) m ON m.id = o.message_id WHERE o.id = \(reply)
                """))
            #expect(try message.decode(String.self, at: 0) == "outbound")
            #expect(try message.decode(String.self, at: 1) == "agent")
            #expect(try message.decode(String?.self, at: 2) == "Your order has shipped")
            #expect(try message.decode(Int.self, at: 3) == 1)
            #expect(try message.decode(Int.self, at: 4) == 1)
            #expect(try message.decode(String.self, at: 5) == "sent")
            #expect(try message.decode(Int.self, at: 6) == 1)

            // Free-form to someone who never wrote is refused before Meta; a template reaches them.
            try await waitUntil("the template is sent") {
                (try? Self.value("SELECT state FROM \(table(.outbox)) WHERE id = \(template)", daemon, as: String.self)) == "sent"
            }
            let refusal = try #require(try daemon.connection.queryFirst("""
                SELECT state, state_reason, error_details FROM \(table(.outbox)) WHERE id = \(refused)
                """))
            #expect(try refusal.decode(String.self, at: 0) == "failed")
            #expect(try refusal.decode(String?.self, at: 1) == "outside_service_window")
            #expect(try refusal.decode(String?.self, at: 2)?.contains("template") == true)
            #expect(simulator.acceptedCount(to: "16505559876") == 1, "only the template reached the silent contact")
            #expect(try Self.value("SELECT COUNT(*) FROM \(table(.messages)) WHERE outbox_id = \(refused) AND status = 'failed'", daemon,
                                   as: Int.self) == 1, "the thread shows what was not sent")

            // Meta's answers are counted by code; a send refused before Meta was asked is not one of them.
            let metrics = try await LoopbackHTTPClient.send("GET", port: daemon.controlPort, path: "/metrics", body: [], headers: [:]).text
            #expect(metrics.contains(#"cloudchat_send_results_total{code="accepted"} 2"#), "\(metrics.split(separator: "\n").filter { $0.contains("send_results") })")
        }
    }

    @Test func aPermanentErrorEndsTheRowWithMetasReason() async throws {
        try await Self.withDaemonAndSimulator({ $0.failureRules = [.init(recipientSuffix: "0000", code: 131026, mode: .synchronous)] }) { daemon, simulator in
            let table = daemon.site.table
            let stored = try await ControlAPITests.signed(daemon, "POST", "/v1/credentials", #"""
                {"blog_id":1,"phone_number_id":"106540352242922","waba_id":"102290129340398","access_token":"simulator-access-token"}
                """#)
            #expect(stored.0 == 200, "\(stored.1)")
            let accountID = try #require(try Self.value("SELECT id FROM \(table(.accounts))", daemon, as: UInt64.self))
            let contact = try Self.addContact("16505550000", wroteAt: Date(), accountID: accountID, daemon: daemon)
            let row = try Self.queue("text", #"{"type":"text","text":{"body":"Hi"}}"#, contactID: contact, accountID: accountID, daemon: daemon)
            _ = try await ControlAPITests.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1}"#)
            try await waitUntil("the row fails") {
                (try? Self.value("SELECT state FROM \(table(.outbox)) WHERE id = \(row)", daemon, as: String.self)) == "failed"
            }
            let failed = try #require(try daemon.connection.queryFirst("""
                SELECT state_reason, error_code, attempt_count FROM \(table(.outbox)) WHERE id = \(row)
                """))
            #expect(try failed.decode(String?.self, at: 0) == "meta_error")
            #expect(try failed.decode(Int?.self, at: 1) == 131026)
            #expect(try failed.decode(Int.self, at: 2) == 1, "a permanent error is not retried")
            #expect(simulator.acceptedCount(to: "16505550000") == 0)
        }
    }

    @Test func wrongCredentialsAreRefusedBeforeTheyAreStored() async throws {
        try await Self.withDaemonAndSimulator { daemon, _ in
            let answer = try await ControlAPITests.signed(daemon, "POST", "/v1/credentials", #"""
                {"blog_id":1,"phone_number_id":"106540352242922","waba_id":"102290129340398","access_token":"not-a-token"}
                """#)
            #expect(answer.0 == 422)
            #expect(answer.1.contains("190"))
            #expect(try Self.value("SELECT COUNT(*) FROM \(daemon.site.table(.accounts))", daemon, as: Int.self) == 0)
        }
    }
}
