@testable import GraphSimulator
import Testing
import WhatsAppCloudAPI

/// Validation, template parameters, multipart bodies and digests, without a server.
@Suite("Request checks")
struct RequestCheckTests {
    private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    private func code(_ body: String) throws -> Int? {
        switch MessageValidator.validate(try json(body), sender: "15550783881") {
        case .failure(let reply): reply.code
        case .success: nil
        }
    }

    @Test func validationCodesFollowTheDigest() throws {
        #expect(try code(#"[]"#) == 100)
        #expect(try code(#"{"to":"16505551234","type":"text","text":{"body":"hi"}}"#) == 131008)
        #expect(try code(#"{"messaging_product":"sms","to":"16505551234","text":{"body":"hi"}}"#) == 131009)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"phone","text":{"body":"hi"}}"#) == 131009)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"15550783881","text":{"body":"hi"}}"#) == 131021)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"fax","fax":{}}"#) == 131009)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"image"}"#) == 131008)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{}}"#) == 131008)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"\#(String(repeating: "a", count: 4097))"}}"#) == 100)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"}}}"#) == 131008)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A title longer than twenty"}}]}}}"#) == 100)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"reaction","reaction":{"emoji":"👍"}}"#) == 131008)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"x"}}"#) == 131008)
    }

    @Test func validRequestsPass() throws {
        #expect(try code(#"{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"type defaults to text"}}"#) == nil)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"reaction","reaction":{"message_id":"wamid.X","emoji":""}}"#) == nil)
        #expect(try code(#"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"text"}}"#) == nil)
        #expect(try code(#"{"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"list","body":{"text":"Pick"},"action":{"button":"Slots","sections":[{"title":"Mon","rows":[{"id":"m9","title":"9:00"}]}]}}}"#) == nil)
    }

    @Test func templateParametersAreCountedPerComponent() throws {
        let templates = GraphSimulator.sampleTemplates(wabaID: "1")
        let positional = try #require(templates.first { $0.name == "order_update" })
        let named = try #require(templates.first { $0.name == "spring_sale" })
        let image = try #require(templates.first { $0.name == "new_arrivals" })

        #expect(positional.checkParameters(try json(#"[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"1042"}]}]"#)) == nil)
        #expect(positional.checkParameters(try json(#"[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]"#))?.code == 132000)
        #expect(named.checkParameters(try json(#"[{"type":"body","parameters":[{"type":"text","text":"20%","parameter_name":"discount"},{"type":"text","text":"Ana","parameter_name":"first_name"}]}]"#)) == nil)
        #expect(named.checkParameters(try json(#"[{"type":"body","parameters":[{"type":"text","text":"Ana","parameter_name":"name"},{"type":"text","text":"20%","parameter_name":"discount"}]}]"#))?.code == 132000)
        #expect(image.checkParameters(try json(#"[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]"#))?.code == 132000)
        #expect(image.checkParameters(try json(#"[{"type":"header","parameters":[{"type":"video","video":{"id":"1"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]"#))?.code == 132012)
        #expect(image.checkParameters(try json(#"[{"type":"header","parameters":[{"type":"image","image":{"id":"1"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]"#)) == nil)
        #expect(GraphSimulator.Template.placeholders(in: "{{1}} and {{ 2 }} and {{1}}") == ["1", "2"])
    }

    @Test func multipartBodiesGiveTheirFieldsAndFile() throws {
        let body = Array("--XyZ\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            + [0x89, 0x0D, 0x0A, 0x00] + Array("\r\n--XyZ--\r\n".utf8)
        let form = try #require(MultipartForm(body: body, contentType: "multipart/form-data; boundary=\"XyZ\""))
        #expect(form.part("messaging_product")?.text == "whatsapp")
        #expect(form.part("file")?.filename == "a.png")
        #expect(form.part("file")?.contentType == "image/png")
        #expect(form.part("file")?.body == [0x89, 0x0D, 0x0A, 0x00])
        #expect(MultipartForm(body: body, contentType: "application/json") == nil)
    }

    @Test func wamidsLookLikeMetasAndCarryTheRecipient() throws {
        let wamid = Identifiers.wamid(user: "16505551234", instance: 0xABCDEF, sequence: 42, inbound: false)
        #expect(wamid.hasPrefix("wamid.HBgLMTY1MDU1NTEyMzQVAgAR"))
        #expect(wamid != Identifiers.wamid(user: "16505551234", instance: 0xABCDEF, sequence: 43, inbound: false))
    }
}
