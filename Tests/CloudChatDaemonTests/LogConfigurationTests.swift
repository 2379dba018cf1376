import CloudChatDaemon
import Foundation
import Logging
import TestSupport
import Testing

@Suite("Log configuration")
struct LogConfigurationTests {
    private func loader(_ directory: TemporaryDirectory, environment: [String: String] = [:], configFile: String? = nil,
                        commandLine: [ConfigurationKey: String] = [:]) -> ConfigurationLoader {
        ConfigurationLoader(environment: environment, configFile: configFile, commandLine: commandLine,
                            defaultConfigFile: directory.path + "/absent.conf")
    }

    @Test func logFormatComesFromEverySourceAndDefaultsToLogfmt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(try loader(directory).load().logFormat == .logfmt)
        let file = try directory.write("cloudchatd.conf", "log_format = json\n")
        let fromFile = try loader(directory, configFile: file).load()
        #expect(fromFile.logFormat == .json)
        #expect(fromFile.origins[.logFormat] == "\(file):1")
        let fromEnvironment = try loader(directory, environment: ["CLOUDCHAT_LOG_FORMAT": "TEXT"], configFile: file).load()
        #expect(fromEnvironment.logFormat == .text)
        #expect(fromEnvironment.origins[.logFormat] == "environment variable CLOUDCHAT_LOG_FORMAT")
        let fromCommandLine = try loader(directory, environment: ["CLOUDCHAT_LOG_FORMAT": "text"], configFile: file,
                                         commandLine: [.logFormat: "logfmt"]).load()
        #expect(fromCommandLine.logFormat == .logfmt)
        #expect(fromCommandLine.origins[.logFormat] == "command line")
    }

    @Test func anUnknownFormatNamesTheLineAndTheChoices() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("cloudchatd.conf", "log_level = info\nlog_format = yaml\n")
        let error = try #require(throws: ConfigurationError.self) { try loader(directory, configFile: file).load() }
        #expect(error.description == "\(file):2: log_format must be logfmt, json or text")
    }

    @Test func doctorShowsTheLogSettingsAndWhereTheyCameFrom() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // No database here: the configuration is reported before the connection is tried.
        let loader = loader(directory, environment: [
            "CLOUDCHAT_LOG_FORMAT": "json", "CLOUDCHAT_DB_SOCKET": directory.path + "/no-server.sock",
            "CLOUDCHAT_SPOOL_DIR": directory.path + "/spool",
        ], commandLine: [.logLevel: "debug"])
        let findings = await Doctor.run(loading: loader, logger: Logger(label: "test"))
        let configuration = try #require(findings.first { $0.check == "configuration" })
        #expect(configuration.detail.contains("log_format = json  [environment variable CLOUDCHAT_LOG_FORMAT]"), "\(configuration.detail)")
        #expect(configuration.detail.contains("log_level = debug  [command line]"), "\(configuration.detail)")
    }

    @Test func theCommandLineChoosesTheFormatOfWhatCloudchatdLogs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let scratch = try ScratchSite("lf", migrated: false)
        defer { scratch.drop() }
        try directory.write("site/wp-config.php", TestDatabase.wpConfig(prefix: scratch.prefix))
        let site = ["--wordpress", directory.path + "/site"]

        let migrated = try CloudChatBinary.run(["migrate", "--log-format", "json", "--log-level", "info"] + site)
        #expect(migrated.status == 0, "\(migrated.errors)")
        let lines = migrated.errors.split(separator: "\n")
        #expect(lines.contains { $0.contains(#""msg":"applying schema migration""#) }, "\(migrated.errors)")
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] as? String != nil, "not a JSON record: \(line)")
        }

        let refused = try CloudChatBinary.run(["migrate", "--log-format", "yaml"] + site)
        #expect(refused.status == 78)
        #expect(refused.errors.contains("command line: log_format must be logfmt, json or text"), "\(refused.errors)")
    }
}
