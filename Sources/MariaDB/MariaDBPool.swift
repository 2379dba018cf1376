import Logging
import Metrics
import Synchronization

/// A bounded pool of MariaDB connections, each on its own dedicated thread.
///
/// Callers borrow a connection through a closure that runs on that
/// connection's thread, so no blocking database call ever runs on Swift's
/// cooperative pool:
///
/// ```swift
/// let count = try await pool.withConnection { connection in
///     try connection.queryFirst("SELECT COUNT(*) FROM \(table)")!.decode(Int.self, at: 0)
/// }
/// ```
///
/// When every connection is busy, callers wait in order of arrival. Connections
/// are opened on first use. A connection that was lost (server restart,
/// `KILL CONNECTION`) fails the call that met the loss and is replaced before its
/// next use; after one loss, the pool checks the others with a ping before
/// lending them, and an idle connection is pinged after ``idlePingInterval``.
public final class MariaDBPool: Sendable {
    /// Counts for metrics and `status`.
    public struct Statistics: Sendable, Equatable {
        /// Connections not lent out.
        public var idle: Int
        /// Connections lent out.
        public var inUse: Int
        /// Callers waiting for a connection.
        public var waiting: Int

        /// Creates a set of counts.
        public init(idle: Int, inUse: Int, waiting: Int) {
            self.idle = idle
            self.inUse = inUse
            self.waiting = waiting
        }
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<PoolSlot, any Error>
    }

    private struct State: ~Copyable {
        var idle: [PoolSlot]
        var waiters: [Waiter] = []
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var isShutdown = false
    }

    /// Where connections go.
    public let configuration: MariaDBConfiguration
    /// The most connections open at once.
    public let size: Int
    /// A connection idle this long is pinged before it is lent.
    public let idlePingInterval: Duration
    private let slots: [PoolSlot]
    private let state: Mutex<State>
    /// Bumped whenever a connection is found lost; connections older than the
    /// last loss are pinged before use.
    private let lossGeneration = Atomic<UInt64>(0)
    private let logger: Logger
    /// Time spent waiting for a connection, and holding one (the database work), per call.
    private let waitTimer: Metrics.Timer
    private let workTimer: Metrics.Timer

    /// Creates a pool. No connection is opened until one is needed.
    /// - Parameters:
    ///   - configuration: where to connect.
    ///   - size: the most connections at once (at least 1).
    ///   - idlePingInterval: ping a connection idle this long before lending it.
    ///   - logger: receives connection open/replace events (never a password).
    ///   - metrics: where the pool's latencies go (`cloudchat_db_wait_seconds` and
    ///     `cloudchat_db_work_seconds`, labelled with `name`); none by default.
    ///   - name: the pool's label in the metrics, e.g. `main`.
    public init(configuration: MariaDBConfiguration, size: Int = 4, idlePingInterval: Duration = .seconds(10), logger: Logger = Logger(label: "cloudchat.mariadb"),
                metrics: any MetricsFactory = NOOPMetricsHandler.instance, name: String = "main") {
        self.configuration = configuration
        self.size = max(1, size)
        self.idlePingInterval = idlePingInterval
        self.logger = logger
        waitTimer = Timer(label: "cloudchat_db_wait_seconds", dimensions: [("pool", name)], factory: metrics)
        workTimer = Timer(label: "cloudchat_db_work_seconds", dimensions: [("pool", name)], factory: metrics)
        let slots = (0..<max(1, size)).map { PoolSlot(index: $0) }
        self.slots = slots
        self.state = Mutex(State(idle: slots.reversed()))
    }

    deinit {
        for slot in slots { slot.thread.stop() }
    }

