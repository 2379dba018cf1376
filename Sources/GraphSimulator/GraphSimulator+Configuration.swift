import WhatsAppCloudAPI

extension GraphSimulator {
    /// Everything the simulator is told at start. Every field has a documented default,
    /// so `Configuration()` is a working simulator with one business number and the
    /// sample templates, posting no webhooks until ``webhookURL`` is set.
    public struct Configuration: Sendable {
        /// The address to listen on. Default `127.0.0.1`.
        public var host = "127.0.0.1"
        /// The port; 0 picks a free one (read it from ``GraphSimulator/port``). Default 8788.
        public var port = 8788
        /// Event-loop threads serving HTTP. Default 1: the simulator shares the machine with what it tests.
        public var threads = 1
        /// The bearer tokens accepted; a missing or other token gets 401 with code 190.
        /// Default: `simulator-access-token`.
        public var accessTokens: Set<String> = ["simulator-access-token"]
        /// The business numbers. Default: ``BusinessNumber/sample``.
        public var numbers: [BusinessNumber] = [.sample]
        /// Templates besides the sample set; an empty ``Template/id`` is assigned one.
        public var templates: [Template] = []
        /// Whether every WABA starts with the sample templates (``GraphSimulator/sampleTemplates(wabaID:)``). Default true.
        public var includeSampleTemplates = true
        /// How long Graph requests wait before their answer. Default: no delay.
        public var latency: Latency = .none
        /// Meta's pair rate limit per (number, recipient). Default: 1 per 6 s, bursts of 45.
        public var pairLimit = PairLimit()
        /// Failures injected by recipient; the first rule that matches decides. Default: none.
        public var failureRules: [FailureRule] = []
        /// The fraction of sends (0…1) answered with a transient error, 131000 (HTTP 500) or 2 (HTTP 503),
        /// drawn from the seeded generator. Default 0.
        public var transientErrorRate = 0.0
        /// Where status, inbound and template webhooks are posted, e.g. `http://127.0.0.1:8787/webhook`.
        /// Default nil: nothing is posted (sends are still counted).
        public var webhookURL: String?
        /// The app secret that signs every webhook (`X-Hub-Signature-256`). Default nil: posts go unsigned.
        public var appSecret: String?
        /// When statuses arrive and how they misbehave.
        public var statuses = StatusWebhooks()
        /// How webhook posts are retried and how many run at once.
        public var delivery = WebhookDelivery()
        /// Whether inbound messages spend the number's throughput, as Meta counts them. Default true.
        public var inboundCountsAgainstThroughput = true
        /// How long a media download URL works before it answers 404. Default 5 minutes, as Meta's.
        public var mediaURLLifetime: Duration = .seconds(300)
        /// The largest request body accepted (media uploads). Default 101 MiB: Meta's document limit is 100 MB.
        public var maximumRequestBytes = 101 * 1024 * 1024
        /// How many accepted sends are kept in detail for ``GraphSimulator/received(to:)``;
        /// the counts per recipient and callback data are always kept. Default 100,000.
        public var recordedMessageLimit = 100_000
        /// The seed of every random choice (transient errors, status timings); nil picks one,
        /// which ``Statistics/seed`` reports so a run can be repeated. Default nil.
        public var seed: UInt64?

        /// The defaults above.
        public init() {}
    }

    /// A business phone number the simulator answers for.
    public struct BusinessNumber: Sendable, Equatable {
        /// Meta's id of the number: the path of `/{phone-number-id}/messages`.
        public var phoneNumberID: String
        /// The number's digits, as in webhooks' `metadata.display_phone_number`.
        public var displayPhoneNumber: String
        /// The WhatsApp Business Account (`entry[].id` of its webhooks).
        public var wabaID: String
        /// The approved display name.
        public var verifiedName: String
        /// Throughput in messages per second; Meta's default is 80, high throughput 1,000.
        public var messagesPerSecond: Double
        /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
        public var qualityRating: String
        /// The messaging limit tier, e.g. `TIER_2K`.
        public var messagingLimitTier: String

        /// A number; the defaults are Meta's for a new one (80 mps, GREEN), with a 2K tier.
        public init(phoneNumberID: String, displayPhoneNumber: String, wabaID: String, verifiedName: String = "CloudChat Demo",
                    messagesPerSecond: Double = 80, qualityRating: String = "GREEN", messagingLimitTier: String = "TIER_2K") {
            self.phoneNumberID = phoneNumberID
            self.displayPhoneNumber = displayPhoneNumber
            self.wabaID = wabaID
            self.verifiedName = verifiedName
            self.messagesPerSecond = messagesPerSecond
            self.qualityRating = qualityRating
            self.messagingLimitTier = messagingLimitTier
        }

