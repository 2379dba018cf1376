import CloudChatCrypto
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import WhatsAppCloudAPI

/// A stand-in for Meta's WhatsApp Cloud API on loopback, for tests, the demo and benchmarks.
///
/// It answers the Graph API calls CloudChat makes (sending, marking read, templates,
/// business numbers, media) with Meta's shapes and error codes, enforces Meta's
/// throughput and pair rate limits, injects failures, and posts signed status,
/// inbound and template webhooks to a configured URL, batched and retried as Meta does.
/// Test endpoints under `/_simulator/` expose its counts (see `docs/graph-simulator.md`).
///
/// ```swift
/// var configuration = GraphSimulator.Configuration()
/// configuration.port = 0
/// configuration.webhookURL = "http://127.0.0.1:8787/webhook"
/// configuration.appSecret = "demo-app-secret"
/// let simulator = try await GraphSimulator.start(configuration)
/// let client = GraphClient(http: GraphHTTPClient(), baseURL: simulator.baseURL) { "simulator-access-token" }
/// // … send, then check simulator.acceptedCount(to: "16505551234")
/// await simulator.shutdown()
/// ```
public final class GraphSimulator: Sendable {
    /// What it was started with.
    public let configuration: Configuration
    /// The address it listens on.
    public let host: String
    /// The port it listens on (the one picked, when configured as 0).
    public let port: Int

    private let core: SimulatorCore
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let logger: Logger
    private let traffic = Mutex<InboundTraffic?>(nil)
    private let stopped = Atomic<Bool>(false)

    /// `http://host:port`: the base URL to give ``GraphClient``.
    public var baseURL: String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    private init(configuration: Configuration, port: Int, core: SimulatorCore, group: MultiThreadedEventLoopGroup, channel: any Channel,
                 logger: Logger) {
        self.configuration = configuration
        host = configuration.host
        self.port = port
        self.core = core
        self.group = group
        self.channel = channel
        self.logger = logger
    }

