import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Sending
import WhatsAppCloudAPI
import WordPressStore

struct SecretsKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets-key",
        abstract: "Create the key file that encrypts access tokens and app secrets.",
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key file with one random 256-bit key, readable by its owner only.",
            discussion: """
                cloudchatd encrypts every access token and app secret it stores (AES-256-GCM) \
                with this key; the database never holds them in plain text. Keep the file \
                owned by cloudchatd's user, and back it up with the database: without it, \
                stored credentials must be entered again. An existing file is never \
                overwritten.
                """
        )

        @Option(name: .long, help: ArgumentHelp("Where to write it (default: the secrets_key_file setting's default).", valueName: "path"))
        var file = DaemonConfiguration().secretsKeyFile

        func run() throws {
            let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else {
                let reason = errno == EEXIST ? "it already exists (an existing key file is never replaced)" : String(cString: strerror(errno))
                printError("cloudchatd secrets-key generate: cannot create \(file): \(reason)")
                throw ExitStatus.failure
            }
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            handle.write(Data(SecretsKeyring.newFileText().utf8))
            try handle.synchronize()
            print("wrote a new secrets key to \(file) (mode 600); set secrets_key_file = \(file) if that is not the default")
        }
    }
}

struct Credentials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a business number's Graph API credentials, encrypted.",
        subcommands: [Set.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a business number to a site, or replace its access token and app secret.",
            discussion: """
                The token is read from a file (or standard input with -), never from the \
                command line, where other users could see it. It is checked with Meta \
                (graph_base_url) unless --no-verify is given, then stored encrypted with the \
                secrets key. A running daemon picks the number up within 30 seconds; the \
                WordPress plugin does the same through the control API at once.
                """
        )

        @OptionGroup var options: ConfigurationOptions

        @Option(name: .customLong("blog-id"), help: ArgumentHelp("The site (blog) that owns the number.", valueName: "id"))
        var blogID: Int = 1

        @Option(name: .customLong("phone-number-id"), help: ArgumentHelp("Meta's phone number id (WhatsApp Manager → API setup).", valueName: "id"))
        var phoneNumberID: String

        @Option(name: .customLong("waba-id"), help: ArgumentHelp("The WhatsApp Business Account id.", valueName: "id"))
        var wabaID: String

        @Option(name: .customLong("token-file"), help: ArgumentHelp("File holding the access token, or - for standard input.", valueName: "path"))
        var tokenFile: String

        @Option(name: .customLong("app-secret-file"), help: ArgumentHelp("File holding the Meta app secret.", valueName: "path"))
        var appSecretFile: String?

        @Option(name: .customLong("send-rate"), help: ArgumentHelp("Messages per second for this number (default 80, Meta's standard).", valueName: "n"))
        var sendRate: Int?

        @Option(name: .long, help: ArgumentHelp("A name for the number in wp-admin.", valueName: "text"))
        var label: String?

        @Flag(name: .customLong("no-verify"), help: "Store without asking Meta about the number first.")
        var noVerify = false

        func run() async throws {
            let configuration = try options.load()
            let token = try readSecret(tokenFile, what: "access token")
            let appSecret = try appSecretFile.map { try readSecret($0, what: "app secret") }
            let request = CredentialsSetup.Request(phoneNumberID: phoneNumberID, wabaID: wabaID, accessToken: token, appSecret: appSecret,
                                                   label: label, sendRate: sendRate, verify: !noVerify)
            let blogID = self.blogID
            try await withSendingContext(configuration, command: "credentials set") { context in
                guard let site = context.sites.first(where: { $0.blogID == blogID && configuration.isFirstInstall($0) }) else {
                    throw CommandError("there is no blog \(blogID) in this WordPress database")
                }
                let setup = CredentialsSetup(sites: context.sites, pool: context.pool, vault: context.vault, http: context.http,
                                             sending: configuration.sending)
                let stored = try await setup.store(request, site: site).get()
                try await context.pool.withConnection { connection in
                    try OperatorAudit.record("account.credentials_updated", objectType: "account", objectID: stored.accountID,
                                             accountID: stored.accountID, site: site, on: connection)
                }
                print("stored credentials for account \(stored.accountID) of \(site)"
                      + (stored.verifiedName.map { " (Meta knows it as \"\($0)\")" } ?? ""))
            }
        }

        private func readSecret(_ path: String, what: String) throws -> String {
            let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: path)
            guard let data, let line = String(data: data, encoding: .utf8)?.split(whereSeparator: \.isNewline).first else {
                printError("cloudchatd credentials set: cannot read the \(what) from \(path)")
                throw ExitStatus.failure
            }
            return line.trimmingCharacters(in: .whitespaces)
        }
    }
}

struct Templates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with the message templates synced from Meta.",
        subcommands: [Sync.self]
    )

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sync every WhatsApp Business Account's templates from Meta now.",
            discussion: """
                A running daemon syncs at start and every template_sync_interval seconds, and \
                template webhooks keep the list current between syncs. Run this after \
                creating or editing templates in WhatsApp Manager to see them at once.
                """
        )

        @OptionGroup var options: ConfigurationOptions

        @Option(name: .customLong("blog-id"), help: ArgumentHelp("Only this blog of a multisite network.", valueName: "id"))
        var blogID: Int?

        func run() async throws {
            let configuration = try options.load()
            let blogID = self.blogID
            try await withSendingContext(configuration, command: "templates sync") { context in
                let sites = blogID.map { id in context.sites.filter { $0.blogID == id && configuration.isFirstInstall($0) } } ?? context.sites
                let service = TemplateSyncService(sites: sites, pool: context.pool, http: context.http, vault: context.vault,
                                                  configuration: configuration.sending, interval: .seconds(3600), instanceID: "cli:\(getpid())",
                                                  logger: Logger(label: "cloudchatd.templates"))
                for site in sites {
                    let results = try await service.syncSite(site)
                    if results.isEmpty { print("\(site): no active number with credentials, or another daemon is syncing") }
                    for (waba, result) in results { print("\(site) WABA \(waba): \(result)") }
                }
            }
        }
    }
}

/// What the sending commands work with: the sites, a pool, the decrypted credentials and a Graph client.
struct SendingContext {
    let sites: [WordPressSite]
    let pool: MariaDBPool
    let vault: CredentialVault
    let http: GraphHTTPClient
}

/// Opens the key file, the database and the Graph client for a command, runs it, and closes them;
/// a failure is printed as `cloudchatd <command>: <reason>` and exits 1.
func withSendingContext(_ configuration: DaemonConfiguration, command: String, _ body: (SendingContext) async throws -> Void) async throws {
    let keyring: SecretsKeyring
    do {
        keyring = try SecretsKeyring(contentsOf: configuration.secretsKeyFile)
    } catch {
        printError("cloudchatd \(command): \(error)")
        throw ExitStatus.failure
    }
    let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: Logger(label: "cloudchatd"))
    let http = GraphHTTPClient()
    defer { http.shutdown() }
    do {
        let sites = try await pool.withConnection {
            try configuration.discoverSites(on: $0)
        }
        try await body(SendingContext(sites: sites, pool: pool, vault: CredentialVault(keyring: keyring), http: http))
        await pool.shutdown()
    } catch {
        await pool.shutdown()
        printError("cloudchatd \(command): \(error)")
        throw ExitStatus.failure
    }
}

/// A command's own failure, said in words.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
