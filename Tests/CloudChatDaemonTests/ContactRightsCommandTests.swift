import CloudChatCrypto
import Foundation
import MariaDB
@testable import Privacy
import TestSupport
import Testing
import WordPressStore

/// `cloudchatd contact export | erase | update` through the real binary, beside a real `serve`.
@Suite("Contact rights from the command line", .serialized, .timeLimit(.minutes(3)))
struct ContactRightsCommandTests {
    static let businessNumberID = "106540352242922"

    static func inbound(from waID: String, name: String, wamid: String, text: String) -> [UInt8] {
        Array("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\(businessNumberID)"},
            "contacts":[{"profile":{"name":"\(name)"},"wa_id":"\(waID)"}],
            "messages":[{"from":"\(waID)","id":"\(wamid)","timestamp":"\(Int(Date().timeIntervalSince1970))","type":"text","text":{"body":"\(text)"}}]}}]}]}
            """.utf8)
    }

    static func status(of wamid: String, to waID: String) -> [UInt8] {
        Array("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\(businessNumberID)"},
            "statuses":[{"id":"\(wamid)","status":"delivered","timestamp":"\(Int(Date().timeIntervalSince1970))","recipient_id":"\(waID)"}]}}]}]}
            """.utf8)
    }

    /// Runs the binary with `input` on its standard input.
    static func run(_ arguments: [String], input: String) throws -> CloudChatBinary.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CloudChatBinary.path)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin", "CLOUDCHAT_CONFIG": "/dev/null", "USER": "operator"]
        let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CloudChatBinary.Result(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self),
                                      errors: String(decoding: errors, as: UTF8.self))
    }

    /// Every value of every row of every CloudChat table of the site, as text, with where it was.
    static func everyValue(of prefix: String, on connection: MariaDBConnection) throws -> [(String, String)] {
        let like = prefix.replacingOccurrences(of: "_", with: "\\_") + "cloudchat\\_%"
        let tables = try connection.query("""
            SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE \(like)
            """).map { try $0.decode(String.self, at: 0) }
        #expect(tables.count >= 16, "\(tables)")
        var values: [(String, String)] = []
        for table in tables {
            let columns = try connection.query("""
                SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = \(table)
                """).map { try $0.decode(String.self, at: 0) }
            for row in try connection.query("SELECT * FROM \(try SQLIdentifier(table))") {
                for (index, column) in row.columns.names.enumerated() {
                    #expect(columns.contains(column))
                    let text: String? = switch row[index] {
                    case .null: nil
                    case .int(let value): String(value)
                    case .uint(let value): String(value)
                    case .double(let value): String(value)
                    case .string(let value): value
                    case .bytes(let value): String(decoding: value, as: UTF8.self)
                    case .date: nil
                    }
                    if let text { values.append(("\(table).\(column)", text)) }
                }
            }
        }
        return values
    }

    @Test func exportEraseAndAFreshStartThroughTheBinaryAndTheRealWebhookPath() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("rights")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let uploads = directory.path + "/site/wp-content/uploads"  // the default beside --wordpress
        let arguments = ["--wordpress", directory.path + "/site"]
        try connection.execute("""
            INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, state, created_at, updated_at)
            VALUES ('102290129340398', \(Self.businessNumberID), 'active', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        let serve = try ServeProcess(arguments, environment: [
            "CLOUDCHAT_HTTP_LISTEN": "127.0.0.1:0", "CLOUDCHAT_CONTROL_LISTEN": "127.0.0.1:0", "CLOUDCHAT_SPOOL_DIR": directory.path + "/spool",
            "CLOUDCHAT_WEBHOOK_APP_SECRET": "app-secret-1", "CLOUDCHAT_UPLOADS_DIR": uploads,
            "CLOUDCHAT_SECRETS_KEY_FILE": directory.path + "/no-key",
        ])
        let port = try await serve.waitUntilReady()
        func post(_ body: [UInt8]) async throws {
            let answer = try await LoopbackHTTPClient.send("POST", port: port, path: "/webhook", body: body, headers: [
                "X-Hub-Signature-256": HMACSHA256.signatureHeader(for: body, secret: "app-secret-1"), "Content-Type": "application/json",
            ])
            #expect(answer.status == 200)
        }
        func count(_ sql: SQLQuery) throws -> Int { try connection.queryFirst(sql)?.decode(Int.self, at: 0) ?? -1 }

        // Ana and Bo write in; a status for a message to Ana arrives before its message is known.
        try await post(Self.inbound(from: "16505550001", name: "Anastasia Zyxwert", wamid: "wamid.ANA1", text: "ana private words"))
        try await post(Self.inbound(from: "16505550002", name: "Bohumil Keepme", wamid: "wamid.BO1", text: "bo stays here"))
        try await post(Self.status(of: "wamid.ANAOUT", to: "16505550001"))
        try await waitUntil("the webhooks are processed") {
            try count("SELECT COUNT(*) FROM \(site.table(.messages))") == 2 && count("SELECT COUNT(*) FROM \(site.table(.statusEvents))") == 1
        }
        let ana = try #require(try connection.queryFirst("SELECT id FROM \(site.table(.contacts)) WHERE wa_id = '16505550001'")?.decode(UInt64.self, at: 0))
        let bo = try #require(try connection.queryFirst("SELECT id FROM \(site.table(.contacts)) WHERE wa_id = '16505550002'")?.decode(UInt64.self, at: 0))
        #expect(try count("SELECT COUNT(*) FROM \(site.table(.statusEvents)) WHERE contact_id = \(ana)") == 1)

        // What the site adds: an email, tags, consent, a queued reply, a campaign, a stored file each.
        try connection.execute("UPDATE \(site.table(.contacts)) SET email = 'ana.zyxwert@example.org', phone = '16505550001' WHERE id = \(ana)")
        for (contact, tag) in [(ana, "vip-anastasia"), (bo, "vip")] {
            try connection.execute("INSERT INTO \(site.table(.contactTags)) (contact_id, tag, created_at) VALUES (\(contact), \(tag), UTC_TIMESTAMP(6))")
        }
        try connection.execute("""
            INSERT INTO \(site.table(.consentEvents)) (account_id, contact_id, event, source, detail, occurred_at, created_at)
            VALUES (1, \(ana), 'opted_in', 'agent', 'Anastasia asked at the counter', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        try connection.execute("""
            INSERT INTO \(site.table(.outbox)) (account_id, contact_id, type, payload_json, source, next_attempt_at, created_at, updated_at)
            VALUES (1, \(ana), 'text', '{"type":"text","text":{"body":"hi Anastasia, your order"}}', 'agent', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        let campaign = try connection.execute("""
            INSERT INTO \(site.table(.campaigns)) (account_id, name, template_id, template_name, template_language, state, created_at, updated_at)
            VALUES (1, 'Spring sale', 1, 'spring_sale', 'en_US', 'completed', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
        for (contact, name) in [(ana, "Anastasia"), (bo, "Bohumil")] {
            try connection.execute("""
                INSERT INTO \(site.table(.campaignRecipients)) (campaign_id, contact_id, state, variables_json, next_attempt_at, sent_at, created_at, updated_at)
                VALUES (\(campaign), \(contact), 'sent', \("{\"body\":[\"\(name)\"]}"), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
        }
        let media = uploads + "/cloudchat/2026/12"
        try FileManager.default.createDirectory(atPath: media, withIntermediateDirectories: true)
        for (contact, file, bytes) in [(ana, "a1b2c3.jpg", "anastasia photo bytes"), (bo, "d4e5f6.jpg", "bohumil photo bytes")] {
            try Data(bytes.utf8).write(to: URL(fileURLWithPath: "\(media)/\(file)"))
            try connection.execute("""
                INSERT INTO \(site.table(.media)) (account_id, contact_id, direction, mime_type, file_name, size_bytes, state, storage_path, created_at, updated_at)
                VALUES (1, \(contact), 'inbound', 'image/jpeg', \(contact == ana ? "anastasia-passport.jpg" : "bo.jpg"), \(bytes.utf8.count), 'stored',
                        \("2026/12/" + file), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
        }

        // Export: by the number as a person writes it, to a JSON file and a zip.
        let json = directory.path + "/ana.json"
        let zip = directory.path + "/ana.zip"
        let exported = try CloudChatBinary.run(["contact", "export", "+1 (650) 555-0001", "--output", json, "--zip", zip] + arguments)
        #expect(exported.status == 0, "\(exported.errors)")
        #expect(exported.output.contains("exported 1 contact(s) and 1 media file(s)"), "\(exported.output)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect((document["site"] as? [String: Any])?["blog_id"] as? Int == 1)
        let contacts = try #require(document["contacts"] as? [[String: Any]])
        #expect(contacts.count == 1)
        let person = contacts[0]
        #expect(Set(person.keys) == ["contact", "tags", "consent", "conversation", "messages", "statuses", "outbox", "campaigns", "media"])
        let contact = try #require(person["contact"] as? [String: Any])
        #expect(contact["wa_id"] as? String == "16505550001" && contact["profile_name"] as? String == "Anastasia Zyxwert")
        #expect(contact["email"] as? String == "ana.zyxwert@example.org" && contact["id"] as? Int == Int(ana))
        #expect(person["tags"] as? [String] == ["vip-anastasia"])
        let consent = try #require(person["consent"] as? [[String: Any]])
        #expect(consent.count == 1 && consent[0]["event"] as? String == "opted_in" && consent[0]["detail"] as? String == "Anastasia asked at the counter")
        #expect((person["conversation"] as? [[String: Any]])?.count == 1)
        let messages = try #require(person["messages"] as? [[String: Any]])
        #expect(messages.count == 1 && messages[0]["body"] as? String == "ana private words" && messages[0]["status"] as? String == "received")
        #expect((messages[0]["payload"] as? [String: Any])?["from"] as? String == "16505550001", "payload_json is parsed")
        #expect((messages[0]["message_at"] as? String)?.hasSuffix("Z") == true)
        let statuses = try #require(person["statuses"] as? [[String: Any]])
        #expect(statuses.count == 1 && statuses[0]["wamid"] as? String == "wamid.ANAOUT" && statuses[0]["status"] as? String == "delivered")
        let outbox = try #require(person["outbox"] as? [[String: Any]])
        #expect(((outbox.first?["payload_json"] as? [String: Any])?["text"] as? [String: Any])?["body"] as? String == "hi Anastasia, your order")
        let campaigns = try #require(person["campaigns"] as? [[String: Any]])
        #expect(campaigns.count == 1 && campaigns[0]["campaign_name"] as? String == "Spring sale" && campaigns[0]["template_name"] as? String == "spring_sale")
        #expect((campaigns[0]["variables_json"] as? [String: Any])?["body"] as? [String] == ["Anastasia"])
        let files = try #require(person["media"] as? [[String: Any]])
        #expect(files.count == 1 && files[0]["file_name"] as? String == "anastasia-passport.jpg")
        let archived = try #require(files[0]["file"] as? String)
        #expect(archived.hasPrefix("media/") && archived.hasSuffix("-a1b2c3.jpg"))
        #expect(!String(decoding: try Data(contentsOf: URL(fileURLWithPath: json)), as: UTF8.self).contains("Bohumil"))
        // The zip: the same document and Ana's file, byte for byte, and nothing of Bo's.
        let listing = try CloudChatBinary.runTool("/usr/bin/unzip", ["-Z1", zip])
        #expect(Set(listing.split(separator: "\n").map(String.init)) == [ExportNames.document, archived], "\(listing)")
        #expect(try CloudChatBinary.runTool("/usr/bin/unzip", ["-tq", zip]).contains("No errors detected"))
        #expect(try CloudChatBinary.runTool("/usr/bin/unzip", ["-p", zip, archived]) == "anastasia photo bytes")
        let zipped = try CloudChatBinary.runTool("/usr/bin/unzip", ["-p", zip, ExportNames.document])
        #expect(zipped.contains(#""wa_id" : "16505550001""#) && zipped.contains("ana private words"))
        #expect(try count("""
            SELECT COUNT(*) FROM \(site.table(.auditLog)) WHERE action = 'contact.exported' AND object_id = \(ana) AND actor_type = 'cli'
            """) == 1)
        // Printed when no file is named; an unknown number is an error.
        let printed = try CloudChatBinary.run(["contact", "export", "id:\(bo)"] + arguments)
        #expect(printed.status == 0 && printed.output.contains("bo stays here") && !printed.output.contains("Anastasia"))
        let nobody = try CloudChatBinary.run(["contact", "export", "+44 20 7946 0958"] + arguments)
        #expect(nobody.status == 1 && nobody.errors.contains("no contact matches that"), "\(nobody.errors)")
        #expect(try CloudChatBinary.run(["contact", "export", "not-a-number"] + arguments).status == 64)

        // Erase asks first; anything but yes keeps everything.
        let declined = try Self.run(["contact", "erase", "16505550001"] + arguments, input: "no\n")
        #expect(declined.status == 1 && declined.output.contains("cannot be undone") && declined.errors.contains("not erased"), "\(declined.output)\(declined.errors)")
        #expect(try count("SELECT COUNT(*) FROM \(site.table(.contacts)) WHERE id = \(ana)") == 1)
        let erased = try Self.run(["contact", "erase", "+16505550001"] + arguments, input: "yes\n")
        #expect(erased.status == 0, "\(erased.errors)")
        #expect(erased.output.contains("erased contact \(ana): "), "\(erased.output)")
        #expect(erased.output.contains("contacts 1") && erased.output.contains("messages 1") && erased.output.contains("status_events 1")
                && erased.output.contains("campaign_recipients 1") && erased.output.contains("; 1 file(s)"), "\(erased.output)")

        // Nothing of Ana is left in any column of any row of any CloudChat table, nor in the media directory.
        let needles = ["6505550001", "650 555", "555-0001", "Anastasia", "Zyxwert", "ana private words", "anastasia", "ana.zyxwert", "a1b2c3", "wamid.ANA"]
        let values = try Self.everyValue(of: scratch.prefix, on: connection)
        for (place, value) in values {
            for needle in needles { #expect(!value.contains(needle), "\(place) still holds \(needle)") }
        }
        #expect(values.contains { $0.1.contains("bo stays here") }, "Bo's message stays")
        #expect(values.contains { $0.0.hasSuffix("cloudchat_webhook_events.body") && $0.1.contains("16505550002") }, "Bo's raw webhook stays")
        #expect(values.contains { $0.1 == "Bohumil Keepme" } && values.contains { $0.1 == "vip" } && values.contains { $0.1.contains("Bohumil") })
        var remaining: [String] = []
        if let walker = FileManager.default.enumerator(atPath: uploads) {
            for case let file as String in walker {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: uploads + "/" + file, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                remaining.append(file)
                let bytes = String(decoding: try Data(contentsOf: URL(fileURLWithPath: uploads + "/" + file)), as: UTF8.self)
                for needle in needles { #expect(!bytes.contains(needle) && !file.contains(needle), "\(file)") }
            }
        }
        #expect(remaining.contains("cloudchat/2026/12/d4e5f6.jpg"), "\(remaining)")
        let audit = try #require(try connection.queryFirst("""
            SELECT actor_type, actor_label, details_json FROM \(site.table(.auditLog)) WHERE action = 'contact.erased' AND object_id = \(ana)
            """))
        #expect(try audit.decode(String.self, at: 0) == "cli" && audit.decode(String?.self, at: 1) == "operator")

        // A later message from the same number starts a fresh contact, through the real webhook path.
        try await post(Self.inbound(from: "16505550001", name: "A. Z.", wamid: "wamid.AGAIN1", text: "hello again"))
        try await waitUntil("the new message is processed") {
            try count("SELECT COUNT(*) FROM \(site.table(.messages)) WHERE wamid = 'wamid.AGAIN1'") == 1
        }
        let fresh = try #require(try connection.queryFirst("""
            SELECT id, email, consent_state FROM \(site.table(.contacts)) WHERE wa_id = '16505550001'
            """))
        #expect(try fresh.decode(UInt64.self, at: 0) > max(ana, bo))
        #expect(try fresh.decode(String?.self, at: 1) == nil && fresh.decode(String.self, at: 2) == "unknown")
        #expect(try count("SELECT COUNT(*) FROM \(site.table(.messages)) WHERE contact_id = \(try fresh.decode(UInt64.self, at: 0))") == 1)
        #expect(try count("SELECT COUNT(*) FROM \(site.table(.contactTags)) t JOIN \(site.table(.contacts)) c ON c.id = t.contact_id WHERE c.wa_id = '16505550001'") == 0)

        // Correction and restriction of Bo.
        let updated = try CloudChatBinary.run(["contact", "update", "16505550002", "--name", "Bo K.", "--email", "bo@example.org", "--restrict"]
                                              + arguments)
        #expect(updated.status == 0 && updated.output.contains("contact \(bo): name corrected, email corrected, restricted"), "\(updated.output)\(updated.errors)")
        let row = try #require(try connection.queryFirst("SELECT name, email, restricted_at FROM \(site.table(.contacts)) WHERE id = \(bo)"))
        #expect(try row.decode(String?.self, at: 0) == "Bo K." && row.decode(String?.self, at: 1) == "bo@example.org" && row.decode(Date?.self, at: 2) != nil)
        #expect(try count("SELECT COUNT(*) FROM \(site.table(.consentEvents)) WHERE contact_id = \(bo) AND event = 'restricted' AND source = 'cli'") == 1)
        let corrections = try connection.query("""
            SELECT action, COALESCE(details_json, '') FROM \(site.table(.auditLog)) WHERE object_id = \(bo) AND actor_type = 'cli' ORDER BY id
            """).map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1))" }
        #expect(corrections.contains("contact.restricted ") && corrections.contains(#"contact.corrected {"fields":["name","email"]}"#), "\(corrections)")
        #expect(!corrections.joined().contains("bo@example.org") && !corrections.joined().contains("Bo K."))
        let again = try CloudChatBinary.run(["contact", "update", "id:\(bo)", "--unrestrict"] + arguments)
        #expect(again.output.contains("contact \(bo): unrestricted"), "\(again.output)")
        #expect(try count("SELECT COUNT(*) FROM \(site.table(.contacts)) WHERE id = \(bo) AND restricted_at IS NULL") == 1)
        #expect(try CloudChatBinary.run(["contact", "update", "id:\(bo)", "--email", "not an email"] + arguments).status == 64)
        #expect(try CloudChatBinary.run(["contact", "update", "id:\(bo)", "--restrict", "--unrestrict"] + arguments).status == 64)

        serve.process.terminate()
        try await waitUntil("serve exits", timeout: .seconds(10)) { !serve.process.isRunning }
    }

    @Test(arguments: [
        (["contact", "export"], "Write everything kept about a person as one JSON document"),
        (["contact", "erase"], "It cannot be undone: it asks first unless --yes is given."),
        (["contact", "update"], "Correct a contact's name, email or locale, or restrict them."),
    ])
    func eachContactCommandExplainsItself(_ command: [String], _ expected: String) throws {
        let result = try CloudChatBinary.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.output.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: #"\s+"#, with: " ", options: .regularExpression)
            .contains(expected), "\(result.output)")
        #expect(result.output.contains("--wordpress <path>") && result.output.contains("--blog-id <id>"))
    }

    @Test func numbersIdsAndEmailsAreToldApart() throws {
        #expect(try ContactLookup.parse("42") == .id(42))
        #expect(try ContactLookup.parse("id:12345678") == .id(12_345_678))
        #expect(try ContactLookup.parse("+1 (650) 555-0001") == .number("16505550001"))
        #expect(try ContactLookup.parse("0044 20 7946 0958") == .number("442079460958"))
        #expect(try ContactLookup.parse("16505550001") == .number("16505550001"))
        #expect(try ContactLookup.parse("Ana@Example.org") == .email("Ana@Example.org"))
        #expect(throws: ContactLookup.InvalidQuery.self) { try ContactLookup.parse("+0 12") }
        #expect(throws: ContactLookup.InvalidQuery.self) { try ContactLookup.parse("ana") }
    }
}

enum ExportNames {
    static let document = ContactExporter.Export.documentName
}

extension CloudChatBinary {
    /// Runs another program and answers its standard output.
    static func runTool(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
