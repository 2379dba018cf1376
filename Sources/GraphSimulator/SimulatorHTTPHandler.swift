import Foundation
import NIOCore
import NIOHTTP1

/// Serves one connection's requests, one at a time (the HTTP pipeline queues
/// pipelined ones), keeping the connection alive unless the client asks not to.
///
/// The answer is computed on the event loop as soon as the request is complete;
/// a configured latency only schedules its writing for later.
final class SimulatorHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: SimulatorCore
    private let maximumBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var refused = false

    init(core: SimulatorCore, maximumBodyBytes: Int) {
        self.core = core
        self.maximumBodyBytes = maximumBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            refused = false
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > maximumBodyBytes {
                refuseTooLarge(context: context)
            }
        case .body(var chunk):
            guard !refused else { return }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            if body!.readableBytes > maximumBodyBytes { refuseTooLarge(context: context) }
        case .end:
            guard !refused, let head else { return }
            self.head = nil
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            body = nil
            answer(head, body: bytes, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func refuseTooLarge(context: ChannelHandlerContext) {
        refused = true
        body = nil
        write(.text("request body too large\n", status: 413), keepAlive: false, context: context)
    }

    private func answer(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let request = SimulatorRequest(
            method: head.method.rawValue, path: parts.first.map(String.init) ?? head.uri,
            query: parts.count > 1 ? Self.parseQuery(parts[1]) : [:],
            host: head.headers.first(name: "host"), authorization: head.headers.first(name: "authorization"),
            contentType: head.headers.first(name: "content-type"), body: body)
        let response = core.handle(request)
        let keepAlive = head.isKeepAlive
        guard response.delay > .zero else { return write(response, keepAlive: keepAlive, context: context) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let nanoseconds = Int64(response.delay / .nanoseconds(1))
        context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            let (handler, context) = bound.value
            handler.write(response, keepAlive: keepAlive, context: context)
        }
    }

    private func write(_ response: SimulatorResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    /// `a=1&b=x%20y` as a dictionary; the last of repeated keys wins.
    static func parseQuery(_ query: Substring) -> [String: String] {
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first.flatMap({ String($0).removingPercentEncoding }), !key.isEmpty else { continue }
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            items[key] = value
        }
        return items
    }
}
