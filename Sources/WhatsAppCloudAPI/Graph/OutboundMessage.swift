/// A message to send: the body of `POST /{phone-number-id}/messages`.
///
/// ``validate()`` checks Meta's documented limits before anything is sent, so
/// a message Meta would refuse fails here with a readable reason.
public struct OutboundMessage: Sendable, Equatable {
    /// The recipient: E.164 digits, with or without the leading `+`.
    public var to: String
    public var content: Content
    /// The wamid this message answers (a quoted reply).
    public var replyTo: String?
    /// Echoed back in the status webhooks (at most 512 characters).
    public var callbackData: String?

    public init(to: String, _ content: Content, replyTo: String? = nil, callbackData: String? = nil) {
        self.to = to
        self.content = content
        self.replyTo = replyTo
        self.callbackData = callbackData
    }

    public enum Content: Sendable, Equatable {
        case text(String, previewURL: Bool = false)
        case media(MediaKind, MediaSource, caption: String? = nil, filename: String? = nil)
        case template(Template)
        case buttons(body: String, buttons: [ReplyButton], header: String? = nil, footer: String? = nil)
        case list(body: String, button: String, sections: [ListSection], header: String? = nil, footer: String? = nil)
        /// An empty emoji removes the reaction.
        case reaction(to: String, emoji: String)
    }

    public enum MediaKind: String, Sendable, Equatable { case image, video, audio, document, sticker }

    public enum MediaSource: Sendable, Equatable {
        /// An uploaded media id (preferred at high throughput).
        case id(String)
        /// A public HTTPS link.
        case link(String)
    }

    public struct ReplyButton: Sendable, Equatable {
        public var id: String
        public var title: String
        public init(id: String, title: String) { self.id = id; self.title = title }
    }

    public struct ListSection: Sendable, Equatable {
        public var title: String?
        public var rows: [ListRow]
        public init(title: String? = nil, rows: [ListRow]) { self.title = title; self.rows = rows }
    }

    public struct ListRow: Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: String?
        public init(id: String, title: String, description: String? = nil) { self.id = id; self.title = title; self.description = description }
    }

    /// An approved template with the values for its parameters.
    public struct Template: Sendable, Equatable {
        public var name: String
        public var language: String
        public var header: [Parameter]
        public var body: [Parameter]
        public var buttons: [Button]

        public init(name: String, language: String, header: [Parameter] = [], body: [Parameter] = [], buttons: [Button] = []) {
            self.name = name
            self.language = language
            self.header = header
            self.body = body
            self.buttons = buttons
        }

        public enum Parameter: Sendable, Equatable {
            /// Text; `name` for templates created with named parameters.
            case text(String, name: String? = nil)
            /// An amount in thousandths of the currency unit, with the text shown where it cannot be localised.
            case currency(fallback: String, code: String, amount1000: Int)
            case dateTime(fallback: String)
            case media(MediaKind, MediaSource)
        }

        public struct Button: Sendable, Equatable {
            public enum Kind: String, Sendable, Equatable { case quickReply = "quick_reply", url, copyCode = "copy_code" }
            public var kind: Kind
            public var index: Int
            /// The quick reply's payload, the URL's suffix, or the coupon code.
            public var value: String
            public init(kind: Kind, index: Int, value: String) { self.kind = kind; self.index = index; self.value = value }
        }
    }

    // MARK: Limits

    /// Why Meta would refuse the message, or nil when it is within every documented limit.
    public func validate() -> String? {
        let digits = to.hasPrefix("+") ? String(to.dropFirst()) : to
        guard (6...20).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), digits.first != "0" else {
            return "the recipient is not a phone number in international format (digits with the country code)"
        }
        if let callbackData, callbackData.count > 512 { return "the callback data is longer than 512 characters" }
        switch content {
        case .text(let body, _):
            if body.isEmpty { return "the text is empty" }
            if body.count > 4096 { return "the text is longer than 4,096 characters" }
        case .media(let kind, _, let caption, let filename):
            if caption != nil && (kind == .audio || kind == .sticker) { return "\(kind.rawValue) messages take no caption" }
            if let caption, caption.count > 1024 { return "the caption is longer than 1,024 characters" }
            if filename != nil && kind != .document { return "only documents take a file name" }
        case .template(let template):
            if template.name.isEmpty || template.language.isEmpty { return "the template needs a name and a language" }
        case .buttons(let body, let buttons, let header, let footer):
            if !(1...3).contains(buttons.count) { return "reply buttons must number from 1 to 3" }
            if body.isEmpty || body.count > 1024 { return "the body of a button message must have 1 to 1,024 characters" }
            if let problem = Self.frameProblem(header: header, footer: footer) { return problem }
            for button in buttons {
                if button.title.isEmpty || button.title.count > 20 { return "a button title must have 1 to 20 characters" }
                if button.id.isEmpty || button.id.count > 256 { return "a button id must have 1 to 256 characters" }
            }
            if Set(buttons.map(\.id)).count != buttons.count { return "button ids must differ" }
        case .list(let body, let button, let sections, let header, let footer):
            let rows = sections.flatMap(\.rows)
            if sections.isEmpty || sections.count > 10 { return "a list must have 1 to 10 sections" }
            if rows.isEmpty || rows.count > 10 { return "a list must have 1 to 10 rows in all" }
            if body.isEmpty || body.count > 4096 { return "the body of a list must have 1 to 4,096 characters" }
            if button.isEmpty || button.count > 20 { return "the list button must have 1 to 20 characters" }
            if let problem = Self.frameProblem(header: header, footer: footer) { return problem }
            for row in rows {
                if row.title.isEmpty || row.title.count > 24 { return "a row title must have 1 to 24 characters" }
                if row.id.isEmpty || row.id.count > 200 { return "a row id must have 1 to 200 characters" }
                if let description = row.description, description.count > 72 { return "a row description is longer than 72 characters" }
            }
        case .reaction(let wamid, _):
            if wamid.isEmpty { return "a reaction needs the message it reacts to" }
        }
        return nil
    }

    /// The text header and footer of interactive messages: at most 60 characters each.
    private static func frameProblem(header: String?, footer: String?) -> String? {
        if let footer, footer.count > 60 { return "the footer is longer than 60 characters" }
        if let header, header.count > 60 { return "the header is longer than 60 characters" }
        return nil
    }

    // MARK: JSON

    /// The request body as Meta documents it.
    public var json: JSONValue {
        var message: [String: JSONValue] = [
            "messaging_product": .string("whatsapp"),
            "recipient_type": .string("individual"),
            "to": .string(to.hasPrefix("+") ? to : "+" + to),
        ]
        if let replyTo { message["context"] = .object(["message_id": .string(replyTo)]) }
        if let callbackData { message["biz_opaque_callback_data"] = .string(callbackData) }
        let (type, value) = content.typeAndValue
        message["type"] = .string(type)
        message[type] = value
        return .object(message)
    }
}

