// Measures the MariaDB client layer against a real server: durable inserts one
// row at a time and in 500-row statements, primary-key reads, and what the
// pool's thread hand-off costs. Prints a report; asserts nothing.
//
//   scripts/mariadb-dev.sh start && eval "$(scripts/mariadb-dev.sh env)"
//   swift run -c release MariaDBBenchmark [seconds-per-case]

import Foundation
import MariaDB
import Synchronization

let environment = ProcessInfo.processInfo.environment
// Benchmarks/MariaDBBenchmark/main.swift → the repository root.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let configuration = MariaDBConfiguration(
    host: "localhost",
    socket: environment["CLOUDCHAT_TEST_DB_SOCKET"] ?? repositoryRoot.appendingPathComponent(".dev/mariadb/mysqld.sock").path,
    database: environment["CLOUDCHAT_TEST_DB_NAME"] ?? "cloudchat_test",
    user: environment["CLOUDCHAT_TEST_DB_USER"] ?? "cloudchat",
    password: environment["CLOUDCHAT_TEST_DB_PASSWORD"] ?? "cloudchat-dev-password")
let secondsPerCase = CommandLine.arguments.dropFirst().first.flatMap(Double.init) ?? 3
let body = [UInt8](repeating: 0x7B, count: 1_024)  // a webhook-sized row

/// Latencies in nanoseconds, for percentiles.
final class Recorder: Sendable {
    private let samples = Mutex<[UInt64]>([])
    func add(_ nanoseconds: UInt64) { samples.withLock { $0.append(nanoseconds) } }
    func add(_ batch: [UInt64]) { samples.withLock { $0 += batch } }
    func percentile(_ p: Double) -> Double {
        let sorted = samples.withLock { $0.sorted() }
        guard !sorted.isEmpty else { return 0 }
        return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000
    }
}

func elapsed(since start: ContinuousClock.Instant) -> Double {
    let duration = start.duration(to: .now)
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func nanoseconds(_ duration: Duration) -> UInt64 {
    UInt64(duration.components.seconds) * 1_000_000_000 + UInt64(duration.components.attoseconds / 1_000_000_000)
}

func report(_ name: String, operations: Int, rowsPerOperation: Int, seconds: Double, latencies: Recorder) {
    let rows = Double(operations * rowsPerOperation) / seconds
    let label = name.padding(toLength: 46, withPad: " ", startingAt: 0)
    print(label + String(format: " %10.0f rows/s %9.0f ops/s   p50 %8.1f µs   p99 %8.1f µs",
                         rows, Double(operations) / seconds, latencies.percentile(0.5), latencies.percentile(0.99)))
}

/// Runs `operation` from `clients` concurrent tasks through the pool for the case's duration.
func runCase(_ name: String, pool: MariaDBPool, clients: Int, rowsPerOperation: Int,
             _ operation: @escaping @Sendable (MariaDBConnection, Int) throws -> Void) async throws {
    let latencies = Recorder()
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(secondsPerCase * 1_000))
    let operations = try await withThrowingTaskGroup(of: Int.self) { group in
        for client in 0..<clients {
            group.addTask {
                var count = 0
                while ContinuousClock.now < deadline {
                    let began = ContinuousClock.now
                    let sequence = client * 1_000_000 + count
                    try await pool.withConnection { try operation($0, sequence) }
                    latencies.add(nanoseconds(began.duration(to: .now)))
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    report(name, operations: operations, rowsPerOperation: rowsPerOperation, seconds: elapsed(since: start), latencies: latencies)
}

let setup: MariaDBConnection
do {
    setup = try MariaDBConnection(configuration: configuration)
} catch {
    FileHandle.standardError.write(Data("MariaDBBenchmark: \(error)\nStart the development server with scripts/mariadb-dev.sh start (or set CLOUDCHAT_TEST_DB_*).\n".utf8))
    exit(1)
}
let table = try SQLIdentifier("bench_events_\(ProcessInfo.processInfo.processIdentifier)")
try setup.execute(unsafeSQL: """
    CREATE TABLE \(table.quoted) (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      received_at DATETIME(6) NOT NULL,
      body MEDIUMBLOB NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
    """)
defer { _ = try? setup.execute(unsafeSQL: "DROP TABLE \(table.quoted)") }
let flushSetting = try setup.queryFirst("SELECT @@innodb_flush_log_at_trx_commit")?.decode(Int.self, at: 0) ?? -1

print("CloudChat MariaDB client benchmark")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; server \(setup.serverVersion) over \(configuration.endpointDescription); libmariadb \(MariaDBConnection.clientLibraryVersion)")
print("durability: innodb_flush_log_at_trx_commit=\(flushSetting); \(body.count)-byte rows; \(secondsPerCase) s per case\n")

let insertOne: @Sendable (MariaDBConnection, Int) throws -> Void = { connection, _ in
    try connection.execute("INSERT INTO \(table) (received_at, body) VALUES (\(Date()), \(body))")
}
let batchRows = 500
let insertBatch: @Sendable (MariaDBConnection, Int) throws -> Void = { connection, _ in
    let now = Date()
    let rows = Array(repeating: [MariaDBValue.date(now), .bytes(body)], count: batchRows)
    try connection.execute(try SQLQuery.insert(into: table, columns: ["received_at", "body"], rows: rows))
}

for clients in [1, 4] {
    let pool = MariaDBPool(configuration: configuration, size: clients)
    try await runCase("insert 1 row, autocommit, \(clients) client(s)", pool: pool, clients: clients, rowsPerOperation: 1, insertOne)
    await pool.shutdown()
}
for clients in [1, 2, 4] {
    let pool = MariaDBPool(configuration: configuration, size: clients)
    try await runCase("insert \(batchRows) rows per statement, \(clients) client(s)", pool: pool, clients: clients, rowsPerOperation: batchRows, insertBatch)
    await pool.shutdown()
}

let maxID = try setup.queryFirst("SELECT MAX(id) FROM \(table)")?.decode(Int.self, at: 0) ?? 1
let readOne: @Sendable (MariaDBConnection, Int) throws -> Void = { connection, sequence in
    let id = sequence % maxID + 1
    _ = try connection.queryFirst("SELECT id, received_at, body FROM \(table) WHERE id = \(id)")
}
for clients in [1, 4] {
    let pool = MariaDBPool(configuration: configuration, size: clients)
    try await runCase("select 1 row by primary key, \(clients) client(s)", pool: pool, clients: clients, rowsPerOperation: 1, readOne)
    await pool.shutdown()
}

// The pool's cost: the same trivial query called directly on one thread, and
// through pool.withConnection (a continuation and a hand-off to the connection thread).
let direct = try MariaDBConnection(configuration: configuration)
let directLatencies = Recorder()
var directCount = 0
let directStart = ContinuousClock.now
var samples: [UInt64] = []
while elapsed(since: directStart) < secondsPerCase {
    let began = ContinuousClock.now
    _ = try direct.queryFirst("SELECT 1")
    samples.append(nanoseconds(began.duration(to: .now)))
    directCount += 1
}
directLatencies.add(samples)
report("SELECT 1, direct on one thread", operations: directCount, rowsPerOperation: 1, seconds: elapsed(since: directStart), latencies: directLatencies)
let pool = MariaDBPool(configuration: configuration, size: 1)
try await runCase("SELECT 1 through pool.withConnection", pool: pool, clients: 1, rowsPerOperation: 1) { connection, _ in
    _ = try connection.queryFirst("SELECT 1")
}
await pool.shutdown()
