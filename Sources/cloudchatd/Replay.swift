import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import WebhookIngest
import WordPressStore

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply stored webhook events again, to rebuild contacts, conversations, messages and statuses.",
        discussion: """
            Every accepted webhook is kept as received in the site's cloudchat_webhook_events \
            table. Replay runs them through processing again, in id order, whatever their \
            processing state, and leaves the stored events as they are. Every write of \
            processing is idempotent: replaying events that were already applied changes \
            nothing, and replaying after domain rows were lost (a restore from an older \
            backup, a bug fixed in processing) brings them back. A running daemon may keep \
            running meanwhile. Progress is printed as it goes.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .customLong("blog-id"), help: ArgumentHelp("Only this blog of a multisite network.", valueName: "id"))
    var blogID: Int?

    @Option(name: .customLong("from-id"), help: ArgumentHelp("First event id to replay (default: the oldest).", valueName: "id"))
    var fromID: UInt64 = 1

    @Option(name: .customLong("to-id"), help: ArgumentHelp("Last event id to replay (default: the newest).", valueName: "id"))
    var toID: UInt64?

    func validate() throws {
        if let toID, toID < fromID { throw ValidationError("--to-id (\(toID)) is below --from-id (\(fromID))") }
    }

    func run() async throws {
        let configuration = try options.load()
        let logger = Logger(label: "cloudchatd.replay")
        let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: logger)
        let (blogID, fromID, toID) = (blogID, fromID, toID)
        let keywords = ConsentKeywords(optOut: configuration.consentOptOutKeywords, optIn: configuration.consentOptInKeywords)
        do {
            try await pool.withConnection { connection in
                var sites = try configuration.discoverSites(on: connection)
                if let blogID {
                    sites = sites.filter { $0.blogID == blogID && configuration.isFirstInstall($0) }
                    guard !sites.isEmpty else { throw ReplayError("there is no blog \(blogID) in this WordPress database") }
                }
                for site in sites {
                    let status = try SchemaMigrator.status(of: site, on: connection)
                    guard status.state == .current else {
                        throw ReplayError("\(site): CloudChat's schema is not current; run `cloudchatd migrate` first (see `cloudchatd doctor`)")
                    }
                    try replay(site, from: fromID, to: toID, keywords: keywords, on: connection)
                }
            }
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            printError("cloudchatd replay: \(error)")
            throw ExitStatus.failure
        }
    }

    private func replay(_ site: WordPressSite, from first: UInt64, to requestedLast: UInt64?, keywords: ConsentKeywords,
                        on connection: MariaDBConnection) throws {
        let newest = try connection.queryFirst("SELECT MAX(id) FROM \(site.table(.webhookEvents))")?.decode(UInt64?.self, at: 0) ?? 0
        let last = min(requestedLast ?? newest, newest)
        guard newest > 0, first <= last else {
            print("\(site): no stored webhook events in that range")
            return
        }
        let started = ContinuousClock.now
        var reported = started
        let replayed = try WebhookProcessor.replay(site: site, ids: first...last, consentKeywords: keywords, on: connection) { replayed, lastID in
            let now = ContinuousClock.now
            guard reported.duration(to: now) >= .seconds(2) else { return }
            reported = now
            let done = Double(lastID - first + 1) / Double(last - first + 1) * 100
            printError("\(site): \(replayed) events replayed, up to id \(lastID) of \(last) (\(Int(done))%)")
        }
        let seconds = started.duration(to: .now) / .seconds(1)
        print("\(site): replayed \(replayed) events (ids \(first)–\(last)) in \(String(format: "%.1f", seconds)) s")
    }
}

/// Replay could not start; the message says why and what to do.
struct ReplayError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
