import Foundation
import WhatsAppCloudAPI

extension GraphSimulator {
    /// A message template as Meta lists it (digest §7).
    public struct Template: Sendable, Equatable {
        /// Meta's numeric id; empty ones are assigned at start.
        public var id: String
        /// The WhatsApp Business Account that owns it.
        public var wabaID: String
        /// Lowercase letters, digits and underscores; unique per language.
        public var name: String
        /// e.g. `en_US`.
        public var language: String
        /// `APPROVED` is the only status that can be sent; also `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`…
        public var status: String
        /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
        public var category: String
        /// `POSITIONAL` (`{{1}}`) or `NAMED` (`{{first_name}}`).
        public var parameterFormat: String
        /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
        public var qualityScore: String
        /// The components in Meta's format: `[{"type":"BODY","text":…,"example":…}, …]`.
        public var components: JSONValue

        /// A template; an approved, positional, GREEN utility template in en_US unless told otherwise.
        public init(id: String = "", wabaID: String, name: String, language: String = "en_US", status: String = "APPROVED",
                    category: String = "UTILITY", parameterFormat: String = "POSITIONAL", qualityScore: String = "GREEN",
                    components: JSONValue) {
            self.id = id
            self.wabaID = wabaID
            self.name = name
            self.language = language
            self.status = status
            self.category = category
            self.parameterFormat = parameterFormat
            self.qualityScore = qualityScore
            self.components = components
        }
    }

