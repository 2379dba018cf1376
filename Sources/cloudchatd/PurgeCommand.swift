import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import MediaDownload
import Privacy
import WordPressStore

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete what is older than each site's retention, now (the daemon does it hourly).",
        discussion: """
            Each class of data is kept for a number of days: raw webhook events after \
            processing (default 30), messages with their media files (365), status events \
            (365), finished outbox rows (30), recipient rows of completed or cancelled \
            campaigns after the campaign ended (730), and the audit log (90). 0 keeps a \
            class forever.

            Each class takes its days from the first of: the site's own setting \
            (CloudChat → Settings → Retention in wp-admin, the cloudchat_retention \
            option), the daemon's configuration (retention_messages_days and the like), \
            then the defaults above.

            Never deleted: raw webhooks not yet processed (or waiting for their number), \
            queued outbox rows, recipients of campaigns still running, contacts and \
            their consent history, campaigns and their final counts (results_json), \
            and business media shared by many messages.

            Rows go in batches of at most 500, one short transaction each, with a pause \
            between batches, while holding the site's janitor lease (a running daemon \
            that is purging the same site makes this wait for the next try). The output \
            names counts only.

            --dry-run changes nothing: it shows per site and class how many rows (and \
            media files) would go, the cutoff, and when the oldest row that stays was \
            created.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(name: .customLong("dry-run"), help: "Show what would be deleted, per site and class; change nothing.")
    var dryRun = false

    @Option(name: .customLong("blog-id"), help: ArgumentHelp("Only this blog of a multisite network.", valueName: "id"))
    var blogID: Int?

    func run() async throws {
        let configuration = try options.load()
        let logger = Logger(label: "cloudchatd.purge")
        let pool = MariaDBPool(configuration: configuration.mariaDB, size: 2, logger: logger)
        let (blogID, dryRun) = (blogID, dryRun)
        do {
            let sites = try await pool.withConnection { connection -> [WordPressSite] in
                var sites = try configuration.discoverSites(on: connection)
                if let blogID {
                    sites = sites.filter { $0.blogID == blogID && configuration.isFirstInstall($0) }
                    guard !sites.isEmpty else { throw PurgeError("there is no blog \(blogID) in this WordPress database") }
                }
                for site in sites {
                    guard try SchemaMigrator.status(of: site, on: connection).state == .current else {
                        throw PurgeError("\(site): CloudChat's schema is not current; run `cloudchatd migrate` first (see `cloudchatd doctor`)")
                    }
                }
                return sites
            }
            let defaults = configuration.retention
            var janitorConfiguration = RetentionJanitor.Configuration()
            janitorConfiguration.leaseDuration = .seconds(120)
            let janitor = RetentionJanitor(sites: sites, pool: pool, instanceID: "cloudchatd-purge:\(ProcessInfo.processInfo.processIdentifier)",
                                           defaults: defaults, mediaDirectory: { configuration.mediaDirectory(of: $0) },
                                           configuration: janitorConfiguration, logger: logger)
            var busy: [WordPressSite] = []
            for site in sites {
                let report: RetentionPurger.Report
                if dryRun {
                    let policy = try await pool.withConnection { try RetentionPolicy.read(site, defaults: defaults, on: $0) }
                    let purger = RetentionPurger(site: site, mediaDirectory: configuration.mediaDirectory(of: site),
                                                 options: janitorConfiguration.purger, logger: logger)
                    report = try await purger.run(policy: policy, pool: pool, dryRun: true)
                } else {
                    guard let done = try await janitor.purge(site, actorType: "cli", actorLabel: OperatorAudit.operatorName) else {
                        busy.append(site)
                        print("\(site): another cloudchatd is purging this site now; nothing done here")
                        continue
                    }
                    report = done
                }
                print(report.table)
            }
            await pool.shutdown()
            if !busy.isEmpty { throw ExitStatus.failure }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            await pool.shutdown()
            printError("cloudchatd purge: \(error)")
            throw ExitStatus.failure
        }
    }
}

/// Purge could not run; the message says why and what to do.
struct PurgeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