    /// Checks the configuration, binds and starts serving.
    /// - Throws: ``GraphSimulatorError`` for a configuration that cannot work; NIO's error when the address cannot be bound.
    public static func start(_ configuration: Configuration, logger: Logger = Logger(label: "cloudchat.graph-simulator")) async throws
        -> GraphSimulator {
        try validate(configuration)
        let seed = configuration.seed ?? SecureRandom.bytes(count: 8).reduce(0) { $0 << 8 | UInt64($1) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let dispatcher = configuration.webhookURL.map {
            WebhookDispatcher(url: $0, appSecret: configuration.appSecret, statuses: configuration.statuses,
                              delivery: configuration.delivery, eventLoop: group.next(), logger: logger)
        }
        let core = SimulatorCore(configuration: configuration, seed: seed, dispatcher: dispatcher)
        let maximumBodyBytes = configuration.maximumRequestBytes
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(120)))
                        try channel.pipeline.syncOperations.addHandler(SimulatorHTTPHandler(core: core, maximumBodyBytes: maximumBodyBytes))
                    }
                }
                .bind(host: configuration.host, port: configuration.port).get()
            let port = channel.localAddress?.port ?? configuration.port
            core.setBoundAddress(host: configuration.host, port: port)
            logger.info("graph simulator started", metadata: [
                "port": "\(port)", "numbers": "\(configuration.numbers.count)", "webhooks": "\(configuration.webhookURL != nil)",
                "seed": "\(seed)",
            ])
            return GraphSimulator(configuration: configuration, port: port, core: core, group: group, channel: channel, logger: logger)
        } catch {
            await dispatcher?.shutdown(grace: .zero)
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func validate(_ configuration: Configuration) throws(GraphSimulatorError) {
        guard configuration.threads >= 1 else { throw GraphSimulatorError("threads must be at least 1") }
        guard !configuration.accessTokens.isEmpty else { throw GraphSimulatorError("at least one access token is needed") }
        var ids = Set<String>()
        for number in configuration.numbers {
            guard !number.phoneNumberID.isEmpty, !number.wabaID.isEmpty,
                  !number.displayPhoneNumber.isEmpty, number.displayPhoneNumber.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw GraphSimulatorError("a business number needs an id, a WABA id and display digits")
            }
            guard number.messagesPerSecond > 0 else { throw GraphSimulatorError("number \(number.phoneNumberID): throughput must be positive") }
            guard ids.insert(number.phoneNumberID).inserted else { throw GraphSimulatorError("number \(number.phoneNumberID) is listed twice") }
        }
        guard configuration.pairLimit.interval > .zero, configuration.pairLimit.burst >= 1 else {
            throw GraphSimulatorError("the pair limit needs a positive interval and a burst of at least 1")
        }
        let statuses = configuration.statuses
        for (name, probability) in [("transient error rate", configuration.transientErrorRate), ("read probability", statuses.readProbability),
                                    ("late probability", statuses.lateProbability), ("duplicate probability", statuses.duplicateProbability),
                                    ("out-of-order probability", statuses.outOfOrderProbability)] {
            guard (0...1).contains(probability) else { throw GraphSimulatorError("the \(name) must be between 0 and 1") }
        }
        if case .between(let lower, let upper) = configuration.latency, lower > upper || lower < .zero {
            throw GraphSimulatorError("the latency range must run from a smaller to a larger non-negative duration")
        }
        if let url = configuration.webhookURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw GraphSimulatorError("the webhook URL must start with http:// or https://")
        }
        guard configuration.delivery.maximumAttempts >= 1, configuration.delivery.maximumConcurrentPosts >= 1,
              configuration.statuses.batchSize >= 1 else {
            throw GraphSimulatorError("attempts, concurrent posts and batch size must be at least 1")
        }
    }

    /// Stops listening, drops webhooks not yet due (counted), lets posts in flight finish briefly, and stops the threads.
    public func shutdown() async {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        stopInboundTraffic()
        try? await channel.close()
        await core.dispatcher?.shutdown()
        try? await group.shutdownGracefully()
        logger.info("graph simulator stopped")
    }

    // MARK: Counts

    /// Counts since start or the last ``reset()``.
    public func statistics() -> Statistics { core.statistics() }

    /// The accepted sends to a recipient (digits, `+` optional), oldest first, as far as
    /// ``Configuration/recordedMessageLimit`` keeps them.
    public func received(to recipient: String) -> [ReceivedMessage] { core.received(to: recipient) }

    /// The accepted sends that carried this `biz_opaque_callback_data`, oldest first.
    public func received(callbackData: String) -> [ReceivedMessage] { core.received(callbackData: callbackData) }

    /// How many sends to a recipient were accepted: a test asserts "exactly once" with it.
    public func acceptedCount(to recipient: String) -> Int { core.acceptedCount(to: recipient) }

    /// How many accepted sends carried this `biz_opaque_callback_data`.
    public func acceptedCount(callbackData: String) -> Int { core.acceptedCount(callbackData: callbackData) }

    /// Clears the counts, the records and the rate limits (buckets back to full). Templates, media and
    /// webhooks already scheduled stay.
    public func reset() { core.reset() }

    // MARK: Inbound

    /// Posts a signed `messages` webhook as from a customer; for an image, the simulator stores the bytes
    /// and serves them under the media id it puts in the message.
    /// - Throws: ``GraphSimulatorError`` without a webhook URL, for an unknown number or a customer number that is not digits.
    @discardableResult
    public func postInbound(_ message: CustomerMessage) throws(GraphSimulatorError) -> PostedInbound {
        try core.postInbound(message)
    }

    /// Starts posting realistic inbound text messages from a pool of customers, spread over the
    /// configured numbers, at a steady rate; replaces traffic already running.
    /// - Throws: ``GraphSimulatorError`` without a webhook URL, or for a rate that is not positive.
    public func startInboundTraffic(messagesPerSecond: Double, customers: Int = 200) throws(GraphSimulatorError) {
        guard core.dispatcher != nil else { throw GraphSimulatorError("no webhook URL is configured, so inbound messages have nowhere to go") }
        guard messagesPerSecond > 0, customers >= 1 else { throw GraphSimulatorError("the inbound rate and customer count must be positive") }
        let started = InboundTraffic(core: core, eventLoop: group.next(), messagesPerSecond: messagesPerSecond, customers: customers,
                                     logger: logger)
        traffic.withLock { current in
            current?.stop()
            current = started
        }
    }

    /// Stops the inbound traffic, if any.
    public func stopInboundTraffic() {
        traffic.withLock { current in
            current?.stop()
            current = nil
        }
    }

    // MARK: Media

    /// Stores media as if uploaded and returns its id.
    public func addMedia(_ bytes: [UInt8], mimeType: String, phoneNumberID: String? = nil) -> String {
        core.addMedia(bytes, mimeType: mimeType, phoneNumberID: phoneNumberID)
    }

    /// Makes downloads of the media serve bytes that do not match its `sha256`; false when there is no such media.
    @discardableResult
    public func corruptMedia(_ id: String) -> Bool { core.corruptMedia(id) }

    /// Ends every media URL handed out so far: downloads through them get 404 from now on.
    public func expireMediaURLs() { core.expireMediaURLs() }

    // MARK: Templates

    /// A WABA's templates, in listing order.
    public func templates(of wabaID: String) -> [Template] { core.templates(of: wabaID) }

    /// Adds a template (or replaces the one with its name and language) and returns it with its id.
    @discardableResult
    public func addTemplate(_ template: Template) -> Template { core.addTemplate(template) }

    /// Changes a template's status (`APPROVED`, `PAUSED`, `REJECTED`, `DISABLED`…) and posts the
    /// `message_template_status_update` webhook for it.
    /// - Parameters:
    ///   - wabaID: the WABA; nil is the first configured number's.
    ///   - reason: the webhook's `reason`; nil sends `NONE`.
    /// - Throws: ``GraphSimulatorError`` when there is no such template.
    @discardableResult
    public func setTemplateStatus(_ status: String, name: String, language: String = "en_US", wabaID: String? = nil,
                                  reason: String? = nil) throws(GraphSimulatorError) -> Template {
        try core.setTemplateStatus(status, name: name, language: language, wabaID: wabaID, reason: reason)
    }
}
