import Foundation
import Logging
import MariaDB
import WordPressStore

/// Deletes one site's data that is older than its retention allows (docs/schema.md §8), or, on a dry run,
/// counts what would go.
///
/// Work is done in small batches: each reads at most ``Options/batchSize`` rows by primary key and deletes
/// those that are due in one short transaction, with a pause between batches, so no lock is held long and
/// replicas keep up. The append-mostly tables are walked in primary-key order from the oldest row and the
/// walk stops at the first row too young to go (ids grow with time), so no time index is needed.
///
/// What it never deletes: raw webhook events still `pending` or `unrouted`, queued or sending outbox rows,
/// recipients of campaigns that have not finished or whose `results_json` is not frozen, business media
/// (`contact_id` NULL), contacts, consent history and campaigns.
///
/// Media files go with their message: the files first, then the media rows and the messages together.
public struct RetentionPurger: Sendable {
    /// Tuning; the defaults suit production.
    public struct Options: Sendable {
        /// The most rows one batch reads, and so the most it deletes.
        public var batchSize = 500
        /// The rest between two batches that deleted rows.
        public var pause: Duration = .milliseconds(100)

        public init() {}
    }

    /// What happened, or would happen, to one class.
    public struct ClassReport: Sendable, Equatable {
        /// The retention applied, in days; 0 means kept forever (nothing was looked at).
        public var days = 0
        /// Rows from before this time are due.
        public var cutoff: Date?
        /// Rows deleted (or, on a dry run, that would be).
        public var rows = 0
        /// Media rows deleted with their messages (messages only).
        public var mediaRows = 0
        /// Media files deleted with their messages (on a dry run: files that would be).
        public var files = 0
        /// When the oldest row that stays was created, among the rows looked at; nil when none stays
        /// or the class is kept forever.
        public var oldestKept: Date?
        /// Batches that deleted rows (or would have).
        public var batches = 0
        /// The most rows one batch deleted.
        public var largestBatch = 0

        public init() {}
    }

    /// What a run did for one site.
    public struct Report: Sendable {
        /// The site.
        public let site: WordPressSite
        /// The policy applied.
        public let policy: RetentionPolicy
        /// Whether nothing was changed.
        public let dryRun: Bool
        /// Per class.
        public var classes: [RetentionClass: ClassReport] = [:]

        /// Rows removed over every class, media rows included.
        public var totalRows: Int { classes.values.reduce(0) { $0 + $1.rows + $1.mediaRows } }
        /// Files removed.
        public var totalFiles: Int { classes.values.reduce(0) { $0 + $1.files } }

        /// Counts by table name (without the prefix), for logs and the audit entry: only numbers.
        public var rowsByTable: [String: Int] {
            var counts: [String: Int] = [:]
            for (retentionClass, report) in classes where report.rows > 0 {
                counts[retentionClass.rawValue] = report.rows
            }
            if let media = classes[.messages]?.mediaRows, media > 0 { counts["media"] = media }
            return counts
        }
    }

    /// Called before every batch; throws to stop the run (a lost lease, a shutdown).
    public typealias Checkpoint = @Sendable () async throws -> Void

    public let site: WordPressSite
    /// The site's media directory (`…/uploads/cloudchat`); `storage_path` is relative to it.
    public let mediaDirectory: String
    public let options: Options
    public let logger: Logger

    /// Creates a purger for one site.
    public init(site: WordPressSite, mediaDirectory: String, options: Options = Options(), logger: Logger) {
        self.site = site
        self.mediaDirectory = mediaDirectory
        self.options = options
        self.logger = logger
    }

