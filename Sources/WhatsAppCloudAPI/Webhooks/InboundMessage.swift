import Foundation

/// One inbound message (`value.messages[]`).
public struct InboundMessage: Sendable, Decodable {
    /// The wamid: the idempotency key of the message.
    public let id: String
    /// The sender's WhatsApp id; may be absent for users with a username (BSUID era).
    public let from: String?
    /// The sender's business-scoped user id.
    public let fromUserID: String?
    /// When the user sent it.
    public let timestamp: Date?
    /// The `type` as Meta named it (kept even when `content` is `.unknown`).
    public let type: String
    /// The content, by type.
    public let content: Content
    /// Reply, forward or product context.
    public let context: Context?
    /// Click-to-WhatsApp ad data.
    public let referral: Referral?
    /// Errors Meta attached (unsupported types, failed media).
    public let errors: [WebhookError]
    /// The message exactly as received, for storing.
    public let raw: JSONValue

    /// A media attachment (image, video, audio, document, sticker).
    public struct Media: Sendable, Decodable, Equatable {
        /// Meta's media id, valid for download for 7 days.
        public let id: String?
        /// MIME type.
        public let mimeType: String?
        /// SHA-256 of the file.
        public let sha256: String?
        /// Direct download URL (from late 2025), used with the Bearer token.
        public let url: String?
        /// Caption, for image, video and document.
        public let caption: String?
        /// File name, for documents.
        public let filename: String?
        /// True for a recorded voice note (audio).
        public let voice: Bool?
        /// True for an animated sticker.
        public let animated: Bool?

        enum CodingKeys: String, CodingKey {
            case id, mimeType = "mime_type", sha256, url, caption, filename, voice, animated
        }
    }

    /// A shared location.
    public struct Location: Sendable, Decodable, Equatable {
        public let latitude: Double
        public let longitude: Double
        public let name: String?
        public let address: String?
        public let url: String?
    }

    /// An interactive reply.
    public enum Interactive: Sendable, Equatable {
        /// A reply button tapped.
        case buttonReply(id: String, title: String)
        /// A list row chosen.
        case listReply(id: String, title: String, description: String?)
        /// A Flow or address-message completion; `responseJSON` is Meta's JSON string.
        case flowReply(name: String?, body: String?, responseJSON: String?)
        /// Another interactive type, kept raw.
        case other(type: String)
    }

    /// A product in an order.
    public struct OrderItem: Sendable, Decodable, Equatable {
        public let productRetailerID: String
        public let quantity: Int
        public let itemPrice: Double
        public let currency: String

        enum CodingKeys: String, CodingKey {
            case productRetailerID = "product_retailer_id", quantity, itemPrice = "item_price", currency
        }
    }

    /// The content of a message, by type.
    public enum Content: Sendable {
        case text(body: String)
        case image(Media)
        case video(Media)
        case audio(Media)
        case document(Media)
        case sticker(Media)
        case location(Location)
        /// Shared contact cards, kept raw (names, phones, emails, addresses…).
        case contacts(JSONValue)
        case interactive(Interactive)
        /// A quick-reply button tapped in a template.
        case button(payload: String?, text: String?)
        /// A reaction; a nil emoji removes the user's reaction.
        case reaction(messageID: String, emoji: String?)
        case order(catalogID: String, text: String?, items: [OrderItem])
        /// A system notice, e.g. the user changed number (`newWaID`).
        case system(body: String?, newWaID: String?, kind: String?)
        /// A type WhatsApp does not support here; `type` names it when Meta does.
        case unsupported(type: String?)
        /// The user opened the chat for the first time (opens the 24-hour window).
        case requestWelcome
        /// The user edited an earlier message (coexistence numbers).
        case edit(originalMessageID: String, message: JSONValue?)
        /// The user deleted an earlier message (coexistence numbers).
        case revoke(originalMessageID: String)
        /// A type this build does not know.
        case unknown
    }

    /// `context`: what the message replies to or how it was forwarded.
    public struct Context: Sendable, Decodable, Equatable {
        /// The business number, for replies.
        public let from: String?
        /// The wamid replied to.
        public let id: String?
        /// Forwarded (up to 5 times).
        public let forwarded: Bool?
        /// Forwarded more than 5 times.
        public let frequentlyForwarded: Bool?

        enum CodingKeys: String, CodingKey {
            case from, id, forwarded, frequentlyForwarded = "frequently_forwarded"
        }
    }

    /// `referral`: the click-to-WhatsApp ad the user came from.
    public struct Referral: Sendable, Decodable, Equatable {
        public let sourceURL: String?
        public let sourceID: String?
        public let sourceType: String?
        public let body: String?
        public let headline: String?
        public let mediaType: String?
        public let imageURL: String?
        public let videoURL: String?
        public let thumbnailURL: String?
        /// The click id, absent for WhatsApp Status placements.
        public let ctwaClid: String?

