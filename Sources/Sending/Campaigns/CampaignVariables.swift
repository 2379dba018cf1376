import Foundation
import WhatsAppCloudAPI

/// How a campaign fills its template's parameters for each recipient
/// (`cloudchat_campaigns.variables_json`, docs/campaigns.md).
///
/// ```json
/// {"header": [{"image": {"link": "https://shop.example.com/spring.jpg"}}],
///  "body": [{"field": "first_name", "fallback": "there"}, {"text": "20%"}],
///  "buttons": {"0": {"column": "order_number"}}}
/// ```
///
/// A template with named parameters takes an object instead of a list:
/// `"body": {"first_name": {"field": "first_name"}}`. Each recipient's values
/// are resolved once, when the recipient row is made, and frozen in its
/// `variables_json` in the same shape with plain values.
public struct CampaignVariables: Sendable, Equatable {
    /// Where one parameter's value comes from.
    public enum Source: Sendable, Equatable {
        /// The same text for everyone.
        case text(String)
        /// A contact field: `name`, `first_name`, `profile_name`, `email`, `phone`, `wa_id` or `custom_fields.<key>`.
        case field(String, fallback: String?)
        /// A column of the imported CSV file.
        case column(String, fallback: String?)
        /// A header image, video or document: `{"image": {"link": …}}` or `{"image": {"id": …}}`.
        case media(JSONValue)
    }

    /// The parameters of one component.
    public enum Parameters: Sendable, Equatable {
        case positional([Source])
        case named([NamedSource])
    }

    public struct NamedSource: Sendable, Equatable {
        public let name: String
        public let source: Source
    }

    public var header: Parameters?
    public var body: Parameters?
    /// One parameter per button, by the button's index in the template.
    public var buttons: [Int: Source]

    public init(header: Parameters? = nil, body: Parameters? = nil, buttons: [Int: Source] = [:]) {
        self.header = header
        self.body = body
        self.buttons = buttons
    }

    /// Reads `variables_json`; nil or `{}` means a template without parameters.
    public init(json: JSONValue?) throws(CampaignError) {
        guard let json, json != .null else {
            self.init()
            return
        }
        guard case .object(let members) = json else { throw CampaignError("variables must be a JSON object with header, body and buttons") }
        for key in members.keys where !["header", "body", "buttons"].contains(key) {
            throw CampaignError("variables: unknown part \"\(key.prefix(40))\"; use header, body and buttons")
        }
        var buttons: [Int: Source] = [:]
        if let given = members["buttons"] {
            guard case .object(let byIndex) = given else { throw CampaignError("variables.buttons must be an object keyed by button index") }
            for (key, value) in byIndex {
                guard let index = Int(key), index >= 0 else { throw CampaignError("variables.buttons: \"\(key.prefix(20))\" is not a button index") }
                buttons[index] = try Self.source(value, at: "buttons.\(index)")
            }
        }
        var header: Parameters?
        var body: Parameters?
        if let given = members["header"] { header = try Self.parameters(given, part: "header") }
        if let given = members["body"] { body = try Self.parameters(given, part: "body") }
        self.init(header: header, body: body, buttons: buttons)
    }

    /// The columns of an imported file this campaign reads.
    public var columns: [String] {
        allSources.compactMap { if case .column(let name, _) = $0 { name } else { nil } }
    }

    /// Whether any value comes from a contact's custom fields.
    public var readsCustomFields: Bool {
        allSources.contains { if case .field(let name, _) = $0 { name.hasPrefix("custom_fields.") } else { false } }
    }

    private var allSources: [Source] {
        func sources(_ parameters: Parameters?) -> [Source] {
            switch parameters {
            case .positional(let list)?: list
            case .named(let list)?: list.map(\.source)
            case nil: []
            }
        }
        return sources(header) + sources(body) + buttons.sorted { $0.key < $1.key }.map(\.value)
    }

    // MARK: Resolving

    /// What a recipient's values are read from.
    public struct Context: Sendable {
        public var contact: [String: String]
        public var customFields: JSONValue?
        /// By column name (an import passes lowercased names).
        public var columns: [String: String]

