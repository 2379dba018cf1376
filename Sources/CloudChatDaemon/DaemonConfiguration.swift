import Foundation
import Logging
import MediaDownload
import WebhookIngest
import WordPressStore

/// Everything `cloudchatd` is configured with, after every source was read.
///
/// Sources, later ones winning: built-in defaults, the site's `wp-config.php`,
/// the config file, environment variables, then command-line flags. Every key
/// is listed in ``ConfigurationKey`` and in the README.
public struct DaemonConfiguration: Sendable {
    /// The WordPress root (the directory holding `wp-config.php` or below it).
    public var wordpressPath: String?
    /// The `wp-config.php` read, if any.
    public var wpConfigPath: String?
    /// Database host in any WordPress `DB_HOST` form; `localhost` means a unix socket.
    public var databaseHost = "localhost"
    /// TCP port, when not the default 3306.
    public var databasePort: Int?
    /// Unix socket path, when not the client library's default.
    public var databaseSocket: String?
    /// Database name.
    public var databaseName = "wordpress"
    /// Database user.
    public var databaseUser = "wordpress"
    /// Database password (never logged or printed).
    public var databasePassword = ""
    /// `DB_CHARSET` as WordPress has it; CloudChat always talks utf8mb4 and warns otherwise.
    public var databaseCharset = "utf8mb4"
    /// The WordPress table prefix (`$table_prefix`).
    public var tablePrefix = "wp_"
    /// Whether the site is a multisite network; `nil` means detect it.
    public var multisite: Bool?
    /// The most database connections the daemon opens.
    public var databasePoolSize = 8
    /// Log verbosity.
    public var logLevel: Logger.Level = .info
    /// How log records are written to standard error: logfmt, JSON or text, one line each.
    public var logFormat: LogFormat = .logfmt
    /// Where the HTTP listener (webhooks, health) binds: a host and a port.
    public var httpHost = "127.0.0.1"
    /// The HTTP listener's port (0 picks a free one).
    public var httpPort = 8787
    /// Seconds a client connection may stay idle (or stalled mid-request) before it is closed.
    public var httpIdleTimeoutSeconds = 30
    /// The token Meta's verification handshake must present (never logged).
    public var webhookVerifyToken: String?
    /// The Meta app secrets webhooks may be signed with (never logged).
    public var webhookAppSecrets: [String] = []
    /// The largest webhook body accepted; Meta sends at most 3 MB.
    public var webhookMaxBodyBytes = 4 * 1024 * 1024
    /// Seconds a webhook commit may take before the batch goes to the spool instead.
    public var webhookCommitTimeoutSeconds = 10
    /// Where accepted webhooks wait, fsynced, while the database is unavailable.
    public var spoolDirectory = "/var/lib/cloudchat/spool"
    /// The blog id of the site that keeps webhooks no site claims; nil means the first site served.
    public var homeBlogID: Int?
    /// Where the control API (the bridge's signed calls) binds; loopback only.
    public var controlHost = "127.0.0.1"
    /// The control API's port (0 picks a free one).
    public var controlPort = 8789
    /// The secret shared with the bridge that signs control calls (never logged).
    public var controlSecret: String?
    /// The key file that encrypts access tokens and app secrets at rest.
    public var secretsKeyFile = "/etc/cloudchat/secrets.key"
    /// The Graph API's base URL: Meta's, or the simulator's on loopback.
    public var graphBaseURL = "https://graph.facebook.com"
    /// The Graph API version in request paths.
    public var graphAPIVersion = "v23.0"
    /// Seconds a send without an answer waits for status webhooks before it is tried again.
    public var sendReconcileGraceSeconds = 600
    /// Seconds between full template syncs.
    public var templateSyncIntervalSeconds = 3600
    /// Retention defaults from the configuration, days by key (`retention_messages_days`…; 0 keeps forever).
    /// A site's `cloudchat_retention` option wins over them; classes set nowhere keep the built-in defaults.
    public var retentionDays: [String: Int] = [:]
    /// WordPress's uploads directory: inbound media goes to `cloudchat/` in it (`sites/N/cloudchat/` for blog N).
    /// Nil means `wp-content/uploads` under the WordPress root.
    public var uploadsDirectory: String?
    /// The largest media file downloaded, in bytes.
    public var mediaMaxBytes: Int64 = 100 * 1024 * 1024
    /// Seconds a shutdown may take before the parts still running are cancelled.
    public var shutdownTimeoutSeconds = 10
    /// Texts that opt a contact out when they are the whole message (case and accents ignored).
    public var consentOptOutKeywords = ConsentKeywords.defaultOptOut
    /// Texts that opt a contact back in when they are the whole message.
    public var consentOptInKeywords = ConsentKeywords.defaultOptIn

