import CloudChatCrypto
import Foundation
import GraphSimulator
import TestSupport
import Testing
import WhatsAppCloudAPI

/// Status, inbound and template webhooks, received by a recording HTTP server and read with the daemon's own models.
@Suite("Simulator webhooks", .timeLimit(.minutes(1)))
struct WebhookTests {
    private let from = SimulatorHarness.number.phoneNumberID

    @Test func statusesArriveSignedInMetasEnvelopeAndInOrder() async throws {
        try await SimulatorHarness.run(webhooks: true) { harness in
            let first = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi"), callbackData: "cc1:m:1"), from: from)
            let second = try await harness.client.send(
                OutboundMessage(to: "16505554321", .template(.init(name: "hello_world", language: "en_US"))), from: from)
            try await harness.waitForStatuses(6)

            for (request, notification) in try harness.webhooks() {
                #expect(request.method == "POST" && request.path == "/webhook")
                #expect(request.headers["content-type"] == "application/json")
                #expect(HMACSHA256.isValidSignature(header: request.headers["x-hub-signature-256"], body: request.body,
                                                    secret: SimulatorHarness.appSecret))
                let raw = try JSONValue.parse(request.body)
                #expect(raw["object"] == .string("whatsapp_business_account"))
                #expect(notification.entries.map(\.id) == [SimulatorHarness.number.wabaID])
                let change = try #require(notification.entries.first?.changes.first)
                #expect(change.field == "messages")
                guard case .messages(let value) = change.value else { Issue.record("not a messages change"); continue }
                #expect(value.metadata.displayPhoneNumber == "15550783881" && value.metadata.phoneNumberID == from)
                #expect(value.unreadableItems.isEmpty)
            }

            let statuses = try harness.statuses()
            for (sent, recipient) in [(first, "16505551234"), (second, "16505554321")] {
                let mine = statuses.filter { $0.id == sent.wamid }
                #expect(mine.map(\.state) == [.sent, .delivered, .read])
                #expect(mine.allSatisfy { $0.recipientID == recipient })
                #expect(mine.compactMap(\.timestamp) == mine.compactMap(\.timestamp).sorted())
                // Pricing on sent and delivered, not read; the conversation too, on v23.
                #expect(mine.map { $0.pricing != nil } == [true, true, false])
                #expect(mine.map { $0.conversation != nil } == [true, true, false])
                #expect(mine[0].conversation?["expiration_timestamp"] != nil)
            }
            let mine = statuses.filter { $0.id == first.wamid }
            #expect(mine.allSatisfy { $0.callbackData == "cc1:m:1" })
            #expect(mine[0].pricing?.category == "service" && mine[0].pricing?.type == "free_customer_service")
            #expect(statuses.first { $0.id == second.wamid }?.callbackData == nil)
            #expect(statuses.first { $0.id == second.wamid }?.pricing?.category == "utility")

