import CloudChatDaemon
import Foundation
import MariaDB
import Synchronization
import TestSupport
import Testing
import WordPressStore

/// Runs the built `cloudchatd` binary, as an operator would.
struct CloudChatBinary {
    /// The binary: `CLOUDCHATD_BINARY`, or `cloudchatd` beside the test bundle (`swift build` puts both in one directory).
    static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["CLOUDCHATD_BINARY"] { return explicit }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cloudchatd").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return TestDatabase.repositoryRoot.appendingPathComponent(".build/debug/cloudchatd").path
    }

    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = try start(arguments, environment: environment)
        let output = process.standardOutputPipe.fileHandleForReading.readDataToEndOfFile()
        let errors = process.standardErrorPipe.fileHandleForReading.readDataToEndOfFile()
        process.process.waitUntilExit()
        return Result(status: process.process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                      errors: String(decoding: errors, as: UTF8.self))
    }

    struct Running {
        let process: Process
        let standardOutputPipe: Pipe
        let standardErrorPipe: Pipe
    }

    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "no cloudchatd binary at \(path); run `swift build` first (scripts/test.sh does)"])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        // A clean environment, so no CLOUDCHAT_* setting of the developer's leaks in.
        process.environment = ["PATH": "/usr/bin:/bin", "CLOUDCHAT_CONFIG": "/dev/null"].merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        return Running(process: process, standardOutputPipe: output, standardErrorPipe: errors)
    }
}

/// `cloudchatd serve` running as a child process, its log followed as it is written.
final class ServeProcess {
    /// The log so far, shared with the pipe's reader.
    private final class Log: Sendable {
        let text = Mutex("")
    }

    let running: CloudChatBinary.Running
    private let log = Log()

    init(_ arguments: [String], environment: [String: String]) throws {
        running = try CloudChatBinary.start(["serve"] + arguments, environment: environment)
        running.standardErrorPipe.fileHandleForReading.readabilityHandler = { [log] handle in
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            log.text.withLock { $0 += chunk }
        }
    }

    deinit {
        running.standardErrorPipe.fileHandleForReading.readabilityHandler = nil
        if running.process.isRunning { kill(running.process.processIdentifier, SIGKILL) }
    }

    var process: Process { running.process }
    var logText: String { log.text.withLock { $0 } }

    /// Waits for "cloudchatd ready" and returns the HTTP port it reports.
    func waitUntilReady() async throws -> Int {
        try await waitUntil("serve says it is ready") { logText.contains("cloudchatd ready") }
        let text = logText
        guard let range = text.range(of: #"http=[^ ]*:(\d+)"#, options: .regularExpression),
              let port = Int(text[range].split(separator: ":").last ?? "") else {
            throw CocoaError(.coderReadCorrupt, userInfo: [NSLocalizedDescriptionKey: "serve did not report its port: \(text)"])
        }
        return port
    }
}

@Suite("cloudchatd command line", .timeLimit(.minutes(2)))
struct CommandLineTests {
    @Test(arguments: [
        ([], "USAGE: cloudchatd <subcommand>"),
        (["serve"], "Run the daemon."),
        (["migrate"], "Create or upgrade CloudChat's tables"),
        (["doctor"], "Check the setup and explain how to fix what is wrong."),
        (["replay"], "Apply stored webhook events again"),
        (["version"], "Print the versions"),
        (["campaign", "start"], "Start a draft or scheduled campaign now."),
        (["campaign", "show"], "Show a campaign's state and counts"),
    ])
    func everyCommandExplainsItself(_ command: [String], _ expected: String) throws {
        let result = try CloudChatBinary.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.output.contains(expected), "\(result.output)")
        if !command.isEmpty && command != ["version"] {
            #expect(result.output.contains("--wordpress <path>"))
        }
    }

    @Test func versionNamesTheSchemaAndLibraries() throws {
        let result = try CloudChatBinary.run(["version"])
        #expect(result.status == 0)
        #expect(result.output.contains("cloudchatd 0."))
        #expect(result.output.contains("schema version 1"))
        #expect(result.output.contains("libmariadb 3."))
        #expect(result.output.contains("libcurl "))
    }

