import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Opens once every listener is bound: what `READY=1` waits for (the database and the
/// schema are checked before the services start).
final class ReadinessGate: Sendable {
    private let pending: Atomic<Int>

    /// A gate that opens after `parts` calls to ``arrive()``.
    init(parts: Int) {
        pending = Atomic(parts)
    }

    /// One part is ready.
    func arrive() {
        pending.subtract(1, ordering: .sequentiallyConsistent)
    }

    var isOpen: Bool { pending.load(ordering: .sequentiallyConsistent) <= 0 }
}

/// Speaks to systemd for `Type=notify` units: `READY=1` once the listeners are up, `WATCHDOG=1`
/// while the daemon's event loops answer, a `STATUS=` line with the current rates, `RELOADING=1`
/// around a SIGHUP reload and `STOPPING=1` when the shutdown starts.
///
/// Without `$NOTIFY_SOCKET` it still runs the reloads, and only logs when it is ready.
final class SystemdService: Service {
    private let notifier: SystemdNotifier?
    private let watchdogInterval: Duration?
    private let ready: ReadinessGate
    private let status: DaemonStatusLine
    private let reload: @Sendable () async -> Void
    private let logger: Logger
    /// How often STATUS= is refreshed when no watchdog asks for more.
    private static let statusInterval: Duration = .seconds(5)

    init(notifier: SystemdNotifier?, watchdogInterval: Duration?, ready: ReadinessGate, status: DaemonStatusLine,
         reload: @escaping @Sendable () async -> Void, logger: Logger) {
        self.notifier = notifier
        self.watchdogInterval = watchdogInterval
        self.ready = ready
        self.status = status
        self.reload = reload
        self.logger = logger
    }

    func run() async throws {
        // Binding takes milliseconds; polling keeps the wait simple to end at a shutdown.
        while !ready.isOpen {
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        send("READY=1\nSTATUS=\(status.line())")
        let tick = min(watchdogInterval ?? Self.statusInterval, Self.statusInterval)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.reloadOnHangup() }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
                guard !Task.isShuttingDownGracefully else { break }
                var message = "STATUS=\(status.line())"
                if watchdogInterval != nil {
                    if await Self.eventLoopsAnswer(within: .seconds(2)) {
                        message += "\nWATCHDOG=1"
                    } else {
                        logger.error("an event loop did not answer within 2 s; systemd's watchdog will restart the daemon if it stays so")
                    }
                }
                send(message)
            }
            group.cancelAll()
        }
        send("STOPPING=1\nSTATUS=stopping: finishing requests, committing webhooks, recording sends")
    }

    /// Runs a reload for every SIGHUP until the shutdown.
    private func reloadOnHangup() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            send("RELOADING=1\nSTATUS=reloading the configuration")
            await reload()
            send("READY=1\nSTATUS=\(status.line())")
        }
    }

    private func send(_ message: String) {
        guard let notifier else { return }
        do {
            try notifier.notify(message)
        } catch {
            logger.warning("could not notify systemd", metadata: ["error": "\(error)"])
        }
    }

    /// Whether every event loop of the shared group runs a task within the limit: a loop stuck
    /// in a blocking call would stall every connection it serves.
    static func eventLoopsAnswer(within limit: Duration, group: MultiThreadedEventLoopGroup = .singleton) async -> Bool {
        let answered = Atomic<Int>(0)
        var loops = 0
        for loop in group.makeIterator() {
            loops += 1
            loop.execute { answered.add(1, ordering: .relaxed) }
        }
        let deadline = ContinuousClock.now.advanced(by: limit)
        while answered.load(ordering: .relaxed) < loops {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}

/// The one-line summary systemd shows in `systemctl status`: rates since the last line.
final class DaemonStatusLine: Sendable {
    struct Counts: Sendable {
        var accepted = 0
        var processed = 0
        var sent = 0
        var spoolBatches = 0
        var lagSeconds = 0.0
    }

    private let read: @Sendable () -> Counts
    private let previous: Mutex<(counts: Counts, at: ContinuousClock.Instant)>

    init(read: @escaping @Sendable () -> Counts) {
        self.read = read
        previous = Mutex((read(), .now))
    }

    /// e.g. `webhooks 12.0/s in, 11.8/s processed (lag 0.2 s); sends 4.0/s; spool empty`.
    func line() -> String {
        let now = ContinuousClock.now
        let counts = read()
        let (before, then) = previous.withLock { state in
            defer { state = (counts, now) }
            return state
        }
        let seconds = max((now - then) / .seconds(1), 0.001)
        func rate(_ value: Int, _ old: Int) -> String {
            let perSecond = Double(max(value - old, 0)) / seconds
            return "\((perSecond * 10).rounded() / 10)/s"
        }
        let spool = counts.spoolBatches == 0 ? "spool empty" : "spool \(counts.spoolBatches) batches"
        let lag = (counts.lagSeconds * 10).rounded() / 10
        return "webhooks \(rate(counts.accepted, before.accepted)) in, \(rate(counts.processed, before.processed)) processed "
            + "(lag \(lag) s); sends \(rate(counts.sent, before.sent)); \(spool)"
    }
}
