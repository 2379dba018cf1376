// A load generator for cloudchatd's POST /webhook: signed, realistic, unique
// bodies over keep-alive HTTP/1.1 connections on loopback, from one event-loop
// thread (so the daemon and MariaDB keep the rest of the machine). Prints a
// report; scripts/bench-ingest.sh runs it against a release daemon.

import ArgumentParser
import CloudChatCrypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

@main
struct WebhookLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive cloudchatd's POST /webhook with signed, realistic webhook bodies and report what happened.",
        discussion: """
            Without --rate, every connection sends its next request as soon as the previous one is \
            answered (the most the daemon can take). With --rate, requests go out on a fixed \
            schedule and latency is measured from when each was due, so a stalled server cannot \
            hide its queue.
            """)

    @Option(help: "Host of cloudchatd's listener.") var host = "127.0.0.1"
    @Option(help: "Port of cloudchatd's listener.") var port = 8787
    @Option(help: "The app secret bodies are signed with (webhook_app_secret).") var secret: String
    @Option(help: "Concurrent keep-alive connections.") var connections = 64
    @Option(help: "Seconds to run.") var duration = 10.0
    @Option(help: "Requests per second in total; omit to send as fast as answers come.") var rate: Double?

    func validate() throws {
        guard connections > 0, duration > 0 else { throw ValidationError("connections and duration must be positive") }
        if let rate, rate <= 0 { throw ValidationError("rate must be positive") }
    }

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let tally = Tally()
        let start = NIODeadline.now()
        let end = start + .milliseconds(Int64(duration * 1_000))
        let interval = rate.map { TimeAmount.nanoseconds(Int64(Double(connections) / $0 * 1e9)) }
        var channels: [Channel] = []
        for index in 0..<connections {
            let handler = LoadConnection(host: host, secret: secret, tally: tally, end: end, interval: interval,
                                         firstDue: start + (interval.map { .nanoseconds($0.nanoseconds * Int64(index) / Int64(connections)) } ?? .zero))
            let channel = try ClientBootstrap(group: group)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMap { channel.pipeline.addHandler(handler) }
                }
                .connect(host: host, port: port).wait()
            channels.append(channel)
        }
        // Wait for the run to end and the last answers to come in.
        Thread.sleep(forTimeInterval: max(0, Double((end - NIODeadline.now()).nanoseconds) / 1e9) + 2)
        let elapsed = Double((min(NIODeadline.now(), end + .seconds(2)) - start).nanoseconds) / 1e9
        for channel in channels { _ = channel.close() }
        try loop.submit { tally.report(seconds: Double((end - start).nanoseconds) / 1e9, wallSeconds: elapsed, connections: connections, rate: rate) }.wait()
    }
}

/// Counts, kept on the event loop's thread only.
final class Tally: @unchecked Sendable {
    var sent = 0
    var answered = 0
    var accepted = 0
    var updatesAccepted = 0
    var bytesSent = 0
    var statuses: [UInt: Int] = [:]
    var failures = 0
    var latenciesMicros: [UInt32] = []

    init() { latenciesMicros.reserveCapacity(1_000_000) }

    func report(seconds: Double, wallSeconds: Double, connections: Int, rate: Double?) {
        let sorted = latenciesMicros.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000
        }
        print("webhook load: \(connections) connections, \(rate.map { "\(Int($0)) requests/s scheduled" } ?? "closed loop (as fast as answers come)"), \(seconds) s")
        print(String(format: "sent %d, answered %d, 200 OK %d (%.0f/s), updates in accepted bodies %d (%.0f/s)",
                     sent, answered, accepted, Double(accepted) / seconds, updatesAccepted, Double(updatesAccepted) / seconds))
        print(String(format: "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f", percentile(0.5), percentile(0.9), percentile(0.99), percentile(0.999), percentile(1.0)))
        print(String(format: "average body %.0f bytes; other answers %@; connection failures %d",
                     sent == 0 ? 0 : Double(bytesSent) / Double(sent), statuses.filter { $0.key != 200 }.description, failures))
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        print(String(format: "load generator CPU: %.1f s", cpu))
        print("accepted=\(accepted)")
    }
}

/// One keep-alive connection sending requests one after another.
final class LoadConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let secret: String
    private let tally: Tally
    private let end: NIODeadline
    private let interval: TimeAmount?
    private var due: NIODeadline
    private var bodies = WebhookBodies()
    private var inFlight: (due: NIODeadline, updates: Int)?
    private var status: UInt = 0
    private var sentHere = 0

    init(host: String, secret: String, tally: Tally, end: NIODeadline, interval: TimeAmount?, firstDue: NIODeadline) {
        self.host = host
        self.secret = secret
        self.tally = tally
        self.end = end
        self.interval = interval
        self.due = firstDue
    }

    func channelActive(context: ChannelHandlerContext) {
        scheduleNext(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
        case .body:
            break
        case .end:
            guard let request = inFlight else { return }
            inFlight = nil
            tally.answered += 1
            tally.statuses[status, default: 0] += 1
            if status == 200 {
                tally.accepted += 1
                tally.updatesAccepted += request.updates
            }
            let micros = (NIODeadline.now() - request.due).nanoseconds / 1_000
            tally.latenciesMicros.append(UInt32(clamping: micros))
            scheduleNext(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        tally.failures += 1
        context.close(promise: nil)
    }

    private func scheduleNext(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if let interval {
            // Fixed schedule: the next request is due one interval after the last was due.
            if sentHere > 0 { due = due + interval }
        } else {
            due = now
        }
        guard due < end else { return }
        if due <= now {
            send(context: context)
        } else {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(deadline: due) { self.send(context: bound.value) }
        }
    }

    private func send(context: ChannelHandlerContext) {
        let (body, updates) = bodies.next()
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/webhook")
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        head.headers.add(name: "X-Hub-Signature-256", value: HMACSHA256.signatureHeader(for: body, secret: secret))
        inFlight = (due, updates)
        sentHere += 1
        tally.sent += 1
        tally.bytesSent += body.count
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
