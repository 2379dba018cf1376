// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "cloudchat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cloudchatd", targets: ["cloudchatd"]),
        .library(name: "MariaDB", targets: ["MariaDB"]),
        .executable(name: "cloudchat-graph-simulator", targets: ["cloudchat-graph-simulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.12.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        // Instruments in the code (counters, timers, histograms), rendered for Prometheus at GET /metrics.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
    ],
    targets: [
        // C libraries from Debian, each imported by exactly one Swift target.
        .systemLibrary(
            name: "CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        // Our MariaDB client: connections, prepared statements, typed rows,
        // transactions and a pool. Knows nothing of WhatsApp or WordPress.
        .target(
            name: "MariaDB",
            dependencies: [
                "CMariaDB",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // HMAC, constant-time comparison, AES-256-GCM and random bytes over libcrypto.
        .target(name: "CloudChatCrypto", dependencies: ["COpenSSL"]),
        // Meta's WhatsApp Cloud API: models and the Graph client over libcurl.
        .target(name: "WhatsAppCloudAPI", dependencies: ["CCurl"]),
        // The WordPress side: wp-config.php, multisite, the CloudChat schema.
        .target(
            name: "WordPressStore",
            dependencies: [
                "MariaDB",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Webhook intake: signature check, site routing, durable group commit,
        // and processing of stored events into contacts, conversations, messages and statuses.
        .target(
            name: "WebhookIngest",
            dependencies: [
                "MariaDB",
                "WordPressStore",
                "CloudChatCrypto",
                "WhatsAppCloudAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Sending: the outbox, pacing per business number, priority lanes, retries,
        // template sync, and the accounts' encrypted credentials.
        .target(
            name: "Sending",
            dependencies: [
                "MariaDB",
                "WordPressStore",
                "WhatsAppCloudAPI",
                "CloudChatCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Data rights: erasing a contact's rows, files and raw webhooks; retention and its janitor.
        .target(
            name: "Privacy",
            dependencies: [
                "MariaDB",
                "WordPressStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Inbound media: downloads, checksum checks and files under the media directory.
        .target(
            name: "MediaDownload",
            dependencies: [
                "MariaDB",
                "WordPressStore",
                "WhatsAppCloudAPI",
                "CloudChatCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A stand-in for Meta's Graph API on loopback, for tests, the demo and benchmarks.
        .target(
            name: "GraphSimulator",
            dependencies: [
                "WhatsAppCloudAPI",
                "CloudChatCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "cloudchat-graph-simulator",
            dependencies: [
                "GraphSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Configuration, doctor checks and the long-running services of the daemon.
        .target(
            name: "CloudChatDaemon",
            dependencies: [
                "MariaDB",
                "WordPressStore",
                "WhatsAppCloudAPI",
                "CloudChatCrypto",
                "WebhookIngest",
                "Sending",
                "MediaDownload",
                "Privacy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "cloudchatd",
            dependencies: [
                "CloudChatDaemon",
                "Sending",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Benchmark programs: each prints a report of what it measured and on what.
        .executableTarget(
            name: "MariaDBBenchmark",
            dependencies: ["MariaDB"],
            path: "Benchmarks/MariaDBBenchmark"
        ),
        .executableTarget(
            name: "WebhookLoad",
            dependencies: [
                "CloudChatCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/WebhookLoad"
        ),

        .target(
            name: "TestSupport",
            dependencies: ["MariaDB", "WordPressStore"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "MariaDBTests", dependencies: ["MariaDB", "TestSupport"]),
        .testTarget(name: "SendingTests", dependencies: ["Sending", "GraphSimulator", "TestSupport", "WhatsAppCloudAPI", "CloudChatCrypto"]),
        .testTarget(name: "MediaDownloadTests", dependencies: ["MediaDownload", "TestSupport", "WhatsAppCloudAPI", "CloudChatCrypto"]),
        .testTarget(name: "GraphSimulatorTests", dependencies: ["GraphSimulator", "TestSupport", "WhatsAppCloudAPI", "CloudChatCrypto"]),
        .testTarget(name: "CloudChatCryptoTests", dependencies: ["CloudChatCrypto"]),
        .testTarget(name: "WhatsAppCloudAPITests", dependencies: ["WhatsAppCloudAPI", "TestSupport"]),
        .testTarget(name: "WordPressStoreTests", dependencies: ["WordPressStore", "TestSupport"]),
        .testTarget(name: "WebhookIngestTests", dependencies: ["WebhookIngest", "TestSupport", "CloudChatCrypto", "WhatsAppCloudAPI"]),
        .testTarget(name: "CloudChatDaemonTests", dependencies: ["CloudChatDaemon", "GraphSimulator", "TestSupport", "CloudChatCrypto", "Sending", "Privacy", "WhatsAppCloudAPI"]),
    ]
)
