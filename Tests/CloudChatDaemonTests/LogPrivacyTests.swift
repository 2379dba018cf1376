import CloudChatCrypto
import CloudChatDaemon
import Foundation
import GraphSimulator
import Logging
import MariaDB
import Sending
import Synchronization
import TestSupport
import Testing
import WordPressStore

/// The daemon's logs at `trace`, in every format, while webhooks come in and
/// messages go out: no customer's number, name or message, no template value,
/// token or secret may appear in them; masked numbers may.
@Suite("Log privacy", .serialized, .timeLimit(.minutes(3)))
struct LogPrivacyTests {
    // Values that appear nowhere else, so finding one in the logs can only mean it leaked.
    static let customer = "19175550143"
    static let customerName = "Zebulon Quintrell"
    static let inboundText = "inbound-text Quokka-7731 my card ends 4242"
    static let inboundCaption = "inbound-caption Narwhal-5520"
    static let replyBody = "reply-body Kumquat-9814"
    static let templateValue = "template-value Persimmon-4471"
    static let refusedCustomer = "19175550000"
    static let undeliveredCustomer = "19175552222"
    static let campaignCustomer = "19175554444"
    static let campaignName = "campaign-name Marmalade-3307"
    static let campaignOrder = "campaign-order Tamarind-6650"
    static let accessToken = "EAAGaccess-token-5f3c9a71"
    static let appSecret = "app-secret-8e21d4c0"
    static let controlSecret = "control-secret-77aa01be"
    static let verifyToken = "verify-token-31cd9e55"

    /// Everything that must never be logged, with what it is.
    static var forbidden: [(String, String)] {
        var values: [(String, String)] = [
            (customerName, "a customer's profile name"), (inboundText, "an inbound message"), (inboundCaption, "a caption"),
            (replyBody, "an outbound message"), (templateValue, "a template parameter"), (campaignName, "a campaign recipient's name"),
            (campaignOrder, "a campaign recipient's value"), (accessToken, "the access token"), (appSecret, "the app secret"),
            (controlSecret, "the control secret"), (verifyToken, "the verify token"), (TestDatabase.password, "the database password"),
        ]
        for number in [customer, refusedCustomer, undeliveredCustomer, campaignCustomer] {
            values.append((number, "a customer's number"))
            values.append((String(number.dropFirst()), "a customer's number without its country code"))
        }
        return values
    }

    /// A daemon at `trace` whose logger writes every format into `captures`, with the simulator as Meta.
    static func withLoggedDaemon(_ captures: [LogFormat: LogCapture],
                                 _ body: (RunningDaemon, GraphSimulator) async throws -> Void) async throws {
        let webhookPort = try FreePort.reserve()
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        simulated.webhookURL = "http://127.0.0.1:\(webhookPort)/webhook"
        simulated.appSecret = appSecret
        simulated.accessTokens = [accessToken]
        simulated.statuses.sentDelay = .milliseconds(20)
        simulated.statuses.deliveredDelay = .milliseconds(40)
        simulated.statuses.readDelay = .milliseconds(60)
        simulated.statuses.readProbability = 1
        simulated.statuses.batchWindow = .milliseconds(5)
        // Meta's error details quote the recipient; they must reach the row, not the log.
        simulated.failureRules = [
            .init(recipientSuffix: "0000", code: 131030, mode: .synchronous,
                  details: "Recipient phone number +\(refusedCustomer) (\(refusedCustomer)) not in allowed list"),
            .init(recipientSuffix: "2222", code: 131026, mode: .asynchronous, details: "Message to \(undeliveredCustomer) was undeliverable"),
        ]
        let simulator = try await GraphSimulator.start(simulated)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("lp")
        defer { scratch.drop() }
        let keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText())
        chmod(keyFile, 0o600)

        var configuration = DaemonConfiguration.forTests(prefix: scratch.prefix)
        configuration.httpPort = webhookPort
        configuration.webhookAppSecrets = [appSecret]
        configuration.webhookVerifyToken = verifyToken
        configuration.controlSecret = controlSecret
        configuration.spoolDirectory = directory.path + "/spool"
        configuration.secretsKeyFile = keyFile
        configuration.graphBaseURL = simulator.baseURL
        configuration.uploadsDirectory = directory.path + "/uploads"
        configuration.logLevel = .trace

