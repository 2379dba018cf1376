import Foundation
import Synchronization
import TestSupport
import Testing
import WhatsAppCloudAPI

@Suite("Graph client: media", .timeLimit(.minutes(1)))
struct GraphClientMediaTests {
    private static let token = "EAAG-media-test-token"

    private func withClient(answer: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Answer,
                            _ body: (GraphClient, LoopbackHTTPServer) async throws -> Void) async throws {
        let server = try LoopbackHTTPServer(handler: answer)
        defer { server.stop() }
        let http = GraphHTTPClient()
        defer { http.shutdown() }
        try await body(GraphClient(http: http, baseURL: "http://127.0.0.1:\(server.port)", apiVersion: "v23.0", accessToken: { Self.token }), server)
    }

    private static func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
    }

    private static func answer(_ bytes: [UInt8], status: Int = 200) -> LoopbackHTTPServer.Answer {
        var answer = LoopbackHTTPServer.Answer(status: status)
        answer.body = bytes
        return answer
    }

    /// Collects what a sink receives, as the transfer thread hands it over.
    final class Collected: Sendable {
        private let state = Mutex<(bytes: [UInt8], chunks: Int)>(([], 0))
        var bytes: [UInt8] { state.withLock { $0.bytes } }
        var chunks: Int { state.withLock { $0.chunks } }
        func take(_ chunk: UnsafeRawBufferPointer) {
            state.withLock {
                $0.bytes += chunk
                $0.chunks += 1
            }
        }
    }

    @Test func looksUpAMediaItemsURLAndChecksum() async throws {
        let answer = #"{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037543291543636","mime_type":"image/jpeg","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","file_size":303833,"id":"1037543291543636"}"#
        try await withClient(answer: { _ in .init(body: answer) }) { client, server in
            let info = try await client.mediaInfo("1037543291543636")
            #expect(info == .init(id: "1037543291543636", url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037543291543636",
                                  mimeType: "image/jpeg", sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                  fileSize: 303_833))
            let request = try #require(server.requests.first)
            #expect(request.method == "GET" && request.path == "/v23.0/1037543291543636")
            #expect(request.headers["authorization"] == "Bearer \(Self.token)")
        }
    }

    @Test func aGoneMediaIDIsAnUnknownObject() async throws {
        let gone = #"{"error":{"message":"Unsupported get request. Object with ID '1037543291543636' does not exist","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"Ax1"}}"#
        try await withClient(answer: { _ in .init(status: 400, body: gone) }) { client, _ in
            do {
                _ = try await client.mediaInfo("1037543291543636")
                Issue.record("expected an error")
            } catch let error as GraphAPIError {
                #expect(error.isUnknownObject && error.httpStatus == 400)
            }
        }
    }

    @Test func streamsADownloadChunkByChunkWithTheToken() async throws {
        let file = Self.bytes(3_000_000)
        try await withClient(answer: { _ in Self.answer(file) }) { client, server in
            let collected = Collected()
            let count = try await client.downloadMedia(from: "http://127.0.0.1:\(server.port)/media/abc?token=1", maximumBytes: 10_000_000) {
                collected.take($0)
            }
            #expect(count == Int64(file.count))
            #expect(collected.bytes == file)
            #expect(collected.chunks > 1, "the body arrives in pieces, not as one buffer")
            #expect(server.requests.first?.headers["authorization"] == "Bearer \(Self.token)")
        }
    }

    @Test func aMissingURLIsA404AndNothingReachesTheSink() async throws {
        try await withClient(answer: { _ in .init(status: 404, body: "not found") }) { client, server in
            let collected = Collected()
            do {
                _ = try await client.downloadMedia(from: "http://127.0.0.1:\(server.port)/media/expired", maximumBytes: 1000) { collected.take($0) }
                Issue.record("expected a 404")
            } catch let error as GraphAPIError {
                #expect(error.httpStatus == 404 && error.code == nil)
                #expect(!error.description.contains(Self.token))
            }
            #expect(collected.chunks == 0)
        }
    }

    @Test func theByteCapAbortsTheTransfer() async throws {
        let file = Self.bytes(200_000)
        try await withClient(answer: { _ in Self.answer(file) }) { client, server in
            let url = "http://127.0.0.1:\(server.port)/media/big"
            let exact = Collected()
            let count = try await client.downloadMedia(from: url, maximumBytes: Int64(file.count)) { exact.take($0) }
            #expect(count == Int64(file.count))
            #expect(exact.bytes == file)

            let capped = Collected()
            await #expect(throws: GraphBodyTooLarge(limit: Int64(file.count - 1))) {
                _ = try await client.downloadMedia(from: url, maximumBytes: Int64(file.count - 1)) { capped.take($0) }
            }
            #expect(capped.bytes.count < file.count)
        }
    }

    @Test func aThrowingSinkAbortsWithItsError() async throws {
        struct DiskFull: Error, Equatable {}
        try await withClient(answer: { _ in Self.answer(Self.bytes(500_000)) }) { client, server in
            await #expect(throws: DiskFull()) {
                _ = try await client.downloadMedia(from: "http://127.0.0.1:\(server.port)/media/x", maximumBytes: 1_000_000) { _ in throw DiskFull() }
            }
        }
    }

    @Test func theTokenOnlyGoesToHTTPSOrTheGraphHost() async throws {
        try await withClient(answer: { _ in .init(body: "x") }) { client, server in
            #expect(client.acceptsDownloadURL("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"))
            #expect(client.acceptsDownloadURL("http://127.0.0.1:\(server.port)/media/1"))
            #expect(!client.acceptsDownloadURL("http://example.com/media/1"))
            #expect(!client.acceptsDownloadURL("http://127.0.0.1:\(server.port + 1)/media/1"))
            #expect(!client.acceptsDownloadURL("file:///etc/passwd"))
            #expect(!client.acceptsDownloadURL("not a url"))
            await #expect(throws: GraphSendError.self) {
                _ = try await client.downloadMedia(from: "http://example.com/media/1", maximumBytes: 10) { _ in }
            }
            #expect(server.requests.isEmpty)
        }
    }

    @Test func noAnswerNamesNeitherTheTokenNorThePath() async throws {
        // A server too slow for the timeout. (Not a stopped server: its port may go to another test's server meanwhile.)
        try await withClient(answer: { _ in .init(body: "late", delay: 2) }) { client, server in
            do {
                _ = try await client.downloadMedia(from: "http://127.0.0.1:\(server.port)/secret/path?mid=42", maximumBytes: 10,
                                                   timeout: .milliseconds(300)) { _ in }
                Issue.record("expected no answer")
            } catch let error as GraphHTTPError {
                #expect(!error.description.contains(Self.token) && !error.description.contains("secret") && !error.description.contains("mid=42"))
            }
        }
    }

    @Test func uploadsAFileAsMultipartFormData() async throws {
        try await withClient(answer: { _ in .init(body: #"{"id":"1166846181421424"}"#) }) { client, server in
            let file = Array("%PDF-1.4 invoice".utf8)
            let id = try await client.uploadMedia(file, mimeType: "application/pdf", fileName: "in\"voice\r\n.pdf", from: "106540352242922")
            #expect(id == "1166846181421424")
            let request = try #require(server.requests.first)
            #expect(request.method == "POST" && request.path == "/v23.0/106540352242922/media")
            #expect(request.headers["authorization"] == "Bearer \(Self.token)")
            let contentType = try #require(request.headers["content-type"])
            #expect(contentType.hasPrefix("multipart/form-data; boundary="))
            let boundary = String(contentType.dropFirst("multipart/form-data; boundary=".count))
            let body = String(decoding: request.body, as: UTF8.self)
            #expect(body.contains("--\(boundary)\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"))
            #expect(body.contains("Content-Disposition: form-data; name=\"file\"; filename=\"in_voice_.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 invoice\r\n--\(boundary)--\r\n"))
        }
    }

    @Test func deletesAMediaItem() async throws {
        try await withClient(answer: { _ in .init(body: #"{"success":true}"#) }) { client, server in
            try await client.deleteMedia("1166846181421424")
            let request = try #require(server.requests.first)
            #expect(request.method == "DELETE" && request.path == "/v23.0/1166846181421424")
        }
    }
}