    @Test func controlSecretPrintsOneSecretPerInstall() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let shop = try directory.write("shop/wp-config.php", """
            <?php
            define( 'DB_NAME', 'shop_db' );
            define( 'DB_HOST', 'localhost' );
            $table_prefix = 'wps_';
            """)
        let file = try directory.write("cloudchatd.conf", """
            db_name = main_db
            table_prefix = wp_
            control_secret = the-daemons-secret
            also_serve = \(directory.path)/shop
            """)
        let result = try CloudChatBinary.run(["control-secret", "--config", file])
        #expect(result.status == 0, "\(result.errors)")
        let main = ControlSecrets.installSecret(controlSecret: "the-daemons-secret", database: "main_db", tablePrefix: "wp_")
        let other = ControlSecrets.installSecret(controlSecret: "the-daemons-secret", database: "shop_db", tablePrefix: "wps_")
        #expect(result.output == "\(main)  db_name main_db\n\(other)  \(shop)\n")
        #expect(main != other && main.count == 64)
        #expect(!result.output.contains("the-daemons-secret"))
        let none = try CloudChatBinary.run(["control-secret", "--config", try directory.write("empty.conf", "db_name = x\n")])
        #expect(none.status == 78 && none.errors.contains("no control_secret"), "\(none.errors)")
    }

    @Test func usageAndConfigurationErrorsHaveTheirOwnExitCodes() throws {
        let usage = try CloudChatBinary.run(["migrate", "--no-such-flag"])
        #expect(usage.status == 64)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("cloudchatd.conf", "db_user = x\ndb_pasword = y\n")
        let configuration = try CloudChatBinary.run(["migrate", "--config", file])
        #expect(configuration.status == 78)
        #expect(configuration.errors.contains("\(file):2: unknown setting 'db_pasword'"), "\(configuration.errors)")
    }

    @Test func campaignsAreCreatedStartedPausedAndShownFromTheCommandLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("cc")
        defer { scratch.drop() }
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let site = ["--wordpress", directory.path + "/site"]
        try scratch.connection.execute("""
            INSERT INTO \(scratch.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES ('102290129340398', '106540352242922', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        try scratch.connection.execute("""
            INSERT INTO \(scratch.site.table(.templates)) (waba_id, name, language, status, components_json, created_at, updated_at)
            VALUES ('102290129340398', 'hello_world', 'en_US', 'APPROVED', '[]', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        let csv = try directory.write("people.csv", "Name;Phone\nAna;+1 650 555 0001\nBo;12\nCy;+1 650 555 0001\nDi;+44 20 7946 0958\n")
        let created = try CloudChatBinary.run(["campaign", "create", "--phone-number-id", "106540352242922", "--name", "Launch",
                                               "--template", "hello_world", "--csv", csv] + site)
        #expect(created.status == 0, "\(created.errors)")
        #expect(created.output.contains("created campaign 1 (draft)"), "\(created.output)")
        #expect(created.output.contains("4 row(s) read, 2 recipient(s) added"), "\(created.output)")
        #expect(created.output.contains("line 3: not a phone number") && created.output.contains("line 4: the same number as line 2"))
        let started = try CloudChatBinary.run(["campaign", "start", "1"] + site)
        #expect(started.status == 0 && started.output.contains("campaign 1 is running: 2 recipient(s)"), "\(started.output)\(started.errors)")
        let paused = try CloudChatBinary.run(["campaign", "pause", "1"] + site)
        #expect(paused.output.contains("campaign 1 is paused (user)"), "\(paused.output)")
        let shown = try CloudChatBinary.run(["campaign", "show", "1"] + site)
        #expect(shown.output.contains("recipients 2: pending 2"), "\(shown.output)")
        let json = try CloudChatBinary.run(["campaign", "show", "1", "--json"] + site)
        #expect(json.output.contains(#""state":"paused""#))
        let refused = try CloudChatBinary.run(["campaign", "start", "1"] + site)
        #expect(refused.status == 1 && refused.errors.contains("campaign 1 is paused; only a draft or scheduled campaign can be started"),
                "\(refused.errors)")
        let missing = try CloudChatBinary.run(["campaign", "create", "--phone-number-id", "1", "--name", "x", "--template", "hello_world"] + site)
        #expect(missing.status == 1 && missing.errors.contains("no business number with phone number id 1"), "\(missing.errors)")
        let listed = try CloudChatBinary.run(["campaign", "list"] + site)
        #expect(listed.output.contains("1\tpaused (user)\thello_world\t2 recipients\tLaunch"), "\(listed.output)")
        // Who did what, as the plugin records it for WordPress users: the operator, never a recipient.
        let audit = try scratch.connection.query("""
            SELECT actor_type, action, object_type, object_id, actor_label FROM \(scratch.site.table(.auditLog)) ORDER BY id
            """).map { row in
            "\(try row.decode(String.self, at: 0)) \(try row.decode(String.self, at: 1)) \(try row.decode(String.self, at: 2)) \(try row.decode(UInt64.self, at: 3))"
                + ((try row.decode(String?.self, at: 4))?.isEmpty == false ? "" : " without a label")
        }
        #expect(audit == ["cli campaign.created campaign 1", "cli campaign.started campaign 1", "cli campaign.paused campaign 1"], "\(audit)")
    }

    @Test func migrateThenDoctorThenServeUntilSIGTERM() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("cli", migrated: false)
        defer { scratch.drop() }
        let prefix = scratch.prefix
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: prefix))
        let site = ["--wordpress", directory.path + "/site"]

        let notReady = try CloudChatBinary.run(["doctor"] + site, environment: ["CLOUDCHAT_SPOOL_DIR": directory.path + "/spool"])
        #expect(notReady.status == 1)
        #expect(notReady.output.contains("fix: run: cloudchatd migrate"), "\(notReady.output)")
        let refused = try CloudChatBinary.run(["serve"] + site)
        #expect(refused.status == 1)
        #expect(refused.errors.contains("run `cloudchatd migrate` first"), "\(refused.errors)")

        let dryRun = try CloudChatBinary.run(["migrate", "--dry-run"] + site)
        #expect(dryRun.status == 0)
        #expect(dryRun.output.contains("would apply 1"), "\(dryRun.output)")
        let migrated = try CloudChatBinary.run(["migrate"] + site)
        #expect(migrated.status == 0)
        #expect(migrated.output.contains("schema version 0 → 1"), "\(migrated.output)")
        let again = try CloudChatBinary.run(["migrate"] + site)
        #expect(again.output.contains("schema version 1 is current"))

        let healthy = try CloudChatBinary.run(["doctor"] + site, environment: ["CLOUDCHAT_SPOOL_DIR": directory.path + "/spool"])
        #expect(healthy.status == 0, "\(healthy.output)")
        #expect(healthy.output.contains("All checks passed"))
        #expect(!healthy.output.contains(TestDatabase.password))

        // serve runs until SIGTERM, then exits cleanly.
        let serve = try ServeProcess(site, environment: [
            "CLOUDCHAT_HTTP_LISTEN": "127.0.0.1:0", "CLOUDCHAT_CONTROL_LISTEN": "127.0.0.1:0", "CLOUDCHAT_SPOOL_DIR": directory.path + "/spool",
        ])
        _ = try await serve.waitUntilReady()
        serve.process.terminate()
        try await waitUntil("serve exits after SIGTERM", timeout: .seconds(10)) { !serve.process.isRunning }
        serve.process.waitUntilExit()
        #expect(serve.process.terminationReason == .exit)
        #expect(serve.process.terminationStatus == 0)
        #expect(serve.logText.contains("database pool closed"))
    }

    @Test func replayRebuildsLostMessagesAndDoctorNamesNumbersNoAccountHas() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("rp")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let arguments = ["--wordpress", directory.path + "/site"]
        try connection.execute("""
            INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES ('102290129340398', '106540352242922', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        func store(number: String, wamid: String) throws {
            let body = #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\#(number)"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"\#(wamid)","timestamp":"1749416383","type":"text","text":{"body":"hello"}}]}}]}]}"#
            try connection.execute("""
                INSERT INTO \(site.table(.webhookEvents)) (received_at, phone_number_id, signature_verified, processing_state, body)
                VALUES (UTC_TIMESTAMP(6), \(number), 1, \(number == "106540352242922" ? "processed" : "unrouted"), \(Array(body.utf8)))
                """)
        }
        try store(number: "106540352242922", wamid: "wamid.ONE")
        try store(number: "106540352242922", wamid: "wamid.TWO")
        try store(number: "999000111", wamid: "wamid.ELSEWHERE")

        let doctor = try CloudChatBinary.run(["doctor"] + arguments, environment: ["CLOUDCHAT_SPOOL_DIR": directory.path + "/spool"])
        #expect(doctor.output.contains("[warn] unrouted webhooks (\(scratch.prefix)): 1 stored webhook event(s) name a number or WABA no account has (phone_number_id 999000111: 1)"), "\(doctor.output)")

        // The events say processed, but their messages are gone (say, a restore of an older backup).
        let replayed = try CloudChatBinary.run(["replay"] + arguments)
        #expect(replayed.status == 0, "\(replayed.errors)")
        #expect(replayed.output.contains("replayed 3 events"), "\(replayed.output)")
        let wamids = try connection.query("SELECT wamid FROM \(site.table(.messages)) ORDER BY wamid").map { try $0.decode(String.self, at: 0) }
        #expect(wamids == ["wamid.ONE", "wamid.TWO"])
        #expect(try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE processing_state = 'processed'")?.decode(Int.self, at: 0) == 2)

        let narrow = try CloudChatBinary.run(["replay", "--from-id", "5", "--to-id", "2"] + arguments)
        #expect(narrow.status == 64)
        #expect(narrow.errors.contains("--to-id (2) is below --from-id (5)"), "\(narrow.errors)")
    }
}