        public init(contact: [String: String] = [:], customFields: JSONValue? = nil, columns: [String: String] = [:]) {
            self.contact = contact
            self.customFields = customFields
            self.columns = columns
        }
    }

    /// The recipient's frozen values, or what is missing (Meta refuses empty parameters).
    public func resolve(in context: Context) -> Result<JSONValue, CampaignError> {
        var missing: [String] = []
        func value(_ source: Source, _ label: String) -> JSONValue {
            switch source {
            case .text(let text): return .string(text)
            case .media(let media): return media
            case .field(let name, let fallback), .column(let name, let fallback):
                var found: String?
                if case .column = source {
                    found = context.columns[name] ?? context.columns[name.lowercased()]
                } else if name.hasPrefix("custom_fields.") {
                    let key = String(name.dropFirst("custom_fields.".count))
                    switch context.customFields?[key] {
                    case .string(let text)?: found = text
                    case .number(let number)?: found = number == number.rounded() ? String(Int64(number)) : String(number)
                    case .bool(let flag)?: found = flag ? "yes" : "no"
                    default: found = nil
                    }
                } else {
                    found = context.contact[name]
                }
                let trimmed = found?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                if !trimmed.isEmpty { return .string(trimmed) }
                if let fallback, !fallback.isEmpty { return .string(fallback) }
                missing.append(label)
                return .string("")
            }
        }
        func resolve(_ parameters: Parameters?, part: String) -> JSONValue? {
            switch parameters {
            case .positional(let list)?:
                return .array(list.enumerated().map { value($0.element, "\(part) parameter \($0.offset + 1)") })
            case .named(let list)?:
                return .object(Dictionary(list.map { ($0.name, value($0.source, "\(part) parameter \($0.name)")) }, uniquingKeysWith: { a, _ in a }))
            case nil:
                return nil
            }
        }
        var frozen: [String: JSONValue] = [:]
        frozen["header"] = resolve(header, part: "header")
        frozen["body"] = resolve(body, part: "body")
        if !buttons.isEmpty {
            frozen["buttons"] = .object(Dictionary(buttons.map { (String($0.key), value($0.value, "button \($0.key) parameter")) },
                                                   uniquingKeysWith: { a, _ in a }))
        }
        guard missing.isEmpty else { return .failure(CampaignError("no value for " + missing.joined(separator: ", "))) }
        return .success(.object(frozen))
    }

    /// The values every recipient would get if each field and column held `sample`: used to check the
    /// definition against the template before any recipient exists.
    public func sampleValues(_ sample: String = "x") -> JSONValue {
        var context = Context(columns: Dictionary(columns.map { ($0, sample) }, uniquingKeysWith: { a, _ in a }))
        context.contact = Dictionary(ContactFieldNames.all.map { ($0, sample) }, uniquingKeysWith: { a, _ in a })
        var custom: [String: JSONValue] = [:]
        for case .field(let name, _) in allSources where name.hasPrefix("custom_fields.") {
            custom[String(name.dropFirst("custom_fields.".count))] = .string(sample)
        }
        context.customFields = .object(custom)
        return (try? resolve(in: context).get()) ?? .object([:])
    }

    // MARK: Building the send

