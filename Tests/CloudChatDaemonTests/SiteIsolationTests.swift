import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Privacy
import Synchronization
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore

/// One daemon serving two blogs of a network that share a WABA: each blog's webhooks,
/// control requests, erasures and campaigns reach that blog's rows and no other's.
@Suite("Site isolation", .serialized, .timeLimit(.minutes(2)))
struct SiteIsolationTests {
    static let waba = "102290129340398"
    static let numberOne = "106540352242901"
    static let numberTwo = "106540352242902"

    struct Network {
        let scratch: ScratchNetwork
        let listeners: DaemonListeners
        var one: WordPressSite { scratch.sites[0] }
        var two: WordPressSite { scratch.sites[1] }
        var connection: MariaDBConnection { scratch.connection }

        func count(_ site: WordPressSite, _ table: CloudChatTable, _ condition: SQLQuery = "1 = 1") throws -> Int {
            try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(table)) WHERE \(condition)")!.decode(Int.self, at: 0)
        }

        /// Every raw body a site stored, as text.
        func bodies(_ site: WordPressSite) throws -> [String] {
            try connection.query("SELECT body FROM \(site.table(.webhookEvents)) ORDER BY id").map { String(decoding: try $0.decode([UInt8].self, at: 0), as: UTF8.self) }
        }
    }

    static func withNetwork(_ body: (Network) async throws -> Void) async throws {
        let scratch = try ScratchNetwork("iso")
        defer { scratch.drop() }
        try scratch.addAccount(scratch.sites[0], phoneNumberID: numberOne, wabaID: waba)
        try scratch.addAccount(scratch.sites[1], phoneNumberID: numberTwo, wabaID: waba)
        let spool = try TemporaryDirectory()
        defer { spool.remove() }
        var configuration = DaemonConfiguration.forTests(prefix: scratch.prefix)
        configuration.multisite = true
        configuration.webhookAppSecrets = ["app-secret-1"]
        configuration.controlSecret = ControlAPITests.secret
        configuration.spoolDirectory = spool.path + "/spool"
        configuration.secretsKeyFile = spool.path + "/no-key-file"
        configuration.uploadsDirectory = spool.path + "/uploads"
        try await DaemonListeners.running(configuration) { listeners, _ in
            try await body(Network(scratch: scratch, listeners: listeners))
        }
    }

    static func change(number: String, from waID: String, name: String, wamid: String, text: String) -> String {
        """
        {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\(number)"},\
        "contacts":[{"profile":{"name":"\(name)"},"wa_id":"\(waID)"}],\
        "messages":[{"from":"\(waID)","id":"\(wamid)","timestamp":"\(Int(Date().timeIntervalSince1970))","type":"text","text":{"body":"\(text)"}}]}}
        """
    }

    static func envelope(_ changes: String...) -> String {
        #"{"object":"whatsapp_business_account","entry":[{"id":"\#(waba)","changes":[\#(changes.joined(separator: ","))]}]}"#
    }

    @Test func webhooksControlRequestsAndErasureStayInTheOwningSite() async throws {
        try await Self.withNetwork { net in
            let (one, two) = (net.one, net.two)
            // Ana writes to blog 1's number; Bo to blog 2's; Cy to both, in one body that has to be split.
            #expect(try await net.listeners.webhook(Self.envelope(Self.change(number: Self.numberOne, from: "16505550001", name: "Ana", wamid: "wamid.A1", text: "one only"))) == 200)
            #expect(try await net.listeners.webhook(Self.envelope(Self.change(number: Self.numberTwo, from: "16505550002", name: "Bo", wamid: "wamid.B1", text: "two only"))) == 200)
            #expect(try await net.listeners.webhook(Self.envelope(
                Self.change(number: Self.numberOne, from: "16505550003", name: "Cy", wamid: "wamid.C1", text: "cy to one"),
                Self.change(number: Self.numberTwo, from: "16505550003", name: "Cy", wamid: "wamid.C2", text: "cy to two"))) == 200)
            // A number nobody has yet: kept by the home site (blog 1), unrouted.
            #expect(try await net.listeners.webhook(Self.envelope(Self.change(number: "106540352242999", from: "16505550004", name: "Di", wamid: "wamid.D1",
                                                                    text: "nobody's"))) == 200)
            try await waitUntil("both sites processed their messages") {
                (try? net.count(one, .messages)) == 2 && (try? net.count(two, .messages)) == 2
            }
            #expect(try net.count(one, .messages, "wamid IN ('wamid.A1', 'wamid.C1')") == 2)
            #expect(try net.count(two, .messages, "wamid IN ('wamid.B1', 'wamid.C2')") == 2)
            #expect(try net.count(one, .contacts, "wa_id = '16505550002'") == 0, "Bo is not blog 1's contact")
            #expect(try net.count(two, .contacts, "wa_id = '16505550001'") == 0, "Ana is not blog 2's contact")
            // The raw bodies: blog 1 never stored blog 2's text, and the other way round; the unknown number went home, unrouted.
            #expect(try net.bodies(one).allSatisfy { !$0.contains("two only") && !$0.contains("cy to two") && !$0.contains(Self.numberTwo) })
            #expect(try net.bodies(two).allSatisfy { !$0.contains("one only") && !$0.contains("cy to one") && !$0.contains("nobody's") })
            #expect(try net.count(one, .webhookEvents, "processing_state = 'unrouted'") == 1)
            #expect(try net.count(two, .webhookEvents) == 2)

            // Blog 2 has more contacts, so its ids are ones blog 1 does not have.
            for index in 0..<5 {
                try net.connection.execute("""
                    INSERT INTO \(two.table(.contacts)) (account_id, wa_id, source, created_at, updated_at)
                    VALUES (1, \(String(16_505_551_000 + index)), 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                    """)
            }
            let boID = try #require(try net.connection.queryFirst("SELECT id FROM \(two.table(.contacts)) WHERE wa_id = '16505550002'")?.decode(UInt64.self, at: 0))
            let onlyInTwo = try #require(try net.connection.queryFirst("SELECT MAX(id) FROM \(two.table(.contacts))")?.decode(UInt64.self, at: 0))
            #expect(try net.count(one, .contacts, "id = \(onlyInTwo)") == 0)

            // An export in blog 1 holds blog 1's rows only: Cy wrote to both, and blog 2's contact ids are unknown there.
            let cyInOne = try #require(try net.connection.queryFirst("SELECT id FROM \(one.table(.contacts)) WHERE wa_id = '16505550003'")?.decode(UInt64.self, at: 0))
            let exporter = ContactExporter(site: one, mediaDirectory: "/nonexistent")
            let export = try exporter.export(contactIDs: [cyInOne], actor: .daemon, on: net.connection)
            let document = String(decoding: export.json, as: UTF8.self)
            #expect(document.contains("cy to one"))
            #expect(!document.contains("cy to two") && !document.contains("wamid.C2") && !document.contains(Self.numberTwo))
            #expect(throws: ContactExporter.Failure.self) { try exporter.export(contactIDs: [onlyInTwo], actor: .daemon, on: net.connection) }

            // Erasing blog 2's contact id through blog 1 finds nothing there, and touches nothing in blog 2.
            #expect(try await net.listeners.control("POST", "/v1/contacts/\(onlyInTwo)/erase", #"{"blog_id":1}"#).0 == 404)
            #expect(try net.count(two, .contacts, "id = \(onlyInTwo)") == 1)
            // A blog the daemon does not serve, or none named, is refused.
            #expect(try await net.listeners.control("POST", "/v1/contacts/\(boID)/erase", #"{"blog_id":7}"#).0 == 404)
            #expect(try await net.listeners.control("POST", "/v1/contacts/\(boID)/erase", #"{}"#).0 == 400)

            // Campaigns: blog 1 cannot create one on blog 2's number, nor see, start or fill blog 2's.
            try net.connection.execute("""
                INSERT INTO \(two.table(.templates)) (waba_id, name, language, status, components_json, created_at, updated_at)
                VALUES (\(Self.waba), 'spring_sale', 'en_US', 'APPROVED', '[]', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            let create = #"{"name":"Spring","phone_number_id":"\#(Self.numberTwo)","template_name":"spring_sale","template_language":"en_US","audience":{"type":"all_opted_in"}}"#
            let refused = try await net.listeners.control("POST", "/v1/campaigns", #"{"blog_id":1,"# + create.dropFirst())
            #expect((400..<500).contains(refused.0), "\(refused.1)")
            #expect(refused.1.contains("phone number id"), "refused for the number, not the request: \(refused.1)")
            #expect(try net.count(one, .campaigns) == 0)
            let created = try await net.listeners.control("POST", "/v1/campaigns", #"{"blog_id":2,"# + create.dropFirst())
            #expect(created.0 == 200 || created.0 == 201, "\(created.1)")
            let campaignID = try #require(try net.connection.queryFirst("SELECT MAX(id) FROM \(two.table(.campaigns))")?.decode(UInt64.self, at: 0))
            #expect(try await net.listeners.control("GET", "/v1/campaigns/\(campaignID)?blog_id=1").0 == 404)
            #expect(try await net.listeners.control("POST", "/v1/campaigns/\(campaignID)/start", #"{"blog_id":1}"#).0 == 404)
            #expect(try await net.listeners.control("POST", "/v1/campaigns/\(campaignID)/recipients", #"{"blog_id":1,"numbers":["16505550009"]}"#).0 == 404)
            #expect(try await net.listeners.control("POST", "/v1/campaigns/\(campaignID)/cancel", #"{"blog_id":1}"#).0 == 404)
            #expect(try net.connection.queryFirst("SELECT state FROM \(two.table(.campaigns)) WHERE id = \(campaignID)")?.decode(String.self, at: 0) == "draft")
            #expect(try net.count(two, .campaignRecipients) == 0)
            #expect(try await net.listeners.control("GET", "/v1/campaigns/\(campaignID)?blog_id=2").0 == 200)

            // Credentials: blog 1 cannot take blog 2's number.
            let taken = try await net.listeners.control("POST", "/v1/credentials", #"""
                {"blog_id":1,"phone_number_id":"\#(Self.numberTwo)","waba_id":"\#(Self.waba)","access_token":"t","app_secret":"s"}
                """#)
            #expect(taken.0 == 409 || taken.0 == 503, "\(taken.1)")
            #expect(try net.count(one, .accounts, "phone_number_id = \(Self.numberTwo)") == 0)
            #expect(try net.count(two, .accounts, "phone_number_id = \(Self.numberTwo) AND access_token_ciphertext IS NULL") == 1)

            // Erasing Cy in blog 1 leaves Cy's contact, messages and raw body in blog 2 as they were.
            let cyOne = try #require(try net.connection.queryFirst("SELECT id FROM \(one.table(.contacts)) WHERE wa_id = '16505550003'")?.decode(UInt64.self, at: 0))
            let erased = try await net.listeners.control("POST", "/v1/contacts/\(cyOne)/erase", #"{"blog_id":1}"#)
            #expect(erased.0 == 200, "\(erased.1)")
            #expect(try net.count(one, .contacts, "wa_id = '16505550003'") == 0)
            #expect(try net.count(one, .messages, "wamid = 'wamid.C1'") == 0)
            #expect(try net.bodies(one).allSatisfy { !$0.contains("16505550003") })
            #expect(try net.count(two, .contacts, "wa_id = '16505550003'") == 1)
            #expect(try net.count(two, .messages, "wamid = 'wamid.C2'") == 1)
            #expect(try net.bodies(two).contains { $0.contains("cy to two") })
            #expect(try net.count(one, .messages, "wamid = 'wamid.A1'") == 1, "Ana is untouched")
        }
    }
}

/// A running daemon's two listeners, for tests that post signed webhooks and signed control calls.
struct DaemonListeners {
    let port: Int
    let controlPort: Int

    /// Assembles a daemon in-process, runs the body once both listeners are up, then stops it.
    static func running(_ configuration: DaemonConfiguration, _ body: (DaemonListeners, Daemon.Parts) async throws -> Void) async throws {
        let port = Mutex(0)
        let controlPort = Mutex(0)
        let parts = try await Daemon.assemble(configuration: configuration, logger: Logger(label: "test"), shutdownSignals: [],
                                              onListening: { bound in port.withLock { $0 = bound } },
                                              onControlListening: { bound in controlPort.withLock { $0 = bound } })
        async let running: Void = parts.group.run()
        do {
            try await waitUntil("the listeners are up") { port.withLock { $0 } != 0 && controlPort.withLock { $0 } != 0 }
            try await body(DaemonListeners(port: port.withLock { $0 }, controlPort: controlPort.withLock { $0 }), parts)
        } catch {
            await parts.group.triggerGracefulShutdown()
            try? await running
            throw error
        }
        await parts.group.triggerGracefulShutdown()
        try await running
    }

    /// Posts a webhook signed with the test app secret; answers the status.
    func webhook(_ text: String) async throws -> Int {
        let body = Array(text.utf8)
        return try await LoopbackHTTPClient.send("POST", port: port, path: "/webhook", body: body, headers: [
            "X-Hub-Signature-256": HMACSHA256.signatureHeader(for: body, secret: "app-secret-1"), "Content-Type": "application/json",
        ]).status
    }

    /// A signed control call; `secret` is the daemon's control secret unless an install's is given.
    func control(_ method: String, _ path: String, _ body: String = "", secret: String = ControlAPITests.secret) async throws -> (Int, String) {
        let stamp = String(Int(Date().timeIntervalSince1970))
        let bytes = Array(body.utf8)
        let signature = ControlAPI.signature(secret: secret, timestamp: stamp, method: method, path: path, body: bytes)
        let response = try await LoopbackHTTPClient.send(method, port: controlPort, path: path, body: bytes, headers: [
            "X-CloudChat-Timestamp": stamp, "X-CloudChat-Signature": signature, "Content-Type": "application/json",
        ])
        return (response.status, response.text)
    }
}
