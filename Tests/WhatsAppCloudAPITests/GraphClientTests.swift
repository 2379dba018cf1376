import Foundation
import TestSupport
import Testing
import WhatsAppCloudAPI

@Suite("Graph client", .timeLimit(.minutes(1)))
struct GraphClientTests {
    private static let accepted = #"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","message_status":"accepted"}]}"#

    private func withClient(answer: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Answer,
                            _ body: (GraphClient, LoopbackHTTPServer) async throws -> Void) async throws {
        let server = try LoopbackHTTPServer(handler: answer)
        defer { server.stop() }
        let http = GraphHTTPClient()
        defer { http.shutdown() }
        try await body(GraphClient(http: http, baseURL: "http://127.0.0.1:\(server.port)/", apiVersion: "v23.0", accessToken: { "EAAG-test-token" }), server)
    }

    private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    @Test func sendsATextReplyAsMetaDocumentsIt() async throws {
        try await withClient(answer: { _ in .init(body: Self.accepted) }) { client, server in
            let sent = try await client.send(OutboundMessage(to: "16505551234", .text("Your order shipped 📦", previewURL: true),
                                                             replyTo: "wamid.IN1", callbackData: "cc1:o:42"), from: "106540352242922")
            #expect(sent == .init(wamid: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", status: "accepted", waID: "16505551234"))
            let request = try #require(server.requests.first)
            #expect(request.method == "POST" && request.path == "/v23.0/106540352242922/messages")
            #expect(request.headers["authorization"] == "Bearer EAAG-test-token")
            #expect(request.headers["content-type"] == "application/json")
            #expect(try JSONValue.parse(request.body) == json(#"""
                {"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"text",
                 "text":{"body":"Your order shipped 📦","preview_url":true},"context":{"message_id":"wamid.IN1"},
                 "biz_opaque_callback_data":"cc1:o:42"}
                """#))
        }
    }

    @Test func sendsATemplateWithEveryKindOfParameter() async throws {
        try await withClient(answer: { _ in .init(body: Self.accepted) }) { client, server in
            let template = OutboundMessage.Template(
                name: "order_confirmation", language: "en_US",
                header: [.media(.image, .id("1234567890"))],
                body: [.text("Ana", name: "first_name"), .currency(fallback: "$100.99", code: "USD", amount1000: 100_990),
                       .dateTime(fallback: "February 25, 1977")],
                buttons: [.init(kind: .quickReply, index: 0, value: "STOP"), .init(kind: .url, index: 1, value: "order/42"),
                          .init(kind: .copyCode, index: 2, value: "SAVE10")])
            _ = try await client.send(OutboundMessage(to: "+16505551234", .template(template)), from: "106540352242922")
            let request = try #require(server.requests.first)
            #expect(try JSONValue.parse(request.body) == json(#"""
                {"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"template",
                 "template":{"name":"order_confirmation","language":{"code":"en_US"},"components":[
                   {"type":"header","parameters":[{"type":"image","image":{"id":"1234567890"}}]},
                   {"type":"body","parameters":[
                     {"type":"text","text":"Ana","parameter_name":"first_name"},
                     {"type":"currency","currency":{"fallback_value":"$100.99","code":"USD","amount_1000":100990}},
                     {"type":"date_time","date_time":{"fallback_value":"February 25, 1977"}}]},
                   {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP"}]},
                   {"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"order/42"}]},
                   {"type":"button","sub_type":"copy_code","index":"2","parameters":[{"type":"coupon_code","coupon_code":"SAVE10"}]}]}}
                """#))
        }
    }

    @Test func sendsInteractiveMediaAndReactionBodies() async throws {
        try await withClient(answer: { _ in .init(body: Self.accepted) }) { client, server in
            let messages: [OutboundMessage.Content] = [
                .buttons(body: "Confirm?", buttons: [.init(id: "yes", title: "Yes"), .init(id: "no", title: "No")], footer: "Reply below"),
                .list(body: "Pick a slot", button: "Slots", sections: [.init(title: "Monday", rows: [.init(id: "m9", title: "9:00", description: "Morning")])]),
                .media(.document, .link("https://example.com/invoice.pdf"), caption: "Invoice", filename: "invoice.pdf"),
                .reaction(to: "wamid.IN1", emoji: "👍"),
            ]
            for content in messages { _ = try await client.send(OutboundMessage(to: "16505551234", content), from: "106540352242922") }
            let bodies = try server.requests.map { try JSONValue.parse($0.body) }
            #expect(bodies[0]["interactive"] == (try json(#"{"type":"button","body":{"text":"Confirm?"},"footer":{"text":"Reply below"},"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}"#)))
            #expect(bodies[1]["interactive"] == (try json(#"{"type":"list","body":{"text":"Pick a slot"},"action":{"button":"Slots","sections":[{"title":"Monday","rows":[{"id":"m9","title":"9:00","description":"Morning"}]}]}}"#)))
            #expect(bodies[2]["type"] == .string("document"))
            #expect(bodies[2]["document"] == (try json(#"{"link":"https://example.com/invoice.pdf","caption":"Invoice","filename":"invoice.pdf"}"#)))
            #expect(bodies[3]["reaction"] == (try json(#"{"message_id":"wamid.IN1","emoji":"👍"}"#)))
        }
    }

    @Test func aRefusalIsAGraphErrorAndABadMessageIsNeverSent() async throws {
        let refusal = #"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbC"}}"#
        try await withClient(answer: { _ in .init(status: 400, body: refusal) }) { client, server in
            do {
                _ = try await client.send(OutboundMessage(to: "16505551234", .text("hello")), from: "106540352242922")
                Issue.record("expected a refusal")
            } catch let error as GraphAPIError {
                #expect(error.code == 131047 && error.action == .failMessage && error.fbtraceID == "AbC")
            }
            let tooMany = OutboundMessage.Content.buttons(body: "Pick", buttons: (1...4).map { .init(id: "b\($0)", title: "B\($0)") })
            await #expect(throws: GraphSendError.invalid("reply buttons must number from 1 to 3")) {
                _ = try await client.send(OutboundMessage(to: "16505551234", tooMany), from: "106540352242922")
            }
            await #expect(throws: GraphSendError.self) {
                _ = try await client.send(OutboundMessage(to: "0123", .text("hi")), from: "106540352242922")
            }
            #expect(server.requests.count == 1, "invalid messages never reach Meta")
        }
    }

    @Test func marksReadWithTheTypingIndicator() async throws {
        try await withClient(answer: { _ in .init(body: #"{"success":true}"#) }) { client, server in
            try await client.markRead("wamid.IN1", from: "106540352242922", showTyping: true)
            #expect(try JSONValue.parse(try #require(server.requests.first).body) == json(
                #"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1","typing_indicator":{"type":"text"}}"#))
        }
    }

    @Test func listsEveryTemplatePageByPage() async throws {
        let first = #"{"data":[{"id":"1","name":"order_confirmation","language":"en_US","status":"APPROVED","category":"UTILITY","parameter_format":"NAMED","quality_score":{"score":"GREEN","date":1758754645},"components":[{"type":"BODY","text":"Hi {{first_name}}"}]},{"id":"2","name":"promo","language":"de","status":"PAUSED","category":"MARKETING","components":[]}],"paging":{"cursors":{"before":"b1","after":"c/2+="},"next":"https://graph.facebook.com/next"}}"#
        let last = #"{"data":[{"id":"3","name":"promo","language":"en_US","status":"APPROVED","category":"MARKETING","components":[]}],"paging":{"cursors":{"before":"c3","after":"c4"}}}"#
        try await withClient(answer: { request in .init(body: request.path.contains("after=") ? last : first) }) { client, server in
            let templates = try await client.allTemplates(of: "102290129340398")
            #expect(templates.map(\.id) == ["1", "2", "3"])
            #expect(templates[0].parameterFormat == "NAMED" && templates[0].qualityScore == "GREEN" && templates[0].category == "UTILITY")
            #expect(templates[0].components == (try json(#"[{"type":"BODY","text":"Hi {{first_name}}"}]"#)))
            #expect(templates[1].status == "PAUSED" && templates[1].qualityScore == nil)
            let paths = server.requests.map(\.path)
            #expect(paths.count == 2)
            #expect(paths[0].hasPrefix("/v23.0/102290129340398/message_templates?fields=id,name,language,status,category,components,parameter_format,quality_score&limit=100"))
            #expect(paths[1].hasSuffix("&after=c%2F2%2B%3D"), "the cursor is sent back encoded")
        }
    }

    @Test func readsABusinessNumbersLimitsAndQuality() async throws {
        let answer = #"{"display_phone_number":"+1 555-078-3881","verified_name":"Demo Shop","quality_rating":"GREEN","throughput":{"level":"STANDARD"},"whatsapp_business_manager_messaging_limit":"TIER_2K","id":"106540352242922"}"#
        try await withClient(answer: { _ in .init(body: answer) }) { client, server in
            let info = try await client.phoneNumber("106540352242922")
            #expect(info == .init(displayPhoneNumber: "+1 555-078-3881", verifiedName: "Demo Shop", qualityRating: "GREEN",
                                  throughput: "STANDARD", messagingLimit: "TIER_2K"))
            #expect(server.requests.first?.headers["authorization"] == "Bearer EAAG-test-token")
        }
    }
}
