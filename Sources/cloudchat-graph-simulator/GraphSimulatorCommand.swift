import ArgumentParser
import Dispatch
import Foundation
import GraphSimulator
import Logging

@main
struct GraphSimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cloudchat-graph-simulator",
        abstract: "A stand-in for Meta's WhatsApp Cloud API (Graph API) on loopback, for tests, the demo and benchmarks.",
        discussion: """
            It answers POST /{phone-number-id}/messages, mark-read, GET /{phone-number-id}, \
            GET /{waba-id}/message_templates and the media endpoints with Meta's shapes and error codes; \
            enforces each number's throughput (130429) and the pair rate limit (131056); injects failures; \
            and posts signed status webhooks (sent, delivered, read, or failed), inbound messages and \
            template status updates to --webhook-url, batched and retried as Meta does.

            Test endpoints (no token): GET /_simulator/stats, GET /_simulator/received?to=DIGITS, \
            POST /_simulator/reset, POST /_simulator/inbound, POST /_simulator/templates/status, \
            POST /_simulator/media/expire, POST /_simulator/media/corrupt. See docs/graph-simulator.md.

            Durations are written 250ms, 1.5s, 2m or a bare number of seconds.

            It prints one line, "graph simulator listening on http://HOST:PORT", once it serves, and \
            stops cleanly on SIGINT or SIGTERM.

            Example, for cloudchatd's demo (scripts/dev.sh):
              cloudchat-graph-simulator --listen 127.0.0.1:8788 \\
                --webhook-url http://127.0.0.1:8787/webhook \\
                --app-secret demo-app-secret --access-token demo-token \\
                --number 106540352242922:15550783881:102290129340398:80 \\
                --fail 0000=131026 --fail-sync 9999=131030 \\
                --transient-error-rate 0.01 --latency 20ms..80ms \\
                --inbound-rate 2 --seed 42
            """
    )

    @Option(help: ArgumentHelp("Where to listen, host:port ([v6]:port for IPv6); port 0 picks a free one.", valueName: "host:port"))
    var listen = "127.0.0.1:8788"

    @Option(help: ArgumentHelp("Event-loop threads serving HTTP.", valueName: "count"))
    var threads = 1

    @Option(name: .customLong("access-token"),
            help: ArgumentHelp("A bearer token to accept; repeat for several. Others get 401, code 190. Default: simulator-access-token.",
                               valueName: "token"))
    var accessTokens: [String] = []

    @Option(name: .customLong("number"),
            help: ArgumentHelp("""
                A business number: its phone number id, display digits, WABA id and, optionally, throughput in \
                messages per second (default 80). Repeat for several. Default: 106540352242922:15550783881:102290129340398.
                """, valueName: "id:digits:waba[:rate]"))
    var numbers: [String] = []

    @Option(name: .customLong("webhook-url"), help: ArgumentHelp("Where webhooks are posted, e.g. cloudchatd's http://127.0.0.1:8787/webhook. Without it, none are.", valueName: "url"))
    var webhookURL: String?

    @Option(name: .customLong("app-secret"), help: ArgumentHelp("The app secret webhooks are signed with (X-Hub-Signature-256).", valueName: "secret"))
    var appSecret: String?

    @Option(name: .customLong("app-secret-file"), help: ArgumentHelp("A file whose first line is the app secret (keeps it out of the process list).", valueName: "path"))
    var appSecretFile: String?

    @Option(help: ArgumentHelp("Delay before each Graph answer: a duration, or a range min..max drawn per request. Default: none.", valueName: "duration|min..max"))
    var latency: String?

    @Option(name: .customLong("fail"), help: ArgumentHelp("""
        Accept sends to recipients ending in SUFFIX, then post a failed status with CODE \
        (e.g. 0000=131026, message undeliverable). Repeatable; the first matching rule wins.
        """, valueName: "suffix=code"))
    var asynchronousFailures: [String] = []

    @Option(name: .customLong("fail-sync"), help: ArgumentHelp("""
        Answer sends to recipients ending in SUFFIX with error CODE at once (e.g. 9999=131030). Repeatable; \
        these rules are checked before the --fail ones.
        """, valueName: "suffix=code"))
    var synchronousFailures: [String] = []

    @Option(name: .customLong("transient-error-rate"), help: ArgumentHelp("Fraction of sends (0-1) answered 500/131000 or 503/2, drawn from the seed.", valueName: "fraction"))
    var transientErrorRate = 0.0

    @Option(name: .customLong("pair-interval"), help: ArgumentHelp("Pair rate limit: the steady spacing per (number, recipient).", valueName: "duration"))
    var pairInterval = "6s"

    @Option(name: .customLong("pair-burst"), help: ArgumentHelp("Pair rate limit: the most messages to one recipient at once.", valueName: "count"))
    var pairBurst = 45

    @Option(name: .customLong("sent-delay"), help: ArgumentHelp("From an accepted send to its sent status.", valueName: "duration"))
    var sentDelay = "100ms"

    @Option(name: .customLong("delivered-delay"), help: ArgumentHelp("From sent to delivered.", valueName: "duration"))
    var deliveredDelay = "400ms"

    @Option(name: .customLong("read-delay"), help: ArgumentHelp("From delivered to read.", valueName: "duration"))
    var readDelay = "1.5s"

    @Option(name: .customLong("read-probability"), help: ArgumentHelp("Chance (0-1) a message is read at all.", valueName: "fraction"))
    var readProbability = 0.8

    @Option(name: .customLong("late-probability"), help: ArgumentHelp("Chance (0-1) a status comes --late-delay late.", valueName: "fraction"))
    var lateProbability = 0.0

    @Option(name: .customLong("late-delay"), help: ArgumentHelp("How late a late status is.", valueName: "duration"))
    var lateDelay = "5s"

    @Option(name: .customLong("duplicate-probability"), help: ArgumentHelp("Chance (0-1) a status is posted twice.", valueName: "fraction"))
    var duplicateProbability = 0.0

    @Option(name: .customLong("out-of-order-probability"), help: ArgumentHelp("Chance (0-1) read is posted before delivered.", valueName: "fraction"))
    var outOfOrderProbability = 0.0

    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Most statuses in one webhook body (Meta sends up to 1,000).", valueName: "count"))
    var batchSize = 50

    @Option(name: .customLong("batch-window"), help: ArgumentHelp("Statuses due this close together share a body.", valueName: "duration"))
    var batchWindow = "20ms"

    @Option(name: .customLong("webhook-attempts"), help: ArgumentHelp("Attempts per webhook post before it is given up (counted).", valueName: "count"))
    var webhookAttempts = 6

    @Option(name: .customLong("webhook-retry-delay"), help: ArgumentHelp("Wait before the first retry; doubles each time, at most 30s.", valueName: "duration"))
    var webhookRetryDelay = "500ms"

    @Option(name: .customLong("webhook-concurrency"), help: ArgumentHelp("Webhook posts in flight at once; 1 keeps them in order.", valueName: "count"))
    var webhookConcurrency = 4

    @Option(name: .customLong("inbound-rate"), help: ArgumentHelp("Post realistic inbound text messages at this many per second (needs --webhook-url); 0 posts none.", valueName: "per-second"))
    var inboundRate = 0.0

    @Option(name: .customLong("inbound-customers"), help: ArgumentHelp("How many distinct customers the inbound messages come from.", valueName: "count"))
    var inboundCustomers = 200

    @Flag(name: .customLong("no-inbound-throughput"), help: "Do not count inbound messages against the numbers' throughput (Meta does).")
    var inboundIgnoresThroughput = false

    @Option(name: .customLong("media-url-lifetime"), help: ArgumentHelp("How long a media URL works before it answers 404.", valueName: "duration"))
    var mediaURLLifetime = "5m"

    @Option(name: .customLong("record-limit"), help: ArgumentHelp("""
        Accepted sends kept in detail for /_simulator/received; counts per recipient and callback data \
        are always exact. 0 keeps none, for long benchmarks.
        """, valueName: "count"))
    var recordLimit = 100_000

    @Flag(name: .customLong("no-sample-templates"), help: "Start each WABA without the sample templates.")
    var noSampleTemplates = false

    @Option(help: ArgumentHelp("Seed of the random choices, to repeat a run. Default: random (shown in /_simulator/stats).", valueName: "number"))
    var seed: UInt64?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    func run() async throws {
        let configuration = try makeConfiguration()
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown --log-level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let simulator: GraphSimulator
        do {
            simulator = try await GraphSimulator.start(configuration, logger: Logger(label: "cloudchat.graph-simulator"))
        } catch let error as GraphSimulatorError {
            throw ValidationError(error.description)
        }
        if inboundRate > 0 {
            do {
                try simulator.startInboundTraffic(messagesPerSecond: inboundRate, customers: inboundCustomers)
            } catch {
                await simulator.shutdown()
                throw ValidationError(error.description)
            }
        }
        // Written straight to the descriptor, unbuffered, so a script waiting for the line sees it at once.
        FileHandle.standardOutput.write(Data("graph simulator listening on \(simulator.baseURL)\n".utf8))
        await Self.waitForTerminationSignal()
        await simulator.shutdown()
    }

    /// Returns on the first SIGINT or SIGTERM.
    private static func waitForTerminationSignal() async {
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        for await _ in signals { break }
        sources.forEach { $0.cancel() }
    }

    // MARK: Options

    func makeConfiguration() throws -> GraphSimulator.Configuration {
        var configuration = GraphSimulator.Configuration()
        (configuration.host, configuration.port) = try Self.parseListen(listen)
        configuration.threads = threads
        if !accessTokens.isEmpty { configuration.accessTokens = Set(accessTokens) }
        if !numbers.isEmpty { configuration.numbers = try numbers.map(Self.parseNumber) }
        configuration.webhookURL = webhookURL
        if appSecret != nil && appSecretFile != nil { throw ValidationError("give --app-secret or --app-secret-file, not both") }
        if let appSecretFile {
            guard let text = try? String(contentsOfFile: appSecretFile, encoding: .utf8),
                  let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty else {
                throw ValidationError("cannot read an app secret from the first line of \(appSecretFile)")
            }
            configuration.appSecret = String(line).trimmingCharacters(in: .whitespaces)
        } else {
            configuration.appSecret = appSecret
        }
        if webhookURL != nil && configuration.appSecret == nil {
            throw ValidationError("--webhook-url needs --app-secret or --app-secret-file: cloudchatd refuses unsigned webhooks")
        }
        if let latency { configuration.latency = try Self.parseLatency(latency) }
        configuration.failureRules = try synchronousFailures.map { try Self.parseRule($0, mode: .synchronous) }
            + asynchronousFailures.map { try Self.parseRule($0, mode: .asynchronous) }
        configuration.transientErrorRate = transientErrorRate
        configuration.pairLimit = .init(interval: try Self.parseDuration(pairInterval, option: "--pair-interval"), burst: pairBurst)
        configuration.statuses.sentDelay = try Self.parseDuration(sentDelay, option: "--sent-delay")
        configuration.statuses.deliveredDelay = try Self.parseDuration(deliveredDelay, option: "--delivered-delay")
        configuration.statuses.readDelay = try Self.parseDuration(readDelay, option: "--read-delay")
        configuration.statuses.readProbability = readProbability
        configuration.statuses.lateProbability = lateProbability
        configuration.statuses.lateDelay = try Self.parseDuration(lateDelay, option: "--late-delay")
        configuration.statuses.duplicateProbability = duplicateProbability
        configuration.statuses.outOfOrderProbability = outOfOrderProbability
        configuration.statuses.batchSize = batchSize
        configuration.statuses.batchWindow = try Self.parseDuration(batchWindow, option: "--batch-window")
        configuration.delivery.maximumAttempts = webhookAttempts
        configuration.delivery.firstRetryDelay = try Self.parseDuration(webhookRetryDelay, option: "--webhook-retry-delay")
        configuration.delivery.maximumConcurrentPosts = webhookConcurrency
        configuration.inboundCountsAgainstThroughput = !inboundIgnoresThroughput
        configuration.mediaURLLifetime = try Self.parseDuration(mediaURLLifetime, option: "--media-url-lifetime")
        guard recordLimit >= 0 else { throw ValidationError("--record-limit cannot be negative") }
        configuration.recordedMessageLimit = recordLimit
        configuration.includeSampleTemplates = !noSampleTemplates
        configuration.seed = seed
        return configuration
    }

    static func parseListen(_ text: String) throws -> (String, Int) {
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(after: close)...].drop { $0 == ":" }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw ValidationError("--listen takes host:port, e.g. 127.0.0.1:8788")
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else {
            throw ValidationError("--listen takes host:port, e.g. 127.0.0.1:8788")
        }
        return (String(host), number)
    }

    static func parseNumber(_ text: String) throws -> GraphSimulator.BusinessNumber {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (3...4).contains(parts.count), parts[0...2].allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--number takes id:digits:waba[:rate], e.g. 106540352242922:15550783881:102290129340398:80")
        }
        var number = GraphSimulator.BusinessNumber(phoneNumberID: parts[0], displayPhoneNumber: parts[1], wabaID: parts[2])
        if parts.count == 4 {
            guard let rate = Double(parts[3]), rate > 0 else { throw ValidationError("--number \(text): the rate must be a positive number") }
            number.messagesPerSecond = rate
        }
        return number
    }

    static func parseRule(_ text: String, mode: GraphSimulator.FailureRule.Mode) throws -> GraphSimulator.FailureRule {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), let code = Int(parts[1]) else {
            throw ValidationError("a failure rule is SUFFIX=CODE with a digit suffix, e.g. 0000=131026")
        }
        return GraphSimulator.FailureRule(recipientSuffix: parts[0], code: code, mode: mode)
    }

    static func parseLatency(_ text: String) throws -> GraphSimulator.Latency {
        if let range = text.range(of: "..") {
            let lower = try parseDuration(String(text[..<range.lowerBound]), option: "--latency")
            let upper = try parseDuration(String(text[range.upperBound...]), option: "--latency")
            return .between(lower, upper)
        }
        let fixed = try parseDuration(text, option: "--latency")
        return fixed == .zero ? .none : .fixed(fixed)
    }

    /// `250ms`, `1.5s`, `2m`, or a bare number of seconds.
    static func parseDuration(_ text: String, option: String) throws -> Duration {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        var number = Substring(text.trimmingCharacters(in: .whitespaces))
        var scale = 1.0
        for unit in units where number.hasSuffix(unit.suffix) {
            number = number.dropLast(unit.suffix.count)
            scale = unit.seconds
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite else {
            throw ValidationError("\(option) takes a duration such as 250ms, 1.5s or 2m, not \(text)")
        }
        return .nanoseconds(Int64((value * scale * 1e9).rounded()))
    }
}
