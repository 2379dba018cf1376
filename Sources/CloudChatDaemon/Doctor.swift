import Foundation
import Logging
import MariaDB
import Sending
import WhatsAppCloudAPI
import WebhookIngest
import WordPressStore

/// One finding of `cloudchatd doctor`.
public struct DoctorFinding: Sendable, Equatable {
    /// How serious.
    public enum Outcome: String, Sendable, Equatable {
        case ok, warning, failed
    }

    /// Short name of what was checked.
    public let check: String
    /// The outcome.
    public let outcome: Outcome
    /// What was found, in plain words.
    public let detail: String
    /// What to do about it, when something is wrong.
    public let fix: String?

    /// Creates a finding.
    public init(_ check: String, _ outcome: Outcome, _ detail: String, fix: String? = nil) {
        self.check = check
        self.outcome = outcome
        self.detail = detail
        self.fix = fix
    }
}

/// The checks behind `cloudchatd doctor`: configuration, database, server, privileges, sites, schema.
public enum Doctor {
    /// Privileges the daemon needs on the WordPress database: to run, and to migrate.
    public static let requiredPrivileges = ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "DROP"]

    /// Runs every check that the configuration allows and returns the findings in order.
    /// Stops early only when a later check cannot run (no configuration, no connection).
    public static func run(loading loader: ConfigurationLoader, logger: Logger) async -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        let configuration: DaemonConfiguration
        do {
            configuration = try loader.load()
        } catch {
            findings.append(.init("configuration", .failed, error.description,
                                  fix: "correct the setting named above; `cloudchatd --help` and the README list every key"))
            return findings
        }
        findings.append(.init("configuration", .ok, describeSources(configuration)))
        findings.append(contentsOf: libraryFindings())
        if configuration.databaseCharset.lowercased() != "utf8mb4" {
            findings.append(.init("character set", .warning,
                                  "DB_CHARSET is '\(configuration.databaseCharset)'; CloudChat stores and talks utf8mb4 regardless, so emoji in names and messages survive",
                                  fix: "set DB_CHARSET to utf8mb4 in wp-config.php so WordPress does the same"))
        }

        findings.append(webhookFinding(configuration))
        findings.append(spoolFinding(configuration))

        let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: logger)
        do {
            let databaseFindings = try await pool.withConnection { connection in
                try databaseChecks(connection, configuration: configuration)
            }
            findings.append(contentsOf: databaseFindings)
            if !databaseFindings.contains(where: { $0.outcome == .failed }) {
                findings.append(contentsOf: await sendingFindings(configuration, pool: pool))
            }
        } catch let error as MariaDBError where error.kind == .connectionFailed {
            findings.append(.init("database connection", .failed, "\(configuration.mariaDB): \(error)",
                                  fix: connectionFix(for: error, configuration: configuration)))
        } catch {
            findings.append(.init("database", .failed, "\(error)"))
        }
        await pool.shutdown()
        return findings
    }

    /// The control secret, the secrets key file, and each business number's token, checked with the Graph API.
    static func sendingFindings(_ configuration: DaemonConfiguration, pool: MariaDBPool) async -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        if configuration.controlSecret == nil {
            findings.append(.init("control API", .warning, "no control_secret: the WordPress plugin cannot notify cloudchatd or hand it credentials",
                                  fix: "set control_secret (or control_secret_file) to a long random string, and the same in wp-admin"))
        } else {
            findings.append(.init("control API", .ok, "\(configuration.controlHost):\(configuration.controlPort), secret set"))
        }
        let keyring: SecretsKeyring
        do {
            guard FileManager.default.fileExists(atPath: configuration.secretsKeyFile) else {
                findings.append(.init("secrets key", .warning, "no key file at \(configuration.secretsKeyFile): access tokens cannot be stored, so nothing is sent",
                                      fix: "cloudchatd secrets-key generate --file \(configuration.secretsKeyFile)"))
                return findings
            }
            keyring = try SecretsKeyring(contentsOf: configuration.secretsKeyFile)
            findings.append(.init("secrets key", .ok, "\(configuration.secretsKeyFile), current key \(keyring.current.id)"))
        } catch {
            findings.append(.init("secrets key", .failed, "\(error)"))
            return findings
        }
        let vault = CredentialVault(keyring: keyring)
        let http = GraphHTTPClient()
        defer { http.shutdown() }
        do {
            let sites = try await pool.withConnection {
                try configuration.discoverSites(on: $0)
            }
            for site in sites {
                let accounts = try await pool.withConnection { try SendingAccount.load(site: site, on: $0) }
                for account in accounts where account.state != "disabled" {
                    let check = "token of number \(account.phoneNumberID) (\(site))"
                    let client: GraphClient?
                    do {
                        client = try await vault.graphClient(site: site, accountID: account.id, pool: pool, http: http,
                                                             configuration: configuration.sending)
                    } catch {
                        findings.append(.init(check, .failed, "\(error)"))
                        continue
                    }
                    guard let client else {
                        findings.append(.init(check, .warning, "no access token stored; nothing is sent from this number",
                                              fix: "enter the credentials in wp-admin, or run `cloudchatd credentials set`"))
                        continue
                    }
                    do {
                        let info = try await client.phoneNumber(account.phoneNumberID)
                        var detail = "accepted by \(configuration.graphBaseURL)"
                        if let name = info.verifiedName { detail += ": \"\(name)\"" }
                        if let quality = info.qualityRating { detail += ", quality \(quality)" }
                        if let tier = info.messagingLimit { detail += ", limit \(tier)" }
                        if account.state == "halted" { detail += "; the number is halted, and sending resumes once credentials are stored again" }
                        findings.append(.init(check, account.state == "halted" ? .warning : .ok, detail))
                    } catch let error as GraphAPIError {
                        findings.append(.init(check, .failed, "Meta refused it: \(error)",
                                              fix: "create a new system-user token with whatsapp_business_messaging and store it (wp-admin or `cloudchatd credentials set`)"))
                    } catch {
                        findings.append(.init(check, .failed, "could not reach \(configuration.graphBaseURL): \(error)",
                                              fix: "check that this machine can reach graph.facebook.com over HTTPS (proxy, firewall, DNS)"))
                    }
                }
            }
        } catch {
            findings.append(.init("business numbers", .failed, "\(error)"))
        }
        return findings
    }

    private static func describeSources(_ configuration: DaemonConfiguration) -> String {
        var lines: [String] = []
        let shown: [(ConfigurationKey, String)] = [
            (.databaseHost, configuration.databaseHost),
            (.databasePort, configuration.databasePort.map(String.init) ?? "(default 3306)"),
            (.databaseSocket, configuration.databaseSocket ?? "(client default)"),
            (.databaseName, configuration.databaseName),
            (.databaseUser, configuration.databaseUser),
            (.databasePassword, configuration.databasePassword.isEmpty ? "(empty)" : "(set)"),
            (.tablePrefix, configuration.tablePrefix),
            (.multisite, configuration.multisite.map { $0 ? "yes" : "no" } ?? "auto"),
            (.logLevel, configuration.logLevel.rawValue),
            (.logFormat, configuration.logFormat.rawValue),
        ]
        if let path = configuration.wpConfigPath { lines.append("read \(path)") }
        for (key, value) in shown {
            lines.append("\(key.rawValue) = \(value)  [\(configuration.origins[key] ?? "default")]")
        }
        return lines.joined(separator: "\n")
    }

    private static func libraryFindings() -> [DoctorFinding] {
        var findings = [DoctorFinding("libmariadb", .ok, "client library \(MariaDBConnection.clientLibraryVersion)")]
        let curl = CurlRuntime.current()
        if !curl.supportsHTTPS {
            findings.append(.init("libcurl", .failed, "\(curl): no HTTPS, so Meta's Graph API cannot be reached",
                                  fix: "install Debian's libcurl4-openssl-dev / libcurl4 (built with OpenSSL)"))
        } else if !curl.supportsHTTP2 {
            findings.append(.init("libcurl", .warning, "\(curl): no HTTP/2; sending works but uses more connections",
                                  fix: "install a libcurl built with nghttp2 (Debian's libcurl4 is)"))
        } else {
            findings.append(.init("libcurl", .ok, curl.description))
        }
        return findings
    }

    private static func webhookFinding(_ configuration: DaemonConfiguration) -> DoctorFinding {
        let listen = "listening on \(configuration.httpHost):\(configuration.httpPort)"
        var missing: [String] = []
        if configuration.webhookVerifyToken == nil { missing.append("webhook_verify_token (Meta's verification handshake is refused)") }
        if configuration.webhookAppSecrets.isEmpty {
            missing.append("webhook_app_secret (webhooks are then checked only with the app secrets stored with the numbers in wp-admin, "
                           + "and answered 503 while there is none; Meta retries them)")
        }
        if missing.isEmpty {
            let secrets = configuration.webhookAppSecrets.count
            return .init("webhooks", .ok, "\(listen); verify token set; \(secrets) app secret\(secrets == 1 ? "" : "s") configured")
        }
        return .init("webhooks", .warning, "\(listen); not set: " + missing.joined(separator: "; "),
                     fix: "copy the App Secret and your Verify Token from Meta's App Dashboard into the config file (or CLOUDCHAT_WEBHOOK_APP_SECRET / CLOUDCHAT_WEBHOOK_VERIFY_TOKEN)")
    }

    /// Looks at the spool directory without creating or changing anything.
    private static func spoolFinding(_ configuration: DaemonConfiguration) -> DoctorFinding {
        let directory = configuration.spoolDirectory
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, access(directory, W_OK | X_OK) == 0 else {
                return .init("webhook spool", .warning, "\(directory) is not a directory this user can write; while the database is down, webhooks will be answered 503",
                             fix: "make \(directory) a directory owned by cloudchatd's user, or set spool_dir")
            }
            let waiting = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".batch") }.count
            return .init("webhook spool", waiting > 0 ? .warning : .ok,
                         waiting > 0 ? "\(directory): \(waiting) batch(es) of webhooks wait to be drained into the database" : "\(directory), empty",
                         fix: waiting > 0 ? "start cloudchatd serve with the database reachable; it drains them in order" : nil)
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if access(parent, W_OK | X_OK) == 0 {
            return .init("webhook spool", .ok, "\(directory) does not exist yet; serve creates it")
        }
        return .init("webhook spool", .warning, "\(directory) does not exist and \(parent) is not writable by this user; while the database is down, webhooks will be answered 503",
                     fix: "create \(directory) owned by cloudchatd's user (mode 0700), or set spool_dir")
    }

    /// The packet one group commit of webhooks may need: a full batch, or one body at the cap.
    static func neededPacketBytes(_ configuration: DaemonConfiguration) -> Int {
        max(8 * 1024 * 1024, configuration.webhookMaxBodyBytes) + 1024 * 1024
    }

    private static func connectionFix(for error: MariaDBError, configuration: DaemonConfiguration) -> String {
        switch error.errorNumber {
        case 1045: return "check db_user and db_password (or DB_USER/DB_PASSWORD in wp-config.php); test with: mariadb -u \(configuration.databaseUser) -p \(configuration.databaseName)"
        case 1044, 1049: return "create the database or grant the user access: CREATE DATABASE `\(configuration.databaseName)`; GRANT ALL ON `\(configuration.databaseName)`.* TO '\(configuration.databaseUser)'@'localhost';"
        case 2002: return "start the database server, or point db_socket (or DB_HOST 'localhost:/path/to/mysqld.sock') at its socket"
        case 2003: return "start the database server, or check db_host/db_port; is it listening on TCP (bind-address, skip-networking)?"
        case 2005: return "check the spelling of db_host, and that this machine can resolve it"
        default: return "check the database settings listed above and that the server is running"
        }
    }

    /// Checks that need a connection. Runs on a connection thread.
    private static func databaseChecks(_ connection: MariaDBConnection, configuration: DaemonConfiguration) throws -> [DoctorFinding] {
        var findings = [DoctorFinding("database connection", .ok, "\(configuration.mariaDB) (connection \(connection.connectionID))")]

        if let version = MariaDBServerVersion(parsing: connection.serverVersion) {
            if version.supportsSkipLocked {
                findings.append(.init("server version", .ok, "\(version) supports SKIP LOCKED"))
            } else {
                findings.append(.init("server version", .failed, "\(version) lacks SELECT … FOR UPDATE SKIP LOCKED, which CloudChat's senders use to share work",
                                      fix: "upgrade to MariaDB 10.6 or newer (Debian 12 ships 10.11) or MySQL 8.0 or newer"))
            }
        } else {
            findings.append(.init("server version", .warning, "cannot read the server version '\(connection.serverVersion)'"))
        }

        findings.append(try privilegeFinding(connection, configuration: configuration))

        let packet = try connection.queryFirst("SELECT @@max_allowed_packet")?.decode(Int.self, at: 0) ?? 0
        let needed = neededPacketBytes(configuration)
        if packet < needed {
            findings.append(.init("max_allowed_packet", .failed,
                                  "the server's max_allowed_packet is \(packet / 1024) KiB; storing webhooks in groups needs \(needed / 1024) KiB",
                                  fix: "set max_allowed_packet = 16M (or more) in the server's configuration and restart it"))
        } else {
            findings.append(.init("max_allowed_packet", .ok, "\(packet / (1024 * 1024)) MiB"))
        }

        let sites: [WordPressSite]
        do {
            sites = try configuration.discoverSites(on: connection)
        } catch {
            findings.append(.init("sites", .failed, "\(error)"))
            return findings
        }
        let installs = configuration.installs.count
        let kind = installs > 1 ? "\(installs) WordPress installs, \(sites.count) site(s)"
            : sites.count == 1 && sites[0].domain == nil ? "single site" : "multisite network of \(sites.count) site(s)"
        findings.append(.init("sites", .ok, "\(kind): " + sites.map(\.description).joined(separator: "; ")))

        var current: [WordPressSite] = []
        for site in sites {
            let status = try SchemaMigrator.status(of: site, on: connection)
            if status.state == .current { current.append(site) }
            let name = "schema (\(site.key))"
            switch status.state {
            case .noWordPress:
                findings.append(.init(name, .failed, "no WordPress options table `\(site.optionsTable.name)` in database \(site.database ?? configuration.databaseName)",
                                      fix: "check table_prefix and db_name (or point --wordpress at the right site); install WordPress first if it is not"))
            case .notInstalled:
                findings.append(.init(name, .failed, "CloudChat's tables are not installed (this build's schema is version \(status.latestVersion))",
                                      fix: "run: cloudchatd migrate"))
            case .behind:
                findings.append(.init(name, .failed, "schema version \(status.installedVersion ?? 0) is behind this build's \(status.latestVersion)",
                                      fix: "run: cloudchatd migrate"))
            case .newer:
                findings.append(.init(name, .failed, "schema version \(status.installedVersion ?? 0) is newer than this build knows (\(status.latestVersion))",
                                      fix: "upgrade cloudchatd to the version that wrote this schema"))
            case .current:
                findings.append(.init(name, .ok, "version \(status.latestVersion), current"))
                findings.append(try unroutedFinding(site, on: connection))
            }
        }
        if current.count > 1 {
            let contested = try WebhookSiteRouter.loadOwners(of: current, on: connection).contested
            if contested.isEmpty {
                findings.append(.init("number owners", .ok, "no business number is an account of more than one site"))
            } else {
                let list = contested.sorted { $0.key < $1.key }.map { number, sites in
                    "phone_number_id \(number) (blogs " + sites.map { "\($0.blogID)" }.joined(separator: ", ") + ")"
                }
                findings.append(.init("number owners", .failed, "numbers that are accounts of several sites, so their webhooks go to none: " + list.joined(separator: "; "),
                                      fix: "remove each number from every site but the one that should receive its messages"))
            }
        }
        return findings
    }

    /// Webhook events for numbers or WABAs no account has: a number Meta sends for that was never added (or was disabled).
    private static func unroutedFinding(_ site: WordPressSite, on connection: MariaDBConnection) throws -> DoctorFinding {
        let name = "unrouted webhooks (\(site.key))"
        let groups = try UnroutedWebhookEvents.census(site: site, on: connection)
        guard !groups.isEmpty else { return .init(name, .ok, "none: every stored webhook names a number or WABA of an account") }
        let total = groups.reduce(0) { $0 + $1.count }
        let named = groups.prefix(5).map { group in
            let subject = group.phoneNumberID.map { "phone_number_id \($0)" } ?? group.wabaID.map { "WABA \($0)" } ?? "no number or WABA"
            return "\(subject): \(group.count)"
        }
        return .init(name, .warning,
                     "\(total) stored webhook event(s) name a number or WABA no account has (" + named.joined(separator: ", ")
                        + (groups.count > 5 ? ", …" : "") + ")",
                     fix: "add the phone number as an account of the site that should receive it; cloudchatd then processes these events (events for numbers that are not yours can be ignored)")
    }

    private static func privilegeFinding(_ connection: MariaDBConnection, configuration: DaemonConfiguration) throws -> DoctorFinding {
        // information_schema shows a user its own grants: global ones and those on
        // databases whose name (a LIKE pattern such as `wp\_%`) matches ours.
        let rows = try connection.query("""
            SELECT DISTINCT PRIVILEGE_TYPE FROM (
              SELECT PRIVILEGE_TYPE, GRANTEE FROM information_schema.USER_PRIVILEGES
              UNION ALL
              SELECT PRIVILEGE_TYPE, GRANTEE FROM information_schema.SCHEMA_PRIVILEGES WHERE DATABASE() LIKE TABLE_SCHEMA
            ) AS grants
            WHERE GRANTEE = CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'", SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'")
            """)
        let granted = Set(try rows.map { try $0.decode(String.self, at: 0).uppercased() })
        let missing = requiredPrivileges.filter { !granted.contains($0) }
        if missing.isEmpty {
            return .init("privileges", .ok, "the user has " + requiredPrivileges.joined(separator: ", "))
        }
        let user = try connection.queryFirst("SELECT CURRENT_USER()")?.decode(String.self, at: 0) ?? configuration.databaseUser
        let grantee = user.split(separator: "@", maxSplits: 1).map { "'\($0)'" }.joined(separator: "@")
        return .init("privileges", .failed, "the user \(user) lacks " + missing.joined(separator: ", ") + " on `\(configuration.databaseName)` (privileges given through a role are not seen by this check)",
                     fix: "as a database administrator: GRANT \(requiredPrivileges.joined(separator: ", ")) ON `\(configuration.databaseName)`.* TO \(grantee);")
    }
}
