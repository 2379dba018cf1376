import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The control listener: the bridge's signed calls to the daemon (``ControlAPI``), on loopback only.
///
/// Each request is read whole (up to 8 MiB: a campaign's CSV file comes this way), handed to the API on a task, and
/// answered on its connection's event loop.
final class ControlListener: Service {
    private let host: String
    private let port: Int
    private let api: ControlAPI
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void

    init(host: String, port: Int, api: ControlAPI, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.api = api
        self.logger = logger
        self.onListening = onListening
    }

    func run() async throws {
        let api = self.api
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(60)))
                    try channel.pipeline.syncOperations.addHandler(ControlRequestHandler(api: api))
                }
            }
            .bind(host: host, port: port).get()
        let boundPort = channel.localAddress?.port ?? port
        logger.info("control API listening", metadata: ["control": "\(host):\(boundPort)"])
        await onListening(boundPort)
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// Reads one request at a time and answers it with ``ControlAPI``.
final class ControlRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBodyBytes = 8 * 1024 * 1024
    private let api: ControlAPI
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(api: ControlAPI) {
        self.api = api
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            tooLarge = false
        case .body(let chunk):
            guard !tooLarge else { return }
            body += chunk.readableBytesView
            if body.count > Self.maximumBodyBytes {
                tooLarge = true
                body = []
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                return respond(.init(status: 413, ["error": "the request body is over 8 MiB"]), keepAlive: false, context: context)
            }
            let request = ControlAPI.Request(
                method: head.method.rawValue, path: head.uri,
                headers: Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first }),
                body: body, fromLoopback: context.remoteAddress?.isLoopback ?? false)
            body = []
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let api = self.api
            Task {
                let response = await api.handle(request)
                eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.respond(response, keepAlive: head.isKeepAlive, context: context)
                }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func respond(_ response: ControlAPI.Response, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        if let signature = response.signature { headers.add(name: "X-CloudChat-Response-Signature", value: signature) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: response.status), headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlushPromise(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
