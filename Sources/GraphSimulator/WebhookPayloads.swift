import WhatsAppCloudAPI

/// The business number a webhook is about: `entry[].id` and `value.metadata`.
struct NumberIdentity: Sendable, Hashable {
    let phoneNumberID: String
    let displayPhoneNumber: String
    let wabaID: String
}

/// Webhook bodies in Meta's envelope (digest §2.1, §2.5, §2.7).
enum WebhookPayloads {
    /// Meta's help page for error codes, the `href` of webhook errors.
    static let errorCodesURL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

    /// A `messages` change for a number, with the given members in `value` besides `messaging_product` and `metadata`.
    static func messagesBody(_ number: NumberIdentity, _ members: [String: JSONValue]) -> [UInt8] {
        var value = members
        value["messaging_product"] = .string("whatsapp")
        value["metadata"] = .object([
            "display_phone_number": .string(number.displayPhoneNumber), "phone_number_id": .string(number.phoneNumberID),
        ])
        let envelope: JSONValue = .object([
            "object": .string("whatsapp_business_account"),
            "entry": .array([.object([
                "id": .string(number.wabaID),
                "changes": .array([.object(["field": .string("messages"), "value": .object(value)])]),
            ])]),
        ])
        return Array(envelope.jsonText.utf8)
    }

    /// Statuses of one number's messages, batched in one body.
    static func statusesBody(_ number: NumberIdentity, _ statuses: [JSONValue]) -> [UInt8] {
        messagesBody(number, ["statuses": .array(statuses)])
    }

    /// What a sent message's statuses share.
    struct SentMessage: Sendable {
        let wamid: String
        let recipient: String
        let callbackData: String?
        /// Unix seconds when it was accepted.
        let acceptedAt: Double
        /// `marketing`, `utility` or `authentication` for templates; nil for free-form (service) messages.
        let templateCategory: String?
        /// Whether statuses carry `conversation`: v23 and older (digest §2.5).
        let includesConversation: Bool
        let conversationID: String
        /// The asynchronous failure, if any.
        let failure: (code: Int, details: String)?
    }

    /// One `statuses[]` item.
    static func status(_ planned: PlannedStatus, of message: SentMessage) -> JSONValue {
        let happened = Int(message.acceptedAt + planned.happensAfter / .seconds(1))
        var status: [String: JSONValue] = [
            "id": .string(message.wamid), "status": .string(planned.kind.rawValue),
            "timestamp": .string(String(happened)), "recipient_id": .string(message.recipient),
        ]
        if let callbackData = message.callbackData { status["biz_opaque_callback_data"] = .string(callbackData) }
        if planned.kind == .failed, let failure = message.failure {
            let title = GraphErrorReply.title(of: failure.code)
            status["errors"] = .array([.object([
                "code": .number(Double(failure.code)), "title": .string(title), "message": .string(title),
                "error_data": .object(["details": .string(failure.details)]), "href": .string(errorCodesURL),
            ])])
        }
        if planned.carriesPricing {
            let category = message.templateCategory ?? "service"
            let free = message.templateCategory == nil
            status["pricing"] = .object([
                "billable": .bool(!free), "pricing_model": .string("PMP"),
                "type": .string(free ? "free_customer_service" : "regular"), "category": .string(category),
            ])
            if message.includesConversation {
                var conversation: [String: JSONValue] = [
                    "id": .string(message.conversationID), "origin": .object(["type": .string(category)]),
                ]
                if planned.kind == .sent {
                    conversation["expiration_timestamp"] = .string(String(Int(message.acceptedAt) + 24 * 3600))
                }
                status["conversation"] = .object(conversation)
            }
        }
        return .object(status)
    }

    /// An inbound message from a customer, with the customer in `contacts[]`.
    static func inboundBody(_ number: NumberIdentity, from customer: String, profileName: String, message: JSONValue) -> [UInt8] {
        messagesBody(number, [
            "contacts": .array([.object(["profile": .object(["name": .string(profileName)]), "wa_id": .string(customer)])]),
            "messages": .array([message]),
        ])
    }

    /// `message_template_status_update` for a template whose status changed.
    static func templateStatusBody(_ template: GraphSimulator.Template, event: String, reason: String?, time: Int) -> [UInt8] {
        var value: [String: JSONValue] = [
            "event": .string(event), "message_template_id": .number(Double(template.id) ?? 0),
            "message_template_name": .string(template.name), "message_template_language": .string(template.language),
            "message_template_category": .string(template.category), "reason": reason.map { .string($0) } ?? .null,
        ]
        switch event {
        case "PAUSED":
            value["other_info"] = .object(["title": .string("FIRST_PAUSE"),
                                           "description": .string("Your template has been paused for 3 hours because of low quality.")])
        case "DISABLED":
            value["disable_info"] = .object(["disable_date": .string(String(time))])
        case "REJECTED":
            value["rejection_info"] = .object(["reason": .string(reason ?? "INVALID_FORMAT"),
                                               "recommendation": .string("Review the template guidelines and submit an edited template.")])
        default:
            break
        }
        let envelope: JSONValue = .object([
            "object": .string("whatsapp_business_account"),
            "entry": .array([.object([
                "id": .string(template.wabaID), "time": .number(Double(time)),
                "changes": .array([.object(["field": .string("message_template_status_update"), "value": .object(value)])]),
            ])]),
        ])
        return Array(envelope.jsonText.utf8)
    }
}
