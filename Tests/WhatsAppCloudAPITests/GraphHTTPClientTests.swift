import Foundation
import TestSupport
import Testing
import WhatsAppCloudAPI

@Suite("Graph HTTP client", .timeLimit(.minutes(1)))
struct GraphHTTPClientTests {
    @Test func sendsAndReceivesOverOneReusedConnection() async throws {
        let server = try LoopbackHTTPServer { request in
            .init(status: request.path.hasSuffix("/missing") ? 404 : 200, body: #"{"echo":\#(request.body.count)}"#)
        }
        defer { server.stop() }
        let client = GraphHTTPClient(userAgent: "cloudchatd-test")
        defer { client.shutdown() }
        let base = "http://127.0.0.1:\(server.port)/v23.0"
        let body = Array(#"{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"hi 😀"}}"#.utf8)
        let sent = try await client.send(.init(method: "POST", url: base + "/106540352242922/messages",
                                               headers: [("Authorization", "Bearer secret-token"), ("Content-Type", "application/json")],
                                               body: body))
        #expect(sent == .init(status: 200, body: Array(#"{"echo":\#(body.count)}"#.utf8), httpVersion: 1))
        let missing = try await client.send(.init(url: base + "/missing"))
        #expect(missing.status == 404)

        let requests = server.requests
        #expect(requests.map(\.method) == ["POST", "GET"])
        #expect(requests[0].body == body)
        #expect(requests[0].headers["authorization"] == "Bearer secret-token")
        #expect(requests[0].headers["user-agent"] == "cloudchatd-test")
        #expect(requests[0].headers["expect"] == nil)
        #expect(requests[1].connection == requests[0].connection, "the second request reuses the connection")
    }

    @Test func manyRequestsAtOnceAllGetTheirOwnAnswer() async throws {
        let server = try LoopbackHTTPServer { request in .init(body: String(decoding: request.body, as: UTF8.self)) }
        defer { server.stop() }
        let client = GraphHTTPClient()
        defer { client.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let answer = try await client.send(.init(method: "POST", url: "http://127.0.0.1:\(server.port)/x", body: Array("\(index)".utf8)))
                    #expect(answer.body == Array("\(index)".utf8))
                }
            }
            try await group.waitForAll()
        }
        #expect(server.requests.count == 200)
        #expect(Set(server.requests.map(\.connection)).count <= 16, "at most 16 connections to one host")
    }

    @Test func aSlowServerTimesOutAndARefusedConnectionFailsWithoutLeakingHeaders() async throws {
        let server = try LoopbackHTTPServer { _ in .init(body: "{}", delay: 2) }
        defer { server.stop() }
        let client = GraphHTTPClient()
        defer { client.shutdown() }
        await #expect(throws: GraphHTTPError.self) {
            _ = try await client.send(.init(url: "http://127.0.0.1:\(server.port)/slow", timeout: .milliseconds(300)))
        }
        // A port nothing listens on: bind one, then close it.
        let closed = try LoopbackHTTPServer { _ in .init() }
        closed.stop()
        do {
            _ = try await client.send(.init(url: "http://127.0.0.1:\(closed.port)/x", headers: [("Authorization", "Bearer secret-token")]))
            Issue.record("expected a failure")
        } catch let error as GraphHTTPError {
            #expect(error.description.contains("127.0.0.1"))
            #expect(!error.description.contains("secret-token"))
        }
    }

    @Test func afterShutdownRequestsFail() async throws {
        let client = GraphHTTPClient()
        client.shutdown()
        await #expect(throws: GraphHTTPError.self) { _ = try await client.send(.init(url: "http://127.0.0.1:9/x")) }
    }
}
