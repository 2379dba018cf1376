import CloudChatCrypto
import Foundation
import Testing
import WhatsAppCloudAPI
import WordPressStore
@testable import MediaDownload

@Suite("Media retry policy")
struct MediaRetryPolicyTests {
    let policy = MediaRetryPolicy(initialBackoff: .seconds(30), maximumBackoff: .seconds(3600), maximumAttempts: 8, checksumAttempts: 3,
                                  accountRetryDelay: .seconds(300))

    @Test func backoffDoublesFromThirtySecondsUpToAnHour() {
        #expect((1...9).map { policy.backoff(afterAttempt: $0) } == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600].map { .seconds($0) })
    }

    @Test func transientFailuresRetryUntilTheLastAttempt() {
        let failure = MediaFailure.transient(code: 503, details: "HTTP 503")
        #expect(policy.outcome(of: failure, attempt: 1) == .retry(after: .seconds(30), reason: "download_error", code: 503, details: "HTTP 503", forgetURL: false))
        #expect(policy.outcome(of: failure, attempt: 2, urlIsDead: true)
            == .retry(after: .seconds(60), reason: "download_error", code: 503, details: "HTTP 503", forgetURL: true))
        #expect(policy.outcome(of: failure, attempt: 8) == .fail(reason: "retries_exhausted", code: 503, details: "HTTP 503"))
    }

    @Test func aChecksumMismatchFailsAfterItsOwnSmallerBudget() {
        let failure = MediaFailure.checksumMismatch(details: "mismatch")
        guard case .retry = policy.outcome(of: failure, attempt: 2) else { Issue.record("expected a retry"); return }
        #expect(policy.outcome(of: failure, attempt: 3) == .fail(reason: "checksum_mismatch", code: nil, details: "mismatch"))
    }

    @Test func permanentOutcomes() {
        #expect(policy.outcome(of: .tooLarge(details: "big"), attempt: 1) == .fail(reason: "too_large", code: nil, details: "big"))
        #expect(policy.outcome(of: .permanent(code: 131052, details: "d"), attempt: 1) == .fail(reason: "meta_error", code: 131052, details: "d"))
        #expect(policy.outcome(of: .gone(code: 100, details: "d"), attempt: 1) == .expire(code: 100, details: "d"))
        #expect(policy.outcome(of: .accountUnavailable(code: 190, details: "d"), attempt: 8)
            == .putBack(after: .seconds(300), reason: "no_credentials", code: 190, details: "d"))
        #expect(policy.outcome(of: .interrupted, attempt: 8) == .putBack(after: .zero, reason: "interrupted", code: nil, details: nil))
    }

    @Test func errorsAreClassifiedByCodeAndStatus() {
        func kind(_ error: any Error, url: Bool = false) -> String {
            switch MediaFailure.classify(error, fromDownloadURL: url) {
            case .transient: "transient"
            case .checksumMismatch: "checksum"
            case .tooLarge: "tooLarge"
            case .permanent: "permanent"
            case .gone: "gone"
            case .accountUnavailable: "account"
            case .interrupted: "interrupted"
            }
        }
        #expect(kind(GraphAPIError(httpStatus: 400, code: 100, subcode: 33)) == "gone")
        #expect(kind(GraphAPIError(httpStatus: 400, code: 100)) == "permanent")
        #expect(kind(GraphAPIError(httpStatus: 400, code: 131052)) == "permanent")
        #expect(kind(GraphAPIError(httpStatus: 400, code: 4)) == "transient")
        #expect(kind(GraphAPIError(httpStatus: 500, code: 131016)) == "transient")
        #expect(kind(GraphAPIError(httpStatus: 502, code: nil)) == "transient")
        #expect(kind(GraphAPIError(httpStatus: 401, code: 190)) == "account")
        #expect(kind(GraphAPIError(httpStatus: 404, code: nil), url: true) == "transient")
        #expect(kind(GraphAPIError(httpStatus: 401, code: nil), url: true) == "account")
        #expect(kind(GraphBodyTooLarge(limit: 10)) == "tooLarge")
        #expect(kind(DownloadInterrupted()) == "interrupted")
        #expect(kind(CancellationError()) == "interrupted")
    }
}

@Suite("Media files")
struct MediaFileTypeTests {
    @Test func extensionsComeFromAnAllowlistOfMIMETypes() {
        let cases: [(String?, String)] = [
            ("image/jpeg", "jpg"), ("IMAGE/PNG", "png"), ("image/webp", "webp"), ("video/mp4", "mp4"), ("video/3gpp", "3gp"),
            ("audio/ogg; codecs=opus", "ogg"), ("audio/mpeg", "mp3"), ("audio/mp4", "m4a"), ("audio/aac", "aac"), ("audio/amr", "amr"),
            ("application/pdf", "pdf"), ("text/plain", "txt"), ("text/csv", "csv"), ("application/msword", "doc"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
            ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
            ("application/x-httpd-php", "bin"), ("text/html", "bin"), ("image/svg+xml", "bin"), ("", "bin"), (nil, "bin"),
        ]
        for (mime, ext) in cases { #expect(MediaFileType.fileExtension(forMIMEType: mime) == ext, "\(mime ?? "nil")") }
    }

    @Test func metasChecksumIsReadAsHexOrBase64() {
        let bytes = Array("abc".utf8)
        let digest = SHA256.hash(bytes)
        let base64 = Data(digest).base64EncodedString()
        #expect(MediaFileType.sha256Digest(SHA256.hexHash(bytes)) == digest)
        #expect(MediaFileType.sha256Digest(SHA256.hexHash(bytes).uppercased()) == digest)
        #expect(MediaFileType.sha256Digest(base64) == digest)
        #expect(MediaFileType.sha256Digest(String(base64.dropLast())) == digest, "unpadded")
        #expect(MediaFileType.sha256Digest(base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")) == digest)
        for bad in [nil, "", "x", String(SHA256.hexHash(bytes).dropLast()), Data(digest.dropLast()).base64EncodedString(), String(repeating: "g", count: 64)] {
            #expect(MediaFileType.sha256Digest(bad) == nil, "\(bad ?? "nil")")
        }
    }

    @Test func eachBlogHasItsOwnMediaDirectory() throws {
        let main = try WordPressSite(blogID: 1, tablePrefix: "wp_")
        let third = try WordPressSite(blogID: 3, tablePrefix: "wp_3_")
        #expect(MediaStorage.defaultRoot(of: main, uploadsDirectory: "/srv/wp/wp-content/uploads/") == "/srv/wp/wp-content/uploads/cloudchat")
        #expect(MediaStorage.defaultRoot(of: third, uploadsDirectory: "/srv/wp/wp-content/uploads") == "/srv/wp/wp-content/uploads/sites/3/cloudchat")
    }
}