    /// The templates every WABA starts with (unless ``Configuration/includeSampleTemplates`` is off):
    ///
    /// - `hello_world` (en_US, APPROVED, UTILITY): no parameters, Meta's own sample;
    /// - `order_update` (APPROVED, UTILITY): a body with 2 positional parameters and a URL button;
    /// - `spring_sale` (APPROVED, MARKETING): NAMED parameters `first_name` and `discount`, quick replies;
    /// - `new_arrivals` (APPROVED, MARKETING): an IMAGE header and 1 body parameter;
    /// - `winter_clearance` (PAUSED, MARKETING, quality RED): sending it gets 132015;
    /// - `free_gift_offer` (REJECTED, MARKETING): sending it gets 132001.
    public static func sampleTemplates(wabaID: String) -> [Template] {
        func json(_ text: String) -> JSONValue {
            // The literals below are fixed and valid.
            (try? JSONValue.parse(Array(text.utf8))) ?? .array([])
        }
        return [
            Template(wabaID: wabaID, name: "hello_world", components: json(#"""
                [{"type":"HEADER","format":"TEXT","text":"Hello World"},
                 {"type":"BODY","text":"Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},
                 {"type":"FOOTER","text":"WhatsApp Business Platform sample message"}]
                """#)),
            Template(wabaID: wabaID, name: "order_update", components: json(#"""
                [{"type":"BODY","text":"Hi {{1}}, your order {{2}} has shipped and is on its way.","example":{"body_text":[["Ana","#1042"]]}},
                 {"type":"FOOTER","text":"Reply STOP to opt out"},
                 {"type":"BUTTONS","buttons":[{"type":"URL","text":"Track order","url":"https://shop.example.com/track/{{1}}","example":["https://shop.example.com/track/1042"]}]}]
                """#)),
            Template(wabaID: wabaID, name: "spring_sale", category: "MARKETING", parameterFormat: "NAMED", components: json(#"""
                [{"type":"BODY","text":"Hi {{first_name}}, our spring sale is on: {{discount}} off everything until Sunday.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"discount","example":"20%"}]}},
                 {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Shop now"},{"type":"QUICK_REPLY","text":"Stop promotions"}]}]
                """#)),
            Template(wabaID: wabaID, name: "new_arrivals", category: "MARKETING", components: json(#"""
                [{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARb_sample_header_handle"]}},
                 {"type":"BODY","text":"New arrivals are in, {{1}}. Tap below to see them first.","example":{"body_text":[["Ana"]]}},
                 {"type":"BUTTONS","buttons":[{"type":"URL","text":"See the collection","url":"https://shop.example.com/new"}]}]
                """#)),
            Template(wabaID: wabaID, name: "winter_clearance", status: "PAUSED", category: "MARKETING", qualityScore: "RED",
                     components: json(#"""
                [{"type":"BODY","text":"Last chance: winter styles at {{1}} off.","example":{"body_text":[["50%"]]}}]
                """#)),
            Template(wabaID: wabaID, name: "free_gift_offer", status: "REJECTED", category: "MARKETING", qualityScore: "UNKNOWN",
                     components: json(#"""
                [{"type":"BODY","text":"Claim your free gift now!!!"}]
                """#)),
        ]
    }
}

/// Every WABA's templates, in the order they were added (the listing order).
struct TemplateStore: Sendable {
    private var byWABA: [String: [GraphSimulator.Template]] = [:]
    private var nextID: UInt64 = 1

    /// Adds a template, assigning an id when it has none; replaces one with the same name and language.
    @discardableResult
    mutating func add(_ template: GraphSimulator.Template) -> GraphSimulator.Template {
        var template = template
        if template.id.isEmpty {
            // 15 digits, like Meta's, and small enough for webhooks' integer `message_template_id`.
            template.id = String(733_000_000_000_000 + nextID * 7919)
            nextID += 1
        }
        if let index = byWABA[template.wabaID]?.firstIndex(where: { $0.name == template.name && $0.language == template.language }) {
            byWABA[template.wabaID]![index] = template
        } else {
            byWABA[template.wabaID, default: []].append(template)
        }
        return template
    }

    func templates(of wabaID: String) -> [GraphSimulator.Template] {
        byWABA[wabaID] ?? []
    }

    func find(wabaID: String, name: String, language: String) -> GraphSimulator.Template? {
        byWABA[wabaID]?.first { $0.name == name && $0.language == language }
    }

    func find(id: String) -> GraphSimulator.Template? {
        for templates in byWABA.values {
            if let template = templates.first(where: { $0.id == id }) { return template }
        }
        return nil
    }

    /// Changes a template's status; nil when there is no such template.
    mutating func setStatus(_ status: String, wabaID: String, name: String, language: String) -> GraphSimulator.Template? {
        guard let index = byWABA[wabaID]?.firstIndex(where: { $0.name == name && $0.language == language }) else { return nil }
        byWABA[wabaID]![index].status = status
        return byWABA[wabaID]![index]
    }

    // MARK: Listing

    /// The fields listed when the request names none.
    static let defaultFields = ["name", "parameter_format", "components", "language", "status", "category", "id"]

    /// A template as `GET /{waba-id}/message_templates` shows it, with the fields asked for (`id` always).
    static func listing(_ template: GraphSimulator.Template, fields: [String]) -> JSONValue {
        var item: [String: JSONValue] = ["id": .string(template.id)]
        for field in fields {
            switch field {
            case "name": item["name"] = .string(template.name)
            case "language": item["language"] = .string(template.language)
            case "status": item["status"] = .string(template.status)
            case "category": item["category"] = .string(template.category)
            case "components": item["components"] = template.components
            case "parameter_format": item["parameter_format"] = .string(template.parameterFormat)
            case "quality_score":
                item["quality_score"] = .object(["score": .string(template.qualityScore), "date": .number(1_750_000_000)])
            default: break  // fields Meta has and the simulator does not: left out, as Graph does for empty ones
            }
        }
        return .object(item)
    }
}

// MARK: Parameters

extension GraphSimulator.Template {
    /// The distinct `{{…}}` placeholders of a text, in order of first appearance.
    static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if !name.isEmpty, !names.contains(name) { names.append(name) }
            rest = rest[close.upperBound...]
        }
        return names
    }

    private func component(_ type: String) -> JSONValue? {
        guard case .array(let components) = components else { return nil }
        return components.first { $0["type"]?.stringValue?.uppercased() == type }
    }

    /// Checks a send's `template.components` against this template: 132000 for a wrong
    /// number of parameters (or named parameters that are not the template's), 132012
    /// for a header parameter of the wrong kind; nil when they fit.
    func checkParameters(_ requested: JSONValue?) -> GraphErrorReply? {
        var given: [String: [JSONValue]] = [:]
        if case .array(let components)? = requested {
            for component in components {
                guard let type = component["type"]?.stringValue?.lowercased(), type != "button" else { continue }
                if case .array(let parameters)? = component["parameters"] { given[type, default: []] += parameters }
            }
        }
        func mismatch(_ part: String, given: Int, expected: Int) -> GraphErrorReply {
            GraphErrorReply(132000, details: "\(part): number of localizable_params (\(given)) does not match the expected number of params (\(expected))")
        }

        let bodyText = component("BODY")?["text"]?.stringValue ?? ""
        let expectedBody = Self.placeholders(in: bodyText)
        let givenBody = given["body"] ?? []
        if givenBody.count != expectedBody.count { return mismatch("body", given: givenBody.count, expected: expectedBody.count) }
        if parameterFormat == "NAMED" {
            let names = givenBody.compactMap { $0["parameter_name"]?.stringValue }
            if Set(names) != Set(expectedBody) || names.count != givenBody.count {
                return GraphErrorReply(132000, details: "body: the named parameters do not match the template's: \(expectedBody.joined(separator: ", "))")
            }
        }

        let givenHeader = given["header"] ?? []
        let header = component("HEADER")
        switch header?["format"]?.stringValue?.uppercased() {
        case nil where header == nil:
            if !givenHeader.isEmpty { return mismatch("header", given: givenHeader.count, expected: 0) }
        case "IMAGE", "VIDEO", "DOCUMENT", "LOCATION":
            let kind = header!["format"]!.stringValue!.lowercased()
            if givenHeader.count != 1 { return mismatch("header", given: givenHeader.count, expected: 1) }
            if givenHeader[0]["type"]?.stringValue?.lowercased() != kind {
                return GraphErrorReply(132012, details: "header: expected a parameter of type \(kind)")
            }
        default:
            let expected = Self.placeholders(in: header?["text"]?.stringValue ?? "").count
            if givenHeader.count != expected { return mismatch("header", given: givenHeader.count, expected: expected) }
        }
        return nil
    }
}
