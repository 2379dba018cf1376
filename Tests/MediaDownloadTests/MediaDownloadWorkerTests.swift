import CloudChatCrypto
import Foundation
import MariaDB
import Synchronization
import TestSupport
import Testing
import WhatsAppCloudAPI
import WordPressStore
@testable import MediaDownload

@Suite("Media download worker", .timeLimit(.minutes(2)))
struct MediaDownloadWorkerTests {
    @Test func storesAVerifiedFileUnderARandomNameWithSafeModes() async throws {
        try await MediaFixture.with { fixture in
            let photo = MediaFixture.bytes(300_000, seed: 1)
            let document = MediaFixture.bytes(12_345, seed: 2)
            let script = Array("<?php system($_GET['c']); ?>".utf8)
            // A photo whose webhook URL is fresh, with Meta's base64 digest: no Graph lookup needed.
            fixture.meta.serve("/files/photo", photo)
            let photoRow = try fixture.insertMedia(metaID: "1001", url: "\(fixture.meta.base)/files/photo",
                                                   sha256: MediaFixture.base64SHA256(photo), mimeType: "image/jpeg")
            // A document without a URL and with a hex digest: the URL comes from GET /{media-id}.
            fixture.meta.mediaInfo("1002", file: "document", bytes: document, mimeType: "application/pdf")
            fixture.meta.serve("/files/document", document)
            let documentRow = try fixture.insertMedia(metaID: "1002", sha256: MediaFixture.hexSHA256(document),
                                                      mimeType: "application/pdf", fileName: "Invoice 42.pdf")
            // A file of a type off the allowlist, named to look like a script.
            fixture.meta.mediaInfo("1003", file: "script", bytes: script, mimeType: "application/x-httpd-php")
            fixture.meta.serve("/files/script", script)
            let scriptRow = try fixture.insertMedia(metaID: "1003", sha256: MediaFixture.base64SHA256(script),
                                                    mimeType: "application/x-httpd-php", fileName: "shell.php")

            let worker = fixture.worker()
            try await fixture.running(worker) {
                for id in [photoRow, documentRow, scriptRow] { try await fixture.waitFor(id, ["stored", "failed", "expired"]) }
            }

            var stored: [String] = []
            for (id, bytes, mime, ext) in [(photoRow, photo, "image/jpeg", "jpg"), (documentRow, document, "application/pdf", "pdf"),
                                           (scriptRow, script, "application/x-httpd-php", "bin")] {
                let row = try fixture.row(id)
                #expect(try row.decode("state", as: String.self) == "stored")
                let path: String = try row.decode("storage_path")
                #expect(path.wholeMatch(of: /20[0-9]{2}\/(0[1-9]|1[0-2])\/[0-9a-f]{32}\.[a-z0-9]+/) != nil, "\(path)")
                #expect(path.hasSuffix("." + ext))
                #expect(try row.decode("size_bytes", as: Int.self) == bytes.count)
                #expect(try row.decode("mime_type", as: String.self) == mime)
                #expect(try row.decode("download_url", as: String?.self) == nil)
                #expect(try row.decode("claimed_by", as: String?.self) == nil)
                #expect(try row.decode("stored_at", as: Date?.self) != nil)
                #expect(try row.decode("attempt_count", as: Int.self) == 1)
                let file = fixture.mediaRoot + "/" + path
                #expect(FileManager.default.contents(atPath: file) == Data(bytes))
                #expect(MediaFixture.mode(of: file) == 0o640)
                #expect(MediaFixture.mode(of: (file as NSString).deletingLastPathComponent) == 0o750)
                #expect(MediaFixture.mode(of: ((file as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent) == 0o750)
                stored.append(path)
            }
            #expect(!stored[1].contains("Invoice") && !stored[2].contains("shell"), "names never come from the sender's file name")
            #expect(MediaFixture.mode(of: fixture.mediaRoot) == 0o750)
            let htaccess = try String(contentsOfFile: fixture.mediaRoot + "/.htaccess", encoding: .utf8)
            #expect(htaccess.contains("Require all denied") && htaccess.contains("php_flag engine off"))
            #expect(FileManager.default.contents(atPath: fixture.mediaRoot + "/index.html") == Data())
            #expect(fixture.filesOnDisk() == Set(stored + [".htaccess", "index.html"]), "no temporary file stays behind")

            #expect(fixture.meta.count("/files/photo") == 1 && fixture.meta.count("/v23.0/1001") == 0, "a fresh webhook URL saves the lookup")
            #expect(fixture.meta.server.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(MediaFixture.token)" })
            let statistics = worker.statistics
            #expect(statistics.downloaded == 3 && statistics.bytes == Int64(photo.count + document.count + script.count))
            #expect(statistics.failed == 0 && statistics.inFlight == 0)
        }
    }