        /// The number of Meta's documentation samples: id `106540352242922`, `15550783881`, WABA `102290129340398`.
        public static let sample = BusinessNumber(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881",
                                                  wabaID: "102290129340398")
    }

    /// How long a Graph request waits before its answer. The wait is scheduled, never slept.
    public enum Latency: Sendable, Equatable {
        /// Answer at once.
        case none
        /// Always this long.
        case fixed(Duration)
        /// Evenly between the two, drawn from the seeded generator.
        case between(Duration, Duration)
    }

    /// Meta's pair rate limit: per (number, recipient), one message per `interval`, bursts up to `burst`.
    public struct PairLimit: Sendable, Equatable {
        /// The steady spacing. Default 6 s.
        public var interval: Duration
        /// The most messages that may go at once. Default 45.
        public var burst: Int

        /// Meta's limit by default (digest §5.2).
        public init(interval: Duration = .seconds(6), burst: Int = 45) {
            self.interval = interval
            self.burst = burst
        }
    }

    /// A failure injected for recipients whose number ends in ``recipientSuffix``.
    public struct FailureRule: Sendable, Equatable {
        /// When the failure shows.
        public enum Mode: Sendable, Equatable {
            /// The send's HTTP answer is the error (e.g. 131030); nothing is counted as received.
            case synchronous
            /// The send is accepted, then a `failed` status webhook carries the error (e.g. 131026).
            case asynchronous
        }

        /// The last digits of the recipients it applies to, e.g. `0000`.
        public var recipientSuffix: String
        /// Meta's error code.
        public var code: Int
        /// Whether the failure is the send's answer or a later `failed` status.
        public var mode: Mode
        /// `error_data.details`; nil uses a generic sentence.
        public var details: String?

        /// A rule; asynchronous unless told otherwise.
        public init(recipientSuffix: String, code: Int, mode: Mode = .asynchronous, details: String? = nil) {
            self.recipientSuffix = recipientSuffix
            self.code = code
            self.mode = mode
            self.details = details
        }

        func matches(_ recipient: String) -> Bool { recipient.hasSuffix(recipientSuffix) }
    }

    /// When a sent message's statuses are posted, and how they misbehave.
    ///
    /// Each delay counts from the one before: `sent` comes ``sentDelay`` after the send
    /// was accepted, `delivered` ``deliveredDelay`` after `sent`, `read` ``readDelay``
    /// after `delivered`. Statuses due within ``batchWindow`` of each other go out in
    /// one body, at most ``batchSize`` per body.
    public struct StatusWebhooks: Sendable, Equatable {
        /// Default 100 ms.
        public var sentDelay: Duration = .milliseconds(100)
        /// Default 400 ms.
        public var deliveredDelay: Duration = .milliseconds(400)
        /// Default 1.5 s.
        public var readDelay: Duration = .milliseconds(1500)
        /// The chance (0…1) that the recipient reads the message at all. Default 0.8.
        public var readProbability = 0.8
        /// The chance that a status comes late, ``lateDelay`` after its time. Default 0.
        public var lateProbability = 0.0
        /// Default 5 s.
        public var lateDelay: Duration = .seconds(5)
        /// The chance that a status is posted twice. Default 0.
        public var duplicateProbability = 0.0
        /// The chance that `read` is posted before `delivered` (their timestamps stay true). Default 0.
        public var outOfOrderProbability = 0.0
        /// The most statuses in one body. Default 50; Meta sends up to 1,000.
        public var batchSize = 50
        /// Statuses due this close together share a body. Default 20 ms.
        public var batchWindow: Duration = .milliseconds(20)

        /// The defaults above.
        public init() {}
    }

    /// How webhook posts are made: Meta retries any non-200 or unreachable post with backoff.
    public struct WebhookDelivery: Sendable, Equatable {
        /// Attempts per post, the first included, before it is given up (and counted). Default 6.
        public var maximumAttempts = 6
        /// The wait before the first retry; each later wait doubles. Default 500 ms.
        public var firstRetryDelay: Duration = .milliseconds(500)
        /// The longest wait between attempts. Default 30 s.
        public var maximumRetryDelay: Duration = .seconds(30)
        /// Posts in flight at once. Default 4; 1 keeps posts in the order they were due.
        public var maximumConcurrentPosts = 4
        /// How long one post may take. Default 10 s.
        public var timeout: Duration = .seconds(10)

        /// The defaults above.
        public init() {}
    }
}
