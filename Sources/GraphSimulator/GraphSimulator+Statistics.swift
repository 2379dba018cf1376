import Foundation
import WhatsAppCloudAPI

extension GraphSimulator {
    /// What the simulator has seen since start or the last ``GraphSimulator/reset()``;
    /// also served as JSON by `GET /_simulator/stats`.
    public struct Statistics: Sendable, Equatable {
        /// The seed of the random choices, to repeat a run.
        public var seed: UInt64
        /// Sends by outcome.
        public var sends: Sends
        /// Webhook posts.
        public var webhooks: Webhooks
        /// Inbound messages posted as from customers.
        public var inboundMessages: Int
        /// Graph requests refused for their token (401, code 190).
        public var unauthorizedRequests: Int
        /// Media uploaded through `POST /{phone-number-id}/media`.
        public var mediaUploads: Int
        /// Media downloads served.
        public var mediaDownloads: Int

        /// `POST /{phone-number-id}/messages` outcomes.
        public struct Sends: Sendable, Equatable {
            /// Accepted (HTTP 200 with a wamid), including those an asynchronous rule later fails.
            public var accepted = 0
            /// Refused with 130429: over the number's throughput.
            public var throughputLimited = 0
            /// Refused with 131056: over the pair rate limit.
            public var pairLimited = 0
            /// Refused by a synchronous failure rule.
            public var injectedSynchronous = 0
            /// Accepted, then failed by webhook under an asynchronous failure rule.
            public var injectedAsynchronous = 0
            /// Refused with a random transient error (131000 or 2).
            public var transient = 0
            /// Refused by validation, templates included (100, 131008, 131009, 131021, 132000, 132001…).
            public var invalid = 0
            /// Mark-read requests answered `{"success":true}`.
            public var markedRead = 0
            /// Different recipients with at least one accepted send.
            public var recipients = 0
            /// Recipients with more than one accepted send: for a campaign, each is a customer messaged twice.
            public var recipientsMessagedMoreThanOnce = 0

            /// All zero.
            public init() {}
        }

        /// Webhook delivery. Nothing disappears: every post is delivered, given up, waiting, or in flight.
        public struct Webhooks: Sendable, Equatable {
            /// Posts the receiver answered with 2xx.
            public var postsDelivered = 0
            /// Posts abandoned after the last attempt failed.
            public var postsGivenUp = 0
            /// Attempts that got no 2xx or no answer (each retried or given up).
            public var failedAttempts = 0
            /// Statuses in delivered posts.
            public var statusesDelivered = 0
            /// Statuses in posts given up.
            public var statusesGivenUp = 0
            /// Statuses and posts not yet due or waiting for a free connection.
            public var waiting = 0
            /// Posts under way.
            public var inFlight = 0

            /// All zero.
            public init() {}
        }

        /// The statistics as `GET /_simulator/stats` serves them.
        public var json: JSONValue {
            func number(_ value: Int) -> JSONValue { .number(Double(value)) }
            return .object([
                "seed": .string(String(seed)),
                "sends": .object([
                    "accepted": number(sends.accepted), "throughput_limited": number(sends.throughputLimited),
                    "pair_limited": number(sends.pairLimited), "injected_synchronous": number(sends.injectedSynchronous),
                    "injected_asynchronous": number(sends.injectedAsynchronous), "transient": number(sends.transient),
                    "invalid": number(sends.invalid), "marked_read": number(sends.markedRead),
                    "recipients": number(sends.recipients), "recipients_messaged_more_than_once": number(sends.recipientsMessagedMoreThanOnce),
                ]),
                "webhooks": .object([
                    "posts_delivered": number(webhooks.postsDelivered), "posts_given_up": number(webhooks.postsGivenUp),
                    "failed_attempts": number(webhooks.failedAttempts), "statuses_delivered": number(webhooks.statusesDelivered),
                    "statuses_given_up": number(webhooks.statusesGivenUp), "waiting": number(webhooks.waiting),
                    "in_flight": number(webhooks.inFlight),
                ]),
                "inbound_messages": number(inboundMessages),
                "unauthorized_requests": number(unauthorizedRequests),
                "media": .object(["uploads": number(mediaUploads), "downloads": number(mediaDownloads)]),
            ])
        }
    }

    /// An accepted send, as kept for ``GraphSimulator/received(to:)``.
    public struct ReceivedMessage: Sendable, Equatable {
        /// The wamid the send was answered with.
        public let wamid: String
        /// The business number it was sent from.
        public let phoneNumberID: String
        /// The recipient's digits.
        public let recipient: String
        /// `text`, `template`, `image`…
        public let type: String
        /// `biz_opaque_callback_data`, when the send carried it.
        public let callbackData: String?
        /// The template's name, for templates.
        public let templateName: String?
        /// When it was accepted.
        public let acceptedAt: Date

        var json: JSONValue {
            var item: [String: JSONValue] = [
                "id": .string(wamid), "phone_number_id": .string(phoneNumberID), "to": .string(recipient), "type": .string(type),
                "accepted_at": .number(acceptedAt.timeIntervalSince1970.rounded(.down)),
            ]
            if let callbackData { item["biz_opaque_callback_data"] = .string(callbackData) }
            if let templateName { item["template"] = .string(templateName) }
            return .object(item)
        }
    }

    /// A message as from a customer, for ``GraphSimulator/postInbound(_:)``.
    public struct CustomerMessage: Sendable {
        /// What the customer sends.
        public enum Content: Sendable {
            case text(String)
            /// An image the simulator stores and serves; nil bytes send a 1×1 PNG.
            case image(bytes: [UInt8]?, mimeType: String = "image/png", caption: String? = nil)
        }

        /// The customer's number (digits).
        public var from: String
        /// The customer's WhatsApp profile name.
        public var profileName: String
        /// What they send.
        public var content: Content
        /// The business number it goes to; nil is the first configured number.
        public var phoneNumberID: String?

        /// A message from `from` (digits, `+` optional) to `phoneNumberID`, or to the first number.
        public init(from: String, profileName: String, content: Content, phoneNumberID: String? = nil) {
            self.from = from
            self.profileName = profileName
            self.content = content
            self.phoneNumberID = phoneNumberID
        }
    }

    /// What ``GraphSimulator/postInbound(_:)`` posted.
    public struct PostedInbound: Sendable, Equatable {
        /// The inbound message's wamid.
        public let wamid: String
        /// The media id, for images.
        public let mediaID: String?
    }
}

/// A simulator call that cannot be done as asked; the description says why.
public struct GraphSimulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why, in a sentence; holds no secret.
    public let description: String

    /// An error saying why.
    public init(_ description: String) {
        self.description = description
    }
}