extension OutboundMessage.Content {
    var typeAndValue: (String, JSONValue) {
        switch self {
        case .text(let body, let previewURL):
            return ("text", .object(["body": .string(body), "preview_url": .bool(previewURL)]))
        case .media(let kind, let source, let caption, let filename):
            var media = source.json
            if let caption { media["caption"] = .string(caption) }
            if let filename { media["filename"] = .string(filename) }
            return (kind.rawValue, .object(media))
        case .template(let template):
            return ("template", template.json)
        case .buttons(let body, let buttons, let header, let footer):
            var interactive = Self.frame("button", body: body, header: header, footer: footer)
            interactive["action"] = .object(["buttons": .array(buttons.map {
                .object(["type": .string("reply"), "reply": .object(["id": .string($0.id), "title": .string($0.title)])])
            })])
            return ("interactive", .object(interactive))
        case .list(let body, let button, let sections, let header, let footer):
            var interactive = Self.frame("list", body: body, header: header, footer: footer)
            interactive["action"] = .object(["button": .string(button), "sections": .array(sections.map { section in
                var members: [String: JSONValue] = ["rows": .array(section.rows.map { row in
                    var fields: [String: JSONValue] = ["id": .string(row.id), "title": .string(row.title)]
                    if let description = row.description { fields["description"] = .string(description) }
                    return .object(fields)
                })]
                if let title = section.title { members["title"] = .string(title) }
                return .object(members)
            })])
            return ("interactive", .object(interactive))
        case .reaction(let wamid, let emoji):
            return ("reaction", .object(["message_id": .string(wamid), "emoji": .string(emoji)]))
        }
    }

    private static func frame(_ type: String, body: String, header: String?, footer: String?) -> [String: JSONValue] {
        var interactive: [String: JSONValue] = ["type": .string(type), "body": .object(["text": .string(body)])]
        if let header { interactive["header"] = .object(["type": .string("text"), "text": .string(header)]) }
        if let footer { interactive["footer"] = .object(["text": .string(footer)]) }
        return interactive
    }
}

extension OutboundMessage.MediaSource {
    var json: [String: JSONValue] {
        switch self {
        case .id(let id): ["id": .string(id)]
        case .link(let link): ["link": .string(link)]
        }
    }
}

extension OutboundMessage.Template {
    var json: JSONValue {
        var components: [JSONValue] = []
        if !header.isEmpty { components.append(.object(["type": .string("header"), "parameters": .array(header.map(\.json))])) }
        if !body.isEmpty { components.append(.object(["type": .string("body"), "parameters": .array(body.map(\.json))])) }
        for button in buttons {
            let parameter: JSONValue = switch button.kind {
            case .quickReply: .object(["type": .string("payload"), "payload": .string(button.value)])
            case .url: .object(["type": .string("text"), "text": .string(button.value)])
            case .copyCode: .object(["type": .string("coupon_code"), "coupon_code": .string(button.value)])
            }
            components.append(.object(["type": .string("button"), "sub_type": .string(button.kind.rawValue),
                                       "index": .string(String(button.index)), "parameters": .array([parameter])]))
        }
        var template: [String: JSONValue] = ["name": .string(name), "language": .object(["code": .string(language)])]
        if !components.isEmpty { template["components"] = .array(components) }
        return .object(template)
    }
}

extension OutboundMessage.Template.Parameter {
    var json: JSONValue {
        switch self {
        case .text(let text, let name):
            var parameter: [String: JSONValue] = ["type": .string("text"), "text": .string(text)]
            if let name { parameter["parameter_name"] = .string(name) }
            return .object(parameter)
        case .currency(let fallback, let code, let amount1000):
            return .object(["type": .string("currency"), "currency": .object([
                "fallback_value": .string(fallback), "code": .string(code), "amount_1000": .number(Double(amount1000)),
            ])])
        case .dateTime(let fallback):
            return .object(["type": .string("date_time"), "date_time": .object(["fallback_value": .string(fallback)])])
        case .media(let kind, let source):
            return .object(["type": .string(kind.rawValue), kind.rawValue: .object(source.json)])
        }
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
