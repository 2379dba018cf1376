import CloudChatCrypto
import Foundation
import Logging
import MariaDB
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import WebhookIngest

/// The public HTTP listener: Meta's webhooks and the health endpoints, on SwiftNIO.
///
/// - `GET /webhook`: Meta's verification handshake; the challenge for the right verify token, 403 otherwise.
/// - `POST /webhook`: the signature is checked on the raw bytes before anything else (401 without one,
///   403 for a wrong one, 503 while no app secret is configured), 413 over the size cap, and 200
///   only once the body is committed to the database or the spool (503 if it could be neither).
/// - `GET /healthz`: the process is up. `GET /readyz`: the database answers.
/// - `GET /metrics`: counters in the Prometheus text format, to loopback clients only.
///
/// A request stays on its connection's event loop from first byte to answer:
/// the group-commit writer calls back when the body is stored, so no task or
/// thread hop is spent per request. Idle or stalled connections are closed.
public final class WebhookListener: Service {
    /// What the handlers share.
    struct Context: Sendable {
        let verifier: WebhookSignatureVerifier
        let verifyToken: [UInt8]?
        let maxBodyBytes: Int
        let writer: WebhookEventWriter
        let pool: MariaDBPool
        let logger: Logger
        let counters: WebhookDoorCounters
        let metrics: @Sendable () async -> String
    }

    private let configuration: DaemonConfiguration
    private let context: Context
    private let onListening: @Sendable (Int) async -> Void

    /// Creates the listener; it binds when run.
    init(configuration: DaemonConfiguration, appSecrets: WebhookAppSecrets? = nil, writer: WebhookEventWriter, pool: MariaDBPool, logger: Logger,
         counters: WebhookDoorCounters, metrics: @escaping @Sendable () async -> String,
         onListening: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.configuration = configuration
        self.onListening = onListening
        self.context = Context(
            verifier: WebhookSignatureVerifier(secrets: appSecrets ?? WebhookAppSecrets(configured: configuration.webhookAppSecrets)),
            verifyToken: configuration.webhookVerifyToken.map { Array($0.utf8) },
            maxBodyBytes: configuration.webhookMaxBodyBytes, writer: writer, pool: pool, logger: logger,
            counters: counters, metrics: metrics)
    }

