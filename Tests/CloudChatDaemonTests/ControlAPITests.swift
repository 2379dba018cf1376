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
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":9}"#).0 == 404)
            #expect(try await Self.signed(daemon, "POST", "/v1/notify", #"{"topic":"outbox"}"#).0 == 400)
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

    @Test func answersAreSignedOverTheRequestSoTheBridgeCanTellTheDaemon() async throws {
        try await RunningDaemon.with(configure: {
            $0.controlSecret = Self.secret
            $0.webhookVerifyToken = "verify-token-for-meta"
        }) { daemon in
            let stamp = String(Int(Date().timeIntervalSince1970))
            let signature = ControlAPI.signature(secret: Self.secret, timestamp: stamp, method: "GET", path: "/v1/status", body: [])
            let response = try await LoopbackHTTPClient.send("GET", port: daemon.controlPort, path: "/v1/status", headers: [
                "X-CloudChat-Timestamp": stamp, "X-CloudChat-Signature": signature,
            ])
            #expect(response.status == 200)
            let expected = ControlAPI.responseSignature(secret: Self.secret, requestSignature: signature, status: 200, body: response.body)
            #expect(response.headers["x-cloudchat-response-signature"] == expected)
            #expect(expected != ControlAPI.responseSignature(secret: "another-secret", requestSignature: signature, status: 200, body: response.body))
            #expect(response.text.contains(#""webhook_verify_token":"verify-token-for-meta""#))
            #expect(response.text.contains(#""webhooks":{"#))
            let unsigned = try await LoopbackHTTPClient.send("GET", port: daemon.controlPort, path: "/v1/status")
            #expect(unsigned.status == 401 && unsigned.headers["x-cloudchat-response-signature"] == nil)
        }
    }

    @Test func campaignsAreCreatedCheckedAndImportedInOneCall() async throws {
        try await RunningDaemon.with(configure: { $0.controlSecret = Self.secret }) { daemon in
            let (connection, site) = (daemon.connection, daemon.site)
            try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, state, created_at, updated_at)
                VALUES ('102290129340398', '106540352242922', 'active', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            try connection.execute("""
                INSERT INTO \(site.table(.templates)) (waba_id, name, language, status, parameter_format, components_json, created_at, updated_at)
                VALUES ('102290129340398', 'order_update', 'en_US', 'APPROVED', 'POSITIONAL',
                        '[{"type":"BODY","text":"Order {{1}} is {{2}}"}]', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            let definition = #""name":"Orders","phone_number_id":"106540352242922","template_name":"order_update","template_language":"en_US","audience":{"type":"csv"}"#
            let missing = try await Self.signed(daemon, "POST", "/v1/campaigns", #"{"blog_id":1,\#(definition)}"#)
            #expect(missing.0 == 400, "the template takes two parameters and none are mapped: \(missing.1)")
            let variables = #""variables":{"body":[{"column":"order"},{"text":"shipped"}]},"created_by_user_id":7"#
            let created = try await Self.signed(daemon, "POST", "/v1/campaigns",
                                                #"{"blog_id":1,\#(definition),\#(variables),"csv":"phone,order\n+16505550001,A-1\n+16505550002,\n"}"#)
            #expect(created.0 == 201, "\(created.1)")
            #expect(created.1.contains(#""state":"draft""#) && created.1.contains(#""added":1"#) && created.1.contains(#""line":3"#), "\(created.1)")
            let creator = try connection.queryFirst("SELECT created_by_user_id FROM \(site.table(.campaigns))")?.decode(Int.self, at: 0)
            #expect(creator == 7)
            #expect(try await Self.signed(daemon, "POST", "/v1/campaigns", #"{"blog_id":1,"name":"x"}"#).0 == 400)
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
