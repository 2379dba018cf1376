import WhatsAppCloudAPI

/// A `POST /{phone-number-id}/messages` body, checked as Meta checks it (digest §4, §5.5).
///
/// Codes: 131008 when a required parameter is missing, 131009 when a value is not
/// one Meta accepts (`messaging_product`, `to`, an unknown `type`), 100 when the body
/// or a field is malformed or over a documented length. Template existence and
/// parameters are checked later, against the number's templates.
enum MessagesRequest: Sendable {
    /// `{"status":"read","message_id":…}`: mark an inbound message read.
    case markRead(messageID: String, typing: Bool)
    /// A message to send.
    case send(OutgoingMessage)
}

/// A send that passed the checks that need no templates.
struct OutgoingMessage: Sendable {
    /// `to` as given: `+` and digits, or digits.
    let input: String
    /// `to`'s digits: the recipient's WhatsApp id.
    let recipient: String
    let type: String
    let callbackData: String?
    /// `template.name`, `template.language.code` and `template.components`, for templates.
    let template: (name: String, language: String, components: JSONValue?)?
}

enum MessageValidator {
    static let knownTypes: Set<String> = [
        "text", "image", "video", "audio", "document", "sticker", "template", "interactive", "reaction", "location", "contacts",
    ]
    static let interactiveTypes: Set<String> = [
        "button", "list", "cta_url", "flow", "location_request_message", "address_message", "product", "product_list",
        "catalog_message", "carousel", "call_permission_request",
    ]

    /// Checks a parsed body. `sender` is the business number's digits (a message to itself is 131021).
    static func validate(_ body: JSONValue, sender: String) -> Result<MessagesRequest, GraphErrorReply> {
        guard case .object(let fields) = body else { return .failure(invalid("the request body must be a JSON object")) }
        guard let product = fields["messaging_product"] else { return .failure(missing("messaging_product")) }
        guard product.stringValue == "whatsapp" else {
            return .failure(GraphErrorReply(131009, details: "Param messaging_product must be whatsapp"))
        }

        if let status = fields["status"] {
            guard status.stringValue == "read" else { return .failure(GraphErrorReply(131009, details: "Param status must be read")) }
            guard let messageID = fields["message_id"]?.stringValue, !messageID.isEmpty else { return .failure(missing("message_id")) }
            var typing = false
            if let indicator = fields["typing_indicator"] {
                guard indicator["type"]?.stringValue == "text" else {
                    return .failure(GraphErrorReply(131009, details: "Param typing_indicator['type'] must be text"))
                }
                typing = true
            }
            return .success(.markRead(messageID: messageID, typing: typing))
        }

        if let recipientType = fields["recipient_type"], recipientType.stringValue != "individual", recipientType.stringValue != "group" {
            return .failure(GraphErrorReply(131009, details: "Param recipient_type must be individual or group"))
        }
        guard let toValue = fields["to"] else { return .failure(missing("to")) }
        guard let to = toValue.stringValue else { return .failure(invalid("Param to must be a string")) }
        let digits = to.hasPrefix("+") ? String(to.dropFirst()) : to
        guard (1...20).contains(digits.utf8.count), digits.utf8.allSatisfy({ (48...57).contains($0) }) else {
            return .failure(GraphErrorReply(131009, details: "Param to must be a phone number: digits, with an optional leading +"))
        }
        if digits == sender { return .failure(GraphErrorReply(131021, details: "The recipient is the sending business number")) }

        var callbackData: String?
        if let value = fields["biz_opaque_callback_data"] {
            guard let text = value.stringValue else { return .failure(invalid("Param biz_opaque_callback_data must be a string")) }
            guard text.count <= 512 else { return .failure(invalid("Param biz_opaque_callback_data must be at most 512 characters long")) }
            callbackData = text
        }
        if let context = fields["context"] {
            guard context["message_id"]?.stringValue?.isEmpty == false else { return .failure(invalid("Param context['message_id'] is required")) }
        }

        // Meta sends text when `type` is left out.
        let type: String
        if let typeValue = fields["type"] {
            guard let name = typeValue.stringValue else { return .failure(invalid("Param type must be a string")) }
            type = name
        } else {
            type = "text"
        }
        guard knownTypes.contains(type) else {
            return .failure(GraphErrorReply(131009, details: "Param type must be one of \(knownTypes.sorted().joined(separator: ", "))"))
        }
        guard let object = fields[type] else { return .failure(missing(type)) }
        guard type == "contacts" || isObject(object) else { return .failure(invalid("Param \(type) must be a JSON object")) }

        var template: (name: String, language: String, components: JSONValue?)?
        let problem: GraphErrorReply?
        switch type {
        case "text": problem = checkText(object)
        case "image", "video", "audio", "document", "sticker": problem = checkMedia(object, type: type)
        case "interactive": problem = checkInteractive(object)
        case "reaction":
            if object["message_id"]?.stringValue?.isEmpty != false {
                problem = missing("reaction['message_id']")
            } else if object["emoji"]?.stringValue == nil {
                problem = missing("reaction['emoji']")
            } else {
                problem = nil
            }
        case "location":
            problem = isNumber(object["latitude"]) && isNumber(object["longitude"]) ? nil : missing("location['latitude'] and location['longitude']")
        case "contacts":
            if case .array(let contacts) = object, !contacts.isEmpty { problem = nil } else { problem = missing("contacts") }
        case "template":
            if let name = object["name"]?.stringValue, !name.isEmpty {
                if let language = object["language"]?["code"]?.stringValue, !language.isEmpty {
                    if let components = object["components"], !isArray(components) {
                        problem = invalid("Param template['components'] must be an array")
                    } else {
                        template = (name, language, object["components"])
                        problem = nil
                    }
                } else {
                    problem = missing("template['language']['code']")
                }
            } else {
                problem = missing("template['name']")
            }
        default:
            problem = nil
        }
        if let problem { return .failure(problem) }
        return .success(.send(OutgoingMessage(input: to, recipient: digits, type: type, callbackData: callbackData, template: template)))
    }