        enum CodingKeys: String, CodingKey {
            case sourceURL = "source_url", sourceID = "source_id", sourceType = "source_type", body, headline
            case mediaType = "media_type", imageURL = "image_url", videoURL = "video_url", thumbnailURL = "thumbnail_url"
            case ctwaClid = "ctwa_clid"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, from, fromUserID = "from_user_id", timestamp, type, context, referral, errors
        case text, image, video, audio, document, sticker, location, contacts, interactive, button, reaction, order
        case system, unsupported, edit, revoke
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        raw = try JSONValue(from: decoder)
        id = try container.decode(String.self, forKey: .id)
        from = try container.decodeIfPresent(String.self, forKey: .from)
        fromUserID = try container.decodeIfPresent(String.self, forKey: .fromUserID)
        timestamp = try decodeUnixTime(container, .timestamp)
        type = try container.decodeIfPresent(String.self, forKey: .type) ?? "unknown"
        context = try? container.decodeIfPresent(Context.self, forKey: .context)
        referral = try? container.decodeIfPresent(Referral.self, forKey: .referral)
        errors = (try? container.decodeIfPresent([WebhookError].self, forKey: .errors)) ?? []
        content = Self.content(of: type, in: container, raw: raw)
    }

    private static func content(of type: String, in container: KeyedDecodingContainer<CodingKeys>, raw: JSONValue) -> Content {
        func media(_ key: CodingKeys) -> Media? { try? container.decode(Media.self, forKey: key) }
        let object = raw[type]
        switch type {
        case "text":
            return object?["body"]?.stringValue.map { .text(body: $0) } ?? .unknown
        case "image": return media(.image).map { .image($0) } ?? .unknown
        case "video": return media(.video).map { .video($0) } ?? .unknown
        case "audio": return media(.audio).map { .audio($0) } ?? .unknown
        case "document": return media(.document).map { .document($0) } ?? .unknown
        case "sticker": return media(.sticker).map { .sticker($0) } ?? .unknown
        case "location":
            return (try? container.decode(Location.self, forKey: .location)).map { .location($0) } ?? .unknown
        case "contacts":
            return raw["contacts"].map { .contacts($0) } ?? .unknown
        case "interactive":
            guard let interactive = object else { return .unknown }
            let kind = interactive["type"]?.stringValue ?? ""
            switch kind {
            case "button_reply":
                guard let reply = interactive["button_reply"], let id = reply["id"]?.stringValue else { return .unknown }
                return .interactive(.buttonReply(id: id, title: reply["title"]?.stringValue ?? ""))
            case "list_reply":
                guard let reply = interactive["list_reply"], let id = reply["id"]?.stringValue else { return .unknown }
                return .interactive(.listReply(id: id, title: reply["title"]?.stringValue ?? "", description: reply["description"]?.stringValue))
            case "nfm_reply":
                let reply = interactive["nfm_reply"]
                return .interactive(.flowReply(name: reply?["name"]?.stringValue, body: reply?["body"]?.stringValue,
                                               responseJSON: reply?["response_json"]?.stringValue))
            default:
                return .interactive(.other(type: kind))
            }
        case "button":
            return .button(payload: object?["payload"]?.stringValue, text: object?["text"]?.stringValue)
        case "reaction":
            guard let target = object?["message_id"]?.stringValue else { return .unknown }
            // Removal comes as a missing emoji (and in some payloads as "").
            let emoji = object?["emoji"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            return .reaction(messageID: target, emoji: emoji)
        case "order":
            guard let catalog = object?["catalog_id"]?.stringValue else { return .unknown }
            struct Order: Decodable {
                let items: [OrderItem]?
                enum CodingKeys: String, CodingKey { case items = "product_items" }
            }
            let items = (try? container.decode(Order.self, forKey: .order))?.items ?? []
            return .order(catalogID: catalog, text: object?["text"]?.stringValue, items: items)
        case "system":
            return .system(body: object?["body"]?.stringValue, newWaID: object?["wa_id"]?.stringValue, kind: object?["type"]?.stringValue)
        case "unsupported":
            return .unsupported(type: object?["type"]?.stringValue)
        case "request_welcome":
            return .requestWelcome
        case "edit":
            guard let original = object?["original_message_id"]?.stringValue else { return .unknown }
            return .edit(originalMessageID: original, message: object?["message"])
        case "revoke":
            guard let original = object?["original_message_id"]?.stringValue else { return .unknown }
            return .revoke(originalMessageID: original)
        default:
            return .unknown
        }
    }
}
