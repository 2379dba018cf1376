@testable import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Privacy
import Prometheus
import Sending
import TestSupport
import Testing
import WordPressStore

@Suite("Retention", .timeLimit(.minutes(2)))
struct RetentionTests {
    // MARK: The policy

    @Test func theSiteOptionWinsOverTheConfigurationWhichWinsOverTheDefaults() throws {
        var loader = ConfigurationLoader(environment: ["CLOUDCHAT_RETENTION_MESSAGES_DAYS": "200", "CLOUDCHAT_RETENTION_AUDIT_LOG_DAYS": "0"],
                                         defaultConfigFile: "/nonexistent/cloudchatd.conf")
        let defaults = try loader.load().retention
        #expect(defaults[.messages] == 200 && defaults.origins[.messages] == "configuration")
        #expect(defaults[.auditLog] == 0)
        #expect(defaults[.webhookEvents] == 30 && defaults.origins[.webhookEvents] == "default")
        #expect(defaults[.campaignRecipients] == 730 && defaults[.statusEvents] == 365 && defaults[.outbox] == 30)

        let policy = defaults.overlaid(withOption: #"{"messages_days": 90, "webhook_events_days": "7", "outbox_days": null}"#)
        #expect(policy[.messages] == 90 && policy.origins[.messages] == "site option")
        #expect(policy[.webhookEvents] == 7)
        #expect(policy[.outbox] == 30 && policy.origins[.outbox] == "default")
        #expect(policy[.auditLog] == 0 && policy.problems.isEmpty)

        loader.environment = ["CLOUDCHAT_RETENTION_MESSAGES_DAYS": "99999"]
        let refused = #expect(throws: ConfigurationError.self) { try loader.load() }
        #expect(refused?.description.contains("retention_messages_days must be 0 (keep forever) or a whole number of days from 1 to 3650") == true,
                "\(String(describing: refused))")
        loader.environment = ["CLOUDCHAT_RETENTION_OUTBOX_DAYS": "a month"]
        #expect(throws: ConfigurationError.self) { try loader.load() }
    }

    @Test func unusableValuesInTheSiteOptionAreNamedAndLeaveTheDefault() {
        let policy = RetentionPolicy().overlaid(withOption: """
            {"messages_days": -1, "status_events_days": 4000, "audit_log_days": 2.5, "outbox_days": true,
             "webhook_events_days": "soon", "forever_days": 3, "campaign_recipients_days": 0}
            """)
        #expect(policy[.messages] == 365 && policy[.statusEvents] == 365 && policy[.auditLog] == 90)
        #expect(policy[.outbox] == 30 && policy[.webhookEvents] == 30)
        #expect(policy[.campaignRecipients] == 0, "0 is a valid value: keep forever")
        #expect(policy.problems.count == 6, "\(policy.problems)")
        #expect(policy.problems.contains { $0.contains("messages_days must be 0 (keep forever) or a number of days from 1 to 3650; -1 is out of range") })
        #expect(policy.problems.contains { $0.contains("unknown key 'forever_days'") })
        #expect(RetentionPolicy().overlaid(withOption: "[1, 2]").problems == ["cloudchat_retention is not a JSON object of days; the daemon's defaults apply"])
        #expect(RetentionPolicy().overlaid(withOption: nil) == RetentionPolicy())
        #expect(RetentionPolicy.parseDays("12") == .success(12))
        #expect(RetentionPolicy.parseDays("x") == .failure(RetentionError("must be a whole number of days: 0 keeps forever, or 1 to 3650")))
    }

    // MARK: Purging

    /// A site with rows on both sides of every limit.
    final class Fixture {
        let scratch: ScratchSite
        let media: TemporaryDirectory
        let pool: MariaDBPool
        var site: WordPressSite { scratch.site }
        var connection: MariaDBConnection { scratch.connection }
        var mediaRoot: String { media.path + "/cloudchat" }

        init() throws {
            scratch = try ScratchSite("ret")
            media = try TemporaryDirectory()
            pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 2)
            try FileManager.default.createDirectory(atPath: mediaRoot + "/2025/01", withIntermediateDirectories: true)
        }

        func close() async {
            await pool.shutdown()
            scratch.drop()
            media.remove()
        }