    /// The uploads directory in force: the setting, or the WordPress root's, or a directory of the daemon's own.
    public var effectiveUploadsDirectory: String {
        if let uploadsDirectory { return uploadsDirectory }
        if let wordpressPath { return (wordpressPath.hasSuffix("/") ? String(wordpressPath.dropLast()) : wordpressPath) + "/wp-content/uploads" }
        if let wpConfigPath { return URL(fileURLWithPath: wpConfigPath).deletingLastPathComponent().path + "/wp-content/uploads" }
        return "/var/lib/cloudchat/uploads"
    }

    /// Further WordPress installs this daemon serves (`also_serve`), on the same database server.
    public var otherInstalls: [WordPressInstall] = []

    /// Every install served: the one named by `wordpress_path` (or `db_name` and `table_prefix`) first,
    /// then those of `also_serve`.
    public var installs: [WordPressInstall] {
        let primary = WordPressInstall(source: wpConfigPath ?? "db_name \(databaseName)", database: nil, tablePrefix: tablePrefix,
                                       multisite: multisite, uploadsDirectory: effectiveUploadsDirectory)
        return [primary] + otherInstalls
    }

    /// Where a site's inbound media is kept: `cloudchat/` in its install's uploads directory
    /// (`sites/N/cloudchat/` for blog N of a network).
    public func mediaDirectory(of site: WordPressSite) -> String {
        let install = otherInstalls.first { $0.database == site.database && $0.tablePrefix == site.installPrefix }
        return MediaStorage.defaultRoot(of: site, uploadsDirectory: install?.uploadsDirectory ?? effectiveUploadsDirectory)
    }

    /// Where each setting came from, by key, for `doctor`: "default", "wp-config.php:12", "/etc/cloudchat/cloudchatd.conf:4", "environment", "command line".
    public var origins: [ConfigurationKey: String] = [:]

    /// Creates the defaults.
    public init() {}
}

/// A WordPress install the daemon serves: its database (nil for the daemon's own), `$table_prefix`,
/// whether it is a network, and its uploads directory.
public struct WordPressInstall: Sendable, Equatable {
    /// The wp-config.php it was read from, or the setting that describes it, for messages.
    public var source: String
    /// Its database, when not the one the daemon connects to (`db_name`).
    public var database: String?
    /// Its `$table_prefix`.
    public var tablePrefix: String
    /// `MULTISITE` as its wp-config.php has it; nil means detect.
    public var multisite: Bool?
    /// Its WordPress uploads directory.
    public var uploadsDirectory: String

    /// Creates an install.
    public init(source: String, database: String?, tablePrefix: String, multisite: Bool?, uploadsDirectory: String) {
        self.source = source
        self.database = database
        self.tablePrefix = tablePrefix
        self.multisite = multisite
        self.uploadsDirectory = uploadsDirectory
    }
}

/// Every configuration key, with its config-file name and environment variable.
public enum ConfigurationKey: String, CaseIterable, Sendable, Comparable {
    case wordpressPath = "wordpress_path"
    case wpConfig = "wp_config"
    case databaseHost = "db_host"
    case databasePort = "db_port"
    case databaseSocket = "db_socket"
    case databaseName = "db_name"
    case databaseUser = "db_user"
    case databasePassword = "db_password"
    case databasePasswordFile = "db_password_file"
    case databaseCharset = "db_charset"
    case tablePrefix = "table_prefix"
    case multisite = "multisite"
    case alsoServe = "also_serve"
    case databasePoolSize = "db_pool_size"
    case logLevel = "log_level"
    case logFormat = "log_format"
    case httpListen = "http_listen"
    case httpIdleTimeout = "http_idle_timeout"
    case webhookVerifyToken = "webhook_verify_token"
    case webhookVerifyTokenFile = "webhook_verify_token_file"
    case webhookAppSecret = "webhook_app_secret"
    case webhookAppSecretFile = "webhook_app_secret_file"
    case webhookMaxBodyBytes = "webhook_max_body_bytes"
    case spoolDirectory = "spool_dir"
    case webhookCommitTimeout = "webhook_commit_timeout"
    case homeBlogID = "home_blog_id"
    case controlListen = "control_listen"
    case controlSecret = "control_secret"
    case controlSecretFile = "control_secret_file"
    case secretsKeyFile = "secrets_key_file"
    case graphBaseURL = "graph_base_url"
    case graphAPIVersion = "graph_api_version"
    case sendReconcileGrace = "send_reconcile_grace"
    case templateSyncInterval = "template_sync_interval"
    case retentionWebhookEventsDays = "retention_webhook_events_days"
    case retentionMessagesDays = "retention_messages_days"
    case retentionStatusEventsDays = "retention_status_events_days"
    case retentionOutboxDays = "retention_outbox_days"
    case retentionCampaignRecipientsDays = "retention_campaign_recipients_days"
    case retentionAuditLogDays = "retention_audit_log_days"
    case uploadsDirectory = "uploads_dir"
    case mediaMaxBytes = "media_max_bytes"
    case shutdownTimeout = "shutdown_timeout"
    case consentOptOutKeywords = "consent_opt_out_keywords"
    case consentOptInKeywords = "consent_opt_in_keywords"