    @Test func aChecksumMismatchIsRetriedThenFailsAndLeavesNoFile() async throws {
        try await MediaFixture.with { fixture in
            let bytes = MediaFixture.bytes(50_000)
            fixture.meta.mediaInfo("2001", file: "tampered", bytes: bytes, mimeType: "image/png")
            fixture.meta.serve("/files/tampered", bytes)
            let id = try fixture.insertMedia(metaID: "2001", sha256: MediaFixture.base64SHA256(Array("something else".utf8)), mimeType: "image/png")
            var configuration = MediaFixture.quickConfiguration()
            configuration.checksumAttempts = 3
            let worker = fixture.worker(configuration)
            try await fixture.running(worker) {
                try await fixture.waitFor(id, ["failed", "stored"])
            }
            let row = try fixture.row(id)
            #expect(try row.decode("state", as: String.self) == "failed")
            #expect(try row.decode("state_reason", as: String.self) == "checksum_mismatch")
            #expect(try row.decode("attempt_count", as: Int.self) == 3)
            #expect(try row.decode("storage_path", as: String?.self) == nil)
            #expect(fixture.meta.count("/files/tampered") == 3, "tried three times")
            #expect(fixture.filesOnDisk() == [".htaccess", "index.html"])
            #expect(worker.statistics.failed == 1 && worker.statistics.retried == 2)
        }
    }

    @Test func anExpiredURLIsFollowedByAFreshOneFromTheGraphAPI() async throws {
        try await MediaFixture.with { fixture in
            let bytes = MediaFixture.bytes(80_000)
            // The webhook's URL answers 404 (expired early); Meta's lookup gives a working one.
            fixture.meta.serve("/files/dead", text: "gone", status: 404)
            fixture.meta.mediaInfo("3001", file: "live", bytes: bytes, mimeType: "video/mp4")
            fixture.meta.serve("/files/live", bytes)
            let id = try fixture.insertMedia(metaID: "3001", url: "\(fixture.meta.base)/files/dead", sha256: MediaFixture.base64SHA256(bytes),
                                             mimeType: "video/mp4")
            // A webhook URL older than Meta's 5 minutes is not even tried.
            let older = MediaFixture.bytes(1000, seed: 5)
            fixture.meta.mediaInfo("3002", file: "older", bytes: older, mimeType: "audio/ogg; codecs=opus")
            fixture.meta.serve("/files/older", older)
            let olderID = try fixture.insertMedia(metaID: "3002", url: "\(fixture.meta.base)/files/stale", sha256: MediaFixture.base64SHA256(older),
                                                  mimeType: "audio/ogg; codecs=opus", receivedSecondsAgo: 600)
            let worker = fixture.worker()
            try await fixture.running(worker) {
                try await fixture.waitFor(id, ["stored", "failed", "expired"])
                try await fixture.waitFor(olderID, ["stored", "failed", "expired"])
            }
            #expect(try fixture.state(id) == "stored")
            #expect(try fixture.row(id).decode("attempt_count", as: Int.self) == 1, "the fresh URL is fetched within the same attempt")
            let paths = fixture.meta.paths.filter { $0.contains("dead") || $0.contains("3001") || $0.contains("live") }
            #expect(paths == ["/files/dead", "/v23.0/3001", "/files/live"])
            #expect(try fixture.state(olderID) == "stored")
            #expect(try fixture.row(olderID).decode("storage_path", as: String.self).hasSuffix(".ogg"))
            #expect(fixture.meta.count("/files/stale") == 0)
        }
    }