        func ago(_ days: Int) -> SQLQuery { "UTC_TIMESTAMP(6) - INTERVAL \(days) DAY" }

        func count(_ table: CloudChatTable, _ condition: SQLQuery = "1") throws -> Int {
            try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(table)) WHERE \(condition)")!.decode(Int.self, at: 0)
        }

        func webhook(state: String, receivedDaysAgo: Int, processedDaysAgo: Int?) throws {
            let processed: SQLQuery = processedDaysAgo.map { ago($0) } ?? "NULL"
            try connection.execute("""
                INSERT INTO \(site.table(.webhookEvents)) (received_at, signature_verified, processing_state, processed_at, body)
                VALUES (\(ago(receivedDaysAgo)), 1, \(state), \(processed), '{}')
                """)
        }

        /// A message, with a media row and file when `file` is given; answers the media row's id.
        @discardableResult
        func message(daysAgo: Int, wamid: String, file: String? = nil, contactID: UInt64? = 7) throws -> UInt64? {
            var mediaID: UInt64?
            if let file {
                try connection.execute("""
                    INSERT INTO \(site.table(.media)) (account_id, contact_id, direction, state, storage_path, created_at, updated_at)
                    VALUES (1, \(contactID), 'inbound', 'stored', \("2025/01/" + file), \(ago(daysAgo)), \(ago(daysAgo)))
                    """)
                mediaID = try connection.queryFirst("SELECT LAST_INSERT_ID()")!.decode(UInt64.self, at: 0)
                try Data("file".utf8).write(to: URL(fileURLWithPath: mediaRoot + "/2025/01/" + file))
            }
            try connection.execute("""
                INSERT INTO \(site.table(.messages)) (account_id, contact_id, wamid, direction, type, source, status, media_id, message_at, created_at, updated_at)
                VALUES (1, 7, \(wamid), 'inbound', \(file == nil ? "text" : "image"), 'customer', 'received', \(mediaID), \(ago(daysAgo)),
                        \(ago(daysAgo)), \(ago(daysAgo)))
                """)
            return mediaID
        }

        func fileExists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: mediaRoot + "/2025/01/" + name) }

        /// 13 messages, 4 with their own file, one with a business file, on both sides of 365 days;
        /// status events, outbox rows, audit entries, webhooks and campaigns likewise.
        func fill() throws {
            for index in 0..<10 {
                try message(daysAgo: 400 + index, wamid: "wamid.old\(index)", file: index < 3 ? "old\(index).jpg" : nil)
            }
            try message(daysAgo: 390, wamid: "wamid.business", file: "business.jpg", contactID: nil)
            try message(daysAgo: 10, wamid: "wamid.new", file: "new.jpg")
            try message(daysAgo: 1, wamid: "wamid.newer")
            for (index, days) in [500, 380, 20].enumerated() {
                try connection.execute("""
                    INSERT INTO \(site.table(.statusEvents)) (account_id, wamid, status, status_at, created_at)
                    VALUES (1, \("wamid.s\(index)"), 'delivered', \(ago(days)), \(ago(days)))
                    """)
            }
            try webhook(state: "processed", receivedDaysAgo: 60, processedDaysAgo: 59)
            try webhook(state: "pending", receivedDaysAgo: 58, processedDaysAgo: nil)
            try webhook(state: "unrouted", receivedDaysAgo: 57, processedDaysAgo: 57)
            try webhook(state: "failed", receivedDaysAgo: 56, processedDaysAgo: 55)
            try webhook(state: "processed", receivedDaysAgo: 40, processedDaysAgo: 20)  // processed late: stays
            try webhook(state: "processed", receivedDaysAgo: 2, processedDaysAgo: 2)
            for (state, days) in [("sent", 40), ("queued", 40), ("failed", 35), ("cancelled", 5)] {
                try connection.execute("""
                    INSERT INTO \(site.table(.outbox)) (account_id, contact_id, type, payload_json, state, source, next_attempt_at, created_at, updated_at)
                    VALUES (1, 7, 'text', '{}', \(state), 'agent', \(ago(days)), \(ago(days)), \(ago(days)))
                    """)
            }
            for days in [200, 100, 91, 30] {
                try connection.execute("""
                    INSERT INTO \(site.table(.auditLog)) (occurred_at, actor_type, action) VALUES (\(ago(days)), 'daemon', 'settings.updated')
                    """)
            }
            // Campaigns: finished long ago with frozen counts (purged), finished long ago without them (kept),
            // still running (kept), finished recently (kept).
            let campaigns: [(state: String, endedDaysAgo: Int, frozen: Bool, recipients: Int)] = [
                ("completed", 800, true, 7), ("cancelled", 760, true, 2), ("completed", 800, false, 2), ("running", 800, false, 2),
                ("completed", 100, true, 2),
            ]
            for (index, campaign) in campaigns.enumerated() {
                let ended = ago(campaign.endedDaysAgo)
                try connection.execute("""
                    INSERT INTO \(site.table(.campaigns)) (account_id, name, template_id, template_name, template_language, state,
                        results_json, completed_at, cancelled_at, created_at, updated_at)
                    VALUES (1, \("c\(index)"), 1, 'hello_world', 'en_US', \(campaign.state), \(campaign.frozen ? #"{"total":2}"# : nil),
                        \(campaign.state == "completed" ? ended : "NULL"), \(campaign.state == "cancelled" ? ended : "NULL"), \(ago(900)), \(ended))
                    """)
                let campaignID = try connection.queryFirst("SELECT LAST_INSERT_ID()")!.decode(UInt64.self, at: 0)
                for contact in 0..<campaign.recipients {
                    try connection.execute("""
                        INSERT INTO \(site.table(.campaignRecipients)) (campaign_id, contact_id, state, next_attempt_at, created_at, updated_at)
                        VALUES (\(campaignID), \(contact + 1), 'delivered', \(ago(900)), \(ago(900)), \(ended))
                        """)
                }
            }
        }

        func purger(batchSize: Int) -> RetentionPurger {
            var options = RetentionPurger.Options()
            options.batchSize = batchSize
            options.pause = .zero
            return RetentionPurger(site: site, mediaDirectory: mediaRoot, options: options, logger: Logger(label: "test.retention"))
        }

        /// Every row of every table the purge touches, by table, as a fingerprint.
        func snapshot() throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for table in [CloudChatTable.webhookEvents, .messages, .media, .statusEvents, .outbox, .campaigns, .campaignRecipients, .auditLog] {
                counts[table.rawValue] = try count(table)
            }
            return counts
        }
    }

    @Test func oldRowsGoInBoundedBatchesWithTheirMediaAndEverythingElseStays() async throws {
        let fixture = try Fixture()
        do {
            try fixture.fill()
            // The first campaign's counts as its end froze them; they must read the same once its rows are gone.
            let store = CampaignStore(site: fixture.site)
            let frozen = try store.progress(1, on: fixture.connection)
            try fixture.connection.execute("UPDATE \(fixture.site.table(.campaigns)) SET results_json = \(frozen.resultsJSON.jsonText) WHERE id = 1")
            let report = try await fixture.purger(batchSize: 3).run(policy: RetentionPolicy(), pool: fixture.pool, dryRun: false)

            // Messages: the ten older than a year and the business one go; their own files go with them.
            let messages = try #require(report.classes[.messages])
            #expect(messages.rows == 11)
            #expect(try fixture.count(.messages) == 2)
            #expect(try fixture.count(.messages, "wamid IN ('wamid.new', 'wamid.newer')") == 2)
            #expect(messages.mediaRows == 3 && messages.files == 3)
            #expect(!fixture.fileExists("old0.jpg") && !fixture.fileExists("old1.jpg") && !fixture.fileExists("old2.jpg"))
            #expect(fixture.fileExists("new.jpg"), "a young message's file stays")
            #expect(try fixture.fileExists("business.jpg") && fixture.count(.media, "contact_id IS NULL") == 1,
                    "business media shared by many messages stays")
            #expect(try fixture.count(.media) == 2)
            // Batches are bounded: never more rows than the batch size at once.
            #expect(messages.largestBatch <= 3 && messages.batches == 4, "\(messages)")
            for (retentionClass, classReport) in report.classes {
                #expect(classReport.largestBatch <= 3, "\(retentionClass): \(classReport)")
            }

            #expect(try report.classes[.statusEvents]?.rows == 2 && fixture.count(.statusEvents) == 1)
            // Raw webhooks: finished ones processed over 30 days ago go; pending and unrouted ones never do.
            #expect(report.classes[.webhookEvents]?.rows == 2)
            #expect(try fixture.count(.webhookEvents, "processing_state = 'pending'") == 1)
            #expect(try fixture.count(.webhookEvents, "processing_state = 'unrouted'") == 1)
            #expect(try fixture.count(.webhookEvents) == 4)
            // Outbox: finished rows over 30 days go; a queued row stays however old.
            #expect(report.classes[.outbox]?.rows == 2)
            #expect(try fixture.count(.outbox, "state IN ('queued', 'cancelled')") == 2 && fixture.count(.outbox) == 2)
            #expect(try report.classes[.auditLog]?.rows == 3 && fixture.count(.auditLog) == 1)
            // Recipients of campaigns that ended over 730 days ago with their counts frozen go; the campaigns stay.
            #expect(report.classes[.campaignRecipients]?.rows == 9)
            #expect(try fixture.count(.campaignRecipients) == 6)
            #expect(try fixture.count(.campaigns, "results_json IS NOT NULL") == 3 && fixture.count(.campaigns) == 5)
            #expect((report.classes[.campaignRecipients]?.largestBatch ?? 99) <= 3)
            let kept = try store.progress(1, on: fixture.connection)
            #expect(kept.total == 7 && kept.delivered == 7 && kept.resultsJSON == frozen.resultsJSON, "\(kept)")

            // A second run finds nothing more.
            let again = try await fixture.purger(batchSize: 3).run(policy: RetentionPolicy(), pool: fixture.pool, dryRun: false)
            #expect(again.totalRows == 0 && again.totalFiles == 0)
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }

    @Test func aDryRunCountsWhatWouldGoAndChangesNothing() async throws {
        let fixture = try Fixture()
        do {
            try fixture.fill()
            let before = try fixture.snapshot()
            let report = try await fixture.purger(batchSize: 4).run(policy: RetentionPolicy(), pool: fixture.pool, dryRun: true)
            #expect(try fixture.snapshot() == before)
            #expect(fixture.fileExists("old0.jpg") && fixture.fileExists("old2.jpg"))
            #expect(report.classes[.messages]?.rows == 11)
            #expect(report.classes[.messages]?.files == 3 && report.classes[.messages]?.mediaRows == 3)
            #expect(report.classes[.webhookEvents]?.rows == 2 && report.classes[.outbox]?.rows == 2)
            #expect(report.classes[.auditLog]?.rows == 3 && report.classes[.statusEvents]?.rows == 2)
            #expect(report.classes[.campaignRecipients]?.rows == 9)
            // The oldest row that stays: for messages the 10-day-old one; for webhooks the pending one, 58 days old.
            let now = Date()
            let messagesKept = try #require(report.classes[.messages]?.oldestKept)
            #expect(abs(now.timeIntervalSince(messagesKept) / 86_400 - 10) < 0.1)
            let webhooksKept = try #require(report.classes[.webhookEvents]?.oldestKept)
            #expect(abs(now.timeIntervalSince(webhooksKept) / 86_400 - 58) < 0.1)
            let text = report.table
            #expect(text.contains("dry run, nothing was changed"))
            #expect(text.contains("would delete") && text.contains("11 (+3 media, 3 files)"), "\(text)")
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }

    @Test func theJanitorAppliesTheSiteOptionHoldsTheLeaseAndLeavesAnAuditEntry() async throws {
        let fixture = try Fixture()
        do {
            try fixture.fill()
            // Messages kept forever, the audit log 150 days, webhooks from a bad value: the daemon's default.
            try fixture.connection.execute("""
                INSERT INTO \(fixture.site.optionsTable) (option_name, option_value, autoload)
                VALUES ('cloudchat_retention', '{"messages_days":0,"audit_log_days":150,"webhook_events_days":-4}', 'no')
                """)
            var configuration = RetentionJanitor.Configuration()
            configuration.purger.pause = .zero
            let root = fixture.mediaRoot
            let registry = PrometheusCollectorRegistry()
            let janitor = RetentionJanitor(sites: [fixture.site], pool: fixture.pool, instanceID: "test:janitor", defaults: RetentionPolicy(),
                                           mediaDirectory: { _ in root }, configuration: configuration, logger: Logger(label: "test.retention"),
                                           metrics: DaemonMetrics.factory(registry: registry))

            // While another daemon holds the janitor lease, nothing happens.
            _ = try SiteLease.acquire("janitor", site: fixture.site, ownerID: "other:daemon", duration: .seconds(60), on: fixture.connection)
            let before = try fixture.snapshot()
            #expect(try await janitor.purge(fixture.site) == nil)
            #expect(try fixture.snapshot() == before)
            try fixture.connection.execute("UPDATE \(fixture.site.table(.leases)) SET owner_id = NULL WHERE name = 'janitor'")

            let report = try #require(try await janitor.purge(fixture.site))
            #expect(report.policy.problems.count == 1 && report.policy.problems[0].contains("webhook_events_days"))
            #expect(report.classes[.messages]?.days == 0 && report.classes[.messages]?.rows == 0)
            #expect(try fixture.count(.messages) == 13 && fixture.fileExists("old0.jpg"))
            #expect(report.classes[.auditLog]?.rows == 1, "only the 200-day-old entry is past 150 days")
            #expect(report.classes[.webhookEvents]?.rows == 2)
            // The audit entry names counts only, and the lease is free again.
            let details = try #require(try fixture.connection.queryFirst("""
                SELECT details_json FROM \(fixture.site.table(.auditLog)) WHERE action = 'retention.purged' AND actor_type = 'daemon'
                """)?.decode(String.self, at: 0))
            #expect(details.contains(#""webhook_events":2"#) && details.contains(#""files":0"#), "\(details)")
            #expect(try fixture.connection.queryFirst("SELECT owner_id FROM \(fixture.site.table(.leases)) WHERE name = 'janitor'")?
                .decode(String?.self, at: 0) == nil)
            // Metrics count rows by class and runs by outcome.
            let metrics = registry.emitToString()
            #expect(metrics.contains(#"cloudchat_retention_deleted_rows_total{site="\#(fixture.site.key)",class="webhook_events"} 2"#), "\(metrics)")
            #expect(metrics.contains(#"cloudchat_retention_runs_total{site="\#(fixture.site.key)",outcome="lease_held_elsewhere"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"cloudchat_retention_runs_total{site="\#(fixture.site.key)",outcome="completed"} 1"#), "\(metrics)")
        } catch {
            await fixture.close()
            throw error
        }
        await fixture.close()
    }

    @Test func purgeOnTheCommandLineExplainsItselfAndDryRunsPerSite() throws {
        let help = try CloudChatBinary.run(["purge", "--help"])
        #expect(help.status == 0 && help.output.contains("--dry-run") && help.output.contains("--blog-id <id>"), "\(help.output)")
        #expect(help.output.contains("cloudchat_retention"), "\(help.output)")

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("rcli")
        defer { scratch.drop() }
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        try scratch.connection.execute("""
            INSERT INTO \(scratch.site.table(.auditLog)) (occurred_at, actor_type, action)
            VALUES (UTC_TIMESTAMP(6) - INTERVAL 100 DAY, 'daemon', 'settings.updated')
            """)
        let dry = try CloudChatBinary.run(["purge", "--dry-run", "--wordpress", directory.path + "/site"])
        #expect(dry.status == 0, "\(dry.errors)")
        #expect(dry.output.contains("dry run, nothing was changed") && dry.output.contains("audit_log"), "\(dry.output)")
        #expect(try scratch.connection.queryFirst("SELECT COUNT(*) FROM \(scratch.site.table(.auditLog))")?.decode(Int.self, at: 0) == 1)
        let real = try CloudChatBinary.run(["purge", "--wordpress", directory.path + "/site", "--blog-id", "1"])
        #expect(real.status == 0 && real.output.contains("purged"), "\(real.output)\(real.errors)")
        #expect(try scratch.connection.queryFirst("""
            SELECT COUNT(*) FROM \(scratch.site.table(.auditLog)) WHERE action = 'settings.updated'
            """)?.decode(Int.self, at: 0) == 0)
        let missing = try CloudChatBinary.run(["purge", "--wordpress", directory.path + "/site", "--blog-id", "9"])
        #expect(missing.status == 1 && missing.errors.contains("there is no blog 9"), "\(missing.errors)")
    }
}
