import Foundation
import Testing
@testable import WordPressStore

private let configPath = "/var/www/html/wp-config.php"

private func parse(_ source: String, environment: [String: String] = [:]) throws(WordPressConfigError) -> WordPressConfigFile {
    try WordPressConfigFile(parsing: source, path: configPath, environment: environment)
}

/// A fresh directory under the system's temporary directory, removed by the caller.
private func makeScratchDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("wpconfig-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

private func write(_ text: String, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}

// MARK: - The stock file

@Suite("A complete wp-config.php")
struct StockConfigTests {
    /// The shape of WordPress's wp-config-sample.php, filled in with keys from the salt generator's alphabet.
    static let source = #"""
    <?php
    /**
     * The base configuration for WordPress
     *
     * The wp-config.php creation script uses this file during the installation.
     * You don't have to use the website, you can copy this file to "wp-config.php"
     * and fill in the values.
     *
     * This file contains the following configurations:
     *
     * * Database settings
     * * Secret keys
     * * Database table prefix
     * * ABSPATH
     *
     * @link https://developer.wordpress.org/advanced-administration/wordpress/wp-config/
     *
     * @package WordPress
     */

    // ** Database settings - You can get this info from your web host ** //
    /** The name of the database for WordPress */
    define( 'DB_NAME', 'shop_wp' );

    /** Database username */
    define( 'DB_USER', 'shop_user' );

    /** Database password */
    define( 'DB_PASSWORD', 'p@ss\'word\\"#1' );

    /** Database hostname */
    define( 'DB_HOST', 'localhost:/var/run/mysqld/mysqld.sock' );

    /** Database charset to use in creating database tables. */
    define( 'DB_CHARSET', 'utf8mb4' );

    /** The database collate type. Don't change this if in doubt. */
    define( 'DB_COLLATE', '' );

    /**#@+
     * Authentication unique keys and salts.
     *
     * Change these to different unique phrases! You can generate these using
     * the {@link https://api.wordpress.org/secret-key/1.1/salt/ WordPress.org secret-key service}.
     *
     * You can change these at any point in time to invalidate all existing cookies.
     * This will force all users to have to log in again.
     *
     * @since 2.6.0
     */
    define( 'AUTH_KEY',         'put your unique phrase here' );
    define( 'SECURE_AUTH_KEY',  'x/*Kq{8]$w7#Lr:y@|W~e' );
    define( 'LOGGED_IN_KEY',    '7b//Wm^Hn#v<2$d)9?tQ' );
    define( 'NONCE_KEY',        'Y\'3)$|h`Gv\\z=#*/pA' );
    define( 'AUTH_SALT',        '}%[oR\'@#$-/* not a comment' );
    define( 'SECURE_AUTH_SALT', '?>N]s#-q8%e// not a comment either' );
    define( 'LOGGED_IN_SALT',   '$table_prefix = \'evil_\'; define(\'DB_NAME\', \'evil\');' );
    define( 'NONCE_SALT',       "tab\there \$dollar \\ backslash \"quote\"" );

    /**#@-*/

    /**
     * WordPress database table prefix.
     *
     * You can have multiple installations in one database if you give each
     * a unique prefix. Only numbers, letters, and underscores please!
     */
    $table_prefix = 'shop_';

    /**
     * For developers: WordPress debugging mode.
     *
     * Change this to true to enable the display of notices during development.
     * It is strongly recommended that plugin and theme developers use WP_DEBUG
     * in their development environments.
     *
     * For information on other constants that can be used for debugging,
     * visit the documentation.
     *
     * @link https://developer.wordpress.org/advanced-administration/debug/debug-wordpress/
     */
    define( 'WP_DEBUG', false );

    /* Add any custom values between this line and the "stop editing" line. */



    /* That's all, stop editing! Happy publishing. */

    /** Absolute path to the WordPress directory. */
    if ( ! defined( 'ABSPATH' ) ) {
    	define( 'ABSPATH', __DIR__ . '/' );
    }

    /** Sets up WordPress vars and included files. */
    require_once ABSPATH . 'wp-settings.php';

    """#

    @Test("reads the database settings, keys, prefix and the rest")
    func readsEverything() throws {
        let config = try parse(Self.source)
        #expect(config.path == configPath)
        #expect(config.string("DB_NAME") == "shop_wp")
        #expect(config.string("DB_USER") == "shop_user")
        #expect(config.string("DB_PASSWORD") == ##"p@ss'word\"#1"##)
        #expect(config.string("DB_HOST") == "localhost:/var/run/mysqld/mysqld.sock")
        #expect(config.string("DB_CHARSET") == "utf8mb4")
        #expect(config.string("DB_COLLATE") == "")
        #expect(config.tablePrefix == "shop_")
        #expect(config.constants["WP_DEBUG"] == .bool(false))
        #expect(config.constants["ABSPATH"] == .string("/var/www/html/"))
        #expect(config.isMultisite == false)
        #expect(config.unevaluated.isEmpty)
    }

    @Test("keys and salts with quotes, backslashes, $, # and comment markers keep their exact text")
    func readsOddKeys() throws {
        let config = try parse(Self.source)
        #expect(config.string("AUTH_KEY") == "put your unique phrase here")
        #expect(config.string("SECURE_AUTH_KEY") == "x/*Kq{8]$w7#Lr:y@|W~e")
        #expect(config.string("LOGGED_IN_KEY") == "7b//Wm^Hn#v<2$d)9?tQ")
        #expect(config.string("NONCE_KEY") == #"Y'3)$|h`Gv\z=#*/pA"#)
        #expect(config.string("AUTH_SALT") == "}%[oR'@#$-/* not a comment")
        #expect(config.string("SECURE_AUTH_SALT") == "?>N]s#-q8%e// not a comment either")
        #expect(config.string("LOGGED_IN_SALT") == "$table_prefix = 'evil_'; define('DB_NAME', 'evil');")
        #expect(config.string("NONCE_SALT") == "tab\there $dollar \\ backslash \"quote\"")
    }

    @Test("records the line of every definition")
    func recordsLines() throws {
        let config = try parse(Self.source)
        #expect(config.lines["DB_NAME"] == 23)
        #expect(config.lines["DB_PASSWORD"] == 29)
        #expect(config.lines["DB_HOST"] == 32)
        #expect(config.lines["NONCE_SALT"] == 58)
        #expect(config.lines["$table_prefix"] == 68)
        #expect(config.lines["ABSPATH"] == 92)
        #expect(Set(config.lines.keys) == Set(config.constants.keys).union(["$table_prefix"]))
    }

    @Test("loads the same from disk, with Windows line endings too")
    func loadsFromDisk() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("wp-config.php")
        try write(Self.source.replacingOccurrences(of: "\n", with: "\r\n"), to: file)

        let config = try WordPressConfigFile.load(path: file.path, environment: [:])
        let expected = try WordPressConfigFile(parsing: Self.source, path: file.path, environment: [:])
        #expect(config == expected)
        #expect(config.constants["ABSPATH"] == .string(directory.path + "/"))
    }
}

// MARK: - define() and const

@Suite("Finding definitions")
struct DefinitionTests {
    @Test(
        "define() in all its spellings",
        arguments: [
            "define( 'DB_NAME', 'x' );",
            #"define("DB_NAME","x");"#,
            #"define( 'DB_NAME', "x" );"#,
            "define(\n\t'DB_NAME'   ,\n\n   'x'\n)\n;",
            "DEFINE('DB_NAME', 'x');",
            "Define ( 'DB_NAME' , 'x' ) ;",
            "define('DB_NAME', 'x', true);",
            "define('DB_NAME', 'x',);",
            #"\define('DB_NAME', 'x');"#,
            "define(value: 'x', constant_name: 'DB_NAME');",
            "defined('DB_NAME') or define('DB_NAME', 'x');",
            "defined( 'DB_NAME' ) || define( 'DB_NAME', 'x' );",
            "if ( ! defined( 'DB_NAME' ) ) {\n\tdefine( 'DB_NAME', 'x' );\n}",
            "if (!defined('DB_NAME')) define('DB_NAME', 'x');",
            "define /* why not */ ( # odd\n 'DB_NAME', // name\n 'x' );",
            "const DB_NAME = 'x';",
            "const OTHER = 'y', DB_NAME = 'x';",
        ]
    )
    func defineSpellings(statement: String) throws {
        let config = try parse("<?php\n" + statement + "\n")
        #expect(config.string("DB_NAME") == "x")
        #expect(config.lines["DB_NAME"] != nil)
    }

    @Test("commented-out definitions are ignored")
    func commentedOut() throws {
        let config = try parse(#"""
        <?php
        // define('DB_NAME', 'old');
        # define('DB_USER', 'old');
        /* define('DB_PASSWORD', 'old');
           define('DB_HOST', 'old'); */
        /**
         * define('DB_CHARSET', 'old');
         */
        define('DB_NAME', 'new'); // define('DB_USER', 'trailing');
        // $table_prefix = 'old_';
        """#)
        #expect(config.constants == ["DB_NAME": .string("new")])
        #expect(config.tablePrefix == nil)
        #expect(config.lines["DB_NAME"] == 9)
    }

    @Test("the first definition of a constant wins, as in PHP")
    func firstDefinitionWins() throws {
        let config = try parse("""
        <?php
        define('DB_NAME', 'first');
        define('DB_NAME', 'second');
        if (!defined('DB_NAME')) { define('DB_NAME', 'third'); }
        """)
        #expect(config.string("DB_NAME") == "first")
        #expect(config.lines["DB_NAME"] == 2)
    }

    @Test("a first definition that cannot be evaluated still wins over a later one")
    func unevaluatedFirstDefinitionWins() throws {
        let config = try parse("""
        <?php
        define('DB_HOST', getenv('DB_HOST_FROM_ENV'));
        define('DB_HOST', 'localhost');
        """)
        #expect(config.constants["DB_HOST"] == nil)
        #expect(config.unevaluated["DB_HOST"]?.line == 2)
    }

    @Test("the last assignment of $table_prefix wins, as it is a variable")
    func lastTablePrefixWins() throws {
        let config = try parse("""
        <?php
        $table_prefix = 'wp_';
        $table_prefix  =  "site_" ;
        """)
        #expect(config.tablePrefix == "site_")
        #expect(config.lines["$table_prefix"] == 3)
    }

    @Test("$table_prefix can be built up with .= and from other variables")
    func tablePrefixBuiltUp() throws {
        let config = try parse("""
        <?php
        $site = 'shop';
        $table_prefix = $site;
        $table_prefix .= '_';
        """)
        #expect(config.tablePrefix == "shop_")
    }

    @Test("a last $table_prefix that cannot be evaluated hides the earlier ones")
    func lastTablePrefixUnevaluated() throws {
        let config = try parse("""
        <?php
        $table_prefix = 'wp_';
        $table_prefix = prefix_for_host();
        """)
        #expect(config.tablePrefix == nil)
        let error = try #require(config.unevaluated["$table_prefix"])
        #expect(error.line == 3)
        #expect(error.message.contains("prefix_for_host()"))
        #expect(error.message.contains("table_prefix in the cloudchatd config file or CLOUDCHAT_TABLE_PREFIX"))
    }

    @Test("a $table_prefix WordPress itself would refuse is reported, not used")
    func invalidTablePrefix() throws {
        let config = try parse("<?php\n$table_prefix = 'wp-1; DROP';\n")
        #expect(config.tablePrefix == nil)
        let error = try #require(config.unevaluated["$table_prefix"])
        #expect(error.line == 2)
        #expect(error.message.contains("letters, digits and underscores"))
        #expect(!error.description.contains("DROP"))
    }

    @Test("definitions inside function and class bodies are not counted; they run only when called")
    func functionAndClassBodies() throws {
        let config = try parse("""
        <?php
        function configure_site() {
            define('DB_NAME', 'from_function');
            $table_prefix = 'fn_';
        }
        class SiteConfig {
            const DB_USER = 'from_class';
            public function load() { define('DB_PASSWORD', 'from_method'); }
        }
        $loader = function () { define('DB_HOST', 'from_closure'); };
        $object->define('DB_CHARSET', 'from_method_call');
        define('DB_NAME', 'top_level');
        $table_prefix = 'wp_';
        """)
        #expect(config.constants == ["DB_NAME": .string("top_level")])
        #expect(config.tablePrefix == "wp_")
    }

    @Test("the official Docker image's file, with getenv_docker() and its *_FILE secrets")
    func dockerImageConfig() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = directory.appendingPathComponent("db_password")
        try write("s3cret from file\r\n", to: secret)

        let source = #"""
        <?php
        // a helper function to lookup "env_FILE", "env", then fallback
        if (!function_exists('getenv_docker')) {
        	function getenv_docker($env, $default) {
        		if ($fileEnv = getenv($env . '_FILE')) {
        			return rtrim(file_get_contents($fileEnv), "\r\n");
        		}
        		else if (($val = getenv($env)) !== false) {
        			return $val;
        		}
        		else {
        			return $default;
        		}
        	}
        }
        define( 'DB_NAME', getenv_docker('WORDPRESS_DB_NAME', 'wordpress') );
        define( 'DB_USER', getenv_docker('WORDPRESS_DB_USER', 'example username') );
        define( 'DB_PASSWORD', getenv_docker('WORDPRESS_DB_PASSWORD', 'example password') );
        define( 'DB_HOST', getenv_docker('WORDPRESS_DB_HOST', 'mysql') );
        define( 'DB_CHARSET', getenv_docker('WORDPRESS_DB_CHARSET', 'utf8') );
        define( 'DB_COLLATE', getenv_docker('WORDPRESS_DB_COLLATE', '') );
        $table_prefix = getenv_docker('WORDPRESS_TABLE_PREFIX', 'wp_');
        define( 'WP_DEBUG', !!getenv_docker('WORDPRESS_DEBUG', '') );
        if (isset($_SERVER['HTTP_X_FORWARDED_PROTO']) && strpos($_SERVER['HTTP_X_FORWARDED_PROTO'], 'https') !== false) {
        	$_SERVER['HTTPS'] = 'on';
        }
        if ($configExtra = getenv_docker('WORDPRESS_CONFIG_EXTRA', '')) {
        	eval($configExtra);
        }
        if ( ! defined( 'ABSPATH' ) ) {
        	define( 'ABSPATH', __DIR__ . '/' );
        }
        require_once ABSPATH . 'wp-settings.php';
        """#
        let config = try parse(source, environment: [
            "WORDPRESS_DB_HOST": "db:3306",
            "WORDPRESS_DB_USER": "",
            "WORDPRESS_DB_PASSWORD_FILE": secret.path,
            "WORDPRESS_DEBUG": "1",
        ])
        #expect(config.string("DB_NAME") == "wordpress")
        #expect(config.string("DB_USER") == "", "a variable set to empty text is still set")
        #expect(config.string("DB_PASSWORD") == "s3cret from file")
        #expect(config.string("DB_HOST") == "db:3306")
        #expect(config.string("DB_CHARSET") == "utf8")
        #expect(config.tablePrefix == "wp_")
        #expect(config.constants["WP_DEBUG"] == .bool(true))
        #expect(config.unevaluated.isEmpty)
    }

    @Test("an unreadable *_FILE secret is reported with the variable and the file, never the contents")
    func unreadableDockerSecret() throws {
        let config = try parse(
            "<?php\ndefine( 'DB_PASSWORD', getenv_docker('WORDPRESS_DB_PASSWORD', 'example password') );\n",
            environment: ["WORDPRESS_DB_PASSWORD_FILE": "/run/secrets/no-such-secret", "WORDPRESS_DB_PASSWORD": "fallback"]
        )
        #expect(config.constants["DB_PASSWORD"] == nil)
        let error = try #require(config.unevaluated["DB_PASSWORD"])
        #expect(error.line == 2)
        #expect(error.message.contains("WORDPRESS_DB_PASSWORD_FILE"))
        #expect(error.message.contains("/run/secrets/no-such-secret"))
        #expect(!error.description.contains("example password"))
    }
}

// MARK: - Values

@Suite("Evaluating values")
struct ValueTests {
    struct Example: Sendable, CustomTestStringConvertible {
        var expression: String
        var expected: PHPValue
        var environment: [String: String] = [:]
        var testDescription: String { expression }
    }

    static let examples: [Example] = [
        Example(expression: "'plain'", expected: .string("plain")),
        Example(expression: #""double""#, expected: .string("double")),
        Example(expression: "42", expected: .int(42)),
        Example(expression: "-7", expected: .int(-7)),
        Example(expression: "0x1F", expected: .int(31)),
        Example(expression: "0755", expected: .int(493)),
        Example(expression: "0b101", expected: .int(5)),
        Example(expression: "1_000_000", expected: .int(1_000_000)),
        Example(expression: "1.5", expected: .double(1.5)),
        Example(expression: ".5", expected: .double(0.5)),
        Example(expression: "2e3", expected: .double(2000)),
        Example(expression: "-0.25", expected: .double(-0.25)),
        Example(expression: "true", expected: .bool(true)),
        Example(expression: "TRUE", expected: .bool(true)),
        Example(expression: "False", expected: .bool(false)),
        Example(expression: "null", expected: .null),
        Example(expression: "NULL", expected: .null),
        Example(expression: "'a' . 'b' . \"c\"", expected: .string("abc")),
        Example(expression: "'port-' . 3306", expected: .string("port-3306")),
        Example(expression: "('a' . 'b')", expected: .string("ab")),
        Example(expression: #""\n\t\\\"\$\x41\101\u{263A}\q""#, expected: .string("\n\t\\\"$AA\u{263A}\\q")),
        Example(expression: #"'it\'s \\ \n'"#, expected: .string(#"it's \ \n"#)),
        Example(expression: #""$ alone and a { brace""#, expected: .string("$ alone and a { brace")),
        Example(expression: "getenv('WP_DB_NAME')", expected: .string("from_env"), environment: ["WP_DB_NAME": "from_env"]),
        Example(expression: "getenv(\"WP_DB_NAME\")", expected: .string("from_env"), environment: ["WP_DB_NAME": "from_env"]),
        Example(expression: "getenv('WP_DB_NAME') ?: 'fallback'", expected: .string("fallback")),
        Example(expression: "getenv('WP_DB_NAME') ?: 'fallback'", expected: .string("fallback"), environment: ["WP_DB_NAME": ""]),
        Example(expression: "getenv('WP_DB_NAME') ? : 'fallback'", expected: .string("set"), environment: ["WP_DB_NAME": "set"]),
        Example(expression: "$_ENV['WP_DB_NAME']", expected: .string("env"), environment: ["WP_DB_NAME": "env"]),
        Example(expression: "$_SERVER[\"WP_DB_NAME\"]", expected: .string("server"), environment: ["WP_DB_NAME": "server"]),
        Example(expression: "$_ENV['WP_DB_NAME'] ?? 'fallback'", expected: .string("fallback")),
        Example(expression: "$_SERVER['WP_DB_NAME'] ?: 'fallback'", expected: .string("fallback")),
        Example(expression: "@$_ENV['WP_DB_NAME'] ?? 'fallback'", expected: .string("fallback")),
        Example(expression: "getenv_docker('WP_DB_NAME', 'default')", expected: .string("default")),
        Example(expression: "getenv_docker('WP_DB_NAME', 'default')", expected: .string("env"), environment: ["WP_DB_NAME": "env"]),
        Example(expression: "getenv('A') ?: getenv('B') ?: 'c'", expected: .string("b"), environment: ["B": "b"]),
        Example(expression: "getenv('A') ?? 'unused'", expected: .string("a"), environment: ["A": "a"]),
        Example(expression: "defined('EARLIER') ? EARLIER : 'no'", expected: .string("earlier")),
        Example(expression: "defined('NEVER') ? NEVER : 'no'", expected: .string("no")),
        Example(expression: "EARLIER . '-suffix'", expected: .string("earlier-suffix")),
        Example(expression: "constant('EARLIER')", expected: .string("earlier")),
        Example(expression: "getenv('FLAG') === 'true'", expected: .bool(true), environment: ["FLAG": "true"]),
        Example(expression: "getenv('FLAG') !== false", expected: .bool(false)),
        Example(expression: "!getenv('FLAG')", expected: .bool(true)),
        Example(expression: "(bool) getenv('FLAG')", expected: .bool(true), environment: ["FLAG": "yes"]),
        Example(expression: "(int) getenv('PORT')", expected: .int(3307), environment: ["PORT": "3307"]),
        Example(expression: "(string) 3306", expected: .string("3306")),
        Example(expression: "(float) '1.5'", expected: .double(1.5)),
        Example(expression: "getenv('A') && getenv('B')", expected: .bool(false), environment: ["A": "a"]),
        Example(expression: "getenv('A') || getenv('B')", expected: .bool(true), environment: ["A": "a"]),
        Example(expression: "dirname(__FILE__) . '/'", expected: .string("/var/www/html/")),
        Example(expression: "dirname(__DIR__, 2)", expected: .string("/var")),
        Example(expression: "__LINE__", expected: .int(3)),
        Example(expression: "'a' . PHP_EOL", expected: .string("a\n")),
        Example(expression: "$host", expected: .string("db.internal")),
        Example(expression: "$GLOBALS['host'] . ':3306'", expected: .string("db.internal:3306")),
        Example(expression: "<<<EOT\n  line one\n  line \\$two\n  EOT", expected: .string("line one\nline $two")),
        Example(expression: "<<<'EOT'\nraw \\n $text\nEOT", expected: .string("raw \\n $text")),
        Example(expression: "1.0 . ''", expected: .string("1")),
        Example(expression: "1e25 . ''", expected: .string("1.0E+25")),
        Example(expression: "0.1 . ''", expected: .string("0.1")),
    ]

    @Test("evaluates", arguments: examples)
    func evaluates(example: Example) throws {
        let source = """
        <?php
        define('EARLIER', 'earlier'); $host = 'db.internal';
        define('SUBJECT', \(example.expression));
        """
        let config = try parse(source, environment: example.environment)
        #expect(config.constants["SUBJECT"] == example.expected)
    }

    @Test("a constant may be defined from one defined earlier in the file")
    func constantReference() throws {
        let config = try parse("""
        <?php
        define('MY_HOST', 'db.example.com');
        define('DB_HOST', MY_HOST);
        define('DB_NAME', LATER);
        define('LATER', 'too late');
        """)
        #expect(config.string("DB_HOST") == "db.example.com")
        #expect(config.constants["DB_NAME"] == nil)
        #expect(config.unevaluated["DB_NAME"]?.message.contains("LATER, which is not defined earlier") == true)
    }

    @Test("string() renders strings and numbers, and gives nil for booleans, null and undefined names")
    func stringRendering() throws {
        let config = try parse("""
        <?php
        define('TEXT', 'text'); define('NUMBER', 3306); define('FRACTION', 2.5);
        define('FLAG', true); define('NOTHING', null);
        """)
        #expect(config.string("TEXT") == "text")
        #expect(config.string("NUMBER") == "3306")
        #expect(config.string("FRACTION") == "2.5")
        #expect(config.string("FLAG") == nil)
        #expect(config.string("NOTHING") == nil)
        #expect(config.string("UNDEFINED") == nil)
    }

    @Test("getenv() ?? does not fall back, because getenv() gives false, not null")
    func getenvCoalesceKeepsFalse() throws {
        let config = try parse("<?php\ndefine('DB_USER', getenv('WP_DB_USER') ?? 'fallback');\n")
        #expect(config.constants["DB_USER"] == nil)
        #expect(config.unevaluated["DB_USER"]?.message.contains("getenv('WP_DB_USER') is not set") == true)
    }

    @Test("variables assigned at the top level can be used later")
    func variables() throws {
        let config = try parse("""
        <?php
        $db_host = getenv('DB_HOST') ?: '127.0.0.1';
        $db_port = 3307;
        define('DB_HOST', $db_host . ':' . $db_port);
        """)
        #expect(config.string("DB_HOST") == "127.0.0.1:3307")
    }
}

// MARK: - What cannot be evaluated

@Suite("Settings that cannot be evaluated")
struct UnevaluatedTests {
    @Test("an unset environment variable is reported for DB_PASSWORD, with the line and no value")
    func unsetEnvironment() throws {
        let config = try parse("""
        <?php
        define('DB_NAME', 'shop');

        define( 'DB_PASSWORD', getenv('WP_DB_PASS') );
        """)
        #expect(config.string("DB_NAME") == "shop")
        #expect(config.constants["DB_PASSWORD"] == nil)
        #expect(config.lines["DB_PASSWORD"] == nil)
        let error = try #require(config.unevaluated["DB_PASSWORD"])
        #expect(error.path == configPath)
        #expect(error.line == 4)
        #expect(error.message.contains("getenv('WP_DB_PASS') is not set in cloudchatd's environment"))
        #expect(error.message.contains("db_password in the cloudchatd config file or CLOUDCHAT_DB_PASSWORD"))
        #expect(error.description.hasPrefix("\(configPath):4: DB_PASSWORD"))
    }

    @Test(
        "each reported setting is recorded with the reason",
        arguments: [
            ("DB_NAME", "site_database_name()", "it calls site_database_name()"),
            ("DB_USER", "$_ENV['WP_USER']", "$_ENV['WP_USER'] is not set in cloudchatd's environment"),
            ("DB_PASSWORD", "'hunter2' + 1", "it uses '+'"),
            ("DB_HOST", "\"db-$suffix\"", "a string with variables inside it"),
            ("DB_CHARSET", "UNDEFINED_CHARSET", "UNDEFINED_CHARSET, which is not defined earlier"),
            ("DB_HOST", "$undefined_host", "$undefined_host, which is not assigned earlier"),
            ("DB_PASSWORD", "file_get_contents('/etc/secret')", "it calls file_get_contents()"),
            ("DB_PASSWORD", "`cat /etc/secret`", "it runs a shell command"),
            ("DB_NAME", "Config::NAME", "class constant"),
            ("MULTISITE", "is_network()", "it calls is_network()"),
        ]
    )
    func reported(name: String, expression: String, reason: String) throws {
        let config = try parse("<?php\n\ndefine( '\(name)', \(expression) );\n")
        #expect(config.constants[name] == nil)
        let error = try #require(config.unevaluated[name])
        #expect(error.line == 3)
        #expect(error.message.hasPrefix(name))
        #expect(error.message.contains(reason))
    }

    @Test("a setting built from a constant that cannot be evaluated says so")
    func dependsOnUnevaluated() throws {
        let config = try parse("""
        <?php
        define('SECRET_SOURCE', vault_lookup('db'));
        define('DB_PASSWORD', SECRET_SOURCE);
        define('PASSWORD_FROM_ENV', getenv('DB_PASS'));
        define('DB_USER', PASSWORD_FROM_ENV);
        """)
        let password = try #require(config.unevaluated["DB_PASSWORD"])
        #expect(password.line == 3)
        #expect(password.message.contains("SECRET_SOURCE, whose own value cloudchatd cannot evaluate: it calls vault_lookup()"))
        // An unset environment variable is named directly, as that is what to fix.
        #expect(config.unevaluated["DB_USER"]?.message.contains("getenv('DB_PASS') is not set") == true)
        // Constants CloudChat does not need are skipped without a report.
        #expect(config.unevaluated["SECRET_SOURCE"] == nil)
        #expect(config.unevaluated["PASSWORD_FROM_ENV"] == nil)
    }

    @Test("constants CloudChat does not need are skipped silently when they cannot be evaluated")
    func othersSkipped() throws {
        let config = try parse("""
        <?php
        define('WP_HOME', 'https://' . $_SERVER['HTTP_HOST']);
        define('WP_MEMORY_LIMIT', 256 * 1024);
        define('WP_CONTENT_DIR', realpath(__DIR__ . '/content'));
        define('DB_NAME', 'shop');
        require_once ABSPATH . 'wp-settings.php';
        """)
        #expect(config.constants == ["DB_NAME": .string("shop")])
        #expect(config.unevaluated.isEmpty)
    }

    @Test("no message ever contains a value the file assigns")
    func noSecretsInMessages() throws {
        let config = try parse("""
        <?php
        define('DB_PASSWORD', 'correct-horse' . strrev('battery'));
        define('DB_USER', "admin-$role");
        define('DB_HOST', 'db.internal' . ':' . port_for('db'));
        define('DB_NAME', 'shop_' . ENVIRONMENT_NAME);
        $table_prefix = 'wp_' . $unknown;
        """)
        #expect(config.unevaluated.count == 5)
        for error in config.unevaluated.values {
            for secret in ["correct-horse", "battery", "admin", "db.internal", "shop_", "wp_"] {
                #expect(!error.description.contains(secret), "\(error.description)")
            }
        }
    }

    @Test("requiredString() and databaseHost() explain what is missing")
    func requiredValues() throws {
        let config = try parse("""
        <?php
        define('DB_NAME', 'shop');
        define('DB_USER', getenv('WP_USER'));
        define('DB_HOST', '127.0.0.1:3307');
        $table_prefix = 'wp_';
        """)
        #expect(try config.requiredString("DB_NAME") == "shop")
        #expect(try config.requiredString("$table_prefix") == "wp_")
        #expect(try config.databaseHost() == WordPressDatabaseHost(host: "127.0.0.1", port: 3307))

        let unset = try #require(throws: WordPressConfigError.self) { try config.requiredString("DB_USER") }
        #expect(unset == config.unevaluated["DB_USER"])
        let missing = try #require(throws: WordPressConfigError.self) { try config.requiredString("DB_PASSWORD") }
        #expect(missing.message.contains("DB_PASSWORD is not set in this file"))
        #expect(missing.message.contains("CLOUDCHAT_DB_PASSWORD"))

        let badHost = try parse("<?php\n\ndefine('DB_HOST', 'db.example.com:99999');\n")
        let hostError = try #require(throws: WordPressConfigError.self) { try badHost.databaseHost() }
        #expect(hostError.path == configPath)
        #expect(hostError.line == 3)
    }
}

// MARK: - Multisite

@Suite("Multisite")
struct MultisiteTests {
    @Test("MULTISITE counts when PHP finds it true", arguments: ["true", "TRUE", "1", "'1'", "'true'", "\"yes\""])
    func truthy(value: String) throws {
        let config = try parse("<?php\ndefine('MULTISITE', \(value));\n")
        #expect(config.isMultisite)
    }

    @Test("MULTISITE does not count when PHP finds it false", arguments: ["false", "0", "'0'", "''", "null", "0.0"])
    func falsy(value: String) throws {
        let config = try parse("<?php\ndefine('MULTISITE', \(value));\ndefine('SUBDOMAIN_INSTALL', true);\n")
        #expect(!config.isMultisite)
    }

    @Test("a network's other constants are kept like any other")
    func networkConstants() throws {
        let config = try parse("""
        <?php
        define( 'WP_ALLOW_MULTISITE', true );
        define( 'MULTISITE', true );
        define( 'SUBDOMAIN_INSTALL', false );
        define( 'DOMAIN_CURRENT_SITE', 'example.com' );
        define( 'PATH_CURRENT_SITE', '/' );
        define( 'SITE_ID_CURRENT_SITE', 1 );
        define( 'BLOG_ID_CURRENT_SITE', 1 );
        """)
        #expect(config.isMultisite)
        #expect(config.constants["SUBDOMAIN_INSTALL"] == .bool(false))
        #expect(config.string("DOMAIN_CURRENT_SITE") == "example.com")
        #expect(config.string("PATH_CURRENT_SITE") == "/")
        #expect(config.constants["SITE_ID_CURRENT_SITE"] == .int(1))
        #expect(config.constants["BLOG_ID_CURRENT_SITE"] == .int(1))
    }

    @Test("a single site stays a single site; WP_ALLOW_MULTISITE alone does not make a network")
    func singleSite() throws {
        #expect(try !parse("<?php\ndefine('DB_NAME', 'x');\n").isMultisite)
        #expect(try !parse("<?php\ndefine('WP_ALLOW_MULTISITE', true);\n").isMultisite)
    }

    @Test("without MULTISITE, SUBDOMAIN_INSTALL makes a network, as in WordPress's is_multisite()")
    func legacyConstants() throws {
        #expect(try parse("<?php\ndefine('SUBDOMAIN_INSTALL', false);\n").isMultisite)
    }
}

// MARK: - PHP syntax

@Suite("PHP syntax")
struct SyntaxTests {
    @Test("comment markers inside strings do not start comments")
    func commentMarkersInStrings() throws {
        let config = try parse(#"""
        <?php
        define('AUTH_SALT', 'a/*b');
        define('DB_NAME', 'shop');
        define('SECURE_AUTH_SALT', "c//d#e");
        define('DB_USER', 'user');
        define('NONCE_SALT', '*/');
        define('DB_HOST', 'localhost');
        """#)
        #expect(config.string("AUTH_SALT") == "a/*b")
        #expect(config.string("SECURE_AUTH_SALT") == "c//d#e")
        #expect(config.string("NONCE_SALT") == "*/")
        #expect(config.string("DB_NAME") == "shop")
        #expect(config.string("DB_USER") == "user")
        #expect(config.string("DB_HOST") == "localhost")
    }

    @Test("quotes inside comments do not start strings")
    func quotesInComments() throws {
        let config = try parse("""
        <?php
        // Don't forget: it's "important"
        # isn't it?
        /* That's all, stop editing! */
        define('DB_NAME', 'shop');
        """)
        #expect(config.string("DB_NAME") == "shop")
        #expect(config.lines["DB_NAME"] == 5)
    }

    @Test("text outside the PHP tags is ignored, and ?> ends a // comment")
    func inlineHTML() throws {
        let config = try parse("""
        <html>define('DB_USER', 'html');</html>
        <?php define('DB_NAME', 'shop'); // comment ?> define('DB_PASSWORD', 'html');
        <?PHP
        define('DB_HOST', 'localhost') ?>
        trailing text with 'an unclosed quote
        """)
        #expect(config.constants == ["DB_NAME": .string("shop"), "DB_HOST": .string("localhost")])
        #expect(config.lines["DB_HOST"] == 4)
    }

    @Test("text without an open tag is read as code")
    func fragment() throws {
        let config = try parse("define('DB_NAME', 'shop');")
        #expect(config.string("DB_NAME") == "shop")
    }

    @Test("strings, heredocs and interpolation blocks spanning lines keep later line numbers right")
    func multiLineTokens() throws {
        let config = try parse(#"""
        <?php
        define('BANNER', "line one
        line two {$config["key"]} done");
        $notice = <<<TEXT
            heredoc "quotes" and 'quotes'
            TEXT;
        define('DB_NAME', 'shop');
        """#)
        #expect(config.lines["DB_NAME"] == 7)
        #expect(config.constants["BANNER"] == nil)
    }

    struct BrokenSource: Sendable, CustomTestStringConvertible {
        var source: String
        var line: Int
        var wording: String
        var testDescription: String { wording + " at line \(line)" }
    }

    @Test(
        "a string, comment or heredoc that never closes is an error at the line it starts",
        arguments: [
            BrokenSource(source: "<?php\ndefine('DB_NAME', 'shop');\ndefine('DB_PASSWORD', 'unclosed);\ndefine('DB_USER', 'u');\n", line: 4, wording: "string"),
            BrokenSource(source: "<?php\n\ndefine(\"DB_PASSWORD\", \"unclosed);\n\ndefine('X', 1);\n", line: 3, wording: "string"),
            BrokenSource(source: "<?php\ndefine('DB_NAME', 'shop');\n/* never closed\ndefine('DB_USER', 'u');\n", line: 3, wording: "comment"),
            BrokenSource(source: "<?php\n\n\n$text = <<<EOT\nno end\n", line: 4, wording: "heredoc"),
            BrokenSource(source: "<?php\n$cmd = `ls\n", line: 2, wording: "string"),
        ]
    )
    func unterminated(broken: BrokenSource) throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try parse(broken.source)
        }
        #expect(error.path == configPath)
        #expect(error.line == broken.line)
        #expect(error.message.contains(broken.wording))
        #expect(error.message.contains("never closed"))
        #expect(error.description.hasPrefix("\(configPath):\(broken.line): "))
    }

    @Test("an unterminated string error does not quote the string")
    func unterminatedWithoutValue() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try parse("<?php\ndefine('DB_PASSWORD', 'hunter2);\n")
        }
        #expect(!error.description.contains("hunter2"))
    }

    @Test("every prefix of a complete file either parses or reports what is left open")
    func everyPrefix() throws {
        let bytes = Array(StockConfigTests.source.utf8)
        for length in stride(from: 0, through: bytes.count, by: 3) {
            let prefix = String(decoding: bytes[..<length], as: UTF8.self)
            do {
                _ = try parse(prefix)
            } catch {
                #expect(error.message.contains("never closed"))
                #expect(error.line.map { (1...100).contains($0) } == true)
            }
        }
    }

    @Test("tokens carry the line they start on")
    func tokenLines() throws {
        let tokens = try PHPTokenizer.tokenize(Array("<?php\n$a = 'x\ny';\n/* c\n */ FOO".utf8))
        #expect(tokens.map(\.kind) == [.variable("a"), .symbol("="), .string("x\ny"), .symbol(";"), .identifier("FOO")])
        #expect(tokens.map(\.line) == [2, 2, 2, 3, 5])
    }
}

// MARK: - Files

@Suite("Finding and reading the file")
struct FileTests {
    @Test("a missing file names the path and suggests --wordpress and --wp-config")
    func missingFile() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.load(path: "/nonexistent/site/wp-config.php", environment: [:])
        }
        #expect(error.path == "/nonexistent/site/wp-config.php")
        #expect(error.line == nil)
        #expect(error.description.hasPrefix("/nonexistent/site/wp-config.php: "))
        #expect(error.message.contains("--wordpress"))
        #expect(error.message.contains("--wp-config"))
    }

    @Test("a directory is not taken for the file")
    func directoryInsteadOfFile() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.load(path: directory.path, environment: [:])
        }
        #expect(error.message.contains("directory"))
    }

    @Test("an unreadable file is reported as a permission problem", .enabled(if: geteuid() != 0, "root can read any file"))
    func unreadableFile() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("wp-config.php")
        try write("<?php\n", to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: file.path)
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.load(path: file.path, environment: [:])
        }
        #expect(error.message.contains("permission denied"))
        #expect(error.message.contains("--wp-config"))
    }

    @Test("a syntax error found while loading names the file and line")
    func loadSyntaxError() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("wp-config.php")
        try write("<?php\n\n/* unclosed\n", to: file)
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.load(path: file.path, environment: [:])
        }
        #expect(error == WordPressConfigError(path: file.path, line: 3, message: error.message))
    }

    @Test("locate() prefers wp-config.php in the WordPress root")
    func locateInRoot() throws {
        let site = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: site) }
        let root = site.appendingPathComponent("html")
        try write("<?php\n", to: root.appendingPathComponent("wp-config.php"))
        try write("<?php\n", to: root.appendingPathComponent("wp-settings.php"))
        try write("<?php\n", to: site.appendingPathComponent("wp-config.php"))
        #expect(try WordPressConfigFile.locate(wordpressRoot: root.path) == root.path + "/wp-config.php")
        #expect(try WordPressConfigFile.locate(wordpressRoot: root.path + "/") == root.path + "/wp-config.php")
    }

    @Test("locate() falls back to the parent directory when that is not another installation")
    func locateInParent() throws {
        let site = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: site) }
        let root = site.appendingPathComponent("html")
        try write("<?php\n", to: root.appendingPathComponent("wp-settings.php"))
        try write("<?php\n", to: site.appendingPathComponent("wp-config.php"))
        #expect(try WordPressConfigFile.locate(wordpressRoot: root.path) == site.path + "/wp-config.php")
    }

    @Test("locate() does not take the wp-config.php of a WordPress installation in the parent directory")
    func locateRejectsOtherInstallation() throws {
        let site = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: site) }
        let root = site.appendingPathComponent("blog")
        try write("<?php\n", to: root.appendingPathComponent("wp-settings.php"))
        try write("<?php\n", to: site.appendingPathComponent("wp-config.php"))
        try write("<?php\n", to: site.appendingPathComponent("wp-settings.php"))
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.locate(wordpressRoot: root.path)
        }
        #expect(error.message.contains(root.path + "/wp-config.php"))
        #expect(error.message.contains(site.path + "/wp-config.php"))
        #expect(error.message.contains("another WordPress installation"))
    }

    @Test("locate() lists the paths it tried when there is no wp-config.php")
    func locateNothing() throws {
        let site = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: site) }
        let root = site.appendingPathComponent("html")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.locate(wordpressRoot: root.path)
        }
        #expect(error.path == root.path)
        #expect(error.message.contains("tried \(root.path)/wp-config.php and \(site.path)/wp-config.php"))
        #expect(error.message.contains("--wordpress"))
        #expect(error.message.contains("--wp-config"))
    }

    @Test("locate() says so when the root is not a directory")
    func locateMissingRoot() throws {
        let error = try #require(throws: WordPressConfigError.self) {
            try WordPressConfigFile.locate(wordpressRoot: "/nonexistent/wordpress")
        }
        #expect(error.path == "/nonexistent/wordpress")
        #expect(error.message.contains("no directory"))
    }
}