    @Test func anExpiredMediaIDEndsExpired() async throws {
        try await MediaFixture.with { fixture in
            // Past meta_media_expires_at: expired without asking Meta.
            let late = try fixture.insertMedia(metaID: "4001", sha256: "x", mimeType: "image/jpeg", receivedSecondsAgo: 8 * 24 * 3600)
            // Meta says the id is gone: code 100, subcode 33.
            fixture.meta.serve("/v23.0/4002", text: #"{"error":{"message":"Unsupported get request. Object with ID '4002' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"AaB"}}"#, status: 400)
            let gone = try fixture.insertMedia(metaID: "4002", sha256: "x", mimeType: "image/jpeg")
            let worker = fixture.worker()
            try await fixture.running(worker) {
                try await fixture.waitFor(late, ["expired", "failed", "stored"])
                try await fixture.waitFor(gone, ["expired", "failed", "stored"])
            }
            #expect(try fixture.state(late) == "expired" && fixture.state(gone) == "expired")
            #expect(try fixture.row(late).decode("state_reason", as: String.self) == "expired_id")
            #expect(try fixture.row(gone).decode("error_code", as: Int.self) == 100)
            #expect(fixture.meta.count("/v23.0/4001") == 0)
            #expect(worker.statistics.expired == 2)
        }
    }

    @Test func aFileOverTheCapFailsAndLeavesNoFile() async throws {
        try await MediaFixture.with { fixture in
            var configuration = MediaFixture.quickConfiguration()
            configuration.maximumBytes = 10_000
            // Meta does not say the size: the transfer is cut at the cap.
            let big = MediaFixture.bytes(60_000)
            fixture.meta.mediaInfo("5001", file: "big", bytes: big, mimeType: "application/pdf")
            fixture.meta.serve("/files/big", big)
            let streamed = try fixture.insertMedia(metaID: "5001", sha256: MediaFixture.base64SHA256(big), mimeType: "application/pdf")
            // Meta says the size: the file is never requested.
            fixture.meta.mediaInfo("5002", file: "announced", bytes: big, mimeType: "application/pdf", fileSize: big.count)
            fixture.meta.serve("/files/announced", big)
            let announced = try fixture.insertMedia(metaID: "5002", sha256: MediaFixture.base64SHA256(big), mimeType: "application/pdf")
            let worker = fixture.worker(configuration)
            try await fixture.running(worker) {
                try await fixture.waitFor(streamed, ["failed", "stored"])
                try await fixture.waitFor(announced, ["failed", "stored"])
            }
            for id in [streamed, announced] {
                #expect(try fixture.state(id) == "failed")
                #expect(try fixture.row(id).decode("state_reason", as: String.self) == "too_large")
            }
            #expect(fixture.meta.count("/files/big") == 1 && fixture.meta.count("/files/announced") == 0)
            #expect(fixture.filesOnDisk() == [".htaccess", "index.html"])
        }
    }

    @Test func withoutCredentialsTheRowWaitsAndNoAttemptIsCounted() async throws {
        try await MediaFixture.with { fixture in
            let id = try fixture.insertMedia(metaID: "6001", sha256: "x", mimeType: "image/jpeg")
            let asked = Atomic<Int>(0)
            let worker = fixture.worker(graphClient: { _, _ in
                asked.add(1, ordering: .relaxed)
                return nil
            })
            try await fixture.running(worker) {
                try await waitUntil("the row is put back") {
                    try fixture.row(id).decode("state_reason", as: String?.self) == "no_credentials"
                }
            }
            let row = try fixture.row(id)
            #expect(try row.decode("state", as: String.self) == "pending")
            #expect(try row.decode("attempt_count", as: Int.self) == 0)
            #expect(try row.decode("claimed_by", as: String?.self) == nil)
            let waits = try fixture.connection.queryFirst("""
                SELECT next_attempt_at > UTC_TIMESTAMP(6) + INTERVAL 60 SECOND FROM \(fixture.site.table(.media)) WHERE id = \(id)
                """)!.decode(Bool.self, at: 0)
            #expect(waits, "tried again minutes later, not at once")
            #expect(asked.load(ordering: .relaxed) == 1)
            #expect(fixture.meta.server.requests.isEmpty)
            #expect(worker.statistics.deferred == 1)
        }
    }

    @Test func transientErrorsBackOffUntilTheAttemptsAreUsedUp() async throws {
        try await MediaFixture.with { fixture in
            fixture.meta.serve("/v23.0/7001", text: "<html>Service Unavailable</html>", status: 503)
            let id = try fixture.insertMedia(metaID: "7001", sha256: "x", mimeType: "image/jpeg")
            var configuration = MediaFixture.quickConfiguration()
            configuration.maximumAttempts = 3
            let worker = fixture.worker(configuration)
            try await fixture.running(worker) {
                try await fixture.waitFor(id, ["failed", "stored"])
            }
            let row = try fixture.row(id)
            #expect(try row.decode("state_reason", as: String.self) == "retries_exhausted")
            #expect(try row.decode("error_code", as: Int.self) == 503)
            #expect(try row.decode("attempt_count", as: Int.self) == 3)
            #expect(fixture.meta.count("/v23.0/7001") == 3)
            let details: String = try row.decode("error_details")
            #expect(!details.contains(MediaFixture.token))
        }
    }

    @Test func twoWorkersOnOneSiteNeverDownloadARowTwice() async throws {
        try await MediaFixture.with { fixture in
            var ids: [UInt64] = []
            for index in 0..<16 {
                let bytes = MediaFixture.bytes(20_000 + index, seed: index)
                fixture.meta.mediaInfo("80\(index)", file: "f\(index)", bytes: bytes, mimeType: "image/webp")
                fixture.meta.serve("/files/f\(index)", bytes)
                ids.append(try fixture.insertMedia(metaID: "80\(index)", sha256: MediaFixture.base64SHA256(bytes), mimeType: "image/webp"))
            }
            // A lease longer than the test, so a busy machine cannot make one worker lose the site to the other
            // (taking over a lapsed lease re-downloads on purpose); what is tested is the claims of two workers.
            var configuration = MediaFixture.quickConfiguration()
            configuration.leaseDuration = .seconds(120)
            let first = fixture.worker(configuration, instanceID: "daemon-a")
            let second = fixture.worker(configuration, instanceID: "daemon-b")
            try await fixture.running(first, second) {
                for id in ids { try await fixture.waitFor(id, ["stored", "failed"]) }
            }
            for id in ids { #expect(try fixture.state(id) == "stored") }
            for index in 0..<16 { #expect(fixture.meta.count("/files/f\(index)") == 1, "file \(index)") }
            #expect(first.statistics.downloaded + second.statistics.downloaded == 16)
        }
    }

    @Test func aClaimSkipsRowsAnotherClaimHolds() async throws {
        try await MediaFixture.with { fixture in
            let ids = try (0..<4).map { try fixture.insertMedia(metaID: "81\($0)", sha256: "x", mimeType: "image/jpeg") }
            // Another daemon's claim transaction, still open, holds the first row.
            let other = try TestDatabase.connect()
            try other.execute(unsafeSQL: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            try other.execute(unsafeSQL: "START TRANSACTION")
            _ = try other.query("SELECT id FROM \(fixture.site.table(.media)) WHERE id = \(ids[0]) FOR UPDATE")
            let claim = try MediaQueue.claim(site: fixture.site, instanceID: "daemon-b", limit: 10, urlLifetime: .seconds(240),
                                             maximumAttempts: 8, on: fixture.connection)
            try other.execute(unsafeSQL: "ROLLBACK")
            #expect(claim.rows.map(\.id) == Array(ids[1...]))
            #expect(try fixture.state(ids[0]) == "pending")
            for id in ids[1...] {
                let row = try fixture.row(id)
                #expect(try row.decode("state", as: String.self) == "downloading" && row.decode("claimed_by", as: String.self) == "daemon-b")
                #expect(try row.decode("attempt_count", as: Int.self) == 1 && row.decode("claimed_at", as: Date?.self) != nil)
            }
        }
    }

    @Test func staleDownloadingRowsAreRecovered() async throws {
        try await MediaFixture.with { fixture in
            let bytes = MediaFixture.bytes(4096)
            fixture.meta.mediaInfo("9001", file: "orphan", bytes: bytes, mimeType: "image/gif")
            fixture.meta.serve("/files/orphan", bytes)
            fixture.meta.mediaInfo("9002", file: "old", bytes: bytes, mimeType: "image/gif")
            fixture.meta.serve("/files/old", bytes)
            let orphan = try fixture.insertMedia(metaID: "9001", sha256: MediaFixture.base64SHA256(bytes), mimeType: "image/gif")
            let old = try fixture.insertMedia(metaID: "9002", sha256: MediaFixture.base64SHA256(bytes), mimeType: "image/gif")
            // One left by a daemon that lost the lease a moment ago, one claimed by this daemon's id twenty minutes ago.
            try fixture.connection.execute("""
                UPDATE \(fixture.site.table(.media)) SET state = 'downloading', attempt_count = 1, claimed_by = 'crashed:1',
                       claimed_at = UTC_TIMESTAMP(6) WHERE id = \(orphan)
                """)
            try fixture.connection.execute("""
                UPDATE \(fixture.site.table(.media)) SET state = 'downloading', attempt_count = 1, claimed_by = 'daemon-a',
                       claimed_at = UTC_TIMESTAMP(6) - INTERVAL 20 MINUTE WHERE id = \(old)
                """)
            let worker = fixture.worker(instanceID: "daemon-a")
            try await fixture.running(worker) {
                try await fixture.waitFor(orphan, ["stored", "failed"])
                try await fixture.waitFor(old, ["stored", "failed"])
            }
            for id in [orphan, old] {
                #expect(try fixture.state(id) == "stored")
                #expect(try fixture.row(id).decode("attempt_count", as: Int.self) == 2, "the interrupted attempt stays counted")
            }
            #expect(worker.statistics.recovered == 2)
        }
    }

    @Test func aRowTakenOverMeanwhileKeepsNoFileOfTheOldAttempt() async throws {
        try await MediaFixture.with { fixture in
            let bytes = MediaFixture.bytes(2048)
            fixture.meta.mediaInfo("9101", file: "contested", bytes: bytes, mimeType: "image/png")
            fixture.meta.serve("/files/contested", bytes)
            let id = try fixture.insertMedia(metaID: "9101", sha256: MediaFixture.base64SHA256(bytes), mimeType: "image/png")
            let gate = fixture.meta.hold("/files/contested")
            let worker = fixture.worker(instanceID: "daemon-a")
            try await fixture.running(worker) {
                try await waitUntil("the download started") { fixture.meta.count("/files/contested") == 1 }
                // Another daemon recovered the row and claimed it again meanwhile.
                try fixture.connection.execute("""
                    UPDATE \(fixture.site.table(.media)) SET claimed_by = 'daemon-b', attempt_count = 2 WHERE id = \(id)
                    """)
                gate.open()
                try await waitUntil("the download ended") { worker.statistics.inFlight == 0 }
            }
            let row = try fixture.row(id)
            #expect(try row.decode("state", as: String.self) == "downloading" && row.decode("claimed_by", as: String.self) == "daemon-b")
            #expect(fixture.filesOnDisk() == [".htaccess", "index.html"])
            #expect(worker.statistics.downloaded == 0)
        }
    }

    @Test func stoppingMidDownloadPutsTheRowBackUncounted() async throws {
        try await MediaFixture.with { fixture in
            let bytes = MediaFixture.bytes(100_000)
            fixture.meta.mediaInfo("9201", file: "slow", bytes: bytes, mimeType: "image/jpeg")
            fixture.meta.serve("/files/slow", bytes)
            let id = try fixture.insertMedia(metaID: "9201", sha256: MediaFixture.base64SHA256(bytes), mimeType: "image/jpeg")
            let gate = fixture.meta.hold("/files/slow")
            let worker = fixture.worker()
            let task = Task { try await worker.run() }
            try await waitUntil("the download started") { fixture.meta.count("/files/slow") == 1 }
            task.cancel()
            try await waitUntil("the worker cuts downloads short") { worker.isAbortingDownloads }
            gate.open()
            try await task.value
            let row = try fixture.row(id)
            #expect(try row.decode("state", as: String.self) == "pending")
            #expect(try row.decode("attempt_count", as: Int.self) == 0)
            #expect(try row.decode("state_reason", as: String.self) == "interrupted")
            #expect(fixture.filesOnDisk() == [".htaccess", "index.html"])
            let lease = try fixture.connection.queryFirst("SELECT owner_id FROM \(fixture.site.table(.leases)) WHERE name = 'media'")
            #expect(try lease?.decode(String?.self, at: 0) == nil, "the lease is released")
        }
    }

    @Test func notifyWakesTheWorkerBeforeItsNextPoll() async throws {
        try await MediaFixture.with { fixture in
            var configuration = MediaFixture.quickConfiguration()
            configuration.pollInterval = .seconds(3600)
            configuration.leaseDuration = .seconds(3 * 3600)
            let worker = fixture.worker(configuration)
            try await fixture.running(worker) {
                try await waitUntil("the worker holds the lease") { worker.statistics.leasesHeld == 1 }
                let bytes = MediaFixture.bytes(777)
                fixture.meta.mediaInfo("9301", file: "news", bytes: bytes, mimeType: "audio/amr")
                fixture.meta.serve("/files/news", bytes)
                let id = try fixture.insertMedia(metaID: "9301", sha256: MediaFixture.base64SHA256(bytes), mimeType: "audio/amr")
                worker.notify(fixture.site)
                try await fixture.waitFor(id, ["stored", "failed"])
            }
        }
    }
}
