import Foundation
import WhatsAppCloudAPI

/// A synced template, as the sender checks sends against it.
public struct TemplateDefinition: Sendable, Equatable {
    public let id: UInt64
    public let name: String
    public let language: String
    public let status: String
    /// `POSITIONAL` or `NAMED` (nil: positional).
    public let parameterFormat: String?
    /// The `components` array as Meta returns it.
    public let components: JSONValue

    public init(id: UInt64, name: String, language: String, status: String, parameterFormat: String?, components: JSONValue) {
        self.id = id
        self.name = name
        self.language = language
        self.status = status
        self.parameterFormat = parameterFormat
        self.components = components
    }
}

/// Checks a template send (the `template` object of a Graph send body) against
/// the template's components before Meta sees it, so a send that Meta would
/// refuse with 132000 or 132012 fails at once with a reason the site can fix.
public enum TemplateCheck {
    /// What is wrong with the send, or nil when it fits the template.
    public static func problem(with send: JSONValue, against template: TemplateDefinition) -> String? {
        guard template.status == "APPROVED" else {
            return "template \(template.name) (\(template.language)) is \(template.status) at Meta; only APPROVED templates can be sent"
        }
        guard case .array(let definitions) = template.components else { return nil }
        let given = components(of: send)
        for definition in definitions {
            switch definition["type"]?.stringValue?.uppercased() {
            case "HEADER":
                if let problem = checkHeader(definition, given: given["header"]?.first, template: template) { return problem }
            case "BODY":
                let placeholders = Self.placeholders(in: definition["text"]?.stringValue ?? "")
                if let problem = checkTextParameters(placeholders, given: given["body"]?.first, part: "body", template: template) { return problem }
            case "BUTTONS":
                if let problem = checkButtons(definition, given: given["button"] ?? []) { return problem }
            default:
                continue
            }
        }
        for part in ["header", "body"] where given[part] != nil && !definitions.contains(where: { $0["type"]?.stringValue?.uppercased() == part.uppercased() }) {
            return "template \(template.name) has no \(part), but the send gives \(part) parameters"
        }
        return nil
    }

    /// The placeholders of a text, in order of first appearance: `1`, `2`… or names.
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !names.contains(name) { names.append(name) }
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// The send's components grouped by type (lowercased).
    private static func components(of send: JSONValue) -> [String: [JSONValue]] {
        guard case .array(let items)? = send["components"] else { return [:] }
        var grouped: [String: [JSONValue]] = [:]
        for item in items {
            if let type = item["type"]?.stringValue?.lowercased() { grouped[type, default: []].append(item) }
        }
        return grouped
    }

    private static func parameters(of component: JSONValue?) -> [JSONValue] {
        guard case .array(let parameters)? = component?["parameters"] else { return [] }
        return parameters
    }

    private static func checkTextParameters(_ placeholders: [String], given component: JSONValue?, part: String,
                                            template: TemplateDefinition) -> String? {
        let parameters = parameters(of: component)
        guard parameters.count == placeholders.count else {
            return "template \(template.name) expects \(placeholders.count) \(part) parameter(s), the send gives \(parameters.count)"
        }
        if template.parameterFormat?.uppercased() == "NAMED" {
            let names = Set(parameters.compactMap { $0["parameter_name"]?.stringValue })
            let missing = placeholders.filter { !names.contains($0) }
            if !missing.isEmpty {
                return "template \(template.name) needs the named \(part) parameter(s) \(missing.joined(separator: ", "))"
            }
        }
        for (index, parameter) in parameters.enumerated() {
            guard let type = parameter["type"]?.stringValue else {
                return "\(part) parameter \(index + 1) of template \(template.name) has no type"
            }
            if type == "text", (parameter["text"]?.stringValue ?? "").isEmpty {
                return "\(part) parameter \(index + 1) of template \(template.name) is empty; Meta refuses empty parameters"
            }
        }
        return nil
    }

    private static func checkHeader(_ definition: JSONValue, given component: JSONValue?, template: TemplateDefinition) -> String? {
        let format = definition["format"]?.stringValue?.uppercased() ?? "TEXT"
        switch format {
        case "TEXT":
            let placeholders = Self.placeholders(in: definition["text"]?.stringValue ?? "")
            return checkTextParameters(placeholders, given: component, part: "header", template: template)
        case "IMAGE", "VIDEO", "DOCUMENT":
            let kind = format.lowercased()
            guard let parameter = parameters(of: component).first, parameter["type"]?.stringValue == kind,
                  parameter[kind]?["id"] != nil || parameter[kind]?["link"] != nil else {
                return "template \(template.name) has a \(kind) header: the send needs a header parameter of type \(kind) with an id or link"
            }
            return nil
        case "LOCATION":
            guard parameters(of: component).first?["type"]?.stringValue == "location" else {
                return "template \(template.name) has a location header: the send needs a location header parameter"
            }
            return nil
        default:
            return nil
        }
    }

    private static func checkButtons(_ definition: JSONValue, given: [JSONValue]) -> String? {
        guard case .array(let buttons)? = definition["buttons"] else { return nil }
        for (index, button) in buttons.enumerated() {
            let needsParameter: Bool
            switch button["type"]?.stringValue?.uppercased() {
            case "URL": needsParameter = !placeholders(in: button["url"]?.stringValue ?? "").isEmpty
            case "COPY_CODE": needsParameter = true
            default: needsParameter = false
            }
            guard needsParameter else { continue }
            let match = given.first { component in
                let position = component["index"].flatMap { value -> Int? in
                    if let text = value.stringValue { return Int(text) }
                    if case .number(let number) = value { return Int(exactly: number) }
                    return nil
                }
                return position == index
            }
            if parameters(of: match).isEmpty {
                return "button \(index) (\(button["type"]?.stringValue ?? "")) of the template needs a parameter; add a button component with index \(index)"
            }
        }
        return nil
    }
}
