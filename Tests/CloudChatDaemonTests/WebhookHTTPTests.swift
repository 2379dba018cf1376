import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Sending
import Synchronization
import TestSupport
import Testing
import WordPressStore

extension DaemonConfiguration {
    /// The test database's settings for one scratch site, both listeners on free ports.
    static func forTests(prefix: String) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        let database = TestDatabase.configuration()
        configuration.databaseHost = database.host
        configuration.databaseSocket = database.socket
        configuration.databaseName = database.database
        configuration.databaseUser = database.user
        configuration.databasePassword = database.password
        configuration.tablePrefix = prefix
        configuration.multisite = false
        configuration.httpPort = 0
        configuration.controlPort = 0
        return configuration
    }
}

/// A daemon assembled in-process against the test database, listening on free ports.
struct RunningDaemon {
    let port: Int
    let controlPort: Int
    let site: WordPressSite
    let connection: MariaDBConnection
    let parts: Daemon.Parts

    static func with(appSecrets: [String] = ["app-secret-1"], idleTimeout: Int = 30, maxBody: Int = 1024 * 1024,
                     configure: (inout DaemonConfiguration) -> Void = { _ in },
                     systemd: SystemdNotifier? = nil, watchdogInterval: Duration? = nil,
                     _ body: (RunningDaemon) async throws -> Void) async throws {
        let spoolDirectory = try TemporaryDirectory()
        defer { spoolDirectory.remove() }
        let scratch = try ScratchSite("h")
        defer { scratch.drop() }
        let (connection, site, prefix) = (scratch.connection, scratch.site, scratch.prefix)

        var configuration = DaemonConfiguration.forTests(prefix: prefix)
        configuration.httpIdleTimeoutSeconds = idleTimeout
        configuration.webhookMaxBodyBytes = maxBody
        configuration.webhookAppSecrets = appSecrets
        configuration.webhookVerifyToken = "verify-me"
        configuration.spoolDirectory = spoolDirectory.path + "/spool"
        configuration.secretsKeyFile = spoolDirectory.path + "/no-key-file"
        configure(&configuration)

        let port = Mutex(0)
        let controlPort = Mutex(0)
        let parts = try await Daemon.assemble(configuration: configuration, logger: Logger(label: "test"), shutdownSignals: [],
                                              onListening: { bound in port.withLock { $0 = bound } },
                                              onControlListening: { bound in controlPort.withLock { $0 = bound } },
                                              systemd: systemd, watchdogInterval: watchdogInterval)
        async let running: Void = parts.group.run()
        try await waitUntil("the listeners are up") { port.withLock { $0 } != 0 && controlPort.withLock { $0 } != 0 }
        try await body(RunningDaemon(port: port.withLock { $0 }, controlPort: controlPort.withLock { $0 }, site: site, connection: connection,
                                     parts: parts))
        await parts.group.triggerGracefulShutdown()
        try await running
    }

    func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) async throws -> (Int, String) {
        let response = try await LoopbackHTTPClient.send(method, port: port, path: path, body: body ?? [], headers: headers)
        return (response.status, response.text)
    }

    func storedBodies() throws -> [[UInt8]] {
        try connection.query("SELECT body FROM \(site.table(.webhookEvents)) ORDER BY id").map { try $0.decode([UInt8].self, at: 0) }
    }
}

private let sampleBody = Array("""
    {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]}}]}]}
    """.utf8)

