import Foundation
import MariaDB
@testable import Sending
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore

@Suite("Template parameter check")
struct TemplateCheckTests {
    static func template(_ components: String, status: String = "APPROVED", format: String? = nil) throws -> TemplateDefinition {
        TemplateDefinition(id: 1, name: "order_update", language: "en_US", status: status, parameterFormat: format,
                           components: try JSONValue.parse(Array(components.utf8)))
    }

    static func send(_ components: String) throws -> JSONValue {
        try JSONValue.parse(Array(#"{"name":"order_update","language":{"code":"en_US"},"components":\#(components)}"#.utf8))
    }

    static let positional = #"[{"type":"BODY","text":"Hi {{1}}, order {{2}} ships {{2}} today."}]"#

    @Test func acceptsTheRightNumberOfBodyParameters() throws {
        let send = try Self.send(#"[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"A-17"}]}]"#)
        #expect(TemplateCheck.problem(with: send, against: try Self.template(Self.positional)) == nil)
    }

    @Test func refusesAWrongCount() throws {
        let send = try Self.send(#"[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]"#)
        let problem = try #require(TemplateCheck.problem(with: send, against: try Self.template(Self.positional)))
        #expect(problem.contains("expects 2 body parameter(s), the send gives 1"))
    }

    @Test func refusesEmptyText() throws {
        let send = try Self.send(#"[{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":""}]}]"#)
        #expect(TemplateCheck.problem(with: send, against: try Self.template(Self.positional))?.contains("empty") == true)
    }

    @Test func namedParametersMustBeNamed() throws {
        let definition = try Self.template(#"[{"type":"BODY","text":"Hi {{first_name}}, your code is {{code}}"}]"#, format: "NAMED")
        let wrong = try Self.send(#"[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Ana"},{"type":"text","parameter_name":"coupon","text":"X"}]}]"#)
        #expect(TemplateCheck.problem(with: wrong, against: definition)?.contains("code") == true)
        let right = try Self.send(#"[{"type":"body","parameters":[{"type":"text","parameter_name":"code","text":"X"},{"type":"text","parameter_name":"first_name","text":"Ana"}]}]"#)
        #expect(TemplateCheck.problem(with: right, against: definition) == nil)
    }

    @Test func aMediaHeaderNeedsItsMedia() throws {
        let definition = try Self.template(#"[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"New arrivals"}]"#)
        #expect(TemplateCheck.problem(with: try Self.send("[]"), against: definition)?.contains("image header") == true)
        let withImage = try Self.send(#"[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/a.jpg"}}]}]"#)
        #expect(TemplateCheck.problem(with: withImage, against: definition) == nil)
    }

    @Test func aDynamicURLButtonNeedsItsParameter() throws {
        let definition = try Self.template(#"[{"type":"BODY","text":"Track it"},{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"},{"type":"URL","text":"Track","url":"https://example.com/t/{{1}}"}]}]"#)
        #expect(TemplateCheck.problem(with: try Self.send("[]"), against: definition)?.contains("button 1") == true)
        let given = try Self.send(#"[{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"A-17"}]}]"#)
        #expect(TemplateCheck.problem(with: given, against: definition) == nil)
    }

    @Test func onlyApprovedTemplatesAreSent() throws {
        let problem = try #require(TemplateCheck.problem(with: try Self.send("[]"), against: try Self.template("[]", status: "PAUSED")))
        #expect(problem.contains("PAUSED"))
    }

    @Test func placeholdersInOrderOfFirstUse() {
        #expect(TemplateCheck.placeholders(in: "{{2}} and {{1}} and {{2}} {{ name }} {{bad-one}}") == ["2", "1", "name"])
    }
}

@Suite("Template sync", .timeLimit(.minutes(1)))
struct TemplateSyncTests {
    static func template(_ name: String, status: String = "APPROVED") -> GraphClient.MessageTemplate {
        GraphClient.MessageTemplate(id: "9\(name.count)", name: name, language: "en_US", status: status, category: "UTILITY",
                                    parameterFormat: "POSITIONAL", qualityScore: "GREEN", components: .array([]))
    }

    @Test func upsertsListedTemplatesAndMarksTheRestRemoved() throws {
        let scratch = try ScratchSite("tpl")
        defer { scratch.drop() }
        let first = try TemplateSync.write([Self.template("hello_world"), Self.template("order_update", status: "PENDING")],
                                           wabaID: "1022", site: scratch.site, now: Date(), on: scratch.connection)
        #expect(first == .init(listed: 2, approved: 1, removed: 0))
        let second = try TemplateSync.write([Self.template("order_update")], wabaID: "1022", site: scratch.site,
                                            now: Date().addingTimeInterval(1), on: scratch.connection)
        #expect(second == .init(listed: 1, approved: 1, removed: 1))
        let rows = try scratch.connection.query("""
            SELECT name, status, removed_at IS NOT NULL FROM \(scratch.site.table(.templates)) ORDER BY name
            """).map { [try $0.decode(String.self, at: 0), try $0.decode(String.self, at: 1), String(try $0.decode(Int.self, at: 2))] }
        #expect(rows == [["hello_world", "APPROVED", "1"], ["order_update", "APPROVED", "0"]])
    }
}
