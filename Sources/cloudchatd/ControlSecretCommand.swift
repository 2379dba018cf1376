import ArgumentParser
import CloudChatDaemon

/// `cloudchatd control-secret`: the secret each install's plugin signs its calls with.
struct ControlSecret: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control-secret",
        abstract: "Print the control secret for the CloudChat plugin of each WordPress install served.",
        discussion: """
            The plugin signs its calls to cloudchatd with a secret entered in CloudChat → Settings. \
            control_secret itself reaches every site cloudchatd serves. When one cloudchatd serves \
            several installs (also_serve) that belong to different people, give each install's plugin \
            the secret printed here for it instead: a call signed with it reaches that install's sites \
            only. Each is derived from control_secret, so changing control_secret changes them all.

            Prints one line per install: the secret, then the wp-config.php (or setting) that describes \
            the install. With --wordpress or --wp-config, that install's line only.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        let configuration = try options.load()
        guard let secret = configuration.controlSecret, !secret.isEmpty else {
            printError("cloudchatd control-secret: no control_secret is configured; set control_secret_file in the config first (the installer writes one)")
            throw ExitStatus.configurationError
        }
        let installs = options.wordpress != nil || options.wpConfig != nil ? Array(configuration.installs.prefix(1)) : configuration.installs
        for install in installs {
            let database = install.database ?? configuration.databaseName
            print("\(ControlSecrets.installSecret(controlSecret: secret, database: database, tablePrefix: install.tablePrefix))  \(install.source)")
        }
    }
}
