import CloudChatCrypto
import Foundation
import GraphSimulator
import Logging
import MariaDB
@testable import Sending
import TestSupport
import ServiceLifecycle
import Testing
import WhatsAppCloudAPI
import WordPressStore

/// Campaign rows and templates in a scratch site.
extension OutboxFixture {
    static let orderUpdateComponents = #"""
        [{"type":"BODY","text":"Hi {{1}}, your order {{2}} has shipped and is on its way."},
         {"type":"BUTTONS","buttons":[{"type":"URL","text":"Track order","url":"https://shop.example.com/track/{{1}}"}]}]
        """#

    /// Stores a synced template as the template sync would.
    func addTemplate(_ name: String, status: String = "APPROVED", components: String = "[]") throws {
        try connection.execute("""
            INSERT INTO \(site.table(.templates)) (waba_id, name, language, status, components_json, created_at, updated_at)
            VALUES ('102290129340398', \(name), 'en_US', \(status), \(components), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            ON DUPLICATE KEY UPDATE status = VALUES(status), components_json = VALUES(components_json)
            """)
    }

    /// Adds contacts with consecutive numbers from `first`; returns their numbers.
    @discardableResult
    func addContacts(_ count: Int, first: Int = 16_505_550_000, consent: String = "opted_in", name: String? = "Ana Lima",
                     tag: String? = nil) throws -> [String] {
        var numbers: [String] = []
        for index in 0..<count {
            let number = String(first + index)
            let id = try connection.execute("""
                INSERT INTO \(site.table(.contacts)) (account_id, wa_id, name, consent_state, source, created_at, updated_at)
                VALUES (\(accountID), \(number), \(name), \(consent), 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """).lastInsertID
            if let tag {
                try connection.execute("""
                    INSERT INTO \(site.table(.contactTags)) (contact_id, tag, created_at) VALUES (\(id), \(tag), UTC_TIMESTAMP(6))
                    """)
            }
            numbers.append(number)
        }
        return numbers
    }

    func createCampaign(template: String = "hello_world", audience: JSONValue = .object(["type": "all_opted_in"]),
                        variables: JSONValue? = nil, rate: Double? = nil) throws -> UInt64 {
        try CampaignStore(site: site).create(NewCampaign(phoneNumberID: "106540352242922", name: "Test campaign", templateName: template,
                                                         templateLanguage: "en_US", variables: variables, audience: audience,
                                                         rateLimit: rate), on: connection)
    }

    func recipientStates(_ campaignID: UInt64) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try connection.query("""
            SELECT CONCAT(state, IF(state_reason IS NULL, '', CONCAT(':', state_reason))), COUNT(*)
              FROM \(site.table(.campaignRecipients)) WHERE campaign_id = \(campaignID) GROUP BY 1
            """) {
            counts[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
        }
        return counts
    }

    func campaignState(_ id: UInt64) throws -> String {
        let campaign = try CampaignStore(site: site).load(id, on: connection)
        return campaign.state.rawValue + (campaign.stateReason.map { ":" + $0 } ?? "")
    }
}

@Suite("Campaign definitions")
struct CampaignDefinitionTests {
    @Test func csvFilesAsSpreadsheetsWriteThemAreRead() throws {
        let table = try CSVTable(parsing: "\u{FEFF}phone;name;note\r\n+1 650 555 0001;\"Lima; Ana\";\"said \"\"hi\"\"\"\r\n\r\n16505550002;Bo;\"two\nlines\"\n")
        #expect(table.header == ["phone", "name", "note"])
        #expect(table.rows.map(\.line) == [2, 4])
        #expect(table.rows.map(\.fields) == [["+1 650 555 0001", "Lima; Ana", "said \"hi\""], ["16505550002", "Bo", "two\nlines"]])
        #expect(throws: CampaignError.self) { try CSVTable(parsing: "phone\n\"16505550001\n") }
        #expect(throws: CampaignError.self) { try CSVTable(parsing: "  \n") }
    }

    @Test func theFollowViewMeasuresRateAndTimeLeft() {
        var meter = CampaignProgressView.RateMeter(window: 5)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(meter.rate == nil)
        for second in 0...10 { meter.add(finished: second * 1000, at: start.addingTimeInterval(Double(second))) }
        #expect(meter.rate == 1000)
        #expect(CampaignProgressView.duration(3909) == "1:05:09")
        #expect(CampaignProgressView.duration(247) == "4:07")
        #expect(CampaignProgressView.grouped(1234567) == "1,234,567")
    }

    @Test func phoneNumbersAreNormalisedOrRefused() {
        #expect(PhoneNumber.normalized("+1 (650) 555-1234") == "16505551234")
        #expect(PhoneNumber.normalized("0016505551234") == "16505551234")
        #expect(PhoneNumber.normalized("44 20 7946 0958") == "442079460958")
        #expect(PhoneNumber.normalized("0650 555 1234") == nil)  // a national number: no country code
        #expect(PhoneNumber.normalized("12345") == nil)
        #expect(PhoneNumber.normalized("1650555123x") == nil)
        #expect(PhoneNumber.normalized("1234567890123456") == nil)
    }

    @Test func variablesResolveFromContactsColumnsAndConstantsIntoGraphComponents() throws {
        let variables = try CampaignVariables(json: try JSONValue.parse(Array(#"""
            {"body":[{"field":"first_name","fallback":"there"},{"column":"order"}],"buttons":{"0":{"column":"order"}},
             "header":[{"image":{"link":"https://shop.example.com/a.jpg"}}]}
            """#.utf8)))
        #expect(variables.columns == ["order", "order"])
        let values = try variables.resolve(in: .init(contact: ["first_name": ""], columns: ["order": "#1042"])).get()
        #expect(values["body"] == .array(["there", "#1042"]))
        let template = TemplateDefinition(id: 1, name: "order_update", language: "en_US", status: "APPROVED", parameterFormat: nil,
                                          components: try JSONValue.parse(Array(OutboxFixture.orderUpdateComponents.utf8)))
        let send = CampaignVariables.templateSend(name: "order_update", language: "en_US", values: values, template: template)
        #expect(send["components"]?.jsonText == #"""
            [{"parameters":[{"image":{"link":"https://shop.example.com/a.jpg"},"type":"image"}],"type":"header"},{"parameters":[{"text":"there","type":"text"},{"text":"#1042","type":"text"}],"type":"body"},{"index":"0","parameters":[{"text":"#1042","type":"text"}],"sub_type":"url","type":"button"}]
            """#)
        // A value nobody has is an error naming the parameter, not an empty parameter Meta would refuse.
        guard case .failure(let missing) = variables.resolve(in: .init(columns: ["order": ""])) else {
            Issue.record("an empty value resolved")
            return
        }
        #expect(missing.description.contains("body parameter 2"))
        #expect(throws: CampaignError.self) { try CampaignVariables(json: .object(["body": .array([.object(["field": "age"])])])) }
    }
}

@Suite("Campaigns in the database", .serialized, .timeLimit(.minutes(1)))
struct CampaignStoreTests {
    @Test func csvImportReportsBadRowsAndSkipsOptedOutContacts() throws {
        let fixture = try OutboxFixture("cc")
        defer { fixture.drop() }
        try fixture.addTemplate("order_update", components: OutboxFixture.orderUpdateComponents)
        try fixture.addContacts(1, first: 16_505_559_000, consent: "opted_out")
        let id = try fixture.createCampaign(template: "order_update", audience: .object(["type": "csv"]),
                                            variables: .object(["body": .array([.object(["column": "name"]), .object(["column": "order"])]),
                                                                "buttons": .object(["0": .object(["column": "order"])])]))
        let csv = """
            Name,Phone,Order
            Ana,+1 650 555 0001,1042
            Bo,not a number,1043
            Cy,16505550001,1044
            Di,16505550003,
            Ed,16505559000,1045
            Fa,,1046
            Gil,(1) 650-555-0007,1047
            """
        let report = try CampaignAudience(site: fixture.site).importCSV(csv, into: id, on: fixture.connection)
        #expect(report.rows == 7)
        #expect(report.added == 2)
        #expect(report.skipped == ["opted_out": 1])
        #expect(report.problems.map(\.line) == [3, 4, 5, 7])
        #expect(report.problems[1].reason == "the same number as line 2")
        #expect(report.problems[2].reason.contains("body parameter 2"))
        #expect(try fixture.recipientStates(id) == ["pending": 2, "skipped:opted_out": 1])
        // Importing again adds nobody twice.
        let again = try CampaignAudience(site: fixture.site).importCSV(csv, into: id, on: fixture.connection)
        #expect(again.added == 0 && again.alreadyInCampaign == 3)
        // A file without the columns the variables need is refused as a whole.
        #expect(throws: CampaignError.self) { try CampaignAudience(site: fixture.site).importCSV("phone\n16505550009\n", into: id, on: fixture.connection) }
    }

    @Test func tagAudiencesAreMaterialisedAtStartWithDuplicatesAndOptOutsSkipped() throws {
        let fixture = try OutboxFixture("ct")
        defer { fixture.drop() }
        try fixture.addTemplate("hello_world")
        try fixture.addContacts(3, first: 16_505_550_100, tag: "vip")
        try fixture.addContacts(2, first: 16_505_550_200, consent: "opted_out", tag: "vip")
        try fixture.addContacts(4, first: 16_505_550_300, tag: "other")
        // Someone known by a business-scoped user id, with a phone typed in that another contact has as
        // WhatsApp id: one message, not two.
        try fixture.connection.execute("""
            INSERT INTO \(fixture.site.table(.contacts)) (account_id, user_id, phone, consent_state, source, created_at, updated_at)
            VALUES (\(fixture.accountID), 'US.13491208655302741918', '16505550100', 'opted_in', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """)
        let id = try fixture.createCampaign(audience: .object(["type": "tags", "tags": .array(["vip"]), "match": "any"]))
        let campaign = try CampaignStore(site: fixture.site).start(id, on: fixture.connection)
        #expect(campaign.state == .running && campaign.recipientsTotal == 5)
        #expect(try fixture.recipientStates(id) == ["pending": 3, "skipped:opted_out": 2])
        // Starting again changes nothing.
        #expect(try CampaignStore(site: fixture.site).start(id, on: fixture.connection).recipientsTotal == 5)
        let everyone = try fixture.createCampaign()
        try CampaignStore(site: fixture.site).start(everyone, on: fixture.connection)
        #expect(try fixture.recipientStates(everyone) == ["pending": 7, "skipped:duplicate": 1])
    }

    @Test func aStartLeftHalfDoneIsFinishedAndOnlyThenCompletes() throws {
        let fixture = try OutboxFixture("cf")
        defer { fixture.drop() }
        try fixture.addTemplate("hello_world")
        try fixture.addContacts(3)
        let store = CampaignStore(site: fixture.site)
        let id = try fixture.createCampaign()
        // The starter dies after the first half: the campaign runs, its recipient set is not final.
        let begun = try store.beginStart(id, on: fixture.connection)
        #expect(begun.state == .running && begun.materializedAt == nil)
        #expect(try store.completeIfDone(id, on: fixture.connection) == false, "no recipient exists yet, but the set is not final")
        #expect(try store.due(on: fixture.connection).toFinish.isEmpty, "a start under way is left alone for a minute")
        #expect(try store.due(now: Date().addingTimeInterval(120), on: fixture.connection).toFinish == [id])
        let finished = try store.finishStart(id, on: fixture.connection)
        #expect(finished.materializedAt != nil && finished.recipientsTotal == 3)
        #expect(try store.finishStart(id, on: fixture.connection).recipientsTotal == 3)
        #expect(try fixture.recipientStates(id) == ["pending": 3])
        // An audience nobody matches cannot start.
        let empty = try fixture.createCampaign(audience: .object(["type": "tags", "tags": .array(["nobody"])]))
        #expect(throws: CampaignError.self) { try store.start(empty, on: fixture.connection) }
        #expect(try fixture.campaignState(empty) == "draft")
    }

    @Test func lifecycleTransitionsAreComparedAndSet() throws {
        let fixture = try OutboxFixture("cl")
        defer { fixture.drop() }
        try fixture.addTemplate("hello_world")
        try fixture.addContacts(2)
        let store = CampaignStore(site: fixture.site)
        let id = try fixture.createCampaign()
        #expect(throws: CampaignError.self) { try store.pause(id, on: fixture.connection) }  // a draft is not running
        #expect(try store.schedule(id, at: Date().addingTimeInterval(3600), on: fixture.connection).state == .scheduled)
        #expect(try store.due(on: fixture.connection).toStart.isEmpty)
        #expect(try store.due(now: Date().addingTimeInterval(7200), on: fixture.connection).toStart == [id])
        #expect(try store.start(id, on: fixture.connection).state == .running)
        #expect(try store.pause(id, on: fixture.connection).state == .paused)
        #expect(try store.pause(id, on: fixture.connection).state == .paused)  // twice is harmless
        #expect(try store.resume(id, on: fixture.connection).state == .running)
        #expect(try store.halt(id, reason: "spam_rate_limit", code: 131048, details: "quality", on: fixture.connection))
        #expect(try fixture.campaignState(id) == "halted:spam_rate_limit")
        #expect(try store.resume(id, on: fixture.connection).state == .running)
        #expect(try store.completeIfDone(id, on: fixture.connection) == false)  // two recipients pending
        let cancelled = try store.cancel(id, on: fixture.connection)
        #expect(cancelled.state == .cancelled)
        #expect(throws: CampaignError.self) { try store.resume(id, on: fixture.connection) }
        #expect(throws: CampaignError.self) { try store.start(id, on: fixture.connection) }
        let results = try #require(try fixture.connection.queryFirst("SELECT results_json FROM \(fixture.site.table(.campaigns)) WHERE id = \(id)"))
        #expect(try JSONValue.parse(Array(try results.decode(String.self, at: 0).utf8))["pending"] == 2)
        let progress = try store.progress(id, on: fixture.connection)
        let bar = CampaignProgressView.bar(progress, rate: 12.4)
        #expect(bar.hasPrefix("[........................]   0.0%  0/2  12/s"), "\(bar)")
        #expect(bar.hasSuffix("cancelled (user)"), "\(bar)")
        #expect(CampaignProgressView.summary(progress).contains("recipients 2: pending 2, sending 0, sent 0"))
        // A campaign on a halted number neither starts nor resumes until the number is fixed.
        let other = try fixture.createCampaign()
        try fixture.connection.execute("UPDATE \(fixture.site.table(.accounts)) SET state = 'halted', state_reason = 'credentials_invalid'")
        #expect(throws: CampaignError.self) { try store.start(other, on: fixture.connection) }
        try fixture.connection.execute("UPDATE \(fixture.site.table(.accounts)) SET state = 'active', state_reason = NULL")
        // Templates that are not approved cannot start a campaign.
        try fixture.addTemplate("winter_clearance", status: "PAUSED")
        #expect(throws: CampaignError.self) { try fixture.createCampaign(template: "winter_clearance") }
    }
}

/// Campaigns sent by the senders against the Graph API simulator, without webhooks.
@Suite("Campaign sending", .serialized, .timeLimit(.minutes(2)))
struct CampaignSendingTests {
    /// Starts a hello_world campaign to `contacts` opted-in contacts and tells the sender.
    static func startCampaign(_ fixture: OutboxFixture, _ service: OutboxSenderService, contacts: Int, rate: Double? = nil,
                              first: Int = 16_505_550_000) throws -> (id: UInt64, numbers: [String]) {
        try fixture.addTemplate("hello_world")
        let numbers = try fixture.addContacts(contacts, first: first)
        let id = try fixture.createCampaign(rate: rate)
        try CampaignStore(site: fixture.site).start(id, on: fixture.connection)
        service.notify(site: fixture.site)
        return (id, numbers)
    }

    @Test func everyRecipientIsMessagedOnceAndTheCampaignCompletes() async throws {
        try await OutboxSenderTests.with(sendRate: 200) { fixture, simulator, service in
            let (id, numbers) = try Self.startCampaign(fixture, service, contacts: 60)
            try await waitUntil("the campaign completes", timeout: .seconds(30)) { (try? fixture.campaignState(id)) == "completed" }
            #expect(try fixture.recipientStates(id) == ["sent": 60])
            for number in numbers { #expect(simulator.acceptedCount(to: number) == 1) }
            let messages = try #require(try fixture.connection.queryFirst("""
                SELECT COUNT(*), COUNT(DISTINCT campaign_recipient_id), MIN(source) FROM \(fixture.site.table(.messages)) WHERE campaign_id = \(id)
                """))
            #expect(try messages.decode(Int.self, at: 0) == 60 && messages.decode(Int.self, at: 1) == 60)
            #expect(try messages.decode(String.self, at: 2) == "campaign")
            let progress = try CampaignStore(site: fixture.site).progress(id, on: fixture.connection)
            #expect(progress.sent == 60 && progress.pending == 0)
        }
    }

    @Test func pauseStopsSendingWithinASecondAndResumeFinishesTheRest() async throws {
        try await OutboxSenderTests.with(sendRate: 200) { fixture, simulator, service in
            let (id, numbers) = try Self.startCampaign(fixture, service, contacts: 100, rate: 20)
            try await waitUntil("some are sent") { simulator.statistics().sends.accepted >= 10 }
            try CampaignStore(site: fixture.site).pause(id, on: fixture.connection)
            service.notify(site: fixture.site)
            try await Task.sleep(for: .seconds(1))
            let atPause = simulator.statistics().sends.accepted
            try await Task.sleep(for: .milliseconds(1500))
            #expect(simulator.statistics().sends.accepted == atPause, "nothing is sent while paused")
            #expect(atPause < 100)
            let waiting = try fixture.recipientStates(id)
            #expect(waiting["sending"] == nil, "claimed recipients went back: \(waiting)")
            try CampaignStore(site: fixture.site).resume(id, on: fixture.connection)
            service.notify(site: fixture.site)
            try await waitUntil("the campaign completes", timeout: .seconds(30)) { (try? fixture.campaignState(id)) == "completed" }
            for number in numbers { #expect(simulator.acceptedCount(to: number) == 1) }
        }
    }

    @Test(arguments: [(131048, "spam_rate_limit"), (132015, "template_paused"), (132016, "template_disabled"), (131042, "payment_issue"),
                      (131031, "account_locked"), (368, "account_locked")])
    func aHaltClassErrorHaltsTheCampaignWithItsReason(code: Int, reason: String) async throws {
        try await OutboxSenderTests.with(simulator: { $0.failureRules = [.init(recipientSuffix: "0007", code: code, mode: .synchronous)] },
                                         sendRate: 5) { fixture, simulator, service in
            let (id, _) = try Self.startCampaign(fixture, service, contacts: 20)
            try await waitUntil("the campaign halts") { (try? fixture.campaignState(id)) == "halted:\(reason)" }
            let campaign = try CampaignStore(site: fixture.site).load(id, on: fixture.connection)
            #expect(campaign.errorCode == code)
            // The recipient Meta refused is not lost: it is sent when the campaign resumes.
            try await waitUntil("the refused recipient is pending again") {
                (try? fixture.connection.queryFirst("""
                    SELECT r.state FROM \(fixture.site.table(.campaignRecipients)) r JOIN \(fixture.site.table(.contacts)) c ON c.id = r.contact_id
                     WHERE c.wa_id = '16505550007'
                    """)?.decode(String.self, at: 0)) == "pending"
            }
            let settled = try await Self.settledCount(fixture, id)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try Self.sentCount(fixture, id) == settled, "nothing more is sent once halted")
            #expect(settled < 20)
            _ = simulator
        }
    }

    @Test func aRefusedTokenHaltsTheCampaign() async throws {
        try await OutboxSenderTests.with(token: "expired-token") { fixture, _, service in
            let (id, _) = try Self.startCampaign(fixture, service, contacts: 5)
            try await waitUntil("the campaign halts") { (try? fixture.campaignState(id)) == "halted:credentials_invalid" }
            try await waitUntil("every recipient waits, none spent") { (try? fixture.recipientStates(id)) == ["pending": 5] }
        }
    }

    @Test func theMessagingLimitPausesTheCampaignUntilTheWindowFrees() async throws {
        try await OutboxSenderTests.with(sendRate: 200) { fixture, simulator, service in
            try fixture.connection.execute("UPDATE \(fixture.site.table(.accounts)) SET messaging_limit_tier = 'TIER_50'")
            service.notify(site: fixture.site)
            try await Task.sleep(for: .milliseconds(100))
            let (id, _) = try Self.startCampaign(fixture, service, contacts: 60)
            try await waitUntil("the campaign pauses", timeout: .seconds(30)) { (try? fixture.campaignState(id)) == "paused:messaging_limit_reached" }
            try await waitUntil("the claimed ones are recorded") { (try? fixture.recipientStates(id)["sending"]) == nil }
            #expect(try fixture.recipientStates(id) == ["sent": 50, "pending": 10])
            #expect(simulator.statistics().sends.accepted == 50)
            let campaign = try CampaignStore(site: fixture.site).load(id, on: fixture.connection)
            let resumeAt = try #require(campaign.resumeAt)
            #expect(abs(resumeAt.timeIntervalSinceNow - 24 * 3600) < 120, "it resumes when the first send leaves the 24 hours")
        }
    }

    @Test func contactsWhoOptOutWhileItRunsAreSkipped() async throws {
        try await OutboxSenderTests.with(sendRate: 200) { fixture, simulator, service in
            let (id, numbers) = try Self.startCampaign(fixture, service, contacts: 40, rate: 10)
            try fixture.connection.execute("""
                UPDATE \(fixture.site.table(.contacts)) SET consent_state = 'opted_out' WHERE wa_id IN (\(list: Array(numbers.suffix(5))))
                """)
            try await waitUntil("the campaign completes", timeout: .seconds(30)) { (try? fixture.campaignState(id)) == "completed" }
            #expect(try fixture.recipientStates(id) == ["sent": 35, "skipped:opted_out": 5])
            for number in numbers.suffix(5) { #expect(simulator.acceptedCount(to: number) == 0) }
        }
    }

    static func sentCount(_ fixture: OutboxFixture, _ id: UInt64) throws -> Int {
        try fixture.recipientStates(id).filter { $0.key.hasPrefix("sent") }.values.reduce(0, +)
    }

    /// The sent count once no recipient is being sent.
    static func settledCount(_ fixture: OutboxFixture, _ id: UInt64) async throws -> Int {
        try await waitUntil("no recipient is being sent") { (try? fixture.recipientStates(id)["sending"]) == nil }
        return try sentCount(fixture, id)
    }
}

@Suite("Campaigns with two daemons", .serialized, .timeLimit(.minutes(2)))
struct CampaignTwoDaemonTests {
    @Test func twoDaemonsOnOneDatabaseShareTheWorkWithoutDoubleSends() async throws {
        let numbers = [GraphSimulator.BusinessNumber(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881", wabaID: "102290129340398",
                                                     messagesPerSecond: 1000),
                       GraphSimulator.BusinessNumber(phoneNumberID: "106540352242923", displayPhoneNumber: "15550783882", wabaID: "102290129340398",
                                                     messagesPerSecond: 1000)]
        var simulated = GraphSimulator.Configuration()
        simulated.port = 0
        simulated.numbers = numbers
        let simulator = try await GraphSimulator.start(simulated)
        let fixture = try OutboxFixture("c2")
        defer { fixture.drop() }
        let keyring = try SecretsKeyring(keys: [("k", SymmetricKey.generate())])
        let second = try fixture.connection.execute("""
            INSERT INTO \(fixture.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES ('102290129340398', '106540352242923', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
        for account in [fixture.accountID, second] {
            try AccountCredentials.store(.init(accessToken: "simulator-access-token", appSecret: nil), accountID: account, site: fixture.site,
                                         keyring: keyring, on: fixture.connection)
        }
        try fixture.connection.execute("UPDATE \(fixture.site.table(.accounts)) SET send_rate_mps = 100")
        try fixture.addTemplate("hello_world")
        // Two campaigns on the first number, one on the second; recipients of both numbers.
        let firstNumbers = try fixture.addContacts(150, first: 16_505_550_000)
        let secondNumbers = (0..<150).map { String(16_505_560_000 + $0) }
        for number in secondNumbers {
            try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.contacts)) (account_id, wa_id, consent_state, source, created_at, updated_at)
                VALUES (\(second), \(number), 'opted_in', 'import', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
        }
        let store = CampaignStore(site: fixture.site)
        let campaigns = [
            try fixture.createCampaign(),
            try fixture.createCampaign(audience: .object(["type": "tags", "tags": .array(["none"])])),
            try store.create(NewCampaign(phoneNumberID: "106540352242923", name: "Second number", templateName: "hello_world",
                                         templateLanguage: "en_US", audience: .object(["type": "all_opted_in"])), on: fixture.connection),
        ]
        // The second campaign reaches the first number's contacts through a tag.
        for number in firstNumbers.prefix(50) {
            try fixture.connection.execute("""
                INSERT INTO \(fixture.site.table(.contactTags)) (contact_id, tag, created_at)
                SELECT id, 'none', UTC_TIMESTAMP(6) FROM \(fixture.site.table(.contacts)) WHERE wa_id = \(number)
                """)
        }
        for id in campaigns { try store.start(id, on: fixture.connection) }

        var configuration = SenderConfiguration()
        configuration.graphBaseURL = simulator.baseURL
        configuration.pollInterval = .milliseconds(200)
        configuration.leaseDuration = .seconds(2)
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 6)
        let http = GraphHTTPClient()
        let daemons = ["daemon-a", "daemon-b"].map {
            OutboxSenderService(sites: [fixture.site], pool: pool, http: http, vault: CredentialVault(keyring: keyring),
                                configuration: configuration, instanceID: $0, logger: Logger(label: "test"))
        }
        let groups = daemons.map { ServiceGroup(configuration: .init(services: [$0], logger: Logger(label: "test"))) }
        async let runA: Void = groups[0].run()
        async let runB: Void = groups[1].run()
        for daemon in daemons { daemon.notify(site: fixture.site) }
        // Midway the daemon that has sent stops (one may hold both numbers); the other takes its numbers over.
        // Up to 60 s: this test starts while the whole suite is starting on the same two cores.
        try await waitUntil("a third is sent", timeout: .seconds(60)) { simulator.statistics().sends.accepted >= 120 }
        let first = daemons[0].statistics.accepted.load(ordering: .relaxed) >= daemons[1].statistics.accepted.load(ordering: .relaxed) ? 0 : 1
        await groups[first].triggerGracefulShutdown()
        if first == 0 { try await runA } else { try await runB }
        try await waitUntil("every campaign completes", timeout: .seconds(60)) {
            try campaigns.allSatisfy { try fixture.campaignState($0) == "completed" }
        }
        await groups[1 - first].triggerGracefulShutdown()
        if first == 0 { try await runB } else { try await runA }
        await pool.shutdown()
        http.shutdown()
        await simulator.shutdown()

        for number in secondNumbers { #expect(simulator.acceptedCount(to: number) == 1) }
        for number in firstNumbers.prefix(50) { #expect(simulator.acceptedCount(to: number) == 2, "in two campaigns: once each") }
        for number in firstNumbers.dropFirst(50) { #expect(simulator.acceptedCount(to: number) == 1) }
        #expect(simulator.statistics().sends.accepted == 350)
        let byDaemon = daemons.map { $0.statistics.accepted.load(ordering: .relaxed) }
        #expect(byDaemon.allSatisfy { $0 > 0 } && byDaemon.reduce(0, +) == 350, "both daemons sent: \(byDaemon)")
    }
}
