import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Sending
import WhatsAppCloudAPI
import WordPressStore

struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Create, start, pause, resume, cancel and follow template campaigns.",
        discussion: """
            A campaign sends one APPROVED template to an audience (all opted-in contacts, \
            contacts with tags, an imported CSV file, or a list of numbers), each recipient \
            exactly once, at the number's pace or a lower cap. Changes are written to the \
            database and announced to a running daemon through its control API, so they \
            take effect within a second; without a daemon they wait for the next one that \
            starts. See docs/campaigns.md.
            """,
        subcommands: [Create.self, Import.self, List.self, Show.self, Start.self, Schedule.self, Pause.self, Resume.self, Cancel.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a draft campaign (and import its recipients).",
            discussion: """
                Examples:
                  cloudchatd campaign create --phone-number-id 106540352242922 --name "Spring sale" \\
                      --template spring_sale --audience tags --tags vip,newsletter \\
                      --variables '{"body":{"first_name":{"field":"first_name","fallback":"there"},"discount":{"text":"20%"}}}'
                  cloudchatd campaign create --phone-number-id 106540352242922 --name "Orders" \\
                      --template order_update --csv orders.csv \\
                      --variables '{"body":[{"column":"name"},{"column":"order"}],"buttons":{"0":{"column":"order"}}}'
                Variables take a constant ({"text":…}), a contact field ({"field":"first_name"}: name, \
                first_name, profile_name, email, phone, wa_id or custom_fields.<key>) or a CSV column \
                ({"column":…}), each with an optional "fallback".
                """
        )

        @OptionGroup var site: SiteOptions

        @Option(name: .customLong("phone-number-id"), help: ArgumentHelp("The sending number (Meta's phone number id).", valueName: "id"))
        var phoneNumberID: String

        @Option(name: .long, help: ArgumentHelp("The campaign's name.", valueName: "text"))
        var name: String

        @Option(name: .long, help: ArgumentHelp("The template's name.", valueName: "name"))
        var template: String

        @Option(name: .long, help: ArgumentHelp("The template's language.", valueName: "code"))
        var language = "en_US"

        @Option(name: .long, help: ArgumentHelp("all-opted-in, tags, csv or list (default: csv with --csv, list with --numbers, else all-opted-in).",
                                                valueName: "type"))
        var audience: String?

        @Option(name: .long, help: ArgumentHelp("Tags for a tags audience, comma-separated.", valueName: "tags"))
        var tags: String?

        @Flag(name: .customLong("match-all"), help: "A contact must have every tag (default: any of them).")
        var matchAll = false

        @Option(name: .long, help: ArgumentHelp("A CSV file of recipients (a header row, a phone column, variable columns).", valueName: "path"))
        var csv: String?

        @Option(name: .customLong("phone-column"), help: ArgumentHelp("The CSV column holding numbers (default: phone, number, mobile…).", valueName: "name"))
        var phoneColumn: String?

        @Option(name: .long, help: ArgumentHelp("Numbers for a list audience, comma-separated, international form.", valueName: "numbers"))
        var numbers: String?

        @Option(name: .long, help: ArgumentHelp("How template parameters are filled, as JSON (see above).", valueName: "json"))
        var variables: String?

        @Option(name: .long, help: ArgumentHelp("A cap in messages per second (default: the number's pace).", valueName: "n"))
        var rate: Double?

        @Flag(name: .long, help: "Start it at once.")
        var start = false

        @Option(name: .long, help: ArgumentHelp("Start it at this UTC time, e.g. 2026-12-01T09:00:00Z.", valueName: "time"))
        var schedule: String?

        func run() async throws {
            let configuration = try site.options.load()
            let variablesJSON = try variables.map { text -> JSONValue in
                guard let value = try? JSONValue.parse(Array(text.utf8)) else { throw ValidationError("--variables is not valid JSON") }
                return value
            }
            let scheduleAt = try schedule.map { text -> Date in
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw ValidationError("--schedule takes a UTC time such as 2026-12-01T09:00:00Z")
                }
                return date
            }
            let csvText = try csv.map(readTextFile)
            let type = audience ?? (csv != nil ? "csv" : numbers != nil ? "list" : tags != nil ? "tags" : "all-opted-in")
            var audienceJSON: [String: JSONValue] = ["type": .string(type.replacingOccurrences(of: "-", with: "_"))]
            if type == "tags" {
                let list = (tags ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                audienceJSON["tags"] = .array(list.map { .string($0) })
                audienceJSON["match"] = .string(matchAll ? "all" : "any")
            }
            let new = NewCampaign(phoneNumberID: phoneNumberID, name: name, templateName: template, templateLanguage: language,
                                  variables: variablesJSON, audience: .object(audienceJSON), rateLimit: rate)
            let numberList = numbers.map { $0.split(separator: ",").map(String.init) }
            let (start, phoneColumn, blogID) = (self.start, self.phoneColumn, site.blogID)
            try await withCampaignSite(configuration, blogID: blogID, command: "campaign create") { site, pool in
                let id = try await pool.withConnection { connection in
                    let id = try CampaignStore(site: site).create(new, on: connection)
                    try OperatorAudit.record("campaign.created", objectType: "campaign", objectID: id, site: site, on: connection)
                    return id
                }
                print("created campaign \(id) (draft) in \(site)")
                let audience = CampaignAudience(site: site)
                if let csvText {
                    let report = try await pool.withConnection { try audience.importCSV(csvText, into: id, phoneColumn: phoneColumn, on: $0) }
                    printReport(report)
                } else if let numberList {
                    printReport(try await pool.withConnection { try audience.importNumbers(numberList, into: id, on: $0) })
                }
                if let scheduleAt {
                    try await pool.withConnection { connection in
                        _ = try CampaignStore(site: site).schedule(id, at: scheduleAt, on: connection)
                        try OperatorAudit.record("campaign.scheduled", objectType: "campaign", objectID: id, site: site, on: connection)
                    }
                    print("scheduled for \(ISO8601DateFormatter().string(from: scheduleAt))")
                } else if start {
                    try await pool.withConnection { connection in
                        _ = try CampaignStore(site: site).beginStart(id, on: connection)
                        try OperatorAudit.record("campaign.started", objectType: "campaign", objectID: id, site: site, on: connection)
                    }
                    _ = await notifyDaemon(configuration, site: site)
                    let campaign = try await pool.withConnection { try CampaignStore(site: site).finishStart(id, on: $0) }
                    print("started: \(campaign.recipientsTotal ?? 0) recipient(s)")
                }
                return scheduleAt != nil || start
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add recipients to a draft csv or list campaign.",
            discussion: "Bad rows (no number, not a number, a number twice, a missing variable) are listed with their line and left out; the rest are imported."
        )

        @OptionGroup var site: SiteOptions

        @Argument(help: "The campaign id.")
        var id: UInt64

        @Option(name: .long, help: ArgumentHelp("A CSV file with a header row.", valueName: "path"))
        var csv: String?

        @Option(name: .customLong("phone-column"), help: ArgumentHelp("The CSV column holding numbers.", valueName: "name"))
        var phoneColumn: String?

        @Option(name: .long, help: ArgumentHelp("Numbers, comma-separated.", valueName: "numbers"))
        var numbers: String?

        func validate() throws {
            guard (csv == nil) != (numbers == nil) else { throw ValidationError("give either --csv or --numbers") }
        }

        func run() async throws {
            let configuration = try site.options.load()
            let text = try csv.map(readTextFile)
            let (id, phoneColumn) = (self.id, self.phoneColumn)
            let list = numbers.map { $0.split(separator: ",").map(String.init) }
            try await withCampaignSite(configuration, blogID: site.blogID, command: "campaign import") { site, pool in
                let audience = CampaignAudience(site: site)
                if let text {
                    printReport(try await pool.withConnection { try audience.importCSV(text, into: id, phoneColumn: phoneColumn, on: $0) })
                } else if let list {
                    printReport(try await pool.withConnection { try audience.importNumbers(list, into: id, on: $0) })
                }
                return false
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the site's campaigns, newest first.")

        @OptionGroup var site: SiteOptions

        func run() async throws {
            let configuration = try site.options.load()
            try await withCampaignSite(configuration, blogID: site.blogID, command: "campaign list") { site, pool in
                let campaigns = try await pool.withConnection { try CampaignStore(site: site).list(on: $0) }
                if campaigns.isEmpty { print("no campaigns in \(site)") }
                for campaign in campaigns {
                    let reason = campaign.stateReason.map { " (\($0))" } ?? ""
                    print("\(campaign.id)\t\(campaign.state.rawValue)\(reason)\t\(campaign.templateName)\t\(campaign.recipientsTotal.map(String.init) ?? "-") recipients\t\(campaign.name)")
                }
                return false
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a campaign's state and counts; --follow draws a live progress bar with rate and ETA.",
            discussion: "With --follow it refreshes every second until the campaign completes, is cancelled or halts (Ctrl-C stops following, not the campaign)."
        )

        @OptionGroup var site: SiteOptions

        @Argument(help: "The campaign id.")
        var id: UInt64

        @Flag(name: .long, help: "Keep showing progress until the campaign ends.")
        var follow = false

        @Flag(name: .long, help: "Print the campaign and its counts as JSON.")
        var json = false

        func run() async throws {
            let configuration = try site.options.load()
            let (id, follow, json) = (self.id, self.follow, self.json)
            try await withCampaignSite(configuration, blogID: site.blogID, command: "campaign show") { site, pool in
                let store = CampaignStore(site: site)
                var progress = try await pool.withConnection { try store.progress(id, on: $0) }
                guard follow else {
                    print(json ? progress.json.jsonText : CampaignProgressView.summary(progress))
                    return false
                }
                var meter = CampaignProgressView.RateMeter()
                let interactive = isatty(STDOUT_FILENO) != 0
                var lastPrinted = Date.distantPast
                while true {
                    meter.add(finished: progress.finished, at: Date())
                    let line = CampaignProgressView.bar(progress, rate: meter.rate)
                    if interactive {
                        FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
                    } else if Date().timeIntervalSince(lastPrinted) >= 5 {
                        print(line)
                        lastPrinted = Date()
                    }
                    if [.completed, .cancelled, .halted, .draft].contains(progress.campaign.state) { break }
                    try await Task.sleep(for: .seconds(1))
                    progress = try await pool.withConnection { try store.progress(id, on: $0) }
                }
                if interactive { print("") }
                print(CampaignProgressView.summary(progress))
                return false
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a draft or scheduled campaign now.",
            discussion: "Tag and all-opted-in audiences become recipient rows now, with their values frozen; the template must be APPROVED."
        )
        @OptionGroup var site: SiteOptions
        @Argument(help: "The campaign id.") var id: UInt64

        func run() async throws {
            let configuration = try site.options.load()
            let (id, blogID) = (self.id, site.blogID)
            try await withCampaignSite(configuration, blogID: blogID, command: "campaign start") { site, pool in
                let store = CampaignStore(site: site)
                try await pool.withConnection { connection in
                    _ = try store.beginStart(id, on: connection)
                    try OperatorAudit.record("campaign.started", objectType: "campaign", objectID: id, site: site, on: connection)
                }
                // A running daemon starts sending while the rest of the recipients are made.
                let notified = await notifyDaemon(configuration, site: site)
                let campaign = try await pool.withConnection { try store.finishStart(id, on: $0) }
                print("campaign \(campaign.id) is \(campaign.state.rawValue): \(campaign.recipientsTotal ?? 0) recipient(s)")
                return !notified
            }
        }
    }

    struct Schedule: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Schedule a draft campaign to start at a UTC time.")
        @OptionGroup var site: SiteOptions
        @Argument(help: "The campaign id.") var id: UInt64
        @Option(name: .long, help: ArgumentHelp("When, e.g. 2026-12-01T09:00:00Z.", valueName: "time")) var at: String

        func run() async throws {
            guard let instant = ISO8601DateFormatter().date(from: at) else {
                throw ValidationError("--at takes a UTC time such as 2026-12-01T09:00:00Z")
            }
            let id = self.id
            try await transition(site, "campaign schedule", audit: "campaign.scheduled") { store, connection in
                try store.schedule(id, at: instant, on: connection)
            }
        }
    }

    struct Pause: CampaignTransition {
        static let configuration = CommandConfiguration(abstract: "Pause a running campaign; sends already under way finish.")
        @OptionGroup var site: SiteOptions
        @Argument(help: "The campaign id.") var id: UInt64
        static func change(_ store: CampaignStore, _ id: UInt64, _ connection: MariaDBConnection) throws -> Campaign { try store.pause(id, on: connection) }
    }

    struct Resume: CampaignTransition {
        static let configuration = CommandConfiguration(abstract: "Resume a paused campaign, or a halted one once its cause is fixed.")
        @OptionGroup var site: SiteOptions
        @Argument(help: "The campaign id.") var id: UInt64
        static func change(_ store: CampaignStore, _ id: UInt64, _ connection: MariaDBConnection) throws -> Campaign { try store.resume(id, on: connection) }
    }

    struct Cancel: CampaignTransition {
        static let configuration = CommandConfiguration(abstract: "Cancel a campaign; recipients not yet sent are never sent.")
        @OptionGroup var site: SiteOptions
        @Argument(help: "The campaign id.") var id: UInt64
        static func change(_ store: CampaignStore, _ id: UInt64, _ connection: MariaDBConnection) throws -> Campaign { try store.cancel(id, on: connection) }
    }
}

/// A subcommand that moves one campaign to another state.
protocol CampaignTransition: AsyncParsableCommand {
    var site: SiteOptions { get }
    var id: UInt64 { get }
    static func change(_ store: CampaignStore, _ id: UInt64, _ connection: MariaDBConnection) throws -> Campaign
}

extension CampaignTransition {
    func run() async throws {
        let id = self.id
        let verb = String(describing: Self.self).lowercased()
        let past = ["pause": "paused", "resume": "resumed", "cancel": "cancelled"][verb] ?? verb
        try await transition(site, "campaign \(verb)", audit: "campaign.\(past)") { store, connection in try Self.change(store, id, connection) }
    }
}

/// Runs a transition and prints where the campaign is now.
private func transition(_ options: SiteOptions, _ command: String, audit action: String,
                        _ change: @escaping @Sendable (CampaignStore, MariaDBConnection) throws -> Campaign) async throws {
    let configuration = try options.options.load()
    try await withCampaignSite(configuration, blogID: options.blogID, command: command) { site, pool in
        let campaign = try await pool.withConnection { connection in
            let campaign = try change(CampaignStore(site: site), connection)
            try OperatorAudit.record(action, objectType: "campaign", objectID: campaign.id, site: site, on: connection)
            return campaign
        }
        let reason = campaign.stateReason.map { " (\($0))" } ?? ""
        print("campaign \(campaign.id) is \(campaign.state.rawValue)\(reason)")
        return true
    }
}

/// Opens the database for a campaign command and finds the site; when the body changed something, a
/// running daemon is told so it acts at once. Failures print `cloudchatd <command>: <reason>` and exit 1.
private func withCampaignSite(_ configuration: DaemonConfiguration, blogID: Int, command: String,
                              _ body: (WordPressSite, MariaDBPool) async throws -> Bool) async throws {
    let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: Logger(label: "cloudchatd"))
    do {
        let sites = try await pool.withConnection {
            try WordPressSites.discover(on: $0, basePrefix: configuration.tablePrefix, multisite: configuration.multisite)
        }
        guard let site = sites.first(where: { $0.blogID == blogID }) else { throw CommandError("there is no blog \(blogID) in this WordPress database") }
        let changed = try await body(site, pool)
        await pool.shutdown()
        if changed, !(await notifyDaemon(configuration, site: site)) {
            print("note: no running daemon answered on the control API; the change takes effect when one runs (within a second of its start)")
        }
    } catch {
        await pool.shutdown()
        printError("cloudchatd \(command): \(error)")
        throw ExitStatus.failure
    }
}

/// A file's text, for imports; a file that is missing or not UTF-8 is a usage error that names it.
private func readTextFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw ValidationError("cannot read \(path) as UTF-8 text")
    }
    return text
}

/// Tells a running daemon that the site's campaigns changed; false when none answered.
private func notifyDaemon(_ configuration: DaemonConfiguration, site: WordPressSite) async -> Bool {
    let http = GraphHTTPClient()
    defer { http.shutdown() }
    guard let client = ControlClient(configuration: configuration, http: http) else { return false }
    return await client.notify(site: site, databaseName: configuration.databaseName, topic: "campaigns")
}

private func printReport(_ report: CampaignAudience.ImportReport) {
    var parts = ["\(report.rows) row(s) read", "\(report.added) recipient(s) added"]
    for (reason, count) in report.skipped.sorted(by: { $0.key < $1.key }) { parts.append("\(count) skipped (\(reason))") }
    if report.alreadyInCampaign > 0 { parts.append("\(report.alreadyInCampaign) already in the campaign") }
    if report.contactsCreated > 0 { parts.append("\(report.contactsCreated) new contact(s)") }
    if report.rejected > 0 { parts.append("\(report.rejected) row(s) not imported") }
    print(parts.joined(separator: ", "))
    for problem in report.problems { print("  line \(problem.line): \(problem.reason)") }
    if report.rejected > report.problems.count { print("  … and \(report.rejected - report.problems.count) more") }
}
