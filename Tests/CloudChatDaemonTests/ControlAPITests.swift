import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import Sending
import TestSupport
import Testing

@Suite("Control API", .serialized, .timeLimit(.minutes(2)))
struct ControlAPITests {
    static let secret = "control-secret-shared-with-the-plugin"

    /// Sends a control request signed as the plugin signs it.
    static func signed(_ daemon: RunningDaemon, _ method: String, _ path: String, _ body: String = "", secret: String = secret,
                       timestamp: Date = Date()) async throws -> (Int, String) {
        let stamp = String(Int(timestamp.timeIntervalSince1970))
        let bytes = Array(body.utf8)
        let signature = ControlAPI.signature(secret: secret, timestamp: stamp, method: method, path: path, body: bytes)
        let response = try await LoopbackHTTPClient.send(method, port: daemon.controlPort, path: path, body: bytes, headers: [
            "X-CloudChat-Timestamp": stamp, "X-CloudChat-Signature": signature, "Content-Type": "application/json",
        ])
        return (response.status, response.text)
    }

    @Test func refusesUnsignedForgedAndStaleRequests() async throws {
        try await RunningDaemon.with(configure: { $0.controlSecret = Self.secret }) { daemon in
            let unsigned = try await LoopbackHTTPClient.send("POST", port: daemon.controlPort, path: "/v1/notify", body: Array(#"{"blog_id":1}"#.utf8))
            #expect(unsigned.status == 401)
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1}"#, secret: "a-different-secret").0 == 401)
            let stale = try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1}"#, timestamp: Date().addingTimeInterval(-600))
            #expect(stale.0 == 401)
            #expect(stale.1.contains("clock"))
        }
    }

    @Test func notifiesStatusAndErrors() async throws {
        try await RunningDaemon.with(configure: { $0.controlSecret = Self.secret }) { daemon in
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1,"topic":"outbox"}"#).0 == 202)
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":9}"#).0 == 400)
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1,"topic":"weather"}"#).0 == 400)
            #expect(try await Self.signed(daemon, "GET", "/v1/notify").0 == 405)
            #expect(try await Self.signed(daemon, "GET", "/v1/nothing").0 == 404)
            let status = try await Self.signed(daemon, "GET", "/v1/status")
            #expect(status.0 == 200)
            #expect(status.1.contains(#""version":"\#(CloudChatVersion.current)""#))
            // Without a key file, credentials cannot be stored, and the answer says how to fix it.
            let credentials = try await Self.signed(daemon, "POST", "/v1/credentials",
                                                    #"{"blog_id":1,"phone_number_id":"106540352242922","waba_id":"102290129340398","access_token":"EAAG1","verify":false}"#)
            #expect(credentials.0 == 503)
            #expect(credentials.1.contains("secrets-key generate"))
        }
    }

    @Test func campaignsAreFilledStartedPausedAndCancelledThroughTheControlAPI() async throws {
        try await RunningDaemon.with(configure: { $0.controlSecret = Self.secret }) { daemon in
            let (connection, site) = (daemon.connection, daemon.site)
            try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, state, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', 'disabled', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            try connection.execute("""
                INSERT INTO \(site.table(.templates)) (waba_id, name, language, status, components_json, created_at, updated_at)
                VALUES ('102290129340398', 'hello_world', 'en_US', 'APPROVED', '[]', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            let id = try CampaignStore(site: site).create(NewCampaign(
                phoneNumberID: "106540352242922", name: "Launch", templateName: "hello_world", templateLanguage: "en_US",
                audience: .object(["type": "csv"])), on: connection)
            let path = "/v1/campaigns/\(id)"
            let imported = try await Self.signed(daemon, "POST", path + "/recipients",
                                                 #"{"blog_id":1,"csv":"phone\n+16505550001\nnot a number\n16505550002\n"}"#)
            #expect(imported.0 == 200)
            #expect(imported.1.contains(#""added":2"#) && imported.1.contains(#""line":3"#), "\(imported.1)")
            #expect(try await Self.signed(daemon, "POST", path + "/pause", #"{"blog_id":1}"#).0 == 409, "a draft cannot be paused")
            // The number is disabled (so nothing is sent here): a start is refused with the reason.
            let refused = try await Self.signed(daemon, "POST", path + "/start", #"{"blog_id":1}"#)
            #expect(refused.0 == 409 && refused.1.contains("disabled"), "\(refused.1)")
            try connection.execute("UPDATE \(site.table(.campaigns)) SET state = 'running', started_at = UTC_TIMESTAMP(6) WHERE id = \(id)")
            #expect(try await Self.signed(daemon, "POST", path + "/pause", #"{"blog_id":1}"#).1.contains(#""state":"paused""#))
            #expect(try await Self.signed(daemon, "POST", path + "/resume", #"{"blog_id":1}"#).0 == 409)
            let cancelled = try await Self.signed(daemon, "POST", path + "/cancel", #"{"blog_id":1}"#)
            #expect(cancelled.1.contains(#""state":"cancelled""#) && cancelled.1.contains(#""pending":2"#), "\(cancelled.1)")
            let shown = try await Self.signed(daemon, "GET", path + "?blog_id=1")
            #expect(shown.0 == 200 && shown.1.contains(#""total":2"#))
            #expect(try await Self.signed(daemon, "POST", path + "/launch", #"{"blog_id":1}"#).0 == 404)
            #expect(try await Self.signed(daemon, "GET", "/v1/campaigns/999?blog_id=1").0 == 404)
            let unscheduled = try await Self.signed(daemon, "POST", path + "/schedule", #"{"blog_id":1,"at":"tomorrow"}"#)
            #expect(unscheduled.0 == 400 && unscheduled.1.contains("UTC time"))
        }
    }

    @Test func withoutASecretItSaysWhatToConfigure() async throws {
        try await RunningDaemon.with { daemon in
            let answer = try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1}"#)
            #expect(answer.0 == 503)
            #expect(answer.1.contains("control_secret"))
        }
    }
}
