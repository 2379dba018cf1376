import Foundation
import GraphSimulator
import TestSupport
import Testing
import WhatsAppCloudAPI

/// Templates, business numbers, media and the test endpoints.
@Suite("Simulator resources", .timeLimit(.minutes(1)))
struct ResourceTests {
    private let number = SimulatorHarness.number

    @Test func templatesAreListedPageByPageThroughTheClient() async throws {
        try await SimulatorHarness.run(configure: { configuration in
            configuration.templates = (0..<230).map { index in
                GraphSimulator.Template(wabaID: SimulatorHarness.number.wabaID, name: "bulk_\(index)",
                                        components: .array([.object(["type": .string("BODY"), "text": .string("Notice \(index)")])]))
            }
        }) { harness in
            let all = try await harness.client.allTemplates(of: number.wabaID)
            #expect(all.count == 236)
            #expect(Set(all.map(\.id)).count == 236)
            for name in ["hello_world", "order_update", "spring_sale", "new_arrivals", "winter_clearance", "free_gift_offer"] {
                #expect(all.contains { $0.name == name })
            }
            #expect(all.first { $0.name == "winter_clearance" }?.status == "PAUSED")
            #expect(all.first { $0.name == "free_gift_offer" }?.status == "REJECTED")
            #expect(all.first { $0.name == "spring_sale" }?.parameterFormat == "NAMED")
            #expect(all.first { $0.name == "hello_world" }?.qualityScore == "GREEN")
            let header = all.first { $0.name == "new_arrivals" }.flatMap { template -> JSONValue? in
                guard case .array(let components) = template.components else { return nil }
                return components.first { $0["type"] == .string("HEADER") }
            }
            #expect(header?["format"] == .string("IMAGE"))
            #expect(header?["example"]?["header_handle"] != nil)

            // Three pages of up to 100: the last one has no `next`.
            let (firstPage, afterFirst) = try await harness.client.templatePage(of: number.wabaID)
            let firstCursor: String = try #require(afterFirst)
            let (secondPage, afterSecond) = try await harness.client.templatePage(of: number.wabaID, after: firstCursor)
            let secondCursor: String = try #require(afterSecond)
            let (thirdPage, afterThird) = try await harness.client.templatePage(of: number.wabaID, after: secondCursor)
            let sizes: [Int] = [firstPage.count, secondPage.count, thirdPage.count]
            #expect(sizes == [100, 100, 36])
            #expect(afterThird == nil)
            let raw = try await harness.send("GET", "/v23.0/\(number.wabaID)/message_templates?fields=name&limit=100&after=\(secondCursor)").json
            #expect(raw["paging"]?["next"] == nil)
            #expect(raw["paging"]?["cursors"]?["before"] != nil && raw["paging"]?["cursors"]?["after"] != nil)
        }
    }

    @Test func theNextLinkLeadsToTheNextPage() async throws {
        try await SimulatorHarness.run { harness in
            let first = try await harness.send("GET", "/v23.0/\(number.wabaID)/message_templates?fields=name,status&limit=3&status=APPROVED").json
            guard case .array(let firstPage)? = first["data"] else { Issue.record("no data"); return }
            #expect(firstPage.map { $0["name"]?.stringValue } == ["hello_world", "order_update", "spring_sale"])
            let next = try #require(first["paging"]?["next"]?.stringValue)
            #expect(next.contains("status=APPROVED") && next.contains("limit=3") && !next.contains("access_token"))
            let second = try await harness.send("GET", next).json
            // The filter and the page size carry over: the fourth approved template, and no page after it.
            guard case .array(let secondPage)? = second["data"] else { Issue.record("no data"); return }
            #expect(secondPage.map { $0["name"]?.stringValue } == ["new_arrivals"])
            #expect(secondPage.allSatisfy { $0["status"] == .string("APPROVED") })
            #expect(second["paging"]?["next"] == nil)
            #expect(second["paging"]?["previous"] != nil)
        }
    }

