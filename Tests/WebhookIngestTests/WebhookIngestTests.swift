import CloudChatCrypto
import Foundation
import MariaDB
import ServiceLifecycle
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore
@testable import WebhookIngest

@Suite("Webhook signature")
struct WebhookSignatureTests {
    let body = Array(#"{"object":"whatsapp_business_account","entry":[]}"#.utf8)

    @Test func acceptsAnyConfiguredSecretAndNothingElse() {
        let verifier = WebhookSignatureVerifier(appSecrets: ["old-secret", "new-secret"])
        for secret in ["old-secret", "new-secret"] {
            #expect(verifier.verify(header: HMACSHA256.signatureHeader(for: body, secret: secret), body: body) == .valid)
        }
        #expect(verifier.verify(header: HMACSHA256.signatureHeader(for: body, secret: "other"), body: body) == .invalid)
        #expect(verifier.verify(header: HMACSHA256.signatureHeader(for: body + [0x20], secret: "new-secret"), body: body) == .invalid)
        #expect(verifier.verify(header: "sha256=zz", body: body) == .invalid)
        #expect(verifier.verify(header: nil, body: body) == .missing)
        #expect(WebhookSignatureVerifier(appSecrets: ["", ""]).verify(header: "sha256=00", body: body) == .notConfigured)
    }
}

@Suite("Webhook routing")
struct WebhookRoutingTests {
    @Test(arguments: [
        (#"{"metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}}"#, "106540352242922"),
        (#"{"phone_number_id" : "123456"}"#, "123456"),
        (#"{"messages":[]}"#, nil),
        (#"{"phone_number_id":12345}"#, nil),
        (#"{"phone_number_id":"12a45"}"#, nil),
        (#"{"phone_number_id":""#, nil),
    ] as [(String, String?)])
    func findsTheFirstPhoneNumberID(_ body: String, _ expected: String?) {
        #expect(WebhookSiteRouter.firstPhoneNumberID(in: Array(body.utf8)) == expected)
    }

    @Test func routesByOwnerOnANetwork() throws {
        let main = try WordPressSite(blogID: 1, tablePrefix: "wp_")
        let shop = try WordPressSite(blogID: 2, tablePrefix: "wp_2_")
        let router = WebhookSiteRouter(sites: [main, shop])
        router.update(owners: .init(numbers: ["222": shop]))
        let known = router.route(Array(#"{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"222"}}}]}]}"#.utf8))
        #expect(known == [.init(site: shop, phoneNumberID: "222", processingState: "pending")])
        let unknown = router.route(Array(#"{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"999"}}}]}]}"#.utf8))
        #expect(unknown == [.init(site: main, phoneNumberID: "999", processingState: "unrouted")])
        // A single site takes everything.
        let single = WebhookSiteRouter(sites: [shop]).route(Array(#"{"phone_number_id":"999"}"#.utf8))
        #expect(single == [.init(site: shop, phoneNumberID: "999", processingState: "pending")])
        // Broken JSON goes to the home site, whose processor records why it is invalid.
        let broken = WebhookSiteRouter(sites: [main, shop], home: shop).route(Array(#"{"entry":[{"changes":"#.utf8))
        #expect(broken == [.init(site: shop, phoneNumberID: nil, processingState: "pending")])
    }

    private static func change(_ field: String, number: String?) -> String {
        let metadata = number.map { #","metadata":{"display_phone_number":"15550000000","phone_number_id":"\#($0)"}"# } ?? ""
        return #"{"field":"\#(field)","value":{"messaging_product":"whatsapp"\#(metadata),"n":"\#(field)-\#(number ?? "waba")"}}"#
    }

    private static func body(_ entries: [(waba: String, changes: [String])]) -> [UInt8] {
        let entryText = entries.map { #"{"id":"\#($0.waba)","time":1749416383,"changes":[\#($0.changes.joined(separator: ","))]}"# }
        return Array(#"{"object":"whatsapp_business_account","entry":[\#(entryText.joined(separator: ","))]}"#.utf8)
    }

    /// The changes a stored body carries, as `field-number` tags, and the WABA of each entry.
    private static func contents(_ body: [UInt8]) throws -> [String] {
        let notification = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        guard case .array(let entries)? = notification["entry"] else { return [] }
        return entries.flatMap { entry -> [String] in
            guard case .array(let changes)? = entry["changes"] else { return [] }
            return changes.map { "\(entry["id"]?.stringValue ?? "?"):\($0["value"]?["n"]?.stringValue ?? "?")" }
        }
    }

    @Test func aBodyForSeveralSitesIsSplitAndWABAFieldsGoToEverySiteInTheWABA() throws {
        let main = try WordPressSite(blogID: 1, tablePrefix: "wp_")
        let shop = try WordPressSite(blogID: 2, tablePrefix: "wp_2_")
        let blog = try WordPressSite(blogID: 3, tablePrefix: "wp_3_")
        let router = WebhookSiteRouter(sites: [main, shop, blog])
        router.update(owners: .init(numbers: ["222": shop, "333": blog], wabas: ["W1": [shop, blog], "W2": [shop]]))

        // Numbers of two sites, an unknown number, a WABA field shared by two sites and one of an unknown WABA.
        let mixed = Self.body([
            (waba: "W1", changes: [Self.change("messages", number: "222"), Self.change("messages", number: "333"),
                                   Self.change("message_template_status_update", number: nil)]),
            (waba: "W2", changes: [Self.change("messages", number: "222"), Self.change("messages", number: "999")]),
            (waba: "W9", changes: [Self.change("account_update", number: nil)]),
        ])
        let routes = router.route(mixed)
        var received: [String: [String]] = [:]
        for route in routes {
            #expect(route.isSplit)
            received["\(route.site.blogID) \(route.processingState) \(route.phoneNumberID ?? route.wabaID ?? "-")"] = try Self.contents(route.body(from: mixed))
        }
        #expect(received == [
            "2 pending 222": ["W1:messages-222", "W2:messages-222"],
            "3 pending 333": ["W1:messages-333"],
            "2 pending W1": ["W1:message_template_status_update-waba"],
            "3 pending W1": ["W1:message_template_status_update-waba"],
            "1 unrouted 999": ["W2:messages-999"],
            "1 unrouted W9": ["W9:account_update-waba"],
        ])

        // A WABA field alone goes, as received, to every site in that WABA.
        let template = Self.body([(waba: "W1", changes: [Self.change("message_template_status_update", number: nil)])])
        #expect(router.route(template) == [
            .init(site: shop, phoneNumberID: nil, wabaID: "W1", processingState: "pending"),
            .init(site: blog, phoneNumberID: nil, wabaID: "W1", processingState: "pending"),
        ])
        // Two numbers of one site: one body, as received.
        let twoOfOne = Self.body([(waba: "W2", changes: [Self.change("messages", number: "222"), Self.change("statuses", number: "222")])])
        #expect(router.route(twoOfOne) == [.init(site: shop, phoneNumberID: "222", processingState: "pending")])
    }

    @Test func theByteScanCountsChangesAndNumbers() {
        let one = WebhookSiteRouter.scanNumbers(in: Array(#"{"field":"messages","value":{"phone_number_id" : "222"}}"#.utf8))
        #expect(one == .init(firstNumber: "222", onlyNumber: "222", numberCount: 1, fieldCount: 1))
        let two = WebhookSiteRouter.scanNumbers(in: Array(#"[{"field":"x","phone_number_id":"222"},{"field":"y","phone_number_id":"333"}]"#.utf8))
        #expect(two.onlyNumber == nil && two.firstNumber == "222" && two.fieldCount == 2)
        let odd = WebhookSiteRouter.scanNumbers(in: Array(#"{"field":"x","phone_number_id":222}"#.utf8))
        #expect(odd.onlyNumber == nil && odd.numberCount == 1)
    }

    @Test func aNetworkStoresEachSitesPartAndMovesWaitingEventsOnceTheNumberIsAdded() async throws {
        let network = try ScratchNetwork("n")
        defer { network.drop() }
        let (connection, sites) = (network.connection, network.sites)
        func addAccount(_ site: WordPressSite, _ number: String) throws { try network.addAccount(site, phoneNumberID: number) }
        try addAccount(sites[1], "222")
        let router = WebhookSiteRouter(sites: sites)
        router.update(owners: try WebhookSiteRouter.loadOwners(of: sites, on: connection))
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        let writer = WebhookEventWriter(pool: pool, router: router, logger: .init(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [writer], logger: .init(label: "test")))
        async let running: Void = group.run()

        func messages(for number: String, wamid: String) -> String {
            #"{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000\#(number)","phone_number_id":"\#(number)"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"\#(wamid)","timestamp":"1749416383","type":"text","text":{"body":"hello"}}]}}"#
        }
        let body = #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1749416383,"changes":[\#(messages(for: "222", wamid: "wamid.TWO")),\#(messages(for: "333", wamid: "wamid.THREE"))]}]}"#
        let routes = try await writer.store(AcceptedWebhook(body: Array(body.utf8)))
        await group.triggerGracefulShutdown()
        try await running

        func rows(_ site: WordPressSite) throws -> [String] {
            try connection.query("SELECT processing_state, is_split, phone_number_id FROM \(site.table(.webhookEvents)) ORDER BY id").map {
                "\(try $0.decode(String.self, at: 0)) \(try $0.decode(Int.self, at: 1)) \(try $0.decode(String?.self, at: 2) ?? "-")"
            }
        }
        #expect(routes.map(\.site) == [sites[1], sites[0]])
        #expect(try rows(sites[0]) == ["unrouted 1 333"])
        #expect(try rows(sites[1]) == ["pending 1 222"])
        #expect(try rows(sites[2]).isEmpty)

        try addAccount(sites[2], "333")
        let owners = try WebhookSiteRouter.loadOwners(of: sites, on: connection)
        #expect(try UnroutedWebhookEvents.reroute(sites: sites, owners: owners, on: connection) == [sites[2]: 1])
        #expect(try rows(sites[0]).isEmpty)
        #expect(try rows(sites[2]) == ["pending 1 333"])

        // Each site's processor sees only its own message.
        for site in sites {
            let processor = WebhookProcessor(site: site, pool: pool, instanceID: "test", logger: .init(label: "test"))
            #expect(try await processor.processAvailable())
        }
        for (site, expected) in [(sites[0], [String]()), (sites[1], ["wamid.TWO"]), (sites[2], ["wamid.THREE"])] {
            #expect(try connection.query("SELECT wamid FROM \(site.table(.messages))").map { try $0.decode(String.self, at: 0) } == expected)
        }
        await pool.shutdown()
    }

    @Test func aNumberClaimedByTwoSitesIsRoutedToNeither() throws {
        let network = try ScratchNetwork("r")
        defer { network.drop() }
        let (connection, sites) = (network.connection, network.sites)
        func addAccount(_ site: WordPressSite, _ number: String) throws { try network.addAccount(site, phoneNumberID: number, wabaID: "w1") }
        try addAccount(sites[1], "222")
        try addAccount(sites[2], "333")
        try addAccount(sites[0], "333")
        let owners = try WebhookSiteRouter.loadOwners(of: sites, on: connection)
        #expect(owners.numbers == ["222": sites[1]])
        #expect(owners.wabas == ["w1": sites])
        #expect(owners.contested == ["333": [sites[0], sites[2]]])
    }
}

@Suite("Webhook writer", .timeLimit(.minutes(2)))
struct WebhookEventWriterTests {
    private func withWriter(_ body: (WebhookEventWriter, WordPressSite, MariaDBConnection, ServiceGroup) async throws -> Void) async throws {
        let scratch = try ScratchSite("w")
        defer { scratch.drop() }
        let (connection, site) = (scratch.connection, scratch.site)
        let pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
        let writer = WebhookEventWriter(pool: pool, router: WebhookSiteRouter(sites: [site]), logger: .init(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [writer], logger: .init(label: "test")))
        async let running: Void = group.run()
        try await body(writer, site, connection, group)
        await group.triggerGracefulShutdown()
        try await running
        await pool.shutdown()
    }

    @Test func everyAcknowledgedBodyIsInTheDatabaseAndCommitsAreGrouped() async throws {
        try await withWriter { writer, site, connection, _ in
            let count = 400
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        let body = Array(#"{"n":\#(index),"phone_number_id":"555"}"#.utf8)
                        try await writer.store(AcceptedWebhook(body: body))
                        // Acknowledged means committed: another connection sees it now.
                        let reader = try TestDatabase.connect()
                        let seen = try reader.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE body = \(body)")
                        #expect(try seen?.decode(Int.self, at: 0) == 1)
                    }
                }
                try await group.waitForAll()
            }
            let row = try #require(try connection.queryFirst("""
                SELECT COUNT(*), SUM(signature_verified), SUM(processing_state = 'pending'), MIN(phone_number_id), MAX(phone_number_id)
                FROM \(site.table(.webhookEvents))
                """))
            #expect(try row.decode(Int.self, at: 0) == count)
            #expect(try row.decode(Int.self, at: 1) == count)
            #expect(try row.decode(Int.self, at: 2) == count)
            #expect(try row.decode(String.self, at: 3) == "555")
            let statistics = writer.currentStatistics
            #expect(statistics.stored == count)
            #expect(statistics.commits < count, "concurrent bodies share commits (\(statistics.commits) commits)")
        }
    }

    @Test func oneWebhookAtATimeIsNoPressure() async throws {
        try await withWriter { writer, _, _, _ in
            #expect(!writer.isUnderPressure)
            for index in 0..<20 { try await writer.store(AcceptedWebhook(body: Array(#"{"n":\#(index)}"#.utf8))) }
            #expect(writer.currentStatistics.commits == 20)
            #expect(writer.currentStatistics.recentCommitSize < 1.5)
            #expect(!writer.isUnderPressure)
        }
    }

    @Test func bodiesAreStoredByteForByte() async throws {
        try await withWriter { writer, site, connection, _ in
            let body: [UInt8] = Array(#"{"broken json", "emoji":"😀"#.utf8) + [0x00, 0xFF, 0x0A]
            try await writer.store(AcceptedWebhook(body: body))
            let stored = try connection.queryFirst("SELECT body FROM \(site.table(.webhookEvents))")?.decode([UInt8].self, at: 0)
            #expect(stored == body)
        }
    }

    @Test func aFailedCommitFailsItsRequestsAndTheWriterRecovers() async throws {
        try await withWriter { writer, site, connection, _ in
            try connection.execute(unsafeSQL: "RENAME TABLE \(site.table(.webhookEvents).quoted) TO \(site.table(.webhookEvents).name)_away")
            await #expect(throws: WebhookStoreError.self) { try await writer.store(AcceptedWebhook(body: [0x7B, 0x7D])) }
            try connection.execute(unsafeSQL: "RENAME TABLE \(site.table(.webhookEvents).name)_away TO \(site.table(.webhookEvents).quoted)")
            try await writer.store(AcceptedWebhook(body: [0x7B, 0x7D]))
            #expect(writer.currentStatistics.failed == 1)
            #expect(writer.currentStatistics.stored == 1)
        }
    }

    @Test func shutdownCommitsWhatWasAcceptedAndRefusesTheRest() async throws {
        try await withWriter { writer, site, connection, group in
            let results = Task {
                await withTaskGroup(of: Bool.self) { tasks in
                    for index in 0..<200 {
                        tasks.addTask { (try? await writer.store(AcceptedWebhook(body: Array("{\"n\":\(index)}".utf8)))) != nil }
                    }
                    return await tasks.reduce(into: [Bool]()) { $0.append($1) }
                }
            }
            await group.triggerGracefulShutdown()
            let acknowledged = await results.value.filter { $0 }.count
            let stored = try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents))")?.decode(Int.self, at: 0)
            #expect(stored == acknowledged, "every acknowledged body is stored, and nothing unacknowledged")
            await #expect(throws: WebhookStoreError.self) { try await writer.store(AcceptedWebhook(body: [0x7B, 0x7D])) }
        }
    }
}

@Suite("Webhook writer limits")
struct WebhookWriterLimitsTests {
    @Test func commitsAndBodiesFitTheServersPacket() {
        let roomy = WebhookEventWriter.Limits.fitting(maxAllowedPacket: 64 * 1024 * 1024, maxBodyBytes: 4 * 1024 * 1024)
        #expect(roomy.limits.maxBytes == 8 * 1024 * 1024)
        #expect(roomy.maxBodyBytes == 4 * 1024 * 1024)
        let tight = WebhookEventWriter.Limits.fitting(maxAllowedPacket: 4 * 1024 * 1024, maxBodyBytes: 4 * 1024 * 1024)
        #expect(tight.limits.maxBytes < 4 * 1024 * 1024)
        #expect(tight.maxBodyBytes == tight.limits.maxBytes, "a body that fits alone also fits a commit")
    }
}
