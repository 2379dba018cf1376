import CloudChatCrypto
@testable import CloudChatDaemon
import Foundation
import MariaDB
import TestSupport
import Testing

/// A sample of hostile bodies, validly signed, through the real listener, writer and processor.
@Suite("Hostile webhook bodies over HTTP", .serialized, .timeLimit(.minutes(2)))
struct HostileWebhookHTTPTests {
    @Test func signedHostileBodiesAreAcknowledgedStoredAndSettled() async throws {
        var bodies = HostileWebhookBodies()
        print("hostile webhook bodies over HTTP: seed \(bodies.seed) (CLOUDCHAT_FUZZ_SEED=\(bodies.seed) replays them)")
        try await RunningDaemon.with { daemon in
            let (connection, site) = (daemon.connection, daemon.site)
            try connection.execute("""
                INSERT INTO \(site.table(.accounts)) (waba_id, phone_number_id, display_phone_number, created_at, updated_at)
                VALUES (\(bodies.wabaID), \(bodies.phoneNumberID), '15550783881', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
                """)
            var accepted = 0
            var tooLarge = 0
            for _ in 0..<300 {
                let body = bodies.nextBody()
                let (status, _) = try await daemon.request("POST", "/webhook", body: body, headers: [
                    "X-Hub-Signature-256": HMACSHA256.signatureHeader(for: body, secret: "app-secret-1"), "Content-Type": "application/json",
                ])
                if body.count > 1024 * 1024 {
                    #expect(status == 413)
                    tooLarge += 1
                } else {
                    #expect(status == 200, "a signed body is acknowledged once stored, whatever it holds")
                    if status == 200 { accepted += 1 }
                }
            }
            func count(_ condition: SQLQuery) throws -> Int {
                try connection.queryFirst("SELECT COUNT(*) FROM \(site.table(.webhookEvents)) WHERE \(condition)")!.decode(Int.self, at: 0)
            }
            #expect(try count("1 = 1") == accepted, "every acknowledged body is stored, once")
            try await waitUntil("every stored body is processed") { (try? count("processing_state = 'pending'")) == 0 }
            #expect(try count("processing_state NOT IN ('processed', 'partial', 'invalid', 'unrouted')") == 0)
            #expect(try count("processing_state IN ('invalid', 'partial') AND processing_error IS NULL") == 0)
            // The daemon still answers.
            #expect(try await daemon.request("GET", "/healthz").0 == 200)
            print("hostile webhook bodies over HTTP: \(accepted) acknowledged, \(tooLarge) refused as too large")
        }
    }
}
