import Foundation
import Logging
import MariaDB
import WordPressStore

/// Erases one contact and everything kept about them, in the order that lets an
/// interrupted erasure simply run again (docs/schema.md §7).
///
/// The contact row goes last: until then, everything still to delete is found
/// from it. Media files go before their rows. Raw webhook events that carried
/// the contact are deleted whole, including ones that also mention others: they
/// are only a replay buffer, and other people's processed data stays in the
/// domain tables.
public struct ContactEraser: Sendable {
    /// What an erasure removed, by table, and how many files.
    public struct Report: Sendable, Equatable {
        public var rowsByTable: [String: Int] = [:]
        public var files = 0
    }

    /// Why an erasure did not finish; running it again later continues it.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public let status: Int
    }

    public static let batchSize = 1_000
    /// Raw events scanned per statement when looking for the contact's numbers.
    public static let scanBatch = 5_000

    public let site: WordPressSite
    /// The site's media directory (`…/uploads/cloudchat`); `storage_path` is relative to it.
    public let mediaDirectory: String
    public let logger: Logger

    public init(site: WordPressSite, mediaDirectory: String, logger: Logger) {
        self.site = site
        self.mediaDirectory = mediaDirectory
        self.logger = logger
    }

    /// Erases a contact. `processingWait` bounds the wait for webhook events already stored
    /// to be processed, so one in flight cannot re-create the contact half-way.
    public func erase(contactID: UInt64, actorUserID: UInt64?, processingWait: Duration = .seconds(30),
                      pool: MariaDBPool) async throws -> Report {
        try await erase(contactID: contactID, actor: actorUserID.map { PrivacyActor.wordPressUser($0) } ?? .daemon,
                        processingWait: processingWait, pool: pool)
    }

    /// Erases a contact on behalf of `actor`, whom the `contact.erased` audit entry names.
    public func erase(contactID: UInt64, actor: PrivacyActor, processingWait: Duration = .seconds(30),
                      pool: MariaDBPool) async throws -> Report {
        let identity = try await pool.withConnection { connection in
            try connection.queryFirst("""
                SELECT wa_id, phone, user_id FROM \(site.table(.contacts)) WHERE id = \(contactID)
                """).map { row in
                [try row.decode("wa_id", as: String?.self), try row.decode("phone", as: String?.self),
                 try row.decode("user_id", as: String?.self)].compactMap { $0 }.filter { !$0.isEmpty }
            }
        }
        guard let identity else { throw Failure(description: "no contact \(contactID) in this site", status: 404) }
        try await waitForProcessing(upTo: try await pool.withConnection { connection in
            try connection.queryFirst("SELECT COALESCE(MAX(id), 0) FROM \(site.table(.webhookEvents))")?.decode(UInt64.self, at: 0) ?? 0
        }, within: processingWait, pool: pool)

        let report = try await pool.withConnection { connection in
            var report = Report()
            let rawEventIDs = try self.rawEventIDs(of: contactID, on: connection)
            report.files = try self.deleteMedia(of: contactID, report: &report, on: connection)
            try self.deleteStatusEventsOfMessages(of: contactID, report: &report, on: connection)
            for table in [CloudChatTable.statusEvents, .messages, .outbox, .campaignRecipients, .consentEvents, .contactTags, .conversations] {
                report.rowsByTable[Self.name(table), default: 0] += try self.deleteInBatches(table, contactID: contactID, on: connection)
            }
            var rawDeleted = 0
            for chunk in rawEventIDs.chunked(into: Self.batchSize) {
                rawDeleted += Int(try connection.execute("DELETE FROM \(site.table(.webhookEvents)) WHERE id IN (\(list: chunk))").affectedRows)
            }
            rawDeleted += try self.deleteRawEventsMentioning(identity, on: connection)
            report.rowsByTable[Self.name(.webhookEvents)] = rawDeleted
            report.rowsByTable[Self.name(.contacts)] = Int(try connection.execute(
                "DELETE FROM \(site.table(.contacts)) WHERE id = \(contactID)").affectedRows)
            let counts = report.rowsByTable.filter { $0.value > 0 }.map { "\"\($0.key)\":\($0.value)" }.sorted().joined(separator: ",")
            try actor.audit("contact.erased", contactID: contactID, detailsJSON: "{\"rows\":{\(counts)},\"files\":\(report.files)}",
                            site: site, on: connection)
            return report
        }
        logger.info("contact erased", metadata: ["site": "\(site.key)", "contact_id": "\(contactID)", "files": "\(report.files)"])
        return report
    }

    private static func name(_ table: CloudChatTable) -> String {
        String(table.rawValue.dropFirst("cloudchat_".count))
    }

    /// Waits until every webhook event up to `highest` is processed.
    private func waitForProcessing(upTo highest: UInt64, within limit: Duration, pool: MariaDBPool) async throws {
        let deadline = ContinuousClock.now + limit
        while true {
            let mark = try await pool.withConnection { connection in
                try connection.queryFirst("SELECT progress_id FROM \(site.table(.leases)) WHERE name = 'processor'")?
                    .decode(UInt64?.self, at: 0) ?? 0
            }
            if mark >= highest { return }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "webhooks received before the erasure are still being processed; nothing was erased yet, try again in a minute",
                              status: 503)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func rawEventIDs(of contactID: UInt64, on connection: MariaDBConnection) throws -> [UInt64] {
        let rows = try connection.query("""
            SELECT webhook_event_id FROM \(site.table(.messages)) WHERE contact_id = \(contactID) AND webhook_event_id IS NOT NULL
            UNION SELECT webhook_event_id FROM \(site.table(.statusEvents)) WHERE contact_id = \(contactID) AND webhook_event_id IS NOT NULL
            UNION SELECT webhook_event_id FROM \(site.table(.consentEvents)) WHERE contact_id = \(contactID) AND webhook_event_id IS NOT NULL
            """)
        return try rows.map { try $0.decode(UInt64.self, at: 0) }
    }

    /// Deletes the contact's files, then their rows; answers how many files were removed.
    private func deleteMedia(of contactID: UInt64, report: inout Report, on connection: MariaDBConnection) throws -> Int {
        var files = 0
        let root = URL(fileURLWithPath: mediaDirectory).standardizedFileURL.path
        while true {
            let rows = try connection.query("""
                SELECT id, storage_path FROM \(site.table(.media)) WHERE contact_id = \(contactID) ORDER BY id LIMIT \(Self.batchSize)
                """)
            guard !rows.isEmpty else { break }
            var ids: [UInt64] = []
            for row in rows {
                ids.append(try row.decode(UInt64.self, at: 0))
                guard let relative = try row.decode(String?.self, at: 1), !relative.isEmpty else { continue }
                let path = URL(fileURLWithPath: root + "/" + relative).standardizedFileURL.path
                guard path.hasPrefix(root + "/") else { continue }  // never outside the media directory
                if (try? FileManager.default.removeItem(atPath: path)) != nil { files += 1 }
            }
            report.rowsByTable[Self.name(.media), default: 0] += Int(try connection.execute(
                "DELETE FROM \(site.table(.media)) WHERE id IN (\(list: ids))").affectedRows)
        }
        return files
    }

    /// Status events of the contact's messages that carry no contact id (a status that came before its message).
    private func deleteStatusEventsOfMessages(of contactID: UInt64, report: inout Report, on connection: MariaDBConnection) throws {
        var lastID: UInt64 = 0
        while true {
            let rows = try connection.query("""
                SELECT id, wamid FROM \(site.table(.messages))
                WHERE contact_id = \(contactID) AND id > \(lastID) AND wamid IS NOT NULL ORDER BY id LIMIT \(Self.batchSize)
                """)
            guard let last = rows.last else { return }
            lastID = try last.decode(UInt64.self, at: 0)
            let wamids = try rows.map { try $0.decode(String.self, at: 1) }
            report.rowsByTable[Self.name(.statusEvents), default: 0] += Int(try connection.execute(
                "DELETE FROM \(site.table(.statusEvents)) WHERE wamid IN (\(list: wamids))").affectedRows)
        }
    }

    private func deleteInBatches(_ table: CloudChatTable, contactID: UInt64, on connection: MariaDBConnection) throws -> Int {
        var total = 0
        while true {
            // An ORDER BY on the key makes the batch the same on a replica (statement-based replication).
            let statement: SQLQuery = table == .contactTags
                ? "DELETE FROM \(site.table(table)) WHERE contact_id = \(contactID) ORDER BY tag LIMIT \(Self.batchSize)"
                : "DELETE FROM \(site.table(table)) WHERE contact_id = \(contactID) ORDER BY id LIMIT \(Self.batchSize)"
            let deleted = Int(try connection.execute(statement).affectedRows)
            total += deleted
            if deleted < Self.batchSize { return total }
        }
    }

    /// Finished raw events whose body names the contact's number or BSUID as a JSON string.
    private func deleteRawEventsMentioning(_ identity: [String], on connection: MariaDBConnection) throws -> Int {
        guard !identity.isEmpty else { return 0 }
        var patterns = SQLQuery(unsafeSQL: "")
        for (index, value) in Set(identity).sorted().enumerated() {
            if index > 0 { patterns.append(unsafeSQL: " OR ") }
            patterns.append("body LIKE \("%\"" + value + "\"%")")
        }
        var deleted = 0
        var from: UInt64 = 0
        guard let highest = try connection.queryFirst("SELECT MAX(id) FROM \(site.table(.webhookEvents))")?.decode(UInt64?.self, at: 0) else {
            return 0
        }
        while from <= highest {
            let to = from + UInt64(Self.scanBatch)
            deleted += Int(try connection.execute("""
                DELETE FROM \(site.table(.webhookEvents))
                WHERE id >= \(from) AND id < \(to) AND processing_state <> 'pending' AND (\(patterns))
                """).affectedRows)
            from = to
        }
        return deleted
    }
}
