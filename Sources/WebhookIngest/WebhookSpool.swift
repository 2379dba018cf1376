import Foundation
import Synchronization

/// A local, fsynced spool for accepted webhooks the database could not take.
///
/// When MariaDB is unreachable, the writer puts the whole batch here (one file
/// per batch, written to a temporary name, fsynced and renamed, so a batch is
/// either entirely there or not at all) and the requests are answered 200.
/// Every record carries a sequence number that only grows, across restarts;
/// batches drain in order, and each site's `spool:<spool id>` marker in the
/// database records the last number drained, in the same transaction as the
/// rows, so a crash between that commit and the file's removal does not store
/// anything twice.
public final class WebhookSpool: Sendable {
    /// One spooled webhook.
    public struct Record: Sendable, Equatable {
        /// Its place in the spool's order.
        public var sequence: UInt64
        /// The ``WordPressSite/key`` of the site it was routed to (its table prefix, after
        /// its database name and a `.` when that is not the daemon's own).
        public var siteKey: String
        /// The row to insert into that site's `webhook_events`.
        public var row: WebhookEventRow
    }

    /// A spooled batch waiting to drain.
    public struct Batch: Sendable, Equatable {
        /// The file holding it.
        public let path: String
        /// Its records, in order.
        public let records: [Record]
    }

    /// The spool's directory.
    public let directory: String
    /// The id naming this spool's drain markers (`spool:<id>`), kept in the directory.
    public let spoolID: String
    private struct State {
        var nextSequence: UInt64
        var pendingFiles: [String]
    }
    private let state: Mutex<State>