    /// The environment variable, e.g. `CLOUDCHAT_DB_HOST`.
    public var environmentVariable: String { "CLOUDCHAT_" + rawValue.uppercased() }

    /// One line on what the key does, for `--help`-style listings and errors.
    public var summary: String {
        switch self {
        case .wordpressPath: "WordPress root directory; its wp-config.php supplies the database settings"
        case .wpConfig: "path of wp-config.php itself, when it is not in the WordPress root (e.g. Debian's /etc/wordpress/config-*.php)"
        case .databaseHost: "database host, in any DB_HOST form: host, host:port, host:/socket, :/socket, [::1]:3306"
        case .databasePort: "database TCP port (default 3306)"
        case .databaseSocket: "database unix socket path"
        case .databaseName: "database name"
        case .databaseUser: "database user"
        case .databasePassword: "database password"
        case .databasePasswordFile: "file holding the database password (first line)"
        case .databaseCharset: "DB_CHARSET; CloudChat always uses utf8mb4"
        case .tablePrefix: "WordPress table prefix (letters, digits, _)"
        case .multisite: "yes, no or auto (default: detect from MULTISITE)"
        case .alsoServe: "more WordPress installs to serve, on the same database server: their roots (or wp-config.php files), separated by commas"
        case .databasePoolSize: "most database connections at once (1-64, default 8)"
        case .logLevel: "trace, debug, info, notice, warning, error or critical (default info)"
        case .logFormat: "how log lines are written to standard error: logfmt, json or text (default logfmt)"
        case .httpListen: "address of the webhook and health listener, host:port or [v6]:port (default 127.0.0.1:8787)"
        case .httpIdleTimeout: "seconds before an idle or stalled client connection is closed (default 30)"
        case .webhookVerifyToken: "the Verify Token entered in Meta's webhook settings"
        case .webhookVerifyTokenFile: "file holding the Verify Token (first line)"
        case .webhookAppSecret: "the Meta app secret(s) webhooks are signed with; several separated by commas"
        case .webhookAppSecretFile: "file holding the app secret(s), one per line"
        case .webhookMaxBodyBytes: "largest webhook body accepted, in bytes (default 4194304; Meta sends at most 3 MB)"
        case .spoolDirectory: "directory where webhooks wait, fsynced, while the database is down (default /var/lib/cloudchat/spool)"
        case .webhookCommitTimeout: "seconds a webhook commit may take before the batch goes to the spool instead (default 10)"
        case .homeBlogID: "on a multisite network, the blog id of the site that keeps webhooks for numbers no site has yet (default: the first site)"
        case .controlListen: "address of the control API for the WordPress plugin, loopback only (default 127.0.0.1:8789)"
        case .controlSecret: "the secret shared with the WordPress plugin that signs control API calls"
        case .controlSecretFile: "file holding the control secret (first line)"
        case .secretsKeyFile: "key file that encrypts access tokens and app secrets (default /etc/cloudchat/secrets.key)"
        case .graphBaseURL: "Graph API base URL (default https://graph.facebook.com; the simulator's for tests and the demo)"
        case .graphAPIVersion: "Graph API version used in requests (default v23.0)"
        case .sendReconcileGrace: "seconds a send without an answer waits for Meta's status webhooks before it is retried (default 600)"
        case .templateSyncInterval: "seconds between full template syncs (default 3600)"
        case .retentionWebhookEventsDays, .retentionMessagesDays, .retentionStatusEventsDays, .retentionOutboxDays,
             .retentionCampaignRecipientsDays, .retentionAuditLogDays: retentionSummary
        case .uploadsDirectory: "WordPress's uploads directory; media is stored in cloudchat/ there (default: wp-content/uploads of the WordPress root)"
        case .mediaMaxBytes: "largest media file downloaded, in bytes (default 104857600, Meta's largest document)"
        case .shutdownTimeout: "seconds a shutdown (SIGTERM) may take before what still runs is cancelled (default 10)"
        case .consentOptOutKeywords: "comma-separated texts that opt a contact out when they are the whole message, case and accents ignored (default STOP, UNSUBSCRIBE, BAJA, PARAR, ARRET, STOPP, ANNULLA…; empty for none)"
        case .consentOptInKeywords: "comma-separated texts that opt a contact back in when they are the whole message (default START, UNSTOP, SUBSCRIBE, ALTA, INICIAR…; empty for none)"
        }
    }

    public static func < (lhs: ConfigurationKey, rhs: ConfigurationKey) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A configuration problem: which source, which line, what to do. Never holds a secret value.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The complete message.
    public let description: String

    /// Creates an error with a message.
    public init(_ description: String) {
        self.description = description
    }
}
