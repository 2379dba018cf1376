import MediaDownload
import Prometheus
import WordPressStore
import Sending
import Synchronization
import WebhookIngest
import WhatsAppCloudAPI

/// Why a webhook request was refused at the door.
enum WebhookRejection: String, CaseIterable, Sendable {
    case missingSignature = "missing_signature"
    case invalidSignature = "invalid_signature"
    case signingNotConfigured = "signing_not_configured"
    case bodyTooLarge = "body_too_large"
    case notStored = "not_stored"
}

/// Counters of the webhook door, shared by every connection handler.
final class WebhookDoorCounters: Sendable {
    let accepted = Atomic<Int>(0)
    private let rejected = Mutex<[WebhookRejection: Int]>([:])

    func reject(_ reason: WebhookRejection) {
        rejected.withLock { $0[reason, default: 0] += 1 }
    }

    func rejections(_ reason: WebhookRejection) -> Int {
        rejected.withLock { $0[reason] ?? 0 }
    }
}

/// Renders the daemon's metrics in the Prometheus text format for `GET /metrics`: the counters the
/// services keep, the instruments recorded through swift-metrics (database latencies, commit batch
/// sizes, send results by code) and the queue depths read from the database.
///
/// Only counts and times: never a phone number, a body or a secret.
struct DaemonMetrics: Sendable {
    let door: WebhookDoorCounters
    let writer: WebhookEventWriter
    let spool: WebhookSpool?
    let processors: [WebhookProcessor]
    let routing: SiteRoutingService
    let sending: SendStatistics
    let media: MediaDownloadWorker
    let registry: PrometheusCollectorRegistry
    let queues: DatabaseGauges
    let startedAt = ContinuousClock.now

