import CloudChatCrypto
import Foundation
import Logging
import MariaDB
import Synchronization
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore
@testable import MediaDownload

/// Meta's side for the worker: canned answers by path, every request recorded.
final class FakeMeta: Sendable {
    /// Answers by path, and gates that hold a path's answer back until the test opens them.
    final class Routes: Sendable {
        let answers = Mutex<[String: LoopbackHTTPServer.Answer]>([:])
        let gates = Mutex<[String: Gate]>([:])

        func answer(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Answer {
            let path = String(request.path.split(separator: "?", maxSplits: 1).first ?? "")
            // On the server's connection thread, which may block.
            if let gate = gates.withLock({ $0[path] }) { gate.wait() }
            return answers.withLock { $0[path] } ?? .init(status: 404, body: "no such path")
        }
    }

    let routes: Routes
    let server: LoopbackHTTPServer

    init() throws {
        let routes = Routes()
        self.routes = routes
        server = try LoopbackHTTPServer { routes.answer($0) }
    }

    var base: String { "http://127.0.0.1:\(server.port)" }

    /// Answers a path with bytes.
    func serve(_ path: String, _ bytes: [UInt8], status: Int = 200) {
        var answer = LoopbackHTTPServer.Answer(status: status)
        answer.body = bytes
        routes.answers.withLock { $0[path] = answer }
    }

    /// Answers a path with text.
    func serve(_ path: String, text: String, status: Int = 200) {
        routes.answers.withLock { $0[path] = .init(status: status, body: text) }
    }