    @Test func aBusinessNumberIsDescribedAsTheClientReadsIt() async throws {
        try await SimulatorHarness.run(configure: {
            $0.numbers = [GraphSimulator.BusinessNumber(phoneNumberID: "111222333", displayPhoneNumber: "15551230000", wabaID: "444555666",
                                                        verifiedName: "Acme Shoes", messagesPerSecond: 1000, qualityRating: "YELLOW",
                                                        messagingLimitTier: "TIER_10K")]
        }) { harness in
            let info = try await harness.client.phoneNumber("111222333")
            #expect(info == .init(displayPhoneNumber: "15551230000", verifiedName: "Acme Shoes", qualityRating: "YELLOW",
                                  throughput: "HIGH", messagingLimit: "TIER_10K"))
            let only = try await harness.send("GET", "/v23.0/111222333?fields=verified_name").json
            #expect(only == .object(["id": .string("111222333"), "verified_name": .string("Acme Shoes")]))
            let missing = try await harness.send("GET", "/v23.0/999888777?fields=verified_name")
            #expect(missing.graphError.code == 100 && missing.graphError.subcode == 33)
        }
    }

    @Test func mediaIsUploadedDescribedDownloadedAndDeleted() async throws {
        try await SimulatorHarness.run(configure: { $0.mediaURLLifetime = .seconds(60) }) { harness in
            let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let upload = try await harness.upload(bytes, mimeType: "image/png", filename: "photo.png")
            #expect(upload.status == 200)
            let id = try #require(try upload.json["id"]?.stringValue)

            let described = try await harness.send("GET", "/v23.0/\(id)").json
            #expect(described["messaging_product"] == .string("whatsapp"))
            #expect(described["id"] == .string(id))
            #expect(described["mime_type"] == .string("image/png"))
            #expect(described["file_size"] == .number(5000))
            let digest = try #require(described["sha256"]?.stringValue)
            #expect(digest.count == 64 && digest.allSatisfy(\.isHexDigit))
            let url = try #require(described["url"]?.stringValue)

            let download = try await harness.send("GET", url)
            #expect(download.status == 200 && download.body == bytes)
            #expect(try await harness.send("GET", url, token: nil).status == 401)

            harness.simulator.corruptMedia(id)
            let corrupt = try await harness.send("GET", url)
            #expect(corrupt.status == 200 && corrupt.body != bytes && corrupt.body.count == bytes.count)

            harness.simulator.expireMediaURLs()
            #expect(try await harness.send("GET", url).status == 404)
            let fresh = try #require(try await harness.send("GET", "/v23.0/\(id)").json["url"]?.stringValue)
            #expect(fresh != url)
            #expect(try await harness.send("GET", fresh).status == 200)

            #expect(try await harness.send("DELETE", "/v23.0/\(id)").json == .object(["success": .bool(true)]))
            #expect(try await harness.send("GET", fresh).status == 404)
            for method in ["GET", "DELETE"] {
                let gone = try await harness.send(method, "/v23.0/\(id)").graphError
                #expect(gone.code == 100 && gone.subcode == 33)
            }
            #expect(harness.simulator.statistics().mediaUploads == 1)
        }
    }

    @Test func mediaURLsExpireAfterTheirLifetime() async throws {
        try await SimulatorHarness.run(configure: { $0.mediaURLLifetime = .milliseconds(100) }) { harness in
            let id = harness.simulator.addMedia(Array("%PDF-1.4".utf8), mimeType: "application/pdf")
            let url = try #require(try await harness.send("GET", "/v23.0/\(id)").json["url"]?.stringValue)
            // Polled, not timed: the URL works until its lifetime is over, then answers 404 for good.
            var status = 200
            let deadline = ContinuousClock.now + .seconds(20)
            while status == 200, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                status = try await harness.send("GET", url).status
            }
            #expect(status == 404)
        }
    }

    @Test func uploadsMetaWouldRefuseGet131053() async throws {
        try await SimulatorHarness.run { harness in
            let wrongType = try await harness.upload(Array("MZ".utf8), mimeType: "application/x-msdownload")
            #expect(wrongType.graphError.code == 131053)
            let tooLarge = try await harness.upload([UInt8](repeating: 0, count: 600 * 1024), mimeType: "image/webp")
            #expect(tooLarge.graphError.code == 131053)
            let notMultipart = try await harness.send("POST", "/v23.0/\(number.phoneNumberID)/media", body: Array("{}".utf8))
            #expect(notMultipart.graphError.code == 100)
        }
    }

    @Test func theTestEndpointsServeCountsAsJSON() async throws {
        try await SimulatorHarness.run { harness in
            let sent = try await harness.client.send(OutboundMessage(to: "16505551234", .text("Hi"), callbackData: "cc1:c:9"),
                                                     from: number.phoneNumberID)
            _ = try await harness.postMessage(#"{"messaging_product":"whatsapp","to":"nope","text":{"body":"Hi"}}"#)
            let port = harness.simulator.port

            let stats = try JSONValue.parse(try await LoopbackHTTPClient.send("GET", port: port, path: "/_simulator/stats").body)
            #expect(stats["sends"]?["accepted"] == .number(1))
            #expect(stats["sends"]?["invalid"] == .number(1))
            #expect(stats["sends"]?["throughput_limited"] == .number(0))
            #expect(stats["seed"] == .string("42"))
            #expect(stats["webhooks"]?["posts_given_up"] == .number(0))
            #expect(stats == harness.simulator.statistics().json)

            let received = try JSONValue.parse(try await LoopbackHTTPClient.send("GET", port: port, path: "/_simulator/received?to=16505551234").body)
            #expect(received["count"] == .number(1))
            guard case .array(let messages)? = received["messages"] else { Issue.record("no messages"); return }
            #expect(messages.first?["id"] == .string(sent.wamid))
            #expect(messages.first?["biz_opaque_callback_data"] == .string("cc1:c:9"))
            let byCallback = try JSONValue.parse(try await LoopbackHTTPClient.send("GET", port: port, path: "/_simulator/received?callback_data=cc1%3Ac%3A9").body)
            #expect(byCallback["count"] == .number(1))

            #expect(try await LoopbackHTTPClient.send("POST", port: port, path: "/_simulator/reset").status == 200)
            #expect(harness.simulator.statistics().sends == .init())
            #expect(harness.simulator.acceptedCount(to: "16505551234") == 0)
            #expect(try await LoopbackHTTPClient.send("GET", port: port, path: "/_simulator/nothing").status == 404)
        }
    }
}