    /// The swift-metrics factory of a daemon's registry, with buckets that fit what is measured.
    static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets["cloudchat_webhook_commit_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
        ]
        return factory
    }

    func render() async -> String {
        var text = renderCounters()
        if let reading = await queues.read() {
            text += Self.render(reading)
        }
        text += registry.emitToString()
        return text
    }

    /// What `GET /v1/status` adds to its counters for `cloudchatd status`: uptime, spool, processing
    /// per site, and the queues and campaigns read from the database.
    func liveStatus() async -> [String: JSONValue] {
        func number(_ value: some BinaryInteger) -> JSONValue { .number(Double(value)) }
        // Which site a row is about: its key, and its blog id within its install.
        func fields(_ site: WordPressSite) -> [String: JSONValue] {
            ["site": .string(site.key), "blog_id": number(site.blogID)]
        }
        let processing: [JSONValue] = processors.map { processor in
            let stats = processor.currentStatistics
            var entry = fields(processor.site)
            entry["processed"] = number(stats.total)
            entry["lag_seconds"] = .number(stats.lagSeconds)
            entry["holds_lease"] = .bool(stats.holdsLease)
            return .object(entry)
        }
        var status: [String: JSONValue] = [
            "uptime_seconds": .number((startedAt.duration(to: .now) / .seconds(1)).rounded()),
            "spool_batches": number(spool?.pendingBatches ?? 0),
            "processing": .array(processing),
        ]
        if let reading = await queues.read() {
            status["queues"] = .array(reading.queued.map { queue in
                var entry = fields(queue.site)
                entry["phone_number_id"] = .string(queue.phoneNumberID)
                entry["lane"] = .string(queue.lane)
                entry["queued"] = number(queue.count)
                return .object(entry)
            })
            var campaigns: [String: [String: JSONValue]] = [:]
            for row in reading.campaigns {
                let key = "\(row.site.key)/\(row.campaignID)"
                var campaign: [String: JSONValue]
                if let known = campaigns[key] {
                    campaign = known
                } else {
                    campaign = fields(row.site)
                    campaign["campaign_id"] = number(row.campaignID)
                    campaign["state"] = .string(row.campaignState)
                    campaign["recipients"] = .object([:])
                }
                if case .object(var recipients)? = campaign["recipients"] {
                    recipients[row.recipientState] = number(row.count)
                    campaign["recipients"] = .object(recipients)
                }
                campaigns[key] = campaign
            }
            status["campaigns"] = .array(campaigns.keys.sorted().compactMap { campaigns[$0].map(JSONValue.object) })
        }
        return status
    }

    private static func render(_ reading: DatabaseGauges.Reading) -> String {
        var text = "# HELP cloudchat_send_queue_depth Messages waiting to be sent, per business number and lane (agent, transactional, bulk, campaign).\n"
        text += "# TYPE cloudchat_send_queue_depth gauge\n"
        for queue in reading.queued {
            text += "cloudchat_send_queue_depth{site=\"\(queue.site.key)\",phone_number_id=\"\(queue.phoneNumberID)\",lane=\"\(queue.lane)\"} \(queue.count)\n"
        }
        text += "# HELP cloudchat_campaign_recipients Recipients of campaigns not yet finished, by the campaign's and the recipient's state.\n"
        text += "# TYPE cloudchat_campaign_recipients gauge\n"
        for row in reading.campaigns {
            text += "cloudchat_campaign_recipients{site=\"\(row.site.key)\",campaign_id=\"\(row.campaignID)\","
                + "campaign_state=\"\(row.campaignState)\",state=\"\(row.recipientState)\"} \(row.count)\n"
        }
        return text
    }

    private func renderCounters() -> String {
        var text = ""
        func metric(_ name: String, _ kind: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind)\n"
            for sample in samples { text += "\(name)\(sample.labels.isEmpty ? "" : "{\(sample.labels)}") \(sample.value)\n" }
        }
        let written = writer.currentStatistics
        metric("cloudchat_webhooks_accepted_total", "counter", "Webhook requests whose signature was valid.",
               [("", "\(door.accepted.load(ordering: .relaxed))")])
        metric("cloudchat_webhooks_rejected_total", "counter", "Webhook requests refused, by reason.",
               WebhookRejection.allCases.map { ("reason=\"\($0.rawValue)\"", "\(door.rejections($0))") })
        metric("cloudchat_webhooks_stored_total", "counter", "Webhook bodies committed to the database.", [("", "\(written.stored)")])
        metric("cloudchat_webhooks_spooled_total", "counter", "Webhook bodies written to the local spool while the database was unavailable.",
               [("", "\(written.spooled)")])
        metric("cloudchat_webhook_commits_total", "counter", "Group commits of webhook bodies.", [("", "\(written.commits)")])
        metric("cloudchat_webhook_spool_batches", "gauge", "Spool batches waiting to be drained into the database.",
               [("", "\(spool?.pendingBatches ?? 0)")])
        metric("cloudchat_webhooks_unrouted_total", "counter", "Webhook bodies (or parts) stored for a number or WABA no site has.",
               [("", "\(written.unrouted)")])
        metric("cloudchat_webhook_events_rerouted_total", "counter", "Unrouted webhook events moved to their site once the number was added.",
               [("", "\(routing.rerouted.load(ordering: .relaxed))")])
        let statistics = processors.map { ($0.site.key, $0.currentStatistics) }
        var outcomes: [(String, String)] = []
        for (site, stats) in statistics {
            for state in ["processed", "partial", "invalid", "unrouted", "rejected", "failed"] {
                outcomes.append(("site=\"\(site)\",outcome=\"\(state)\"", "\(stats.outcomes[state] ?? 0)"))
            }
        }
        metric("cloudchat_webhook_events_processed_total", "counter", "Stored webhook events processed, by outcome.", outcomes)
        metric("cloudchat_webhook_processing_retries_total", "counter", "Processing attempts that failed and will be retried.",
               statistics.map { ("site=\"\($0.0)\"", "\($0.1.retries)") })
        metric("cloudchat_webhook_processing_lag_seconds", "gauge", "Time from arrival to processing of the oldest event in the last batch.",
               statistics.map { ("site=\"\($0.0)\"", "\($0.1.lagSeconds)") })
        metric("cloudchat_webhook_processing_mark", "gauge", "Id of the newest event below which every event is processed.",
               statistics.map { ("site=\"\($0.0)\"", "\($0.1.mark)") })
        metric("cloudchat_webhook_processor_lease", "gauge", "1 when this daemon processes the site's webhooks.",
               statistics.map { ("site=\"\($0.0)\"", $0.1.holdsLease ? "1" : "0") })
        renderSending(metric)
        text += sendDurationHistogram()
        renderMedia(metric)
        return text
    }

    private func renderSending(_ metric: (String, String, String, [(labels: String, value: String)]) -> Void) {
        let outcomes: [(String, Int)] = [
            ("accepted", sending.accepted.load(ordering: .relaxed)), ("failed", sending.failed.load(ordering: .relaxed)),
            ("retried", sending.retried.load(ordering: .relaxed)), ("in_doubt", sending.inDoubt.load(ordering: .relaxed)),
            ("reconciled", sending.reconciled.load(ordering: .relaxed)),
        ]
        metric("cloudchat_sends_total", "counter", "Outbox send attempts, by outcome.", outcomes.map { ("outcome=\"\($0.0)\"", "\($0.1)") })
        metric("cloudchat_send_rate_limited_total", "counter", "Send attempts Meta refused for a rate limit, by limit.", [
            ("limit=\"throughput\"", "\(sending.throughputLimited.load(ordering: .relaxed))"),
            ("limit=\"pair\"", "\(sending.pairLimited.load(ordering: .relaxed))"),
        ])
        metric("cloudchat_send_pace_messages_per_second", "gauge", "The pace in force per business number.",
               sending.currentPaces.sorted { $0.key < $1.key }.map { ("phone_number_id=\"\($0.key)\"", "\($0.value)") })
    }

    /// The send-duration histogram, in Prometheus's histogram form (`_bucket`, `_sum`, `_count`).
    private func sendDurationHistogram() -> String {
        let name = "cloudchat_send_duration_seconds"
        var text = "# HELP \(name) Time from a send request to Meta's answer.\n# TYPE \(name) histogram\n"
        var cumulative = 0
        let counts = sending.latency.bucketCounts
        for (index, bound) in LatencyHistogram.boundsMilliseconds.enumerated() {
            cumulative += counts[index]
            text += "\(name)_bucket{le=\"\(bound / 1000)\"} \(cumulative)\n"
        }
        let (count, sum) = sending.latency.countAndSum
        text += "\(name)_bucket{le=\"+Inf\"} \(count)\n\(name)_sum \(sum / 1000)\n\(name)_count \(count)\n"
        return text
    }

    private func renderMedia(_ metric: (String, String, String, [(labels: String, value: String)]) -> Void) {
        let stats = media.statistics
        metric("cloudchat_media_downloads_total", "counter", "Media downloads, by outcome.", [
            ("outcome=\"stored\"", "\(stats.downloaded)"), ("outcome=\"failed\"", "\(stats.failed)"),
            ("outcome=\"expired\"", "\(stats.expired)"), ("outcome=\"retried\"", "\(stats.retried)"),
        ])
        metric("cloudchat_media_downloaded_bytes_total", "counter", "Bytes of media stored.", [("", "\(stats.bytes)")])
    }
}