    /// Purges (or counts) every class the policy does not keep forever.
    /// - Parameters:
    ///   - policy: days per class.
    ///   - pool: the database.
    ///   - dryRun: count only; nothing is deleted, no file is touched.
    ///   - checkpoint: called before each batch; what it throws ends the run.
    /// - Returns: per class, what went (or would go).
    public func run(policy: RetentionPolicy, pool: MariaDBPool, dryRun: Bool, checkpoint: Checkpoint = {}) async throws -> Report {
        let now = try await pool.withConnection { try $0.queryFirst("SELECT UTC_TIMESTAMP(6)")!.decode(Date.self, at: 0) }
        var report = Report(site: site, policy: policy, dryRun: dryRun)
        for retentionClass in RetentionClass.allCases {
            var classReport = ClassReport()
            classReport.days = policy[retentionClass]
            if classReport.days > 0 {
                let cutoff = now.addingTimeInterval(-Double(classReport.days) * 86_400)
                classReport.cutoff = cutoff
                if retentionClass == .campaignRecipients {
                    try await purgeRecipients(before: cutoff, dryRun: dryRun, pool: pool, checkpoint: checkpoint, into: &classReport)
                } else {
                    try await walk(Self.walk(of: retentionClass, site: site, cutoff: cutoff), before: cutoff, dryRun: dryRun,
                                   withMedia: retentionClass == .messages, pool: pool, checkpoint: checkpoint, into: &classReport)
                }
            }
            report.classes[retentionClass] = classReport
        }
        return report
    }

    // MARK: Tables walked by primary key

    /// How one append-mostly table is walked.
    struct Walk: Sendable {
        let table: SQLIdentifier
        /// When a row was created; the walk stops at the first row created at or after the cutoff.
        let createdColumn: SQLIdentifier
        /// Whether a row is due (rows of the table, no alias).
        let due: SQLQuery
    }

    static func walk(of retentionClass: RetentionClass, site: WordPressSite, cutoff: Date) -> Walk {
        switch retentionClass {
        case .webhookEvents:
            // Never a row still waiting: pending (not processed yet) or unrouted (waiting for its number).
            Walk(table: site.table(.webhookEvents), createdColumn: try! SQLIdentifier("received_at"),
                 due: "processing_state NOT IN ('pending', 'unrouted') AND processed_at IS NOT NULL AND processed_at < \(cutoff)")
        case .messages:
            Walk(table: site.table(.messages), createdColumn: try! SQLIdentifier("created_at"), due: "created_at < \(cutoff)")
        case .statusEvents:
            Walk(table: site.table(.statusEvents), createdColumn: try! SQLIdentifier("created_at"), due: "created_at < \(cutoff)")
        case .outbox:
            Walk(table: site.table(.outbox), createdColumn: try! SQLIdentifier("created_at"),
                 due: "state IN ('sent', 'failed', 'cancelled') AND updated_at < \(cutoff)")
        case .auditLog:
            Walk(table: site.table(.auditLog), createdColumn: try! SQLIdentifier("occurred_at"), due: "occurred_at < \(cutoff)")
        case .campaignRecipients:
            preconditionFailure("campaign recipients are purged per campaign")
        }
    }

    /// One batch as read: the rows due, and what stays.
    private struct Batch: Sendable {
        var due: [UInt64] = []
        var mediaIDs: [UInt64] = []
        var lastID: UInt64 = 0
        var oldestKept: Date?
        var reachedYoung = false
        var empty = true
    }

    private func walk(_ walk: Walk, before cutoff: Date, dryRun: Bool, withMedia: Bool, pool: MariaDBPool,
                      checkpoint: Checkpoint, into report: inout ClassReport) async throws {
        var cursor: UInt64 = 0
        let limit = max(1, options.batchSize)
        let mediaColumn: SQLQuery = withMedia ? ", media_id" : ""
        while true {
            try await checkpoint()
            let after = cursor
            let batch = try await pool.withConnection { connection -> Batch in
                var batch = Batch()
                let rows = try connection.query("""
                    SELECT id, \(walk.createdColumn), (\(walk.due)) AS due\(mediaColumn) FROM \(walk.table)
                     WHERE id > \(after) ORDER BY id LIMIT \(limit)
                    """)
                batch.empty = rows.isEmpty
                for row in rows {
                    let id = try row.decode(UInt64.self, at: 0)
                    let created = try row.decode(Date.self, at: 1)
                    if created >= cutoff {
                        batch.reachedYoung = true
                        batch.oldestKept = min(batch.oldestKept ?? created, created)
                        break
                    }
                    batch.lastID = id
                    if try row.decode(Int.self, at: 2) == 1 {
                        batch.due.append(id)
                        if withMedia, let media = try row.decode(UInt64?.self, at: 3) { batch.mediaIDs.append(media) }
                    } else {
                        batch.oldestKept = min(batch.oldestKept ?? created, created)
                    }
                }
                return batch
            }
            if let kept = batch.oldestKept { report.oldestKept = min(report.oldestKept ?? kept, kept) }
            if !batch.due.isEmpty {
                let deleted = try await delete(batch, from: walk, dryRun: dryRun, withMedia: withMedia, pool: pool, into: &report)
                report.rows += deleted
                report.batches += 1
                report.largestBatch = max(report.largestBatch, deleted)
            }
            if batch.empty || batch.reachedYoung { return }
            cursor = batch.lastID
            if !batch.due.isEmpty && !dryRun && options.pause > .zero { try await Task.sleep(for: options.pause) }
        }
    }

