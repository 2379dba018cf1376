import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
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

    @Test func withoutASecretItSaysWhatToConfigure() async throws {
        try await RunningDaemon.with { daemon in
            let answer = try await Self.signed(daemon, "POST", "/v1/notify", #"{"blog_id":1}"#)
            #expect(answer.0 == 503)
            #expect(answer.1.contains("control_secret"))
        }
    }
}