    /// `GET /v23.0/{media-id}`, answered as Meta does, pointing at `/files/<name>`.
    func mediaInfo(_ mediaID: String, file name: String, bytes: [UInt8], mimeType: String, fileSize: Int? = nil) {
        let sha = Data(SHA256.hash(bytes)).base64EncodedString()
        let size = fileSize.map { #","file_size":\#($0)"# } ?? ""
        serve("/v23.0/\(mediaID)", text: #"{"messaging_product":"whatsapp","url":"\#(base)/files/\#(name)","mime_type":"\#(mimeType)","sha256":"\#(sha)","id":"\#(mediaID)"\#(size)}"#)
    }

    /// Holds back the answers to a path until the returned gate is opened.
    func hold(_ path: String) -> Gate {
        let gate = Gate()
        routes.gates.withLock { $0[path] = gate }
        return gate
    }

    /// Paths requested, in order.
    var paths: [String] { server.requests.map { String($0.path.split(separator: "?", maxSplits: 1).first ?? "") } }

    func count(_ path: String) -> Int { paths.filter { $0 == path }.count }
}

/// A migrated site with a business number, a media directory, a fake Meta and helpers to make and read media rows.
final class MediaFixture {
    static let token = "EAAG-media-worker-token"

    let scratch: ScratchSite
    let pool: MariaDBPool
    let uploads: TemporaryDirectory
    let meta: FakeMeta
    let http = GraphHTTPClient()
    let accountID: UInt64
    var site: WordPressSite { scratch.site }
    var connection: MariaDBConnection { scratch.connection }
    var mediaRoot: String { MediaStorage.defaultRoot(of: site, uploadsDirectory: uploads.path) }
    var client: GraphClient { GraphClient(http: http, baseURL: meta.base, apiVersion: "v23.0", accessToken: { Self.token }) }

    init() throws {
        scratch = try ScratchSite("md")
        pool = MariaDBPool(configuration: TestDatabase.configuration(), size: 4)
        uploads = try TemporaryDirectory()
        meta = try FakeMeta()
        accountID = try scratch.connection.execute("""
            INSERT INTO \(scratch.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES ('102290129340398', '106540352242922', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
    }

    /// Runs a test body with a fresh fixture and removes it afterwards, whatever happened.
    static func with(_ body: (MediaFixture) async throws -> Void) async throws {
        let fixture = try MediaFixture()
        defer {
            fixture.meta.server.stop()
            fixture.http.shutdown()
            fixture.uploads.remove()
            fixture.scratch.drop()
        }
        do {
            try await body(fixture)
        } catch {
            await fixture.pool.shutdown()
            throw error
        }
        await fixture.pool.shutdown()
    }

    /// Settings that make a test quick: short polls, backoffs of milliseconds.
    static func quickConfiguration() -> MediaDownloadWorker.Configuration {
        var configuration = MediaDownloadWorker.Configuration()
        configuration.pollInterval = .milliseconds(50)
        configuration.initialBackoff = .milliseconds(1)
        configuration.maximumBackoff = .milliseconds(5)
        configuration.leaseDuration = .seconds(5)
        configuration.shutdownGracePeriod = .seconds(5)
        return configuration
    }

    func worker(_ configuration: MediaDownloadWorker.Configuration = quickConfiguration(), instanceID: String = "test:\(UUID().uuidString.prefix(8))",
                graphClient: MediaDownloadWorker.GraphClientProvider? = nil) -> MediaDownloadWorker {
        let client = self.client
        let accountID = self.accountID
        let uploads = self.uploads.path
        return MediaDownloadWorker(
            sites: [site], pool: pool, instanceID: instanceID, configuration: configuration,
            mediaDirectory: { MediaStorage.defaultRoot(of: $0, uploadsDirectory: uploads) },
            graphClient: graphClient ?? { _, account in account == accountID ? client : nil },
            logger: Logger(label: "test"))
    }

    /// Runs workers while `body` runs, then stops them (cancellation, as a service group's deadline would).
    func running(_ workers: MediaDownloadWorker..., body: () async throws -> Void) async throws {
        let tasks = workers.map { worker in Task { try await worker.run() } }
        do {
            try await body()
        } catch {
            for task in tasks { task.cancel() }
            for task in tasks { _ = try? await task.value }
            throw error
        }
        for task in tasks { task.cancel() }
        for task in tasks { try await task.value }
    }

    /// Inserts a pending row as the webhook processor does.
    @discardableResult
    func insertMedia(metaID: String?, url: String? = nil, sha256: String?, mimeType: String?, fileName: String? = nil,
                     receivedSecondsAgo: Int = 0, expiresInSeconds: Int = 7 * 24 * 3600) throws -> UInt64 {
        try connection.execute("""
            INSERT INTO \(site.table(.media))
                (account_id, contact_id, direction, meta_media_id, meta_media_expires_at, download_url, mime_type, sha256, file_name,
                 state, next_attempt_at, created_at, updated_at)
            VALUES (\(accountID), NULL, 'inbound', \(metaID), UTC_TIMESTAMP(6) + INTERVAL \(expiresInSeconds - receivedSecondsAgo) SECOND,
                    \(url), \(mimeType), \(sha256), \(fileName), 'pending', UTC_TIMESTAMP(6),
                    UTC_TIMESTAMP(6) - INTERVAL \(receivedSecondsAgo) SECOND, UTC_TIMESTAMP(6))
            """).lastInsertID
    }

    func row(_ id: UInt64) throws -> MariaDBRow {
        try #require(try connection.queryFirst("SELECT * FROM \(site.table(.media)) WHERE id = \(id)"))
    }

    func state(_ id: UInt64) throws -> String {
        try row(id).decode("state")
    }

    /// Waits until the row reaches one of the states.
    func waitFor(_ id: UInt64, _ states: Set<String>, timeout: Duration = .seconds(30)) async throws {
        try await waitUntil("media row \(id) is \(states.sorted().joined(separator: " or "))", timeout: timeout) { states.contains(try state(id)) }
    }

    /// Regular files under the media directory, relative to it.
    func filesOnDisk() -> Set<String> {
        guard let walker = FileManager.default.enumerator(atPath: mediaRoot) else { return [] }
        var files: Set<String> = []
        while let path = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: mediaRoot + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.insert(path)
            }
        }
        return files
    }

    static func mode(of path: String) -> mode_t {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0 }
        return status.st_mode & 0o7777
    }

    static func bytes(_ count: Int, seed: Int = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* (seed * 2 + 1) &+ seed &+ $0 >> 9) }
    }

    static func base64SHA256(_ bytes: [UInt8]) -> String { Data(SHA256.hash(bytes)).base64EncodedString() }
    static func hexSHA256(_ bytes: [UInt8]) -> String { SHA256.hexHash(bytes) }
}
