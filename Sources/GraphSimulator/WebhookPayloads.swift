import WhatsAppCloudAPI

/// The business number a webhook is about: `entry[].id` and `value.metadata`.
struct NumberIdentity: Sendable, Hashable {
    let phoneNumberID: String
    let displayPhoneNumber: String
    let wabaID: String
}

/// Webhook bodies in Meta's envelope (digest §2.1, §2.5, §2.7), written as Meta writes them (see ``JSONWriter``).
enum WebhookPayloads {
    /// Meta's help page for error codes, the `href` of webhook errors.
    static let errorCodesURL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

    /// A `messages` change for a number: the envelope around `members`, JSON text of
    /// `value`'s members besides `messaging_product` and `metadata`.
    static func messagesBody(_ number: NumberIdentity, members: [UInt8]) -> [UInt8] {
        var json = JSONWriter(capacity: members.count + 300)
        json.raw(#"{"object":"whatsapp_business_account","entry":[{"id":"#)
        json.string(number.wabaID)
        json.raw(#","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"#)
        json.string(number.displayPhoneNumber)
        json.raw(#","phone_number_id":"#)
        json.string(number.phoneNumberID)
        json.raw("},")
        json.raw(members)
        json.raw(#"},"field":"messages"}]}]}"#)
        return json.bytes
    }

    /// Statuses of one number's messages, each already written by ``status(_:of:)``, batched in one body.
    static func statusesBody(_ number: NumberIdentity, _ statuses: [[UInt8]]) -> [UInt8] {
        var members = JSONWriter(capacity: statuses.reduce(16) { $0 + $1.count + 1 })
        members.raw(#""statuses":["#)
        for (index, status) in statuses.enumerated() {
            if index > 0 { members.raw(",") }
            members.raw(status)
        }
        members.raw("]")
        return messagesBody(number, members: members.bytes)
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

    /// One `statuses[]` item, as JSON text.
    static func status(_ planned: PlannedStatus, of message: SentMessage) -> [UInt8] {
        var json = JSONWriter(capacity: 400)
        json.raw(#"{"id":"#)
        json.string(message.wamid)
        json.raw(#","status":"#)
        json.string(planned.kind.rawValue)
        json.raw(#","timestamp":"#)
        json.string(String(Int(message.acceptedAt + planned.happensAfter / .seconds(1))))
        json.raw(#","recipient_id":"#)
        json.string(message.recipient)
        if let callbackData = message.callbackData {
            json.raw(#","biz_opaque_callback_data":"#)
            json.string(callbackData)
        }
        if planned.kind == .failed, let failure = message.failure {
            let title = GraphErrorReply.title(of: failure.code)
            json.raw(#","errors":[{"code":"#)
            json.number(failure.code)
            json.raw(#","title":"#)
            json.string(title)
            json.raw(#","message":"#)
            json.string(title)
            json.raw(#","error_data":{"details":"#)
            json.string(failure.details)
            json.raw(#"},"href":"#)
            json.string(errorCodesURL)
            json.raw("}]")
        }
        if planned.carriesPricing {
            let category = message.templateCategory ?? "service"
            let free = message.templateCategory == nil
            if message.includesConversation {
                json.raw(#","conversation":{"id":"#)
                json.string(message.conversationID)
                if planned.kind == .sent {
                    json.raw(#","expiration_timestamp":"#)
                    json.string(String(Int(message.acceptedAt) + 24 * 3600))
                }
                json.raw(#","origin":{"type":"#)
                json.string(category)
                json.raw("}}")
            }
            json.raw(free ? #","pricing":{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"#
                          : #","pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"#)
            json.string(category)
            json.raw("}")
        }
        json.raw("}")
        return json.bytes
    }

    /// An inbound message from a customer, with the customer in `contacts[]`.
    static func inboundBody(_ number: NumberIdentity, from customer: String, profileName: String, message: JSONValue) -> [UInt8] {
        var members = JSONWriter()
        members.raw(#""contacts":[{"profile":{"name":"#)
        members.string(profileName)
        members.raw(#"},"wa_id":"#)
        members.string(customer)
        members.raw(#"}],"messages":["#)
        members.value(message)
        members.raw("]")
        return messagesBody(number, members: members.bytes)
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
        var json = JSONWriter()
        json.value(envelope)
        return json.bytes
    }
}