@Suite("Webhook HTTP endpoints", .serialized, .timeLimit(.minutes(2)))
struct WebhookHTTPTests {
    @Test func verificationHandshake() async throws {
        try await RunningDaemon.with { (daemon: RunningDaemon) async throws in
            let ok = try await daemon.request("GET", "/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
            #expect(ok.0 == 200)
            #expect(ok.1 == "1158201444")
            #expect(try await daemon.request("GET", "/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1").0 == 403)
            #expect(try await daemon.request("GET", "/webhook?hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1").0 == 403)
            #expect(try await daemon.request("GET", "/webhook").0 == 403)
        }
    }

    @Test func signedBodiesAreStoredAsReceivedAndOthersAreNot() async throws {
        try await RunningDaemon.with(appSecrets: ["app-secret-1", "app-secret-2"]) { (daemon: RunningDaemon) async throws in
            let signature = HMACSHA256.signatureHeader(for: sampleBody, secret: "app-secret-2")
            let accepted = try await daemon.request("POST", "/webhook", body: sampleBody, headers: ["X-Hub-Signature-256": signature, "Content-Type": "application/json"])
            #expect(accepted.0 == 200)
            #expect(try daemon.storedBodies() == [sampleBody])

            #expect(try await daemon.request("POST", "/webhook", body: sampleBody).0 == 401)
            let wrong = HMACSHA256.signatureHeader(for: sampleBody, secret: "someone-else")
            #expect(try await daemon.request("POST", "/webhook", body: sampleBody, headers: ["X-Hub-Signature-256": wrong]).0 == 403)
            // A signature over other bytes (re-serialised JSON) does not match.
            let respaced = Array(String(decoding: sampleBody, as: UTF8.self).replacingOccurrences(of: "\":\"", with: "\": \"").utf8)
            #expect(try await daemon.request("POST", "/webhook", body: respaced, headers: ["X-Hub-Signature-256": signature]).0 == 403)
            #expect(try daemon.storedBodies().count == 1, "rejected bodies are not stored")

            // Broken JSON with a valid signature is stored and acknowledged; processing records why it cannot be read.
            let broken = Array(#"{"object":"whatsapp_business_account","entry":[{"#.utf8)
            let signedBroken = HMACSHA256.signatureHeader(for: broken, secret: "app-secret-1")
            #expect(try await daemon.request("POST", "/webhook", body: broken, headers: ["X-Hub-Signature-256": signedBroken]).0 == 200)
            #expect(try daemon.storedBodies().last == broken)
        }
    }

    @Test func oversizedBodiesAreRefused() async throws {
        try await RunningDaemon.with(maxBody: 64 * 1024) { (daemon: RunningDaemon) async throws in
            let big = [UInt8](repeating: 0x20, count: 200 * 1024)
            let signature = HMACSHA256.signatureHeader(for: big, secret: "app-secret-1")
            #expect(try await daemon.request("POST", "/webhook", body: big, headers: ["X-Hub-Signature-256": signature]).0 == 413)
            #expect(try daemon.storedBodies().isEmpty)
        }
    }

    @Test func withoutAnAppSecretWebhooksAreRetriedLater() async throws {
        try await RunningDaemon.with(appSecrets: []) { (daemon: RunningDaemon) async throws in
            let signature = HMACSHA256.signatureHeader(for: sampleBody, secret: "anything")
            #expect(try await daemon.request("POST", "/webhook", body: sampleBody, headers: ["X-Hub-Signature-256": signature]).0 == 503)
            #expect(try daemon.storedBodies().isEmpty)
        }
    }

    /// The app secret a site owner enters with a number in wp-admin signs that app's webhooks too.
    @Test func anAppSecretStoredWithANumberVerifiesWebhooks() async throws {
        let keys = try TemporaryDirectory()
        defer { keys.remove() }
        let keyFile = try keys.write("secrets.key", SecretsKeyring.newFileText())
        chmod(keyFile, 0o600)
        let controlSecret = "control-secret"
        try await RunningDaemon.with(appSecrets: [], configure: {
            $0.secretsKeyFile = keyFile
            $0.controlSecret = controlSecret
        }) { (daemon: RunningDaemon) async throws in
            let signature = HMACSHA256.signatureHeader(for: sampleBody, secret: "stored-app-secret")
            let headers = ["X-Hub-Signature-256": signature]
            #expect(try await daemon.request("POST", "/webhook", body: sampleBody, headers: headers).0 == 503, "no secret is known yet")

            let accountID = try daemon.connection.execute("""
                INSERT INTO \(daemon.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            try AccountCredentials.store(.init(accessToken: "token", appSecret: "stored-app-secret"), accountID: accountID,
                                         site: daemon.site, keyring: try SecretsKeyring(contentsOf: keyFile), on: daemon.connection)
            // The plugin says the accounts changed, as after saving credentials.
            let body = Array(#"{"blog_id":1,"topic":"accounts"}"#.utf8)
            let stamp = String(Int(Date().timeIntervalSince1970))
            let notified = try await LoopbackHTTPClient.send("POST", port: daemon.controlPort, path: "/v1/notify", body: body, headers: [
                "X-CloudChat-Timestamp": stamp,
                "X-CloudChat-Signature": ControlAPI.signature(secret: controlSecret, timestamp: stamp, method: "POST", path: "/v1/notify", body: body),
            ])
            #expect(notified.status == 202)
            // The routing service reloads the secrets at once; a request may still meet the old set.
            let deadline = ContinuousClock.now + .seconds(20)
            var status = 0
            while status != 200 && ContinuousClock.now < deadline {
                status = try await daemon.request("POST", "/webhook", body: sampleBody, headers: headers).0
                if status != 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == 200, "the stored app secret verifies webhooks")
            let forged = HMACSHA256.signatureHeader(for: sampleBody, secret: "someone-else")
            #expect(try await daemon.request("POST", "/webhook", body: sampleBody, headers: ["X-Hub-Signature-256": forged]).0 == 403)
        }
    }

    @Test func anAcknowledgedWebhookIsProcessedAndCounted() async throws {
        try await RunningDaemon.with { (daemon: RunningDaemon) async throws in
            try daemon.connection.execute("""
                INSERT INTO \(daemon.site.table(.accounts)) (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', '15550783881', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            let signature = HMACSHA256.signatureHeader(for: sampleBody, secret: "app-secret-1")
            #expect(try await daemon.request("POST", "/webhook", body: sampleBody, headers: ["X-Hub-Signature-256": signature]).0 == 200)
            #expect(try await daemon.request("POST", "/webhook", body: sampleBody).0 == 401)
            try await waitUntil("the message is processed") {
                try daemon.connection.queryFirst("""
                    SELECT COUNT(*) FROM \(daemon.site.table(.messages)) WHERE wamid LIKE 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA='
                    """)!.decode(Int.self, at: 0) == 1
            }
            // The processor counts a batch just after its commit makes the message visible.
            try await waitUntil("the processing is counted") { daemon.parts.processors[0].currentStatistics.outcomes["processed"] == 1 }
            // A reply queued for later, to show in the queue depths.
            try daemon.connection.execute("""
                INSERT INTO \(daemon.site.table(.outbox)) (account_id, contact_id, type, payload_json, state, source, priority, next_attempt_at, created_at, updated_at)
                SELECT a.id, c.id, 'text', '{"text":{"body":"x"}}', 'queued', 'agent', 0, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
                FROM \(daemon.site.table(.accounts)) a, \(daemon.site.table(.contacts)) c
                """)
            let metrics = try await daemon.request("GET", "/metrics").1
            #expect(metrics.contains("cloudchat_webhooks_accepted_total 1\n"))
            #expect(metrics.contains(#"cloudchat_webhooks_rejected_total{reason="missing_signature"} 1"#))
            #expect(metrics.contains("cloudchat_webhooks_stored_total 1\n"))
            #expect(metrics.contains(#"cloudchat_webhook_events_processed_total{site="\#(daemon.site.key)",outcome="processed"} 1"#))
            #expect(!metrics.contains("16505551234"), "metrics never carry phone numbers")

            // The control listener serves the same page to a scraper, unsigned, with what swift-metrics recorded
            // and the queues read from the database (the reading is reused for a few seconds).
            let scraped = try await LoopbackHTTPClient.send("GET", port: daemon.controlPort, path: "/metrics", body: [], headers: [:])
            #expect(scraped.status == 200)
            let page = scraped.text
            #expect(page.contains(#"cloudchat_send_queue_depth{site="\#(daemon.site.key)",phone_number_id="106540352242922",lane="agent"} 1"#))
            #expect(page.contains(#"cloudchat_send_queue_depth{site="\#(daemon.site.key)",phone_number_id="106540352242922",lane="campaign"} 0"#))
            #expect(page.contains("cloudchat_webhook_commit_batch_size_count 1\n"))
            #expect(page.contains(#"cloudchat_db_work_seconds_count{pool="webhooks"} "#))
            #expect(page.contains(#"cloudchat_db_wait_seconds_bucket{pool="main",le="+Inf"} "#))
            #expect(page.contains("cloudchat_webhooks_accepted_total 1\n"))
            #expect(!page.contains("16505551234"), "metrics never carry phone numbers")
        }
    }

    @Test func healthAndReadiness() async throws {
        try await RunningDaemon.with { (daemon: RunningDaemon) async throws in
            #expect(try await daemon.request("GET", "/healthz").0 == 200)
            #expect(try await daemon.request("GET", "/readyz").0 == 200)
        }
    }

    @Test func aStalledClientIsDisconnected() async throws {
        try await RunningDaemon.with(idleTimeout: 1) { (daemon: RunningDaemon) async throws in
            // Headers promising a body that never comes.
            let port = daemon.port
            let closed = try await Task.detached {
                try StalledClient.sendsPartialRequestAndIsClosed(port: port, within: 10)
            }.value
            #expect(closed, "the server closes a stalled connection after its idle timeout")
            // And it still serves others.
            #expect(try await daemon.request("GET", "/healthz").0 == 200)
        }
    }
}

/// A raw TCP client that stops mid-request (on its own thread: it blocks).
private enum StalledClient {
    static func sendsPartialRequestAndIsClosed(port: Int, within seconds: Int) throws -> Bool {
        let descriptor = try LoopbackHTTPClient.connect(port: port, timeout: .seconds(seconds))
        defer { close(descriptor) }
        let partial = "POST /webhook HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{\"object\":"
        _ = partial.withCString { send(descriptor, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let received = recv(descriptor, &buffer, buffer.count, 0)
            if received == 0 { return true }  // the server closed the connection
            if received < 0 { return false }  // our own timeout: still open
        }
    }
}