            try await waitUntil("the delivered posts are counted") { harness.simulator.statistics().webhooks.statusesDelivered == 6 }
            #expect(harness.simulator.statistics().webhooks.postsGivenUp == 0)
        }
    }

    @Test func statusesDueTogetherShareABodyUpToTheBatchSize() async throws {
        try await SimulatorHarness.run(webhooks: true, configure: {
            // A message's sent and delivered fall due at the same instant, so they always share a tick.
            $0.statuses.readProbability = 0
            $0.statuses.deliveredDelay = .zero
            $0.statuses.batchSize = 4
        }) { harness in
            for index in 0..<6 {
                _ = try await harness.client.send(OutboundMessage(to: "1650555\(4000 + index)", .text("Hi")), from: from)
            }
            try await harness.waitForStatuses(12)
            let sizes = try harness.webhooks().map { webhook -> Int in
                guard case .messages(let value)? = webhook.notification.entries.first?.changes.first?.value else { return 0 }
                return value.statuses.count
            }
            #expect(sizes.reduce(0, +) == 12)
            #expect(sizes.allSatisfy { (1...4).contains($0) })
            #expect(sizes.count <= 6)
            try await waitUntil("the posts are counted") { harness.simulator.statistics().webhooks.postsDelivered == sizes.count }
        }
    }

    @Test func anAsynchronousRuleAcceptsThenPostsFailed() async throws {
        try await SimulatorHarness.run(webhooks: true, configure: {
            $0.failureRules = [.init(recipientSuffix: "0000", code: 131026)]
        }) { harness in
            let sent = try await harness.client.send(OutboundMessage(to: "16505550000", .text("Hi"), callbackData: "cc1:m:7"), from: from)
            #expect(sent.status == "accepted")
            try await harness.waitForStatuses(1)
            try await Task.sleep(for: .milliseconds(100))  // room for statuses that must not come
            let statuses = try harness.statuses()
            #expect(statuses.map(\.state) == [.failed])
            let failed = try #require(statuses.first)
            #expect(failed.id == sent.wamid && failed.recipientID == "16505550000" && failed.callbackData == "cc1:m:7")
            #expect(failed.errors.map(\.code) == [131026])
            #expect(failed.errors.first?.title == "Message undeliverable")
            #expect(failed.errors.first?.details?.isEmpty == false)
            #expect(failed.pricing == nil)
            let statistics = harness.simulator.statistics()
            #expect(statistics.sends.accepted == 1 && statistics.sends.injectedAsynchronous == 1)
        }
    }

    @Test func everyStatusComesTwiceWhenDuplicatesAreCertain() async throws {
        try await SimulatorHarness.run(webhooks: true, configure: { $0.statuses.duplicateProbability = 1 }) { harness in
            let sent = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: from)
            try await harness.waitForStatuses(6)
            let statuses = try harness.statuses().filter { $0.id == sent.wamid }
            for state in [MessageStatus.State.sent, .delivered, .read] {
                #expect(statuses.filter { $0.state == state }.count == 2)
            }
        }
    }

    @Test func readComesBeforeDeliveredWhenOutOfOrderIsCertain() async throws {
        try await SimulatorHarness.run(webhooks: true, configure: { $0.statuses.outOfOrderProbability = 1 }) { harness in
            var wamids: [String] = []
            for index in 0..<3 {
                wamids.append(try await harness.client.send(OutboundMessage(to: "1650555\(5000 + index)", .text("Hi")), from: from).wamid)
            }
            try await harness.waitForStatuses(9)
            let statuses = try harness.statuses()
            for wamid in wamids {
                let mine = statuses.filter { $0.id == wamid }
                #expect(mine.map(\.state) == [.sent, .read, .delivered])
                // The timestamps still tell the truth.
                let delivered = try #require(mine.first { $0.state == .delivered }?.timestamp)
                let read = try #require(mine.first { $0.state == .read }?.timestamp)
                #expect(delivered <= read)
            }
        }
    }

    @Test func aPostTheReceiverRefusesIsRetriedUntilItIsTaken() async throws {
        let attempts = RequestCounter()
        try await SimulatorHarness.run(webhooks: true, answer: { _ in
            attempts.next() <= 2 ? .init(status: 503, body: "busy") : .init(body: "ok")
        }, configure: {
            $0.statuses.readProbability = 0
            $0.statuses.batchWindow = .milliseconds(200)
            $0.delivery.firstRetryDelay = .milliseconds(20)
        }) { harness in
            let sent = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: from)
            try await waitUntil("the statuses are delivered") { harness.simulator.statistics().webhooks.statusesDelivered == 2 }
            let webhooks = harness.simulator.statistics().webhooks
            #expect(webhooks.failedAttempts == 2)
            #expect(webhooks.postsGivenUp == 0)
            // The same body, signed the same, every time.
            let bodies = Set(try #require(harness.receiver).requests.map(\.body))
            #expect(bodies.count == webhooks.postsDelivered)
            #expect(try harness.statuses().allSatisfy { $0.id == sent.wamid })
        }
    }

    @Test func postsToAnUnreachableReceiverAreGivenUpAndCounted() async throws {
        // Nothing listens on port 1: every attempt is refused at once. (A receiver started and stopped at once
        // would do too, but its accept thread may outlive its socket and take another test's connections.)
        try await SimulatorHarness.run(configure: {
            $0.webhookURL = "http://127.0.0.1:1/webhook"
            $0.statuses.readProbability = 0
            $0.delivery.maximumAttempts = 3
            $0.delivery.firstRetryDelay = .milliseconds(10)
        }) { harness in
            _ = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi")), from: from)
            try await waitUntil("the statuses are given up") { harness.simulator.statistics().webhooks.statusesGivenUp == 2 }
            let webhooks = harness.simulator.statistics().webhooks
            #expect(webhooks.postsDelivered == 0)
            #expect(webhooks.postsGivenUp >= 1)
            #expect(webhooks.failedAttempts == 3 * webhooks.postsGivenUp)
            #expect(webhooks.waiting == 0 && webhooks.inFlight == 0)
        }
    }

    @Test func inboundTextComesFromACustomerWithTheirProfile() async throws {
        try await SimulatorHarness.run(webhooks: true) { harness in
            let posted = try harness.simulator.postInbound(.init(from: "+16505551234", profileName: "Chloé \"Sheena\" Nelson",
                                                                  content: .text("Is my order on its way? 📦\nThanks")))
            try await waitUntil("the message arrives") { harness.receiver?.requests.count == 1 }
            let (request, notification) = try #require(try harness.webhooks().first)
            #expect(HMACSHA256.isValidSignature(header: request.headers["x-hub-signature-256"], body: request.body,
                                                secret: SimulatorHarness.appSecret))
            guard case .messages(let value)? = notification.entries.first?.changes.first?.value else {
                Issue.record("not a messages change")
                return
            }
            #expect(value.contacts.map(\.waID) == ["16505551234"])
            #expect(value.contacts.map(\.profileName) == ["Chloé \"Sheena\" Nelson"])
            // Meta escapes everything outside ASCII; the signature covers those bytes.
            #expect(String(decoding: request.body, as: UTF8.self).contains(#"Chlo\u00e9 \"Sheena\" Nelson"#))
            #expect(String(decoding: request.body, as: UTF8.self).contains(#"\ud83d\udce6\nThanks"#))
            let message = try #require(value.messages.first)
            #expect(message.id == posted.wamid && message.from == "16505551234" && message.type == "text")
            guard case .text(let body) = message.content else { Issue.record("not text: \(message.content)"); return }
            #expect(body == "Is my order on its way? 📦\nThanks")
            #expect(harness.simulator.statistics().inboundMessages == 1)
        }
    }

    @Test func anInboundImageIsServedByTheSimulator() async throws {
        try await SimulatorHarness.run(webhooks: true) { harness in
            let bytes = Array("not really a jpeg, but bytes all the same".utf8)
            let posted = try harness.simulator.postInbound(.init(from: "16505551234", profileName: "Ana",
                                                                  content: .image(bytes: bytes, mimeType: "image/jpeg", caption: "My receipt")))
            try await waitUntil("the message arrives") { harness.receiver?.requests.count == 1 }
            let (_, notification) = try #require(try harness.webhooks().first)
            guard case .messages(let value)? = notification.entries.first?.changes.first?.value,
                  let message = value.messages.first, case .image(let media) = message.content else {
                Issue.record("no image message")
                return
            }
            #expect(message.type == "image" && media.id == posted.mediaID && media.caption == "My receipt" && media.mimeType == "image/jpeg")
            let url = try #require(media.url)
            let download = try await harness.send("GET", url)
            #expect(download.status == 200 && download.body == bytes)
            let digest = try await harness.send("GET", "/v23.0/\(try #require(posted.mediaID))").json["sha256"]?.stringValue
            #expect(media.sha256 == digest)
        }
    }

    @Test func theInboundEndpointPostsToo() async throws {
        try await SimulatorHarness.run(webhooks: true) { harness in
            let answer = try await LoopbackHTTPClient.send("POST", port: harness.simulator.port, path: "/_simulator/inbound",
                                                           body: Array(#"{"from":"16505551234","name":"Ana","text":"Hello"}"#.utf8))
            #expect(answer.status == 200)
            let wamid = try JSONValue.parse(answer.body)["id"]?.stringValue
            try await waitUntil("the message arrives") { harness.receiver?.requests.count == 1 }
            guard case .messages(let value)? = try harness.webhooks().first?.notification.entries.first?.changes.first?.value else {
                Issue.record("no messages change")
                return
            }
            #expect(value.messages.map(\.id) == [try #require(wamid)])
        }
    }

    @Test func aTemplateStatusChangeIsPostedAndApplies() async throws {
        try await SimulatorHarness.run(webhooks: true) { harness in
            let paused = try harness.simulator.setTemplateStatus("PAUSED", name: "order_update")
            try await waitUntil("the update arrives") { harness.receiver?.requests.count == 1 }
            let (_, notification) = try #require(try harness.webhooks().first)
            #expect(notification.entries.first?.id == SimulatorHarness.number.wabaID)
            #expect(notification.entries.first?.time != nil)
            guard case .templateStatus(let update)? = notification.entries.first?.changes.first?.value else {
                Issue.record("not a template status update")
                return
            }
            #expect(update.event == "PAUSED" && update.templateName == "order_update" && update.language == "en_US")
            #expect(update.templateID == Int64(paused.id))
            do {
                _ = try await harness.client.send(OutboundMessage(to: "16505551234", .template(.init(
                    name: "order_update", language: "en_US", body: [.text("Ana"), .text("#1042")]))), from: from)
                Issue.record("a paused template was sent")
            } catch let error as GraphAPIError {
                #expect(error.code == 132015)
            }
            #expect(throws: GraphSimulatorError.self) { try harness.simulator.setTemplateStatus("APPROVED", name: "no_such_template") }
        }
    }

    @Test func inboundTrafficPostsTextsFromThePoolOfCustomers() async throws {
        try await SimulatorHarness.run(webhooks: true) { harness in
            try harness.simulator.startInboundTraffic(messagesPerSecond: 200, customers: 5)
            try await waitUntil("some inbound messages arrive") { (harness.receiver?.requests.count ?? 0) >= 10 }
            harness.simulator.stopInboundTraffic()
            let messages = try harness.webhooks().compactMap { webhook -> InboundMessage? in
                guard case .messages(let value)? = webhook.notification.entries.first?.changes.first?.value else { return nil }
                return value.messages.first
            }
            #expect(messages.count >= 10)
            #expect(Set(messages.compactMap(\.from)).count <= 5)
            #expect(messages.allSatisfy { $0.type == "text" })
        }
    }
}
