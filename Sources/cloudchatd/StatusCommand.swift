import ArgumentParser
import CloudChatDaemon
import Foundation
import WhatsAppCloudAPI

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the running daemon is doing: webhooks, sending, queues and campaigns.",
        discussion: """
            Asks the running cloudchatd over its control API (control_listen, signed with \
            control_secret, so run it where the configuration and its secret can be read, \
            e.g. with sudo). It reads the counters twice, --interval seconds apart, to show \
            rates. With --watch it refreshes until Ctrl-C. Only counts are shown: no phone \
            number, message or secret.

            For monitoring, GET /metrics on the same address gives the Prometheus page.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(name: .long, help: "Refresh every --interval seconds until interrupted.")
    var watch = false

    @Option(name: .long, help: ArgumentHelp("Seconds between the two readings that rates come from.", valueName: "seconds"))
    var interval: Double = 1

    @Flag(name: .long, help: "Print the daemon's status document as JSON (one reading, no rates).")
    var json = false

    func validate() throws {
        guard interval >= 0.2, interval <= 3600 else { throw ValidationError("--interval must be from 0.2 to 3600 seconds") }
    }

    func run() async throws {
        let configuration = try options.load()
        let http = GraphHTTPClient(userAgent: "cloudchatd-status/\(CloudChatVersion.current)")
        defer { http.shutdown() }
        guard let client = ControlClient(configuration: configuration, http: http) else {
            printError("cloudchatd status: no control_secret is configured, so the daemon cannot be asked; set control_secret or control_secret_file (the installer puts it in /etc/cloudchat/credentials/control_secret), or run with sudo")
            throw ExitStatus.configurationError
        }
        var previous = try await reading(client)
        if json {
            print(previous.document.jsonText)
            return
        }
        repeat {
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            let current = try await reading(client)
            if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            print(DaemonStatusReport(current: current, previous: previous, address: client.address).text)
            previous = current
        } while watch
    }

    private func reading(_ client: ControlClient) async throws -> DaemonStatusReport.Reading {
        let answer: (status: Int, body: JSONValue?)
        do {
            answer = try await client.get("/v1/status?live=1")
        } catch {
            printError("cloudchatd status: the daemon at \(client.address) cannot be reached (\(error)); is it running? (systemctl status cloudchatd)")
            throw ExitStatus.failure
        }
        guard answer.status == 200, let document = answer.body else {
            let reason = answer.body?["error"]?.stringValue ?? "HTTP \(answer.status)"
            printError("cloudchatd status: the daemon at \(client.address) refused: \(reason)")
            throw ExitStatus.failure
        }
        return .init(document: document, at: .now)
    }
}
