import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import WhatsAppCloudAPI
import WordPressStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon.",
        discussion: """
            Connects to the WordPress database, checks that CloudChat's schema is current \
            for every site (run `cloudchatd migrate` first), then listens for Meta's \
            webhooks (http_listen, default 127.0.0.1:8787; put it behind the site's TLS \
            proxy) until SIGTERM or SIGINT, when it stops accepting, commits what it \
            accepted, records the sends in flight and exits within shutdown_timeout \
            (10 s by default). SIGHUP re-reads the configuration's log level and every \
            business number's rate and state without dropping a connection.

            Under systemd (Type=notify) it sends READY=1 once the database, the schema \
            and both listeners are up, WATCHDOG=1 while its event loops answer, and a \
            STATUS= line with the current rates.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load()
        let logger = Logger(label: "cloudchatd")
        let daemon: CloudChatDaemon.Daemon.Parts
        do {
            let loader = options.loader
            daemon = try await CloudChatDaemon.Daemon.assemble(
                configuration: configuration, logger: logger,
                systemd: SystemdNotifier(), watchdogInterval: SystemdNotifier.watchdogInterval(environment: ProcessInfo.processInfo.environment),
                onReload: {
                    do {
                        let reloaded = try loader.load()
                        CloudChatLogging.levelControl.set(reloaded.logLevel)
                        logger.notice("configuration re-read", metadata: ["log_level": "\(reloaded.logLevel)"])
                    } catch {
                        logger.error("the configuration could not be re-read; the running settings stay", metadata: ["error": "\(error)"])
                    }
                })
        } catch {
            printError("cloudchatd serve: \(error)")
            throw ExitStatus.failure
        }
        try await daemon.group.run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade CloudChat's tables in the WordPress database.",
        discussion: """
            Applies the schema migrations this build carries to every site (every blog of \
            a multisite network) and records the version in each site's \
            cloudchat_db_version option. Safe to run again: it does nothing when the \
            schema is current, and finishes a run that was interrupted. Refuses a schema \
            newer than this build. The installer and the tests run it; the WordPress \
            plugin never changes tables itself.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(name: .customLong("dry-run"), help: "Show the migrations that are due without applying them.")
    var dryRun = false

    @Option(name: .customLong("blog-id"), help: ArgumentHelp("Only this blog of a multisite network.", valueName: "id"))
    var blogID: Int?

    func run() async throws {
        let configuration = try options.load()
        let logger = Logger(label: "cloudchatd.migrate")
        let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: logger)
        let dryRun = self.dryRun
        let blogID = self.blogID
        do {
            let outcomes = try await pool.withConnection { connection in
                var sites = try configuration.discoverSites(on: connection)
                if let blogID {
                    sites = sites.filter { $0.blogID == blogID && configuration.isFirstInstall($0) }
                    guard !sites.isEmpty else {
                        throw SchemaMigrationError(description: "there is no blog \(blogID) in this WordPress database")
                    }
                }
                return try sites.map { try SchemaMigrator.migrate($0, on: connection, dryRun: dryRun, logger: logger) }
            }
            for outcome in outcomes {
                print(describe(outcome, dryRun: dryRun))
            }
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            printError("cloudchatd migrate: \(error)")
            throw ExitStatus.failure
        }
    }

    private func describe(_ outcome: MigrationOutcome, dryRun: Bool) -> String {
        if outcome.migrations.isEmpty {
            return "\(outcome.site): schema version \(outcome.fromVersion) is current"
        }
        let list = outcome.migrations.map(String.init).joined(separator: ", ")
        if dryRun {
            return "\(outcome.site): schema version \(outcome.fromVersion); would apply \(list)"
        }
        return "\(outcome.site): schema version \(outcome.fromVersion) → \(outcome.toVersion) (applied \(list))"
    }
}

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the setup and explain how to fix what is wrong.",
        discussion: """
            Checks that the configuration can be read (and shows where each setting came \
            from), that the database is reachable, that the server is MariaDB 10.6+ or \
            MySQL 8.0+, that the user has the privileges CloudChat needs, which WordPress \
            sites there are, and that CloudChat's schema is current for each. Exits 1 if \
            any check failed; warnings alone exit 0.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        // Doctor reports configuration errors as findings, so it loads them itself.
        CloudChatLogging.bootstrap(format: .text, level: .warning)
        let findings = await CloudChatDaemon.Doctor.run(loading: options.loader, logger: Logger(label: "cloudchatd.doctor"))
        for finding in findings {
            let mark = switch finding.outcome {
            case .ok: "ok  "
            case .warning: "warn"
            case .failed: "FAIL"
            }
            let lines = finding.detail.split(separator: "\n", omittingEmptySubsequences: false)
            print("[\(mark)] \(finding.check): \(lines.first ?? "")")
            for line in lines.dropFirst() { print("       \(line)") }
            if let fix = finding.fix { print("       fix: \(fix)") }
        }
        let failed = findings.filter { $0.outcome == .failed }.count
        let warned = findings.filter { $0.outcome == .warning }.count
        print(failed == 0 ? "\nAll checks passed\(warned > 0 ? " (\(warned) warning(s))" : "")." : "\n\(failed) check(s) failed.")
        if failed > 0 { throw ExitStatus.failure }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the versions of cloudchatd, its schema and the libraries it runs with."
    )

    func run() {
        print("cloudchatd \(CloudChatVersion.current)")
        print("schema version \(SchemaMigrator.latestVersion)")
        print("libmariadb \(MariaDBConnection.clientLibraryVersion)")
        print(CurlRuntime.current().description)
    }
}