    /// Opens (or creates) the spool in a directory.
    /// - Throws: ``WebhookSpoolError`` when the directory cannot be created or read.
    public init(directory: String) throws {
        self.directory = directory
        let files = FileManager.default
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw WebhookSpoolError(description: "cannot create the spool directory \(directory): \(error.localizedDescription)")
        }
        let idPath = directory + "/spool-id"
        if let existing = try? String(contentsOfFile: idPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !existing.isEmpty {
            spoolID = existing
        } else {
            let fresh = (ProcessInfo.processInfo.hostName.prefix(40) + "-" + UUID().uuidString.prefix(8)).lowercased()
                .map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }
            spoolID = String(fresh)
            try Self.writeDurably(Array((spoolID + "\n").utf8), to: idPath, directory: directory)
        }
        // Sequence numbers continue after the highest ever used: the last one
        // recorded in `sequence`, or in a batch file's name if that is higher.
        var highest = UInt64((try? String(contentsOfFile: directory + "/sequence", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        let names = ((try? files.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".batch") }.sorted()
        for name in names {
            if let last = UInt64(name.dropLast(6).split(separator: "-").last ?? "") { highest = max(highest, last) }
        }
        state = Mutex(State(nextSequence: highest + 1, pendingFiles: names.map { directory + "/" + $0 }))
    }

    /// Whether batches are waiting to drain (new webhooks then queue behind them, keeping order).
    public var hasPending: Bool { state.withLock { !$0.pendingFiles.isEmpty } }

    /// The number of batches waiting.
    public var pendingBatches: Int { state.withLock { $0.pendingFiles.count } }

    /// Writes a batch durably; returns once it is on disk.
    /// - Parameter entries: each site's table prefix and the row for it, in order.
    /// - Throws: ``WebhookSpoolError`` when it cannot be written (the requests are then answered 503).
    public func append(_ entries: [(siteKey: String, row: WebhookEventRow)]) async throws {
        precondition(!entries.isEmpty)
        // Numbers are reserved under the lock; the file is named after them, so
        // concurrent appends still sort in sequence order.
        let first = state.withLock { state -> UInt64 in
            defer { state.nextSequence += UInt64(entries.count) }
            return state.nextSequence
        }
        let records = entries.enumerated().map { offset, entry in
            Record(sequence: first + UInt64(offset), siteKey: entry.siteKey, row: entry.row)
        }
        let last = first + UInt64(entries.count) - 1
        let path = directory + "/" + String(format: "%020llu-%020llu.batch", first, last)
        let directory = self.directory
        try await Self.onOwnThread {
            try Self.writeDurably(Self.encode(records), to: path, directory: directory)
            try Self.writeDurably(Array("\(last)\n".utf8), to: directory + "/sequence", directory: directory)
        }
        state.withLock { state in
            state.pendingFiles.append(path)
            state.pendingFiles.sort()
        }
    }

    /// The oldest batch waiting, read from disk, or nil.
    public func oldest() async throws -> Batch? {
        guard let path = state.withLock({ $0.pendingFiles.first }) else { return nil }
        let data = try await Self.onOwnThread { () throws -> [UInt8] in
            guard let handle = FileHandle(forReadingAtPath: path), let data = try handle.readToEnd() else {
                throw WebhookSpoolError(description: "cannot read spooled batch \(path)")
            }
            return [UInt8](data)
        }
        return Batch(path: path, records: try Self.decode(data, path: path))
    }

    /// Removes a drained batch.
    public func remove(_ batch: Batch) async throws {
        try await Self.onOwnThread {
            if unlink(batch.path) != 0 && errno != ENOENT {
                throw WebhookSpoolError(description: "cannot remove drained batch \(batch.path): \(String(cString: strerror(errno)))")
            }
        }
        state.withLock { $0.pendingFiles.removeAll { $0 == batch.path } }
    }

    // MARK: Files

    /// Runs blocking file work on a thread of its own, off the cooperative pool.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Writes a file so it is whole or absent after a crash: temporary name, fsync, rename, fsync of the directory.
    static func writeDurably(_ bytes: [UInt8], to path: String, directory: String) throws {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("create", temporary) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let error = failure("write", temporary)
                close(descriptor)
                throw error
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            let error = failure("fsync", temporary)
            close(descriptor)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else { throw failure("rename", path) }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw failure("open", directory) }
        defer { close(directoryDescriptor) }
        guard fsync(directoryDescriptor) == 0 else { throw failure("fsync", directory) }
    }

    private static func failure(_ operation: String, _ path: String) -> WebhookSpoolError {
        WebhookSpoolError(description: "spool \(operation) of \(path) failed: \(String(cString: strerror(errno)))")
    }

    // MARK: Encoding: "CCSP2", count, then per record: sequence, micros, prefix, phone id, state, body, WABA id, split flag.
    // "CCSP1" files (without the last two) still drain.

    private static let magic = Array("CCSP2".utf8)
    private static let firstMagic = Array("CCSP1".utf8)

    static func encode(_ records: [Record]) -> [UInt8] {
        var out = magic
        func put(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        func put(_ bytes: [UInt8]) { put(UInt64(bytes.count)); out += bytes }
        put(UInt64(records.count))
        for record in records {
            let row = record.row
            put(record.sequence)
            put(UInt64(bitPattern: Int64((row.receivedAt.timeIntervalSince1970 * 1_000_000).rounded())))
            put(Array(record.siteKey.utf8))
            put(row.phoneNumberID.map { Array($0.utf8) } ?? [])
            put(Array(row.processingState.utf8))
            put(row.body)
            put(row.wabaID.map { Array($0.utf8) } ?? [])
            put(row.isSplit ? 1 : 0)
        }
        return out
    }

    static func decode(_ data: [UInt8], path: String) throws -> [Record] {
        var offset = 0
        let damaged = WebhookSpoolError(description: "spooled batch \(path) is damaged; move it aside and report it")
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, offset + count <= data.count else { throw damaged }
            defer { offset += count }
            return data[offset..<offset + count]
        }
        func number() throws -> UInt64 {
            try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        func bytes() throws -> [UInt8] { Array(try take(Int(clamping: try number()))) }
        func optionalText() throws -> String? {
            let value = try bytes()
            return value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
        }
        let version = Array(try take(magic.count))
        guard version == magic || version == firstMagic else { throw damaged }
        var records: [Record] = []
        for _ in 0..<(try number()) {
            let sequence = try number()
            let micros = Int64(bitPattern: try number())
            let prefix = String(decoding: try bytes(), as: UTF8.self)
            let phone = try optionalText()
            let state = String(decoding: try bytes(), as: UTF8.self)
            let body = try bytes()
            let (waba, isSplit) = version == magic ? (try optionalText(), try number() != 0) : (nil, false)
            records.append(Record(sequence: sequence, siteKey: prefix, row: WebhookEventRow(
                receivedAt: Date(timeIntervalSince1970: Double(micros) / 1_000_000), phoneNumberID: phone, wabaID: waba,
                isSplit: isSplit, processingState: state, body: body)))
        }
        guard offset == data.count else { throw damaged }
        return records
    }
}

/// The spool could not be used; the message names the path and the system's reason.
public struct WebhookSpoolError: Error, Sendable, CustomStringConvertible {
    /// What happened.
    public let description: String
}