    /// Deletes one batch's due rows (files first, then media rows and messages in one transaction).
    private func delete(_ batch: Batch, from walk: Walk, dryRun: Bool, withMedia: Bool, pool: MariaDBPool,
                        into report: inout ClassReport) async throws -> Int {
        let root = URL(fileURLWithPath: mediaDirectory).standardizedFileURL.path
        let media = site.table(.media)
        let (mediaRows, files) = try await pool.withConnection { connection -> ([UInt64], [String]) in
            guard withMedia, !batch.mediaIDs.isEmpty else { return ([], []) }
            // Business media (no contact) is shared by many messages and kept until deleted in wp-admin.
            let rows = try connection.query("""
                SELECT id, storage_path FROM \(media) WHERE id IN (\(list: batch.mediaIDs)) AND contact_id IS NOT NULL
                """)
            var ids: [UInt64] = []
            var paths: [String] = []
            for row in rows {
                ids.append(try row.decode(UInt64.self, at: 0))
                guard let relative = try row.decode(String?.self, at: 1), !relative.isEmpty else { continue }
                let path = URL(fileURLWithPath: root + "/" + relative).standardizedFileURL.path
                if path.hasPrefix(root + "/") { paths.append(path) }  // never outside the media directory
            }
            return (ids, paths)
        }
        if dryRun {
            report.mediaRows += mediaRows.count
            report.files += files.filter { FileManager.default.fileExists(atPath: $0) }.count
            return batch.due.count
        }
        for path in files where (try? FileManager.default.removeItem(atPath: path)) != nil {
            report.files += 1
        }
        let (deletedMedia, deleted) = try await pool.withTransaction { connection -> (Int, Int) in
            let deletedMedia = mediaRows.isEmpty ? 0 : Int(try connection.execute("DELETE FROM \(media) WHERE id IN (\(list: mediaRows))").affectedRows)
            let deleted = Int(try connection.execute("DELETE FROM \(walk.table) WHERE id IN (\(list: batch.due)) AND (\(walk.due))").affectedRows)
            return (deletedMedia, deleted)
        }
        report.mediaRows += deletedMedia
        return deleted
    }

    // MARK: Campaign recipients