    /// Binds, serves until graceful shutdown, then stops accepting and lets open requests finish.
    public func run() async throws {
        let context = self.context
        let idleTimeout = TimeAmount.seconds(Int64(configuration.httpIdleTimeoutSeconds))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(WebhookRequestHandler(context))
                }
            }
            .bind(host: configuration.httpHost, port: configuration.httpPort).get()
        await onListening(channel.localAddress?.port ?? configuration.httpPort)
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// Handles one connection's requests, one at a time (the HTTP pipeline queues pipelined ones).
final class WebhookRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shared: WebhookListener.Context
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var refused = false

    init(_ shared: WebhookListener.Context) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            refused = false
            if head.method == .POST, let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > shared.maxBodyBytes {
                refuseTooLarge(context: context, bytes: declared)
            }
        case .body(var chunk):
            guard !refused else { return }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            if body!.readableBytes > shared.maxBodyBytes { refuseTooLarge(context: context, bytes: body!.readableBytes) }
        case .end:
            guard !refused, let head else { return }
            self.head = nil
            route(head, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)  // idle, or stalled mid-request
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func refuseTooLarge(context: ChannelHandlerContext, bytes: Int) {
        refused = true
        body = nil
        shared.counters.reject(.bodyTooLarge)
        shared.logger.notice("webhook refused: body over the size cap", metadata: ["bytes": "\(bytes)"])
        respond(.payloadTooLarge, "body too large\n", keepAlive: false, context: context)
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        switch (head.method, path) {
        case (.POST, "/webhook"):
            receive(head, context: context)
        case (.GET, "/webhook"):
            verifyHandshake(head, context: context)
        case (.GET, "/healthz"):
            respond(.ok, "ok\n", keepAlive: head.isKeepAlive, context: context)
        case (.GET, "/readyz"):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let pool = shared.pool
            let eventLoop = context.eventLoop
            Task {
                let ready = (try? await pool.withConnection { $0.ping() }) ?? false
                eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.respond(ready ? .ok : .serviceUnavailable, ready ? "ready\n" : "database unavailable\n",
                                    keepAlive: head.isKeepAlive, context: context)
                }
            }
        case (.GET, "/metrics"):
            // Counts only, but not for the internet: the public side of the proxy never sees them.
            guard context.remoteAddress?.isLoopback ?? false else {
                return respond(.forbidden, "metrics are served to loopback clients only\n", keepAlive: head.isKeepAlive, context: context)
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let metrics = shared.metrics
            Task {
                let page = await metrics()
                eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.respond(.ok, page, keepAlive: head.isKeepAlive, context: context,
                                    contentType: "text/plain; version=0.0.4; charset=utf-8")
                }
            }
        case (_, "/webhook"), (_, "/healthz"), (_, "/readyz"), (_, "/metrics"):
            respond(.methodNotAllowed, "method not allowed\n", keepAlive: head.isKeepAlive, context: context)
        default:
            respond(.notFound, "not found\n", keepAlive: head.isKeepAlive, context: context)
        }
    }

    private func verifyHandshake(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let query = URLComponents(string: head.uri)?.queryItems ?? []
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        guard let verifyToken = shared.verifyToken else {
            shared.logger.warning("webhook verification refused: no webhook_verify_token is configured")
            return respond(.forbidden, "webhook verification is not configured\n", keepAlive: head.isKeepAlive, context: context)
        }
        guard value("hub.mode") == "subscribe", let offered = value("hub.verify_token"),
              ConstantTime.equals(Array(offered.utf8), verifyToken), let challenge = value("hub.challenge") else {
            shared.logger.notice("webhook verification refused: wrong or missing verify token")
            return respond(.forbidden, "verification failed\n", keepAlive: head.isKeepAlive, context: context)
        }
        respond(.ok, challenge, keepAlive: head.isKeepAlive, context: context)
    }

    private func receive(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let bytes = body.map { Array($0.readableBytesView) } ?? []
        body = nil
        switch shared.verifier.verify(header: head.headers.first(name: "x-hub-signature-256"), body: bytes) {
        case .valid:
            shared.counters.accepted.add(1, ordering: .relaxed)
        case .missing:
            shared.counters.reject(.missingSignature)
            shared.logger.notice("webhook refused: no X-Hub-Signature-256 header")
            return respond(.unauthorized, "signature required\n", keepAlive: head.isKeepAlive, context: context)
        case .invalid:
            shared.counters.reject(.invalidSignature)
            shared.logger.notice("webhook refused: signature does not match any configured app secret")
            return respond(.forbidden, "invalid signature\n", keepAlive: head.isKeepAlive, context: context)
        case .notConfigured:
            shared.counters.reject(.signingNotConfigured)
            shared.logger.warning("webhook refused: no webhook_app_secret is configured, so it cannot be verified; Meta will retry it")
            return respond(.serviceUnavailable, "webhook signing is not configured\n", keepAlive: head.isKeepAlive, context: context)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let keepAlive = head.isKeepAlive
        let counters = shared.counters
        shared.writer.enqueue(AcceptedWebhook(body: bytes)) { result in
            eventLoop.execute {
                let (handler, context) = bound.value
                switch result {
                case .success: handler.acknowledge(keepAlive: keepAlive, context: context)
                case .failure:
                    counters.reject(.notStored)
                    handler.respond(.serviceUnavailable, "not stored, retry later\n", keepAlive: keepAlive, context: context)
                }
            }
        }
    }

    private func respond(_ status: HTTPResponseStatus, _ text: String, keepAlive: Bool, context: ChannelHandlerContext,
                         contentType: String = "text/plain; charset=utf-8") {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        headers.add(name: "Server", value: "cloudchatd")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let channel = context.channel
        context.writeAndFlushPromise(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Answers 200 for a stored webhook: the answer to nearly every request, so on a kept-alive connection it is built once.
    private func acknowledge(keepAlive: Bool, context: ChannelHandlerContext) {
        guard keepAlive else { return respond(.ok, Self.acknowledgement.text, keepAlive: false, context: context) }
        guard context.channel.isActive else { return }
        context.write(wrapOutboundOut(.head(Self.acknowledgement.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(Self.acknowledgement.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private static let acknowledgement: (text: String, head: HTTPResponseHead, body: ByteBuffer) = {
        let text = "ok\n"
        let headers: HTTPHeaders = [
            "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(text.utf8.count), "Server": "cloudchatd",
        ]
        return (text, HTTPResponseHead(version: .http1_1, status: .ok, headers: headers), ByteBuffer(string: text))
    }()
}

extension ChannelHandlerContext {
    func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}

extension SocketAddress {
    var isLoopback: Bool {
        switch self {
        case .v4(let address): return address.host.hasPrefix("127.")
        case .v6(let address): return address.host == "::1" || address.host.hasPrefix("::ffff:127.")
        case .unixDomainSocket: return true
        }
    }
}