    /// The Graph `template` object for frozen values: name, language and the components Meta expects.
    public static func templateSend(name: String, language: String, values: JSONValue, template: TemplateDefinition?) -> JSONValue {
        var components: [JSONValue] = []
        for part in ["header", "body"] {
            guard let given = values[part] else { continue }
            var parameters: [JSONValue] = []
            switch given {
            case .array(let list):
                parameters = list.map { parameter($0, name: nil) }
            case .object(let named):
                parameters = named.sorted { $0.key < $1.key }.map { parameter($0.value, name: $0.key) }
            default:
                continue
            }
            if !parameters.isEmpty {
                components.append(.object(["type": .string(part), "parameters": .array(parameters)]))
            }
        }
        if case .object(let buttons)? = values["buttons"] {
            var definitions: [JSONValue] = []
            if case .array(let list)? = template?.components,
               case .array(let found)? = list.first(where: { $0["type"]?.stringValue?.uppercased() == "BUTTONS" })?["buttons"] {
                definitions = found
            }
            for (key, value) in buttons.sorted(by: { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }) {
                let index = Int(key) ?? 0
                let kind = index < definitions.count ? definitions[index]["type"]?.stringValue?.uppercased() ?? "URL" : "URL"
                let text = value.stringValue ?? ""
                let (subType, parameter): (String, JSONValue) = switch kind {
                case "COPY_CODE": ("copy_code", .object(["type": "coupon_code", "coupon_code": .string(text)]))
                case "QUICK_REPLY": ("quick_reply", .object(["type": "payload", "payload": .string(text)]))
                default: ("url", .object(["type": "text", "text": .string(text)]))
                }
                components.append(.object(["type": "button", "sub_type": .string(subType), "index": .string(key),
                                           "parameters": .array([parameter])]))
            }
        }
        var send: [String: JSONValue] = ["name": .string(name), "language": .object(["code": .string(language)])]
        if !components.isEmpty { send["components"] = .array(components) }
        return .object(send)
    }

    private static func parameter(_ value: JSONValue, name: String?) -> JSONValue {
        var parameter: [String: JSONValue]
        if case .object(let media) = value, let kind = media.keys.first(where: { ["image", "video", "document"].contains($0) }) {
            parameter = ["type": .string(kind), kind: media[kind]!]
        } else {
            parameter = ["type": "text", "text": .string(value.stringValue ?? "")]
        }
        if let name { parameter["parameter_name"] = .string(name) }
        return .object(parameter)
    }

    // MARK: Parsing

    private static func parameters(_ value: JSONValue, part: String) throws(CampaignError) -> Parameters {
        switch value {
        case .array(let list):
            var sources: [Source] = []
            for (index, item) in list.enumerated() { sources.append(try source(item, at: "\(part)[\(index)]")) }
            return .positional(sources)
        case .object(let named):
            var sources: [NamedSource] = []
            for (name, item) in named.sorted(by: { $0.key < $1.key }) {
                sources.append(NamedSource(name: name, source: try source(item, at: "\(part).\(name)")))
            }
            return .named(sources)
        default:
            throw CampaignError("variables.\(part) must be a list (positional parameters) or an object (named parameters)")
        }
    }

    private static func source(_ value: JSONValue, at path: String) throws(CampaignError) -> Source {
        guard case .object(let members) = value else {
            throw CampaignError("variables.\(path) must be an object such as {\"text\": …}, {\"field\": …} or {\"column\": …}")
        }
        let fallback = members["fallback"]?.stringValue
        if let text = members["text"]?.stringValue { return .text(text) }
        if let field = members["field"]?.stringValue {
            guard ContactFieldNames.all.contains(field) || (field.hasPrefix("custom_fields.") && field.count > 14) else {
                throw CampaignError("variables.\(path): unknown contact field \"\(field.prefix(60))\"; use "
                                    + ContactFieldNames.all.joined(separator: ", ") + " or custom_fields.<key>")
            }
            return .field(field, fallback: fallback)
        }
        if let column = members["column"]?.stringValue, !column.isEmpty { return .column(column, fallback: fallback) }
        if let kind = ["image", "video", "document"].first(where: { members[$0] != nil }), let media = members[kind],
           media["link"]?.stringValue != nil || media["id"]?.stringValue != nil {
            return .media(.object([kind: media]))
        }
        throw CampaignError("variables.\(path) needs one of text, field, column, or image/video/document with a link or id")
    }
}

/// The contact fields a campaign can put into a template.
public enum ContactFieldNames {
    public static let all = ["name", "first_name", "profile_name", "email", "phone", "wa_id"]
}

/// A campaign operation that cannot be done, said so that the person can fix it.
public struct CampaignError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    /// The HTTP status the control API answers with.
    public let status: Int

    public init(_ description: String, status: Int = 400) {
        self.description = description
        self.status = status
    }
}