    private func purgeRecipients(before cutoff: Date, dryRun: Bool, pool: MariaDBPool, checkpoint: Checkpoint,
                                 into report: inout ClassReport) async throws {
        let (campaigns, recipients) = (site.table(.campaigns), site.table(.campaignRecipients))
        // Only finished campaigns whose counts are frozen in results_json: those survive the rows.
        let ended: SQLQuery = "CASE state WHEN 'completed' THEN completed_at ELSE cancelled_at END"
        let (due, oldestKept) = try await pool.withConnection { connection -> ([UInt64], Date?) in
            let due = try connection.query("""
                SELECT id FROM \(campaigns)
                 WHERE state IN ('completed', 'cancelled') AND results_json IS NOT NULL AND \(ended) < \(cutoff) ORDER BY id
                """).map { try $0.decode(UInt64.self, at: 0) }
            var kept: SQLQuery = """
                SELECT MIN(c.created_at) FROM \(campaigns) c
                 WHERE EXISTS (SELECT 1 FROM \(recipients) r WHERE r.campaign_id = c.id)
                """
            if !due.isEmpty { kept.append(" AND c.id NOT IN (\(list: due))") }
            return (due, try connection.queryFirst(kept)?.decode(Date?.self, at: 0))
        }
        report.oldestKept = oldestKept
        let limit = max(1, options.batchSize)
        for campaignID in due {
            while true {
                try await checkpoint()
                let ids = try await pool.withConnection { connection in
                    try connection.query("""
                        SELECT id FROM \(recipients) WHERE campaign_id = \(campaignID) ORDER BY contact_id LIMIT \(limit)
                        """).map { try $0.decode(UInt64.self, at: 0) }
                }
                guard !ids.isEmpty else { break }
                if dryRun {
                    // Counting needs no batches: one index range count per campaign.
                    let count = try await pool.withConnection { connection in
                        try connection.queryFirst("SELECT COUNT(*) FROM \(recipients) WHERE campaign_id = \(campaignID)")!.decode(Int.self, at: 0)
                    }
                    report.rows += count
                    report.batches += (count + limit - 1) / limit
                    report.largestBatch = max(report.largestBatch, min(count, limit))
                    break
                }
                let deleted = try await pool.withTransaction { connection in
                    Int(try connection.execute("DELETE FROM \(recipients) WHERE id IN (\(list: ids)) AND campaign_id = \(campaignID)").affectedRows)
                }
                report.rows += deleted
                report.batches += 1
                report.largestBatch = max(report.largestBatch, deleted)
                if ids.count < limit { break }
                if options.pause > .zero { try await Task.sleep(for: options.pause) }
            }
        }
    }

    // MARK: Recording

    /// Writes the audit entry of a real run that removed something: counts per table and files, nothing else.
    /// - Parameters:
    ///   - actorType: `daemon` for the janitor, `cli` for `cloudchatd purge`.
    ///   - actorLabel: the daemon instance id, or the OS user.
    public static func audit(_ report: Report, actorType: String, actorLabel: String?, on connection: MariaDBConnection) throws {
        guard !report.dryRun, report.totalRows > 0 || report.totalFiles > 0 else { return }
        let counts = report.rowsByTable.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        try connection.execute("""
            INSERT INTO \(report.site.table(.auditLog)) (occurred_at, actor_type, actor_label, action, object_type, details_json)
            VALUES (UTC_TIMESTAMP(6), \(actorType), \(actorLabel.map { String($0.prefix(128)) }), 'retention.purged', 'settings',
                    \("{\"rows\":{\(counts)},\"files\":\(report.totalFiles)}"))
            """)
    }
}

extension RetentionPurger.Report {
    /// The report as a table: per class the days and where they came from, the rows (and files), the cutoff and the oldest kept.
    public var table: String {
        let report = self
        let time = ISO8601DateFormatter()
        func date(_ value: Date?) -> String { value.map { time.string(from: $0) } ?? "-" }
        var lines = ["\(report.site): " + (report.dryRun ? "dry run, nothing was changed" : "purged")]
        for problem in report.policy.problems { lines.append("  warning: \(problem)") }
        let header = ["class", "keep", "set by", report.dryRun ? "would delete" : "deleted", "cutoff", "oldest kept"]
        var rows: [[String]] = [header]
        for retentionClass in RetentionClass.allCases {
            let classReport = report.classes[retentionClass] ?? RetentionPurger.ClassReport()
            let keep = classReport.days == 0 ? "forever" : "\(classReport.days) days"
            var count = "\(classReport.rows)"
            if retentionClass == .messages && (classReport.mediaRows > 0 || classReport.files > 0) {
                count += " (+\(classReport.mediaRows) media, \(classReport.files) files)"
            }
            rows.append([retentionClass.rawValue, keep, report.policy.origins[retentionClass] ?? "default", classReport.days == 0 ? "-" : count,
                         date(classReport.cutoff), date(classReport.oldestKept)])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append("  " + row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        return lines.joined(separator: "\n")
    }
}
