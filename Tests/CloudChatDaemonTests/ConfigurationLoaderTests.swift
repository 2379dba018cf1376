import CloudChatDaemon
import Foundation
import Logging
import WordPressStore
import TestSupport
import Testing

@Suite("Configuration")
struct ConfigurationLoaderTests {
    private let wpConfig = """
        <?php
        define( 'DB_NAME', 'site_db' );
        define( 'DB_USER', "site_user" );
        define( 'DB_PASSWORD', 'pa$$ word' );
        define( 'DB_HOST', 'localhost:/run/mysqld/mysqld.sock' );
        define( 'DB_CHARSET', 'utf8mb4' );
        $table_prefix = 'wp7_';
        """

    private func loader(_ directory: TemporaryDirectory, environment: [String: String] = [:], configFile: String? = nil,
                        commandLine: [ConfigurationKey: String] = [:]) -> ConfigurationLoader {
        ConfigurationLoader(environment: environment, configFile: configFile, commandLine: commandLine,
                            defaultConfigFile: directory.path + "/absent.conf")
    }

    @Test func alsoServeReadsEachInstallOnTheSameServer() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("site/wp-config.php", wpConfig)
        // Another database on the same socket, with its own content directory.
        try directory.write("shop/wp-config.php", """
            <?php
            define( 'DB_NAME', 'shop-db' );
            define( 'DB_USER', 'shop' );
            define( 'DB_PASSWORD', 'x' );
            define( 'DB_HOST', 'localhost:/run/mysqld/mysqld.sock' );
            define( 'WP_CONTENT_DIR', '/srv/shop-content' );
            define( 'MULTISITE', true );
            $table_prefix = 'wp7_';
            """)
        // Beside the first install's tables, in its database.
        let blogConfig = try directory.write("blog/config.php", wpConfig.replacingOccurrences(of: "'wp7_'", with: "'blog_'"))
        try directory.write("far/wp-config.php", wpConfig.replacingOccurrences(of: "localhost:/run/mysqld/mysqld.sock", with: "db.example.net"))
        let list = "\(directory.path)/shop, \(blogConfig), \(directory.path)/site"
        let configuration = try loader(directory, commandLine: [.wordpressPath: directory.path + "/site", .alsoServe: list]).load()
        #expect(configuration.otherInstalls == [
            WordPressInstall(source: directory.path + "/shop/wp-config.php", database: "shop-db", tablePrefix: "wp7_", multisite: true,
                             uploadsDirectory: "/srv/shop-content/uploads"),
            WordPressInstall(source: blogConfig, database: nil, tablePrefix: "blog_", multisite: false,
                             uploadsDirectory: directory.path + "/blog/wp-content/uploads"),
        ], "the first install listed again is not served twice")
        #expect(configuration.installs.count == 3)
        #expect(configuration.installs[0].tablePrefix == "wp7_" && configuration.installs[0].database == nil)
        let shopBlog = try WordPressSite(blogID: 2, tablePrefix: "wp7_2_", database: "shop-db", installPrefix: "wp7_")
        #expect(configuration.mediaDirectory(of: shopBlog) == "/srv/shop-content/uploads/sites/2/cloudchat")
        let firstBlog = try WordPressSite(blogID: 2, tablePrefix: "wp7_2_", installPrefix: "wp7_")
        #expect(configuration.mediaDirectory(of: firstBlog) == directory.path + "/site/wp-content/uploads/sites/2/cloudchat")

        let far = #expect(throws: ConfigurationError.self) {
            try loader(directory, commandLine: [.wordpressPath: directory.path + "/site", .alsoServe: directory.path + "/far"]).load()
        }
        #expect(far?.description.contains("db.example.net:3306") == true, "\(String(describing: far))")
        #expect(far?.description.contains("run another cloudchatd") == true)
        let missing = #expect(throws: ConfigurationError.self) {
            try loader(directory, commandLine: [.wordpressPath: directory.path + "/site", .alsoServe: directory.path + "/gone"]).load()
        }
        #expect(missing?.description.contains("/gone does not exist") == true, "\(String(describing: missing))")
    }

    @Test func readsTheSiteSettingsFromWPConfigWithTheirLines() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("site/wp-config.php", wpConfig)
        let configuration = try loader(directory, commandLine: [.wordpressPath: directory.path + "/site"]).load()
        #expect(configuration.databaseName == "site_db")
        #expect(configuration.databaseUser == "site_user")
        #expect(configuration.databasePassword == "pa$$ word")
        #expect(configuration.databaseHost == "localhost")
        #expect(configuration.databaseSocket == "/run/mysqld/mysqld.sock")
        #expect(configuration.databasePort == nil)
        #expect(configuration.tablePrefix == "wp7_")
        #expect(configuration.multisite == false)
        #expect(configuration.origins[.databaseName] == "wp-config.php:2")
        #expect(configuration.origins[.tablePrefix] == "wp-config.php:7")
        #expect(configuration.origins[.databasePoolSize] == "default")
        #expect(configuration.mariaDB.usesUnixSocket)
        #expect(!configuration.mariaDB.description.contains("pa$$"))
    }

    @Test func laterSourcesWin() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let wpConfigPath = try directory.write("wp-config.php", wpConfig)
        let file = try directory.write("cloudchatd.conf", """
            # CloudChat
            wp_config = \(wpConfigPath)
            db_host = "[::1]:3310"
            db_user = file_user
            ; comment
            log_level = debug
            db_pool_size = 3
            """)
        let configuration = try loader(directory, environment: ["CLOUDCHAT_DB_USER": "env_user", "CLOUDCHAT_LOG_LEVEL": "warning"],
                                       configFile: file, commandLine: [.logLevel: "error"]).load()
        #expect(configuration.databaseName == "site_db")            // wp-config.php
        #expect(configuration.databaseHost == "::1")                // config file beats wp-config.php
        #expect(configuration.databasePort == 3310)
        #expect(configuration.databaseSocket == nil)
        #expect(configuration.databaseUser == "env_user")           // environment beats the file
        #expect(configuration.logLevel == .error)                   // command line beats the environment
        #expect(configuration.databasePoolSize == 3)
        #expect(configuration.origins[.databaseHost] == "\(file):3")
        #expect(configuration.origins[.databaseUser] == "environment variable CLOUDCHAT_DB_USER")
        #expect(configuration.mariaDB.endpointDescription == "TCP [::1]:3310")
    }

    @Test func worksWithoutWordPressFromTheEnvironmentAlone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = try loader(directory, environment: [
            "CLOUDCHAT_DB_HOST": "127.0.0.1:3307", "CLOUDCHAT_DB_NAME": "n", "CLOUDCHAT_DB_USER": "u",
            "CLOUDCHAT_DB_PASSWORD": "p", "CLOUDCHAT_TABLE_PREFIX": "site_", "CLOUDCHAT_MULTISITE": "auto",
        ]).load()
        #expect(configuration.mariaDB.endpointDescription == "TCP 127.0.0.1:3307")
        #expect(configuration.tablePrefix == "site_")
        #expect(configuration.multisite == nil)
    }

    @Test func passwordFilesAndSystemdCredentials() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let secret = try directory.write("secret", "from-file\nignored second line\n")
        let fromFile = try loader(directory, environment: ["CLOUDCHAT_DB_PASSWORD_FILE": secret]).load()
        #expect(fromFile.databasePassword == "from-file")
        try directory.write("credentials/db_password", "from-credential")
        let fromCredential = try loader(directory, environment: ["CREDENTIALS_DIRECTORY": directory.path + "/credentials"]).load()
        #expect(fromCredential.databasePassword == "from-credential")
        #expect(fromCredential.origins[.databasePassword] == "systemd credential db_password")
        let missing = try #require(throws: ConfigurationError.self) {
            try loader(directory, environment: ["CLOUDCHAT_DB_PASSWORD_FILE": directory.path + "/nope"]).load()
        }
        #expect(missing.description.contains("CLOUDCHAT_DB_PASSWORD_FILE"))
    }

    /// The config file names root-only secret files for commands run by hand; under systemd the
    /// service user gets the same secrets as credentials and must not trip over the files it cannot read.
    @Test func aCredentialReplacesTheConfigFilesSecretFileWithoutReadingIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try directory.write("cloudchatd.conf", """
            db_password_file = \(directory.path)/root-only/db_password
            control_secret_file = \(directory.path)/root-only/control_secret
            webhook_verify_token_file = \(directory.path)/root-only/webhook_verify_token
            """)
        try directory.write("credentials/db_password", "database-credential")
        try directory.write("credentials/control_secret", "control-credential")
        try directory.write("credentials/webhook_verify_token", "token-credential")
        let configuration = try loader(directory, environment: ["CREDENTIALS_DIRECTORY": directory.path + "/credentials"],
                                       configFile: config).load()
        #expect(configuration.databasePassword == "database-credential")
        #expect(configuration.controlSecret == "control-credential")
        #expect(configuration.webhookVerifyToken == "token-credential")
        // Without the credentials the unreadable file is an error that names it.
        let unreadable = try #require(throws: ConfigurationError.self) { try loader(directory, configFile: config).load() }
        #expect(unreadable.description.contains("root-only/db_password"))
    }

    @Test(arguments: [
        ("db_hots = x", "unknown setting 'db_hots'"),
        ("db_port = 70000", "db_port must be a TCP port"),
        ("table_prefix = wp-", "letters, digits and _"),
        ("db_pool_size = 0", "from 1 to 64"),
        ("log_level = loud", "must be one of"),
        ("multisite = maybe", "yes, no or auto"),
        ("db_socket = relative.sock", "absolute path"),
        ("just words", "expected `key = value`"),
        ("db_name = a\ndb_name = b", "already set on line 2"),
    ])
    func badConfigFileLinesAreNamed(_ contents: String, _ expected: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("bad.conf", "# first line\n" + contents)
        let error = try #require(throws: ConfigurationError.self) { try loader(directory, configFile: file).load() }
        #expect(error.description.contains(expected), "\(error)")
        #expect(error.description.contains("\(file):"), "the message names the file and line: \(error)")
    }

    @Test func missingFilesSayWhatWasTried() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let noConfig = try #require(throws: ConfigurationError.self) {
            try loader(directory, configFile: directory.path + "/none.conf").load()
        }
        #expect(noConfig.description.contains("none.conf does not exist"))
        let noWordPress = try #require(throws: ConfigurationError.self) {
            try loader(directory, commandLine: [.wordpressPath: directory.path + "/no-site"]).load()
        }
        #expect(noWordPress.description.contains("no-site"))
        #expect(noWordPress.description.contains("--wordpress"))
    }

    @Test func anUnevaluableWPConfigValueIsAnErrorUnlessSetElsewhere() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("wp-config.php", """
            <?php
            define( 'DB_NAME', 'db' );
            define( 'DB_USER', 'user' );
            define( 'DB_PASSWORD', getenv( 'SITE_DB_PASSWORD' ) );
            define( 'DB_HOST', 'localhost' );
            $table_prefix = 'wp_';
            """)
        let error = try #require(throws: ConfigurationError.self) {
            try loader(directory, commandLine: [.wpConfig: path]).load()
        }
        #expect(error.description.contains("wp-config.php:4"), "\(error)")
        #expect(error.description.contains("SITE_DB_PASSWORD"))
        // Given the variable, the same file works; so does setting the key directly.
        #expect(try loader(directory, environment: ["SITE_DB_PASSWORD": "s3"], commandLine: [.wpConfig: path]).load().databasePassword == "s3")
        #expect(try loader(directory, environment: ["CLOUDCHAT_DB_PASSWORD": "s4"], commandLine: [.wpConfig: path]).load().databasePassword == "s4")
    }

    @Test func multisiteComesFromWPConfig() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("wp-config.php", wpConfig + "\ndefine( 'MULTISITE', true );\n")
        let configuration = try loader(directory, commandLine: [.wpConfig: path]).load()
        #expect(configuration.multisite == true)
        #expect(configuration.origins[.multisite] == "wp-config.php:8")
    }
}