    // MARK: Types

    private static func checkText(_ text: JSONValue) -> GraphErrorReply? {
        guard let body = text["body"] else { return missing("text['body']") }
        guard let value = body.stringValue else { return invalid("Param text['body'] must be a string") }
        if value.isEmpty { return missing("text['body']") }
        if value.count > 4096 { return invalid("Param text['body'] must be at most 4096 characters long.") }
        if let preview = text["preview_url"], !isBool(preview) { return invalid("Param text['preview_url'] must be a boolean") }
        return nil
    }

    private static func checkMedia(_ media: JSONValue, type: String) -> GraphErrorReply? {
        let id = media["id"]?.stringValue, link = media["link"]?.stringValue
        if id == nil && link == nil { return missing("\(type)['id'] or \(type)['link']") }
        if id != nil && link != nil { return invalid("Param \(type) takes either id or link, not both") }
        if let caption = media["caption"] {
            if type == "audio" || type == "sticker" { return invalid("Param \(type)['caption'] is not supported") }
            guard let text = caption.stringValue, text.count <= 1024 else {
                return invalid("Param \(type)['caption'] must be at most 1024 characters long.")
            }
        }
        if media["filename"] != nil && type != "document" { return invalid("Param \(type)['filename'] is not supported") }
        return nil
    }