        let levelControl = LogLevelControl(configuration.logLevel)
        let logger = Logger(label: "cloudchatd") { label in
            MultiplexLogHandler(captures.map { format, capture in
                CloudChatLogHandler(label: label, format: format, levelControl: levelControl, output: capture.output, metadataProvider: nil)
            })
        }
        let port = Mutex(0)
        let controlPort = Mutex(0)
        do {
            let parts = try await Daemon.assemble(configuration: configuration, logger: logger, shutdownSignals: [],
                                                  onListening: { bound in port.withLock { $0 = bound } },
                                                  onControlListening: { bound in controlPort.withLock { $0 = bound } })
            async let running: Void = parts.group.run()
            do {
                try await waitUntil("the listeners are up") { port.withLock { $0 } != 0 && controlPort.withLock { $0 } != 0 }
                try await body(RunningDaemon(port: port.withLock { $0 }, controlPort: controlPort.withLock { $0 }, site: scratch.site,
                                             connection: scratch.connection, parts: parts), simulator)
            } catch {
                await parts.group.triggerGracefulShutdown()
                try? await running
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

    static func signed(_ daemon: RunningDaemon, _ method: String, _ path: String, _ body: String = "") async throws -> (Int, String) {
        try await ControlAPITests.signed(daemon, method, path, body, secret: controlSecret)
    }

    static func count(_ sql: SQLQuery, _ daemon: RunningDaemon) -> Int {
        (try? daemon.connection.queryFirst(sql)?.decode(Int.self, at: 0)) ?? -1
    }

    @Test func ingestAndSendingAtTraceLogNoNumberBodyOrSecret() async throws {
        let captures = Dictionary(uniqueKeysWithValues: LogFormat.allCases.map { ($0, LogCapture()) })
        try await Self.withLoggedDaemon(captures) { daemon, simulator in
            let table = daemon.site.table

            // The verification handshake, right and wrong, and a forged webhook.
            let challenge = "/webhook?hub.mode=subscribe&hub.verify_token=\(Self.verifyToken)&hub.challenge=8842"
            #expect(try await daemon.request("GET", challenge).0 == 200)
            #expect(try await daemon.request("GET", "/webhook?hub.mode=subscribe&hub.verify_token=\(Self.verifyToken)x&hub.challenge=1").0 == 403)
            let forged = Array(#"{"object":"whatsapp_business_account","entry":[]}"#.utf8)
            #expect(try await daemon.request("POST", "/webhook", body: forged,
                                             headers: ["X-Hub-Signature-256": HMACSHA256.signatureHeader(for: forged, secret: "wrong")]).0 == 403)

            // The plugin hands over the credentials; templates are synced.
            let stored = try await Self.signed(daemon, "POST", "/v1/credentials", """
                {"blog_id":1,"phone_number_id":"106540352242922","waba_id":"102290129340398","access_token":"\(Self.accessToken)","app_secret":"\(Self.appSecret)"}
                """)
            #expect(stored.0 == 200, "\(stored.1)")
            try await waitUntil("templates are synced") {
                Self.count("SELECT COUNT(*) FROM \(table(.templates)) WHERE name = 'order_update' AND status = 'APPROVED'", daemon) == 1
            }
            let accountID = try #require(try SendingEndToEndTests.value("SELECT id FROM \(table(.accounts))", daemon, as: UInt64.self))

            // A customer writes a text and sends a picture with a caption.
            _ = try simulator.postInbound(.init(from: Self.customer, profileName: Self.customerName, content: .text(Self.inboundText)))
            _ = try simulator.postInbound(.init(from: Self.customer, profileName: Self.customerName,
                                                content: .image(bytes: nil, caption: Self.inboundCaption)))
            try await waitUntil("the inbound messages are stored and the picture downloaded") {
                Self.count("SELECT COUNT(*) FROM \(table(.messages)) WHERE direction = 'inbound'", daemon) == 2
                    && Self.count("SELECT COUNT(*) FROM \(table(.media)) WHERE state = 'stored'", daemon) == 1
            }
            let contact = try #require(try SendingEndToEndTests.value("SELECT id FROM \(table(.contacts)) WHERE wa_id = \(Self.customer)",
                                                                      daemon, as: UInt64.self))

            // An agent replies, a template with values follows, and two sends fail with details that quote the number.
            let reply = try SendingEndToEndTests.queue("text", #"{"type":"text","text":{"body":"\#(Self.replyBody)"}}"#,
                                                       contactID: contact, accountID: accountID, daemon: daemon)
            let template = try SendingEndToEndTests.queue("template", """
                {"type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[
                  {"type":"body","parameters":[{"type":"text","text":"\(Self.templateValue)"},{"type":"text","text":"\(Self.templateValue) 2"}]},
                  {"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"\(Self.templateValue) 3"}]}]}}
                """, contactID: contact, accountID: accountID, daemon: daemon)
            let refusedContact = try SendingEndToEndTests.addContact(Self.refusedCustomer, wroteAt: Date(), accountID: accountID, daemon: daemon)
            let refused = try SendingEndToEndTests.queue("text", #"{"type":"text","text":{"body":"\#(Self.replyBody) refused"}}"#,
                                                         contactID: refusedContact, accountID: accountID, daemon: daemon)
            let undeliveredContact = try SendingEndToEndTests.addContact(Self.undeliveredCustomer, wroteAt: Date(), accountID: accountID, daemon: daemon)
            let undelivered = try SendingEndToEndTests.queue("text", #"{"type":"text","text":{"body":"\#(Self.replyBody) undelivered"}}"#,
                                                             contactID: undeliveredContact, accountID: accountID, daemon: daemon)
            let silentContact = try SendingEndToEndTests.addContact(Self.campaignCustomer, wroteAt: nil, accountID: accountID, daemon: daemon)
            let outsideWindow = try SendingEndToEndTests.queue("text", #"{"type":"text","text":{"body":"\#(Self.replyBody) late"}}"#,
                                                               contactID: silentContact, accountID: accountID, daemon: daemon)
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1,"topic":"outbox"}"#).0 == 202)

