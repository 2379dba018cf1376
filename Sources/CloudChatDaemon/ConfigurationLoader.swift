import Foundation
import Logging
import MariaDB
import Sending
import WebhookIngest
import WordPressStore

/// Reads ``DaemonConfiguration`` from its sources.
///
/// Later sources win: defaults, `wp-config.php`, the config file, the
/// environment (`CLOUDCHAT_*`, and a `db_password` systemd credential), then
/// command-line flags.
public struct ConfigurationLoader: Sendable {
    /// The config file read when none is named and it exists.
    public static let defaultConfigFile = "/etc/cloudchat/cloudchatd.conf"

    /// The process environment (or a test's).
    public var environment: [String: String]
    /// A config file named with `--config`; it must exist.
    public var configFile: String?
    /// Settings given as command-line flags.
    public var commandLine: [ConfigurationKey: String]
    /// The config file read when none is named; it may be absent.
    public var defaultConfigFile: String

    /// Creates a loader.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                configFile: String? = nil, commandLine: [ConfigurationKey: String] = [:],
                defaultConfigFile: String = ConfigurationLoader.defaultConfigFile) {
        self.environment = environment
        self.configFile = configFile
        self.commandLine = commandLine
        self.defaultConfigFile = defaultConfigFile
    }

    private struct Setting {
        var value: String
        var origin: String
    }

    /// Reads every source and returns the merged configuration.
    /// - Throws: ``ConfigurationError`` naming the file and line, or the variable, at fault.
    public func load() throws(ConfigurationError) -> DaemonConfiguration {
        let fileSettings = try readConfigFile()
        var environmentSettings: [ConfigurationKey: Setting] = [:]
        for key in ConfigurationKey.allCases {
            if let value = environment[key.environmentVariable] {
                environmentSettings[key] = Setting(value: value, origin: "environment variable \(key.environmentVariable)")
            }
        }
        // systemd credentials (LoadCredential=) stand beside the environment.
        if let credentials = environment["CREDENTIALS_DIRECTORY"] {
            let credentialFiles: [(name: String, value: ConfigurationKey, file: ConfigurationKey)] = [
                ("db_password", .databasePassword, .databasePasswordFile),
                ("webhook_app_secret", .webhookAppSecret, .webhookAppSecretFile),
                ("control_secret", .controlSecret, .controlSecretFile),
            ]
            for credential in credentialFiles where environmentSettings[credential.value] == nil && environmentSettings[credential.file] == nil {
                let path = credentials + "/" + credential.name
                if FileManager.default.fileExists(atPath: path) {
                    environmentSettings[credential.file] = Setting(value: path, origin: "systemd credential \(credential.name)")
                }
            }
            let keyPath = credentials + "/secrets_key"
            if environmentSettings[.secretsKeyFile] == nil, FileManager.default.fileExists(atPath: keyPath) {
                environmentSettings[.secretsKeyFile] = Setting(value: keyPath, origin: "systemd credential secrets_key")
            }
            let tokenPath = credentials + "/webhook_verify_token"
            if environmentSettings[.webhookVerifyToken] == nil, let token = Self.readFile(tokenPath) {
                environmentSettings[.webhookVerifyToken] = Setting(value: Self.firstLine(token), origin: "systemd credential webhook_verify_token")
            }
        }
        let commandLineSettings = commandLine.mapValues { Setting(value: $0, origin: "command line") }
        let layers = [fileSettings, environmentSettings, commandLineSettings]

        var configuration = DaemonConfiguration()
        for key in ConfigurationKey.allCases { configuration.origins[key] = "default" }

        // Which wp-config.php to read is itself a setting of the later sources.
        let explicitWPConfig = layers.reversed().lazy.compactMap { $0[.wpConfig] }.first
        let wordpressPath = layers.reversed().lazy.compactMap { $0[.wordpressPath] }.first
        var unevaluated: [ConfigurationKey: WordPressConfigError] = [:]
        if explicitWPConfig != nil || wordpressPath != nil {
            let path: String
            let wpConfig: WordPressConfigFile
            do {
                if let explicitWPConfig {
                    path = explicitWPConfig.value
                } else {
                    path = try WordPressConfigFile.locate(wordpressRoot: wordpressPath!.value)
                }
                wpConfig = try WordPressConfigFile.load(path: path, environment: environment)
            } catch {
                throw ConfigurationError(error.description)
            }
            unevaluated = try apply(wpConfig, to: &configuration)
            configuration.wordpressPath = wordpressPath?.value
            configuration.wpConfigPath = path
        }

        for (index, layer) in layers.enumerated() {
            let laterLayers = layers[(index + 1)...]
            for key in ConfigurationKey.allCases {
                guard let setting = layer[key] else { continue }
                // A later source replaces this one, so it is not even read: a secret file the
                // config names for root's commands stays unopened when systemd hands the service its credential.
                let replacedBy = [key] + (Self.alternatives[key] ?? [])
                if laterLayers.contains(where: { later in replacedBy.contains { later[$0] != nil } }) { continue }
                try apply(key, setting.value, origin: setting.origin, to: &configuration)
                unevaluated[key] = nil
            }
        }
        // A wp-config.php value we could not evaluate is only a problem if nothing else set it.
        if let (_, problem) = unevaluated.min(by: { $0.key < $1.key }) {
            throw ConfigurationError(problem.description)
        }
        // The other installs are read last: each is checked against the database settings in force.
        if let alsoServe = layers.reversed().lazy.compactMap({ $0[.alsoServe] }).first {
            configuration.otherInstalls = try otherInstalls(alsoServe.value, origin: alsoServe.origin, besides: configuration)
        }
        return configuration
    }

    /// Reads the installs `also_serve` names: each entry a WordPress root or a wp-config.php, on the
    /// database server the daemon connects to, in its own database or beside the first install's tables.
    private func otherInstalls(_ list: String, origin: String, besides configuration: DaemonConfiguration) throws(ConfigurationError) -> [WordPressInstall] {
        var installs: [WordPressInstall] = []
        var seen: Set<String> = ["\(configuration.databaseName)/\(configuration.tablePrefix)"]
        let ownServer = Self.server(host: configuration.databaseHost, port: configuration.databasePort, socket: configuration.databaseSocket)
        for entry in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            func problem(_ why: String) -> ConfigurationError {
                ConfigurationError("\(origin): also_serve entry \(entry) \(why)")
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: entry, isDirectory: &isDirectory) else {
                throw problem("does not exist; give the install's WordPress root (or its wp-config.php)")
            }
            let wpConfig: WordPressConfigFile
            let databaseName: String, prefix: String, host: WordPressDatabaseHost
            do {
                let path = isDirectory.boolValue ? try WordPressConfigFile.locate(wordpressRoot: entry) : entry
                wpConfig = try WordPressConfigFile.load(path: path, environment: environment)
                databaseName = try wpConfig.requiredString("DB_NAME")
                prefix = try wpConfig.requiredString(WordPressConfigFile.tablePrefixKey)
                host = try wpConfig.databaseHost()
            } catch {
                throw problem("cannot be read: \(error.description)")
            }
            guard SQLIdentifier.isValid(prefix), !prefix.contains("$") else {
                throw problem("has $table_prefix '\(prefix.prefix(40))'; CloudChat needs letters, digits and _ only")
            }
            guard SQLIdentifier.isValidDatabaseName(databaseName) else {
                throw problem("has DB_NAME '\(databaseName.prefix(70))'; CloudChat can use database names of letters, digits, _, $ and - only")
            }
            let server = Self.server(host: host.host.isEmpty ? "localhost" : host.host, port: host.port, socket: host.socket)
            guard server == ownServer else {
                throw problem("""
                    keeps its database on \(server), not on \(ownServer) where cloudchatd connects; one cloudchatd serves the \
                    installs of one database server, so run another cloudchatd for it (or, if it is the same server, write DB_HOST \
                    the same way in both wp-config.php files)
                    """)
            }
            guard seen.insert("\(databaseName)/\(prefix)").inserted else { continue }  // listed twice, or the first install again
            let root = isDirectory.boolValue ? entry : (wpConfig.path as NSString).deletingLastPathComponent
            let content = wpConfig.string("WP_CONTENT_DIR") ?? (root.hasSuffix("/") ? root + "wp-content" : root + "/wp-content")
            installs.append(WordPressInstall(
                source: wpConfig.path, database: databaseName == configuration.databaseName ? nil : databaseName, tablePrefix: prefix,
                multisite: wpConfig.isMultisite, uploadsDirectory: content + "/uploads"))
        }
        return installs
    }

    /// A database server as `host:port` or `socket path`, for comparing two installs' DB_HOST.
    private static func server(host: String, port: Int?, socket: String?) -> String {
        if let socket { return "socket \(socket)" }
        if host == "localhost" { return "the default local socket" }
        return "\(host):\(port ?? 3306)"
    }

    /// Takes the database settings from wp-config.php; returns the keys whose value could not be evaluated.
    private func apply(_ wpConfig: WordPressConfigFile, to configuration: inout DaemonConfiguration) throws(ConfigurationError) -> [ConfigurationKey: WordPressConfigError] {
        let name = (wpConfig.path as NSString).lastPathComponent
        let origin = { (constant: String) in "\(name):\(wpConfig.lines[constant] ?? 0)" }
        let mapping: [(String, ConfigurationKey)] = [
            ("DB_NAME", .databaseName), ("DB_USER", .databaseUser), ("DB_PASSWORD", .databasePassword),
            ("DB_HOST", .databaseHost), ("DB_CHARSET", .databaseCharset),
        ]
        var unevaluated: [ConfigurationKey: WordPressConfigError] = [:]
        for (constant, key) in mapping {
            if let value = wpConfig.string(constant) {
                try apply(key, value, origin: origin(constant), to: &configuration)
            } else if let problem = wpConfig.unevaluated[constant] {
                unevaluated[key] = problem
            }
        }
        if let prefix = wpConfig.tablePrefix {
            try apply(.tablePrefix, prefix, origin: origin("$table_prefix"), to: &configuration)
        } else if let problem = wpConfig.unevaluated["$table_prefix"] {
            unevaluated[.tablePrefix] = problem
        }
        configuration.multisite = wpConfig.isMultisite
        configuration.origins[.multisite] = wpConfig.lines["MULTISITE"] != nil ? origin("MULTISITE") : "\(name) (MULTISITE not defined)"
        return unevaluated
    }

    /// Validates one setting and stores it.
    private func apply(_ key: ConfigurationKey, _ rawValue: String, origin: String, to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        let value = rawValue.trimmingCharacters(in: .whitespaces)
        func invalid(_ why: String) -> ConfigurationError {
            ConfigurationError("\(origin): \(key.rawValue) \(why)")
        }
        switch key {
        case .wordpressPath:
            configuration.wordpressPath = value
        case .wpConfig:
            configuration.wpConfigPath = value
        case .databaseHost:
            let parsed: WordPressDatabaseHost
            do { parsed = try WordPressDatabaseHost(parsing: value, name: key.rawValue) } catch { throw ConfigurationError("\(origin): \(error.message)") }
            configuration.databaseHost = parsed.host.isEmpty ? "localhost" : parsed.host
            configuration.databasePort = parsed.port
            configuration.databaseSocket = parsed.socket
            configuration.origins[.databasePort] = origin
            configuration.origins[.databaseSocket] = origin
        case .databasePort:
            guard let port = Int(value), (1...65535).contains(port) else { throw invalid("must be a TCP port from 1 to 65535") }
            configuration.databasePort = port
        case .databaseSocket:
            guard value.hasPrefix("/") else { throw invalid("must be an absolute path") }
            configuration.databaseSocket = value
        case .databaseName:
            guard !value.isEmpty else { throw invalid("must not be empty") }
            configuration.databaseName = value
        case .databaseUser:
            guard !value.isEmpty else { throw invalid("must not be empty") }
            configuration.databaseUser = value
        case .databasePassword:
            configuration.databasePassword = rawValue  // passwords keep their spaces
        case .databasePasswordFile:
            guard let contents = Self.readFile(value) else {
                throw invalid("names \(value), which cannot be read; check the path and that cloudchatd's user may read it")
            }
            configuration.databasePassword = Self.firstLine(contents)
            configuration.origins[.databasePassword] = origin
        case .databaseCharset:
            configuration.databaseCharset = value.isEmpty ? "utf8mb4" : value
        case .tablePrefix:
            guard SQLIdentifier.isValid(value), !value.contains("$") else {
                throw invalid("must be letters, digits and _ only, as WordPress requires")
            }
            configuration.tablePrefix = value
        case .multisite:
            switch value.lowercased() {
            case "yes", "true", "1", "on": configuration.multisite = true
            case "no", "false", "0", "off": configuration.multisite = false
            case "auto", "": configuration.multisite = nil
            default: throw invalid("must be yes, no or auto")
            }
        case .alsoServe:
            break  // read once every other setting is known
        case .databasePoolSize:
            guard let size = Int(value), (1...64).contains(size) else { throw invalid("must be a number from 1 to 64") }
            configuration.databasePoolSize = size
        case .httpListen:
            guard let (host, port) = Self.hostAndPort(value) else {
                throw invalid("must be host:port, e.g. 127.0.0.1:8787 or [::1]:8787")
            }
            configuration.httpHost = host
            configuration.httpPort = port
        case .httpIdleTimeout:
            guard let seconds = Int(value), (1...3600).contains(seconds) else { throw invalid("must be a number of seconds from 1 to 3600") }
            configuration.httpIdleTimeoutSeconds = seconds
        case .webhookVerifyToken:
            configuration.webhookVerifyToken = rawValue.isEmpty ? nil : rawValue
        case .webhookVerifyTokenFile:
            guard let contents = Self.readFile(value) else {
                throw invalid("names \(value), which cannot be read; check the path and that cloudchatd's user may read it")
            }
            let token = Self.firstLine(contents)
            configuration.webhookVerifyToken = token.isEmpty ? nil : token
            configuration.origins[.webhookVerifyToken] = origin
        case .webhookAppSecret:
            configuration.webhookAppSecrets = rawValue.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .webhookAppSecretFile:
            guard let contents = Self.readFile(value) else {
                throw invalid("names \(value), which cannot be read; check the path and that cloudchatd's user may read it")
            }
            configuration.webhookAppSecrets = String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            configuration.origins[.webhookAppSecret] = origin
        case .webhookMaxBodyBytes:
            guard let bytes = Int(value), (64 * 1024...64 * 1024 * 1024).contains(bytes) else {
                throw invalid("must be a number of bytes from 65536 to 67108864")
            }
            configuration.webhookMaxBodyBytes = bytes
        case .webhookCommitTimeout:
            guard let seconds = Int(value), (1...300).contains(seconds) else { throw invalid("must be a number of seconds from 1 to 300") }
            configuration.webhookCommitTimeoutSeconds = seconds
        case .homeBlogID:
            guard let blogID = Int(value), blogID >= 1 else { throw invalid("must be a blog id (a whole number from 1)") }
            configuration.homeBlogID = blogID
        case .controlListen:
            guard let (host, port) = Self.hostAndPort(value) else {
                throw invalid("must be host:port on loopback, e.g. 127.0.0.1:8789 or [::1]:8789")
            }
            guard host == "localhost" || host.hasPrefix("127.") || host == "::1" else {
                throw invalid("must be a loopback address (127.0.0.1 or ::1): the control API is for the plugin on this machine only")
            }
            configuration.controlHost = host
            configuration.controlPort = port
        case .controlSecret:
            configuration.controlSecret = rawValue.isEmpty ? nil : rawValue
        case .controlSecretFile:
            guard let contents = Self.readFile(value) else {
                throw invalid("names \(value), which cannot be read; check the path and that cloudchatd's user may read it")
            }
            let secret = Self.firstLine(contents)
            configuration.controlSecret = secret.isEmpty ? nil : secret
            configuration.origins[.controlSecret] = origin
        case .secretsKeyFile:
            guard value.hasPrefix("/") || value.hasPrefix(".") else { throw invalid("must be a path") }
            configuration.secretsKeyFile = value
        case .graphBaseURL:
            guard let url = URL(string: value), let scheme = url.scheme, ["https", "http"].contains(scheme), url.host != nil else {
                throw invalid("must be an http(s) URL such as https://graph.facebook.com")
            }
            if scheme == "http", !(url.host == "localhost" || url.host!.hasPrefix("127.") || url.host == "::1") {
                throw invalid("may use plain http only on loopback (the simulator); Meta's API is https")
            }
            configuration.graphBaseURL = value
        case .graphAPIVersion:
            guard value.hasPrefix("v"), Double(value.dropFirst()) != nil else { throw invalid("must look like v23.0") }
            configuration.graphAPIVersion = value
        case .sendReconcileGrace:
            guard let seconds = Int(value), (0...86_400).contains(seconds) else { throw invalid("must be a number of seconds from 0 to 86400") }
            configuration.sendReconcileGraceSeconds = seconds
        case .templateSyncInterval:
            guard let seconds = Int(value), (60...604_800).contains(seconds) else { throw invalid("must be a number of seconds from 60 to 604800") }
            configuration.templateSyncIntervalSeconds = seconds
        case .retentionWebhookEventsDays, .retentionMessagesDays, .retentionStatusEventsDays, .retentionOutboxDays,
             .retentionCampaignRecipientsDays, .retentionAuditLogDays:
            guard let days = Int(value), (0...3650).contains(days) else {
                throw invalid("must be 0 (keep forever) or a whole number of days from 1 to 3650")
            }
            configuration.retentionDays[key.rawValue] = days
        case .uploadsDirectory:
            guard value.hasPrefix("/") || value.hasPrefix(".") else { throw invalid("must be a path") }
            configuration.uploadsDirectory = value
        case .mediaMaxBytes:
            guard let bytes = Int64(value), (1024...(4 * 1024 * 1024 * 1024)).contains(bytes) else {
                throw invalid("must be a number of bytes from 1024 to 4294967296")
            }
            configuration.mediaMaxBytes = bytes
        case .shutdownTimeout:
            guard let seconds = Int(value), (1...600).contains(seconds) else { throw invalid("must be a number of seconds from 1 to 600") }
            configuration.shutdownTimeoutSeconds = seconds
        case .consentOptOutKeywords:
            configuration.consentOptOutKeywords = ConsentKeywords.words(rawValue)
        case .consentOptInKeywords:
            configuration.consentOptInKeywords = ConsentKeywords.words(rawValue)
        case .spoolDirectory:
            guard value.hasPrefix("/") || value.hasPrefix(".") else { throw invalid("must be a path") }
            configuration.spoolDirectory = value
        case .logLevel:
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw invalid("must be one of trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = level
        case .logFormat:
            guard let format = LogFormat(rawValue: value.lowercased()) else { throw invalid("must be logfmt, json or text") }
            configuration.logFormat = format
        }
        configuration.origins[key] = origin
    }

    /// Parses the config file: `key = value` lines, `#` or `;` comment lines, values optionally quoted.
    private func readConfigFile() throws(ConfigurationError) -> [ConfigurationKey: Setting] {
        let named = configFile ?? environment["CLOUDCHAT_CONFIG"]
        let path = named ?? defaultConfigFile
        guard let data = Self.readFile(path) else {
            if named == nil { return [:] }  // the default file is optional
            let exists = FileManager.default.fileExists(atPath: path)
            throw ConfigurationError(exists
                ? "config file \(path) exists but cannot be read; check its permissions (cloudchatd's user must be able to read it)"
                : "config file \(path) does not exist; check the --config path or CLOUDCHAT_CONFIG")
        }
        var settings: [ConfigurationKey: Setting] = [:]
        var seenOnLine: [ConfigurationKey: Int] = [:]
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (offset, rawLine) in lines.enumerated() {
            let lineNumber = offset + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces.union(.init(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError("\(path):\(lineNumber): expected `key = value`")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard let key = ConfigurationKey(rawValue: name) else {
                let known = ConfigurationKey.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError("\(path):\(lineNumber): unknown setting '\(name)'; known settings: \(known)")
            }
            if let earlier = seenOnLine[key] {
                throw ConfigurationError("\(path):\(lineNumber): \(key.rawValue) is already set on line \(earlier); keep one")
            }
            seenOnLine[key] = lineNumber
            settings[key] = Setting(value: value, origin: "\(path):\(lineNumber)")
        }
        return settings
    }
}

extension ConfigurationLoader {
    /// The first line of a secret file, without its line ending.
    static func firstLine(_ contents: Data) -> String {
        let text = String(decoding: contents, as: UTF8.self)
        return text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first
            .map { String($0).trimmingCharacters(in: .init(charactersIn: "\r")) } ?? ""
    }

    /// Splits `host:port` or `[v6]:port`.
    static func hostAndPort(_ text: String) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// The whole file, or nil when it cannot be opened. Works for `/dev/null` and
    /// other special files, which Foundation's whole-file readers refuse.
    /// Keys that set the same value another way: a secret and the file holding it.
    static let alternatives: [ConfigurationKey: [ConfigurationKey]] = [
        .databasePassword: [.databasePasswordFile], .databasePasswordFile: [.databasePassword],
        .webhookAppSecret: [.webhookAppSecretFile], .webhookAppSecretFile: [.webhookAppSecret],
        .controlSecret: [.controlSecretFile], .controlSecretFile: [.controlSecret],
        .webhookVerifyToken: [.webhookVerifyTokenFile], .webhookVerifyTokenFile: [.webhookVerifyToken],
    ]

    static func readFile(_ path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try? handle.readToEnd() ?? Data()
    }
}

extension DaemonConfiguration {
    /// The senders' settings that come from the configuration.
    public var sending: SenderConfiguration {
        var sending = SenderConfiguration()
        sending.graphBaseURL = graphBaseURL
        sending.graphAPIVersion = graphAPIVersion
        sending.reconcileGrace = .seconds(sendReconcileGraceSeconds)
        return sending
    }

    /// The connection settings for the MariaDB client.
    public var mariaDB: MariaDBConfiguration {
        MariaDBConfiguration(host: databaseHost, port: databasePort, socket: databaseSocket,
                             database: databaseName, user: databaseUser, password: databasePassword)
    }
}