    /// Borrows a connection for the duration of `body`, which runs on the connection's own thread.
    /// - Parameter body: the work. It must not keep the connection.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws; ``MariaDBError`` if no connection can be opened or the pool is closed.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        let asked = ContinuousClock.now
        let slot = try await acquire()
        let lent = ContinuousClock.now
        waitTimer.record(duration: lent - asked)
        defer {
            workTimer.record(duration: ContinuousClock.now - lent)
            release(slot)
        }
        return try await run(on: slot, body)
    }

    /// Runs `body` in a transaction on a borrowed connection: commit on return, rollback on throw.
    /// - Parameters:
    ///   - isolation: the isolation level, or the server's default.
    ///   - body: the work, on the connection's own thread.
    public func withTransaction<T: Sendable>(
        isolation: MariaDBConnection.IsolationLevel? = nil,
        _ body: @escaping @Sendable (MariaDBConnection) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try connection.withTransaction(isolation: isolation, body)
        }
    }

    /// Current counts.
    public var statistics: Statistics {
        state.withLock { state in
            Statistics(idle: state.idle.count, inUse: size - state.idle.count, waiting: state.waiters.count)
        }
    }

    /// Closes the pool: waiting callers fail, connections close once their current work ends.
    public func shutdown() async {
        let waiters = state.withLock { state -> [Waiter] in
            state.isShutdown = true
            let waiters = state.waiters
            state.waiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: Self.closedError) }
        for slot in slots {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                slot.thread.submit {
                    slot.connection = nil
                    done.resume()
                }
            }
            slot.thread.stop()
        }
    }

    private static let closedError = MariaDBError(kind: .poolClosed, operation: "borrow a connection", summary: "the connection pool is shut down")

    // MARK: Lending

    private func acquire() async throws -> PoolSlot {
        let immediate: Result<PoolSlot, MariaDBError>? = state.withLock { state in
            if state.isShutdown { return .failure(Self.closedError) }
            if let slot = state.idle.popLast() { return .success(slot) }
            return nil
        }
        if let immediate { return try immediate.get() }

        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PoolSlot, any Error>) in
                let outcome: Result<PoolSlot, any Error>? = state.withLock { state in
                    if state.isShutdown { return .failure(Self.closedError) }
                    if state.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                    // A slot may have come back between the first look and now.
                    if let slot = state.idle.popLast() { return .success(slot) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    return state.waiters.remove(at: index)
                }
                state.cancelledWaiters.insert(id)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ slot: PoolSlot) {
        let waiter: Waiter? = state.withLock { state in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(slot)
            return nil
        }
        waiter?.continuation.resume(returning: slot)
    }

    private func run<T: Sendable>(on slot: PoolSlot, _ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            slot.thread.submit { [self] in
                continuation.resume(with: Result { try runOnSlotThread(slot, body) })
            }
        }
    }

    /// Runs on the slot's own thread.
    private func runOnSlotThread<T>(_ slot: PoolSlot, _ body: (MariaDBConnection) throws -> T) throws -> T {
        let connection = try usableConnection(for: slot)
        defer {
            if connection.isBroken {
                lossGeneration.add(1, ordering: .relaxed)
                logger.warning("database connection lost; it will be replaced before its next use", metadata: [
                    "connection_id": "\(connection.connectionID)", "slot": "\(slot.index)",
                ])
            }
        }
        return try body(connection)
    }

    /// The slot's connection, opened, replaced or checked as needed. Runs on the slot's thread.
    private func usableConnection(for slot: PoolSlot) throws -> MariaDBConnection {
        let generation = lossGeneration.load(ordering: .relaxed)
        if let connection = slot.connection, !connection.isBroken {
            let stale = slot.generation < generation || connection.lastUsed.duration(to: .now) > idlePingInterval
            if !stale || connection.ping() {
                slot.generation = generation
                return connection
            }
        }
        let replacing = slot.connection != nil
        slot.connection = nil
        let connection = try MariaDBConnection(configuration: configuration)
        slot.connection = connection
        slot.generation = generation
        logger.debug(replacing ? "database connection replaced" : "database connection opened", metadata: [
            "connection_id": "\(connection.connectionID)", "slot": "\(slot.index)",
            "endpoint": "\(configuration.endpointDescription)",
        ])
        return connection
    }
}

/// One place in the pool: a dedicated thread and the connection it owns.
///
/// `connection` and `generation` are only touched on `thread`, which is what
/// makes the unchecked `Sendable` sound.
final class PoolSlot: @unchecked Sendable {
    let index: Int
    let thread: ConnectionThread
    var connection: MariaDBConnection?
    var generation: UInt64 = 0

    init(index: Int) {
        self.index = index
        self.thread = ConnectionThread(name: "cloudchat-db-\(index)")
    }
}