            // A campaign to a CSV list, with the recipient's name and order as template values.
            let created = try await Self.signed(daemon, "POST", "/v1/campaigns", """
                {"blog_id":1,"name":"Orders","phone_number_id":"106540352242922","template_name":"order_update","template_language":"en_US",
                 "audience":{"type":"csv"},"variables":{"body":[{"column":"name"},{"column":"order"}],"buttons":{"0":{"column":"order"}}},
                 "csv":"phone,name,order\\n+\(Self.campaignCustomer),\(Self.campaignName),\(Self.campaignOrder)\\n"}
                """)
            #expect(created.0 == 201, "\(created.1)")
            let campaign = try #require(try SendingEndToEndTests.value("SELECT id FROM \(table(.campaigns))", daemon, as: UInt64.self))
            let started = try await Self.signed(daemon, "POST", "/v1/campaigns/\(campaign)/start", #"{"blog_id":1}"#)
            #expect(started.0 == 200, "\(started.1)")

            try await waitUntil("every send is settled", timeout: .seconds(60)) {
                let states = (try? daemon.connection.query("SELECT id, state FROM \(table(.outbox))")
                    .map { (try $0.decode(UInt64.self, at: 0), try $0.decode(String.self, at: 1)) }) ?? []
                let byID = Dictionary(states, uniquingKeysWith: { first, _ in first })
                let readReply = Self.count("""
                    SELECT COUNT(*) FROM \(table(.outbox)) o JOIN \(table(.messages)) m ON m.id = o.message_id
                     WHERE o.id = \(reply) AND m.status = 'read'
                    """, daemon) == 1
                let undeliveredFailed = Self.count("""
                    SELECT COUNT(*) FROM \(table(.outbox)) o JOIN \(table(.messages)) m ON m.id = o.message_id
                     WHERE o.id = \(undelivered) AND m.status = 'failed'
                    """, daemon) == 1
                return readReply && undeliveredFailed && byID[template] == "sent" && byID[refused] == "failed"
                    && byID[outsideWindow] == "failed"
                    && Self.count("SELECT COUNT(*) FROM \(table(.campaigns)) WHERE state = 'completed'", daemon) == 1
            }
            #expect(simulator.acceptedCount(to: Self.campaignCustomer) == 1)
        }

        for (format, capture) in captures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let text = capture.text
            func shows(_ part: String) -> Bool { text.contains(part) }
            // The capture saw the daemon's detailed records, so the checks below mean something.
            #expect(shows("webhook batch processed"), "\(format): debug records are captured")
            #expect(shows("send accepted by Meta"), "\(format): trace records are captured")
            #expect(shows("a send failed"), "\(format): failed sends are logged")
            for (value, what) in Self.forbidden {
                let leaks = capture.written.filter { $0.contains(value) }
                #expect(leaks.isEmpty, "\(format) logs hold \(what): \(leaks.prefix(3))")
            }
            // Numbers show masked where they help an operator.
            #expect(shows("+1917•••0143"), "\(format): the reply's recipient, masked")
            #expect(shows("+1917•••0000"), "\(format): the refused send's recipient, masked")
            let broken = capture.written.filter { !$0.hasSuffix("\n") || $0.dropLast().contains("\n") }
            #expect(broken.isEmpty, "\(format): one line per record")
        }
        for line in captures[.json]!.written {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not a JSON object: \(line)")
        }
    }
}
