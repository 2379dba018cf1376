import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import MediaDownload
import Privacy
import WhatsAppCloudAPI
import WordPressStore

struct ContactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact",
        abstract: "Export, erase, correct or restrict what a site keeps about a WhatsApp contact.",
        discussion: """
            A person is named by a phone number in any usual form (+1 650 555 0001), which \
            finds their contact on every business number of the site, by a contact id \
            (up to 6 digits, or id:N for any id), or by an email address. See docs/schema.md §7.
            """,
        subcommands: [Export.self, Erase.self, Update.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write everything kept about a person as one JSON document (and their media files as a zip).",
            discussion: """
                The document has, for each of the person's contacts: the contact's fields, \
                consent history, tags, conversation, messages with their statuses and times, \
                status events, queued messages, campaign participation and the list of media \
                files. Without --output or --zip it is printed. --zip writes a zip with the \
                document (cloudchat-export.json) and the stored files (media/…). Each export \
                is recorded in the audit log (contact.exported, counts only).
                """
        )

        @OptionGroup var site: SiteOptions

        @Argument(help: ArgumentHelp("A phone number, contact id or email address.", valueName: "who"))
        var who: String

        @Option(name: .long, help: ArgumentHelp("Write the JSON document to this file.", valueName: "file"))
        var output: String?

        @Option(name: .long, help: ArgumentHelp("Write a zip with the document and the media files.", valueName: "file"))
        var zip: String?

        func run() async throws {
            let query = try parseWho(who)
            let configuration = try site.options.load()
            let (output, zip) = (self.output, self.zip)
            try await withContactSite(configuration, blogID: site.blogID, command: "contact export") { site, pool in
                let exporter = ContactExporter(site: site, mediaDirectory: configuration.mediaDirectory(of: site))
                let export = try await pool.withConnection { connection in
                    let ids = try ContactLookup.contactIDs(query, site: site, on: connection)
                    guard !ids.isEmpty else { throw CommandError("no contact matches that in \(site)") }
                    return try exporter.export(contactIDs: ids, actor: .commandLine(label: OperatorAudit.operatorName), format: zip == nil ? "json" : "zip",
                                               on: connection)
                }
                if let output { try export.json.write(to: URL(fileURLWithPath: output), options: .atomic) }
                if let zip { try export.writeZip(to: zip) }
                if output == nil && zip == nil {
                    FileHandle.standardOutput.write(export.json)
                } else {
                    print("exported \(export.contactIDs.count) contact(s) and \(export.files.count) media file(s)")
                }
            }
        }
    }

    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a person: their contacts, messages, media files and the raw webhooks that name them.",
            discussion: """
                Deletes, for each of the person's contacts, the media files, status events, \
                messages, queued messages, campaign recipient rows, consent history, tags, \
                conversation and the stored webhooks that mention them, then the contact \
                itself, and records contact.erased in the audit log with the counts only. \
                It cannot be undone: it asks first unless --yes is given. Webhooks received \
                before it are processed first (by the running daemon); an erasure that was \
                interrupted is finished by running it again. A later message from the same \
                number starts a new contact.
                """
        )

        @OptionGroup var site: SiteOptions

        @Argument(help: ArgumentHelp("A phone number, contact id or email address.", valueName: "who"))
        var who: String

        @Flag(name: .long, help: "Do not ask for confirmation.")
        var yes = false

        func run() async throws {
            let query = try parseWho(who)
            let configuration = try site.options.load()
            let yes = self.yes
            try await withContactSite(configuration, blogID: site.blogID, command: "contact erase") { site, pool in
                let ids = try await pool.withConnection { try ContactLookup.contactIDs(query, site: site, on: $0) }
                guard !ids.isEmpty else { throw CommandError("no contact matches that in \(site)") }
                if !yes {
                    // Unbuffered, so the question shows before the answer is read.
                    FileHandle.standardOutput.write(Data(("This erases \(ids.count) contact(s) (id \(ids.map(String.init).joined(separator: ", "))) "
                        + "in \(site) and everything kept about them. It cannot be undone.\nType yes to erase: ").utf8))
                    guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                        throw CommandError("not erased: the answer was not yes")
                    }
                }
                let eraser = ContactEraser(site: site, mediaDirectory: configuration.mediaDirectory(of: site),
                                           logger: Logger(label: "cloudchatd.contact"))
                for id in ids {
                    let report: ContactEraser.Report
                    do {
                        report = try await eraser.erase(contactID: id, actor: .commandLine(label: OperatorAudit.operatorName), pool: pool)
                    } catch let failure as ContactEraser.Failure {
                        throw CommandError("contact \(id): \(failure.description)")
                    }
                    let counts = report.rowsByTable.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    print("erased contact \(id): \(counts.joined(separator: ", ")); \(report.files) file(s)")
                }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Correct a contact's name, email or locale, or restrict them.",
            discussion: """
                A restricted contact is kept but never messaged by campaigns or automations \
                (agents can still answer them within WhatsApp's 24-hour window). Restricting \
                and lifting it are kept in the contact's consent history. An empty value \
                clears a field. Each change is recorded in the audit log, without the values.
                """
        )

        @OptionGroup var site: SiteOptions

        @Argument(help: ArgumentHelp("A phone number, contact id or email address.", valueName: "who"))
        var who: String

        @Option(name: .long, help: ArgumentHelp("The name the site uses for the contact.", valueName: "text"))
        var name: String?

        @Option(name: .long, help: ArgumentHelp("The contact's email address.", valueName: "address"))
        var email: String?

        @Option(name: .long, help: ArgumentHelp("Preferred template language, e.g. en_US.", valueName: "code"))
        var locale: String?

        @Flag(name: .long, help: "Restrict the contact.")
        var restrict = false

        @Flag(name: .long, help: "Lift the restriction.")
        var unrestrict = false

        func validate() throws {
            if restrict && unrestrict { throw ValidationError("--restrict and --unrestrict exclude each other") }
            if changes.isEmpty { throw ValidationError("nothing to change: give --name, --email, --locale, --restrict or --unrestrict") }
            do { try ContactCorrection.validate(changes) } catch { throw ValidationError(error.description) }
        }

        var changes: ContactCorrection.Changes {
            ContactCorrection.Changes(name: name, email: email, locale: locale, restricted: restrict ? true : unrestrict ? false : nil)
        }

        func run() async throws {
            let query = try parseWho(who)
            let configuration = try site.options.load()
            let changes = self.changes
            try await withContactSite(configuration, blogID: site.blogID, command: "contact update") { site, pool in
                try await pool.withConnection { connection in
                    let ids = try ContactLookup.contactIDs(query, site: site, on: connection)
                    guard !ids.isEmpty else { throw CommandError("no contact matches that in \(site)") }
                    for id in ids {
                        let outcome: ContactCorrection.Outcome
                        do {
                            outcome = try ContactCorrection(site: site).apply(changes, to: id, actor: .commandLine(label: OperatorAudit.operatorName),
                                                                               on: connection)
                        } catch let failure as ContactCorrection.Failure {
                            throw CommandError(failure.description)
                        }
                        var done = outcome.fields.map { "\($0) corrected" }
                        if let restriction = outcome.restriction { done.append(restriction) }
                        print("contact \(id): \(done.isEmpty ? "nothing changed" : done.joined(separator: ", "))")
                    }
                }
            }
        }
    }
}

private func parseWho(_ text: String) throws -> ContactLookup.Query {
    do { return try ContactLookup.parse(text) } catch { throw ValidationError(error.description) }
}


/// Opens the database for a contact command and finds the site. Failures print `cloudchatd <command>: <reason>` and exit 1.
private func withContactSite(_ configuration: DaemonConfiguration, blogID: Int, command: String,
                             _ body: (WordPressSite, MariaDBPool) async throws -> Void) async throws {
    let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: Logger(label: "cloudchatd"))
    do {
        let sites = try await pool.withConnection {
            try WordPressSites.discover(on: $0, basePrefix: configuration.tablePrefix, multisite: configuration.multisite)
        }
        guard let site = sites.first(where: { $0.blogID == blogID }) else { throw CommandError("there is no blog \(blogID) in this WordPress database") }
        let status = try await pool.withConnection { try SchemaMigrator.status(of: site, on: $0) }
        guard status.state == .current else { throw CommandError("\(site): CloudChat's schema is not current; run `cloudchatd migrate` first") }
        try await body(site, pool)
        await pool.shutdown()
    } catch {
        await pool.shutdown()
        printError("cloudchatd \(command): \(error)")
        throw ExitStatus.failure
    }
}
