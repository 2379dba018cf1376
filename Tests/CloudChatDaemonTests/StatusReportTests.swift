@testable import CloudChatDaemon
import Foundation
import TestSupport
import Testing
import WhatsAppCloudAPI

@Suite("cloudchatd status", .serialized, .timeLimit(.minutes(2)))
struct StatusReportTests {
    @Test func ratesAreTheChangeBetweenTwoReadings() throws {
        let before = try JSONValue.parse(Array(#"{"version":"1.2.3","uptime_seconds":3599,"webhooks":{"accepted":10,"stored":10,"spooled":0},"sending":{"accepted":4}}"#.utf8))
        let after = try JSONValue.parse(Array("""
            {"version":"1.2.3","uptime_seconds":3601,"webhooks":{"accepted":30,"stored":29,"spooled":1},"spool_batches":1,
             "processing":[{"site":"shop.wp_","blog_id":1,"processed":28,"lag_seconds":0.25,"holds_lease":true}],
             "sending":{"accepted":8,"failed":1,"retried":2,"in_doubt":0,"throughput_limited":3,"pace_per_number":{"106540352242922":80}},
             "queues":[{"blog_id":1,"phone_number_id":"106540352242922","lane":"agent","queued":2},
                       {"blog_id":1,"phone_number_id":"106540352242922","lane":"campaign","queued":120}],
             "campaigns":[{"blog_id":1,"campaign_id":7,"state":"running","recipients":{"pending":120,"sent":380}}]}
            """.utf8))
        let start = ContinuousClock.now
        let report = DaemonStatusReport(current: .init(document: after, at: start.advanced(by: .seconds(2))),
                                        previous: .init(document: before, at: start), address: "http://127.0.0.1:8789").text
        #expect(report.contains("cloudchatd 1.2.3 at http://127.0.0.1:8789, up 1 h 0 min"))
        #expect(report.contains("30 accepted (10.0/s), 29 stored, 1 spooled; spool 1 batches waiting"))
        #expect(report.contains("processing blog 1 of shop.wp_: 28 events, lag 0.2 s") || report.contains("processing blog 1 of shop.wp_: 28 events, lag 0.3 s"))
        #expect(report.contains("8 accepted (2.0/s), 1 failed, 2 retried, 0 in doubt, 3 throughput-limited"))
        #expect(report.contains("106540352242922: pace 80/s; queued agent 2, transactional 0, bulk 0, campaign 120"))
        #expect(report.contains("#7 (blog 1) running: pending 120, sent 380"))
    }

    @Test func theStatusCommandsClientReadsTheRunningDaemon() async throws {
        let secret = "status-secret"
        try await RunningDaemon.with(configure: { $0.controlSecret = secret }) { daemon in
            var configuration = DaemonConfiguration()
            configuration.controlPort = daemon.controlPort
            configuration.controlSecret = secret
            let http = GraphHTTPClient(userAgent: "test")
            defer { http.shutdown() }
            let client = try #require(ControlClient(configuration: configuration, http: http))
            let answer = try await client.get("/v1/status?live=1")
            #expect(answer.status == 200)
            let document = try #require(answer.body)
            #expect(document["uptime_seconds"]?.numberValue != nil)
            #expect(document["processing"]?.arrayValue?.first?["blog_id"]?.numberValue == 1)
            #expect(document["processing"]?.arrayValue?.first?["site"]?.stringValue == daemon.site.key)
            #expect(document["queues"]?.arrayValue != nil)
            #expect(document["campaigns"]?.arrayValue != nil)
            // Without live=1 the answer is the cheap one the plugin asks for often.
            let plain = try await client.get("/v1/status")
            #expect(plain.status == 200)
            #expect(plain.body?["queues"] == nil)
            let reading = DaemonStatusReport.Reading(document: document, at: .now)
            let text = DaemonStatusReport(current: reading, previous: reading, address: client.address).text
            #expect(text.contains("processing blog 1 of \(daemon.site.key)"))

            var wrong = configuration
            wrong.controlSecret = "not-the-secret"
            let refused = try await #require(ControlClient(configuration: wrong, http: http)).get("/v1/status")
            #expect(refused.status == 401)
        }
    }
}
