import Foundation
import Testing
import WhatsAppCloudAPI

/// Wraps `value` JSON in Meta's envelope for one `messages` change.
private func envelope(_ value: String, field: String = "messages") -> Data {
    Data(#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"\#(field)","value":\#(value)}]}]}"#.utf8)
}

private func messagesValue(messages: String = "[]", statuses: String = "[]", contacts: String = #"[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}]"#) -> String {
    #"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":\#(contacts),"messages":\#(messages),"statuses":\#(statuses)}"#
}

private func onlyMessage(_ message: String) throws -> InboundMessage {
    let notification = try WebhookNotification.decode(envelope(messagesValue(messages: "[\(message)]")))
    guard case .messages(let value) = notification.entries[0].changes[0].value else {
        Issue.record("not a messages change")
        throw CancellationError()
    }
    return try #require(value.messages.first)
}

@Suite("Webhook payloads")
struct WebhookNotificationTests {
    @Test func textWithContextReferralAndIdentity() throws {
        let message = try onlyMessage(#"""
            {"from":"16505551234","from_user_id":"US.13491208655302741918","id":"wamid.A1","timestamp":"1749416383","type":"text",
             "text":{"body":"Does it come in another color? 😀"},
             "context":{"from":"15550783881","id":"wamid.ORIGINAL"},
             "referral":{"source_url":"https://fb.me/x","source_id":"120","source_type":"ad","body":"Sale","headline":"Now","media_type":"image","image_url":"https://x/i.jpg","ctwa_clid":"ARA1"}}
            """#)
        #expect(message.id == "wamid.A1")
        #expect(message.from == "16505551234")
        #expect(message.fromUserID == "US.13491208655302741918")
        #expect(message.timestamp == Date(timeIntervalSince1970: 1_749_416_383))
        guard case .text(let body) = message.content else { Issue.record("\(message.content)"); return }
        #expect(body == "Does it come in another color? 😀")
        #expect(message.context?.id == "wamid.ORIGINAL")
        #expect(message.referral?.ctwaClid == "ARA1")
        #expect(message.referral?.sourceType == "ad")
        #expect(message.raw["text"]?["body"]?.stringValue == body)
    }

    @Test func everyMediaType() throws {
        let media = try onlyMessage(#"{"from":"1","id":"wamid.M","timestamp":"1","type":"document","document":{"caption":"invoice","filename":"inv.pdf","mime_type":"application/pdf","sha256":"abc","id":"555","url":"https://lookaside/x"}}"#)
        guard case .document(let document) = media.content else { Issue.record("\(media.content)"); return }
        #expect(document.filename == "inv.pdf" && document.caption == "invoice" && document.id == "555" && document.url == "https://lookaside/x")

        let voice = try onlyMessage(#"{"from":"1","id":"wamid.V","timestamp":"1","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"s","id":"9","voice":true}}"#)
        guard case .audio(let audio) = voice.content else { Issue.record("\(voice.content)"); return }
        #expect(audio.voice == true)

        let sticker = try onlyMessage(#"{"from":"1","id":"wamid.S","timestamp":"1","type":"sticker","sticker":{"mime_type":"image/webp","sha256":"s","id":"7","animated":true}}"#)
        guard case .sticker(let stickerMedia) = sticker.content else { Issue.record("\(sticker.content)"); return }
        #expect(stickerMedia.animated == true)

        for type in ["image", "video"] {
            let message = try onlyMessage(#"{"from":"1","id":"wamid.\#(type)","timestamp":"1","type":"\#(type)","\#(type)":{"caption":"c","mime_type":"x/y","sha256":"s","id":"1"},"context":{"forwarded":true}}"#)
            #expect(message.context?.forwarded == true)
            switch message.content {
            case .image(let item), .video(let item): #expect(item.caption == "c")
            default: Issue.record("\(type): \(message.content)")
            }
        }
    }

    @Test func locationContactsOrderAndButtons() throws {
        let location = try onlyMessage(#"{"from":"1","id":"wamid.L","timestamp":"1","type":"location","location":{"latitude":38.9,"longitude":-77.03,"name":"Office","address":"1 Main St"}}"#)
        guard case .location(let place) = location.content else { Issue.record("\(location.content)"); return }
        #expect(place.latitude == 38.9 && place.name == "Office")

        let cards = try onlyMessage(#"{"from":"1","id":"wamid.C","timestamp":"1","type":"contacts","contacts":[{"name":{"formatted_name":"Jo Bloggs","first_name":"Jo"},"phones":[{"phone":"+1 650 555 0000","wa_id":"16505550000","type":"CELL"}]}]}"#)
        guard case .contacts(let contacts) = cards.content, case .array(let list) = contacts else { Issue.record("\(cards.content)"); return }
        #expect(list.first?["name"]?["formatted_name"]?.stringValue == "Jo Bloggs")

        let order = try onlyMessage(#"{"from":"1","id":"wamid.O","timestamp":"1","type":"order","order":{"catalog_id":"cat1","text":"thanks","product_items":[{"product_retailer_id":"sku1","quantity":2,"item_price":9.5,"currency":"USD"}]}}"#)
        guard case .order(let catalog, let text, let items) = order.content else { Issue.record("\(order.content)"); return }
        #expect(catalog == "cat1" && text == "thanks" && items.first?.quantity == 2)

        let button = try onlyMessage(#"{"from":"1","id":"wamid.B","timestamp":"1","type":"button","button":{"payload":"STOP_PROMOS","text":"Stop promotions"},"context":{"from":"15550783881","id":"wamid.T"}}"#)
        guard case .button(let payload, _) = button.content else { Issue.record("\(button.content)"); return }
        #expect(payload == "STOP_PROMOS")
    }

    @Test func interactiveReplies() throws {
        let buttonReply = try onlyMessage(#"{"from":"1","id":"wamid.I1","timestamp":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"yes","title":"Yes"}}}"#)
        #expect({ if case .interactive(.buttonReply("yes", "Yes")) = buttonReply.content { true } else { false } }())
        let listReply = try onlyMessage(#"{"from":"1","id":"wamid.I2","timestamp":"1","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"Row","description":"d"}}}"#)
        #expect({ if case .interactive(.listReply("r1", "Row", "d")) = listReply.content { true } else { false } }())
        let flow = try onlyMessage(#"{"from":"1","id":"wamid.I3","timestamp":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"flow_token\":\"t\"}"}}}"#)
        guard case .interactive(.flowReply(let name, _, let response)) = flow.content else { Issue.record("\(flow.content)"); return }
        #expect(name == "flow" && response == #"{"flow_token":"t"}"#)
    }

    @Test func reactionsSystemEditRevokeWelcomeAndUnsupported() throws {
        let reaction = try onlyMessage(#"{"from":"1","id":"wamid.R1","timestamp":"1","type":"reaction","reaction":{"message_id":"wamid.T","emoji":"👍"}}"#)
        #expect({ if case .reaction("wamid.T", "👍") = reaction.content { true } else { false } }())
        for removal in [#"{"message_id":"wamid.T"}"#, #"{"message_id":"wamid.T","emoji":""}"#] {
            let removed = try onlyMessage(#"{"from":"1","id":"wamid.R2","timestamp":"1","type":"reaction","reaction":\#(removal)}"#)
            #expect({ if case .reaction("wamid.T", nil) = removed.content { true } else { false } }(), "removal: \(removal)")
        }
        let system = try onlyMessage(#"{"from":"1","id":"wamid.Y","timestamp":"1","type":"system","system":{"body":"User changed number","wa_id":"16505559999","type":"user_changed_number"}}"#)
        #expect({ if case .system(_, "16505559999", "user_changed_number") = system.content { true } else { false } }())
        let edit = try onlyMessage(#"{"from":"1","id":"wamid.E","timestamp":"1","type":"edit","edit":{"original_message_id":"wamid.OLD","message":{"type":"text","text":{"body":"fixed"}}}}"#)
        guard case .edit(let original, let replacement) = edit.content else { Issue.record("\(edit.content)"); return }
        #expect(original == "wamid.OLD" && replacement?["text"]?["body"]?.stringValue == "fixed")
        let revoke = try onlyMessage(#"{"from":"1","id":"wamid.X","timestamp":"1","type":"revoke","revoke":{"original_message_id":"wamid.OLD"}}"#)
        #expect({ if case .revoke("wamid.OLD") = revoke.content { true } else { false } }())
        let welcome = try onlyMessage(#"{"from":"1","id":"wamid.W","timestamp":"1","type":"request_welcome"}"#)
        #expect({ if case .requestWelcome = welcome.content { true } else { false } }())
        let unsupported = try onlyMessage(#"{"from":"1","id":"wamid.U","timestamp":"1","type":"unsupported","unsupported":{"type":"poll_creation"},"errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]}"#)
        #expect({ if case .unsupported("poll_creation") = unsupported.content { true } else { false } }())
        #expect(unsupported.errors.first?.code == 131051)
        #expect(unsupported.errors.first?.details == "Message type is currently not supported.")
        // A type Meta adds later is kept, not fatal.
        let future = try onlyMessage(#"{"id":"wamid.F","timestamp":"1","type":"hologram","hologram":{"x":1}}"#)
        #expect({ if case .unknown = future.content { true } else { false } }())
        #expect(future.type == "hologram" && future.from == nil)
        #expect(future.raw["hologram"]?["x"] == .number(1))
    }

    @Test func statusesInAnyOrderAndBatches() throws {
        let statuses = #"""
            [{"id":"wamid.S1","status":"read","timestamp":"1750030075","recipient_id":"16505551234","recipient_user_id":"US.1"},
             {"id":"wamid.S1","status":"sent","timestamp":"1750030073","recipient_id":"16505551234","biz_opaque_callback_data":"cc1:r:42:1",
              "conversation":{"id":"c1","origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}},
             {"id":"wamid.S2","status":"failed","timestamp":"1750030074","recipient_id":"16505550000",
              "errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"not on WhatsApp"}}]},
             {"id":"wamid.S3","status":"deleted","timestamp":"1750030074"}]
            """#
        let notification = try WebhookNotification.decode(envelope(messagesValue(statuses: statuses, contacts: "[]")))
        guard case .messages(let value) = notification.entries[0].changes[0].value else { Issue.record("not messages"); return }
        #expect(value.metadata.phoneNumberID == "106540352242922")
        #expect(value.statuses.map(\.state) == [.read, .sent, .failed, .unknown("deleted")])
        #expect(value.statuses[1].callbackData == "cc1:r:42:1")
        #expect(value.statuses[1].pricing?.category == "marketing")
        #expect(value.statuses[0].recipientUserID == "US.1")
        #expect(value.statuses[2].errors.first?.code == 131026)
        #expect(value.statuses[3].state.rank == nil)
        #expect(MessageStatus.State.read > .delivered && MessageStatus.State.failed > .read)
    }

    @Test func batchedEntriesAndOtherFields() throws {
        let body = Data(#"""
            {"object":"whatsapp_business_account","entry":[
              {"id":"W1","changes":[
                {"field":"messages","value":\#(messagesValue(messages: #"[{"from":"1","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"a"}},{"from":"2","id":"wamid.2","timestamp":"1","type":"text","text":{"body":"b"}}]"#))},
                {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"P"},"errors":[{"code":130429,"title":"Rate limit hit"}]}}]},
              {"id":"W2","time":1750000000,"changes":[
                {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":594425479261596,"message_template_name":"order_update","message_template_language":"en_US","reason":"NONE"}},
                {"field":"message_template_status_update","value":{"previous_quality_score":"GREEN","new_quality_score":"YELLOW","message_template_id":1,"message_template_name":"promo","message_template_language":"en"}},
                {"field":"template_category_update","value":{"message_template_id":2,"message_template_name":"promo","message_template_language":"en","previous_category":"UTILITY","new_category":"MARKETING"}},
                {"field":"phone_number_quality_update","value":{"display_phone_number":"15550783881","event":"THROUGHPUT_UPGRADE","max_daily_conversations_per_business":"TIER_UNLIMITED"}},
                {"field":"account_update","value":{"event":"ACCOUNT_RESTRICTION"}},
                {"field":"user_preferences","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"P"},"user_preferences":[{"wa_id":"16505551234","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"stop","timestamp":1731705721}]}},
                {"field":"security","value":{"event":"PIN_CHANGED"}}]}]}
            """#.utf8)
        let notification = try WebhookNotification.decode(body)
        #expect(notification.entries.count == 2)
        #expect(notification.entries[1].time == 1_750_000_000)
        guard case .messages(let first) = notification.entries[0].changes[0].value else { Issue.record("not messages"); return }
        #expect(first.messages.map(\.id) == ["wamid.1", "wamid.2"])
        guard case .messages(let errors) = notification.entries[0].changes[1].value else { Issue.record("not messages"); return }
        #expect(errors.errors.first?.code == 130429)
        let changes = notification.entries[1].changes.map(\.value)
        guard case .templateStatus(let status) = changes[0] else { Issue.record("\(changes[0])"); return }
        #expect(status.event == "APPROVED" && status.templateID == 594_425_479_261_596)
        guard case .templateQuality(let quality) = changes[1] else { Issue.record("quality routed by shape: \(changes[1])"); return }
        #expect(quality.newQualityScore == "YELLOW")
        guard case .templateCategory(let category) = changes[2] else { Issue.record("\(changes[2])"); return }
        #expect(category.newCategory == "MARKETING")
        guard case .phoneNumberQuality(let phone) = changes[3] else { Issue.record("\(changes[3])"); return }
        #expect(phone.event == "THROUGHPUT_UPGRADE")
        guard case .accountUpdate(let account) = changes[4] else { Issue.record("\(changes[4])"); return }
        #expect(account.event == "ACCOUNT_RESTRICTION")
        guard case .userPreferences(let preferences) = changes[5] else { Issue.record("\(changes[5])"); return }
        #expect(preferences.first?.value == "stop" && preferences.first?.waID == "16505551234")
        guard case .other(let raw) = changes[6] else { Issue.record("\(changes[6])"); return }
        #expect(raw["event"]?.stringValue == "PIN_CHANGED")
    }

    @Test func brokenBodiesAreDecodingErrors() {
        for body in [#"{"object":"whatsapp_business_account","entry":[{"#, "not json", #"{"entry":[]}"#] {
            #expect(throws: DecodingError.self) { try WebhookNotification.decode(Data(body.utf8)) }
        }
    }

    @Test func anErrorCodeNoColumnCanHoldIsNotTakenForMetas() throws {
        let statuses = #"""
            [{"id":"wamid.S9","status":"failed","timestamp":"1750030074","recipient_id":"16505550000",
              "errors":[{"code":4976284431572929436,"title":"not Meta's"}]}]
            """#
        let notification = try WebhookNotification.decode(envelope(messagesValue(statuses: statuses, contacts: "[]")))
        if case .messages(let value) = notification.entries[0].changes[0].value {
            #expect(value.statuses.allSatisfy { $0.errors.allSatisfy { Int32(exactly: $0.code) != nil } })
        }
    }

    @Test func aMalformedItemDoesNotLoseTheChange() throws {
        // A messages value whose shape is wrong is kept raw rather than failing the body.
        let notification = try WebhookNotification.decode(envelope(#"{"messaging_product":"whatsapp","messages":"not a list"}"#))
        guard case .other(let raw) = notification.entries[0].changes[0].value else { Issue.record("expected raw"); return }
        #expect(raw["messages"]?.stringValue == "not a list")
    }
}

@Suite("JSON values")
struct JSONValueTests {
    @Test func storedTextReadsBackAsTheSameValue() throws {
        let source = #"{"b":[1,2.5,-3,true,false,null],"a":"quote \" backslash \\ newline \n tab \t bell \u0007 emoji 😀 slash /","c":{"z":{},"y":[]},"n":1749416383,"e":1.0e-7}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(source.utf8))
        let text = value.jsonText
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) == value)
        #expect(text.hasPrefix(#"{"a":"quote \" backslash \\ newline \n tab \t bell \u0007 emoji 😀 slash /","b":[1,2.5,-3,true,false,null]"#))
        #expect(text.contains(#""n":1749416383"#), "whole numbers are written without a fraction")
    }
}

@Suite("JSON parser and tree decoder")
struct JSONParserTests {
    @Test(arguments: [
        #"{"b":[1,2.5,-3,true,false,null],"a":"quote \" backslash \\ newline \n tab \t bell \u0007 emoji 😀 slash \/","c":{"z":{},"y":[]}}"#,
        #"  [ 0 , -0.5 , 1e3 , 1E-2 , 12345678901234 , "\u00e9\ud83d\ude00" , "" ]  "#,
        #""just a string""#,
        "17",
        #"{"dup":1,"dup":2}"#,
    ])
    func parsesWhatFoundationParses(_ text: String) throws {
        let ours = try JSONValue.parse(Array(text.utf8))
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == foundation)
    }

    @Test(arguments: [
        "", "{", #"{"a"}"#, #"{"a":1,}"#, "[1,]", "01", "1.", "-", "1e", "tru", "nul", #""unterminated"#, "\"tab\there\"",
        #""\x""#, #""\ud83d""#, #""\ude00""#, "[1] 2", "{'a':1}",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ])
    func refusesWhatIsNotJSON(_ text: String) {
        #expect(throws: DecodingError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: DecodingError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: DecodingError.self) { try JSONValue.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
    }

    private struct Sample: Decodable, Equatable {
        let count: Int
        let ratio: Double
        let name: String?
        let flags: [Bool]
        let nested: [String: Int]
        let raw: JSONValue
    }

    @Test func decodesModelsLikeFoundation() throws {
        let text = #"{"count":3,"ratio":0.25,"flags":[true,false],"nested":{"a":1},"raw":{"k":[1,"x"]}}"#
        let ours = try JSONValueDecoder.decode(Sample.self, from: JSONValue.parse(Array(text.utf8)))
        #expect(ours == (try JSONDecoder().decode(Sample.self, from: Data(text.utf8))))
        #expect(ours.name == nil && ours.raw["k"] == .array([.number(1), .string("x")]))
    }

    @Test func errorsNameThePathLikeFoundation() throws {
        let cases = [
            #"{"count":"3","ratio":0,"flags":[],"nested":{},"raw":null}"#,
            #"{"count":3,"ratio":0,"flags":[true,1],"nested":{},"raw":null}"#,
            #"{"count":3,"ratio":0,"flags":[],"nested":{"a":null},"raw":null}"#,
            #"{"ratio":0,"flags":[],"nested":{},"raw":null}"#,
        ]
        func path(_ error: any Error) -> String {
            let context: DecodingError.Context? = switch error as? DecodingError {
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): context
            case .keyNotFound(let key, let context): .init(codingPath: context.codingPath + [key], debugDescription: "")
            default: nil
            }
            return context?.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") ?? "?"
        }
        for text in cases {
            var ours = "", foundation = ""
            do { _ = try JSONValueDecoder.decode(Sample.self, from: JSONValue.parse(Array(text.utf8))) } catch { ours = path(error) }
            do { _ = try JSONDecoder().decode(Sample.self, from: Data(text.utf8)) } catch { foundation = path(error) }
            #expect(!ours.isEmpty && ours == foundation, "\(text): \(ours) vs \(foundation)")
        }
        // A fraction is not an integer (stricter than Foundation, which may truncate).
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder.decode(Sample.self, from: JSONValue.parse(Array(#"{"count":3.5,"ratio":0,"flags":[],"nested":{},"raw":null}"#.utf8)))
        }
    }
}