    private static func checkInteractive(_ interactive: JSONValue) -> GraphErrorReply? {
        guard let type = interactive["type"]?.stringValue else { return missing("interactive['type']") }
        guard interactiveTypes.contains(type) else {
            return GraphErrorReply(131009, details: "Param interactive['type'] must be one of \(interactiveTypes.sorted().joined(separator: ", "))")
        }
        if let header = interactive["header"], header["type"]?.stringValue == "text", (header["text"]?.stringValue?.count ?? 0) > 60 {
            return invalid("Param interactive['header']['text'] must be at most 60 characters long.")
        }
        if let footer = interactive["footer"]?["text"]?.stringValue, footer.count > 60 {
            return invalid("Param interactive['footer']['text'] must be at most 60 characters long.")
        }
        let bodyText = interactive["body"]?["text"]?.stringValue
        let needsBody: Set<String> = ["button", "list", "cta_url", "flow", "location_request_message", "address_message", "product_list", "catalog_message"]
        if needsBody.contains(type), bodyText?.isEmpty != false { return missing("interactive['body']['text']") }
        guard let action = interactive["action"], isObject(action) else { return missing("interactive['action']") }

        switch type {
        case "button":
            if (bodyText?.count ?? 0) > 1024 { return invalid("Param interactive['body']['text'] must be at most 1024 characters long.") }
            guard case .array(let buttons)? = action["buttons"] else { return missing("interactive['action']['buttons']") }
            guard (1...3).contains(buttons.count) else { return invalid("Param interactive['action']['buttons'] must have 1 to 3 buttons") }
            for button in buttons {
                guard let id = button["reply"]?["id"]?.stringValue, !id.isEmpty,
                      let title = button["reply"]?["title"]?.stringValue, !title.isEmpty else {
                    return missing("interactive['action']['buttons'][]['reply']['id'] and ['title']")
                }
                if title.count > 20 { return invalid("Param interactive['action']['buttons'][]['reply']['title'] must be at most 20 characters long.") }
                if id.count > 256 { return invalid("Param interactive['action']['buttons'][]['reply']['id'] must be at most 256 characters long.") }
            }
        case "list":
            if (bodyText?.count ?? 0) > 4096 { return invalid("Param interactive['body']['text'] must be at most 4096 characters long.") }
            guard let button = action["button"]?.stringValue, !button.isEmpty else { return missing("interactive['action']['button']") }
            if button.count > 20 { return invalid("Param interactive['action']['button'] must be at most 20 characters long.") }
            guard case .array(let sections)? = action["sections"], !sections.isEmpty else { return missing("interactive['action']['sections']") }
            if sections.count > 10 { return invalid("Param interactive['action']['sections'] must have at most 10 sections") }
            var rowCount = 0
            for section in sections {
                guard case .array(let rows)? = section["rows"], !rows.isEmpty else { return missing("interactive['action']['sections'][]['rows']") }
                rowCount += rows.count
                for row in rows {
                    guard let id = row["id"]?.stringValue, !id.isEmpty, let title = row["title"]?.stringValue, !title.isEmpty else {
                        return missing("interactive['action']['sections'][]['rows'][]['id'] and ['title']")
                    }
                    if title.count > 24 || id.count > 200 || (row["description"]?.stringValue?.count ?? 0) > 72 {
                        return invalid("A row's id, title or description is longer than Meta allows (200, 24, 72)")
                    }
                }
            }
            if rowCount > 10 { return invalid("Param interactive['action']['sections'] must have at most 10 rows in all") }
        case "cta_url":
            guard action["parameters"]?["display_text"]?.stringValue != nil, action["parameters"]?["url"]?.stringValue != nil else {
                return missing("interactive['action']['parameters']['display_text'] and ['url']")
            }
        default:
            break
        }
        return nil
    }

    // MARK: Helpers

    private static func missing(_ parameter: String) -> GraphErrorReply {
        GraphErrorReply(131008, details: "The parameter \(parameter) is required.")
    }

    private static func invalid(_ details: String) -> GraphErrorReply {
        GraphErrorReply(100, details: details)
    }

    private static func isObject(_ value: JSONValue) -> Bool {
        if case .object = value { return true }
        return false
    }

    private static func isArray(_ value: JSONValue) -> Bool {
        if case .array = value { return true }
        return false
    }

    private static func isBool(_ value: JSONValue) -> Bool {
        if case .bool = value { return true }
        return false
    }

    private static func isNumber(_ value: JSONValue?) -> Bool {
        switch value {
        case .number?: true
        case .string(let text)?: Double(text) != nil
        default: false
        }
    }
}
