import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import ServiceLifecycle
import WhatsAppCloudAPI
import WordPressStore

struct CloudChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloudchatd",
        abstract: "CloudChat's daemon: WhatsApp Business messaging for WordPress, in the site's own database.",
        discussion: """
            cloudchatd reads the database settings from the site's wp-config.php \
            (--wordpress /var/www/html), from /etc/cloudchat/cloudchatd.conf and from \
            CLOUDCHAT_* environment variables; later sources win. Run `cloudchatd doctor` \
            to see every setting, where it came from, and whether all is well.

            Exit codes: 0 success; 1 a check or operation failed; 64 bad command line; \
            78 configuration error (the message names the file and line).
            """,
        version: CloudChatVersion.current,
        subcommands: [Serve.self, Status.self, Migrate.self, Doctor.self, Replay.self, Purge.self, Credentials.self, Templates.self, CampaignCommand.self, ContactCommand.self, SecretsKey.self, ControlSecret.self, RotateKey.self, Version.self]
    )
}

/// Exit codes shared by the subcommands.
enum ExitStatus {
    static let failure = ExitCode(1)
    static let configurationError = ExitCode(78)  // EX_CONFIG
}

/// Options that say where the configuration comes from.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Config file to read.", discussion: "Default: /etc/cloudchat/cloudchatd.conf when it exists, or CLOUDCHAT_CONFIG.", valueName: "path"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("WordPress root directory; its wp-config.php supplies the database settings.", valueName: "path"))
    var wordpress: String?

    @Option(name: .customLong("wp-config"), help: ArgumentHelp("Path of wp-config.php itself, when it is elsewhere (Debian: /etc/wordpress/config-HOST.php).", valueName: "path"))
    var wpConfig: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("How log lines are written: logfmt (default), json or text.", valueName: "format"))
    var logFormat: String?

    var loader: ConfigurationLoader {
        var commandLine: [ConfigurationKey: String] = [:]
        commandLine[.wordpressPath] = wordpress
        commandLine[.wpConfig] = wpConfig
        commandLine[.logLevel] = logLevel
        commandLine[.logFormat] = logFormat
        return ConfigurationLoader(configFile: config, commandLine: commandLine)
    }

    /// Loads the configuration and sets up logging, or exits with the configuration error.
    func load() throws -> DaemonConfiguration {
        do {
            let configuration = try loader.load()
            // Each command loads its configuration once per process; the level stays
            // changeable through CloudChatLogging.levelControl.
            CloudChatLogging.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
            return configuration
        } catch {
            printError("cloudchatd: \(error)")
            throw ExitStatus.configurationError
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
