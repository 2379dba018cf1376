import WhatsAppCloudAPI

/// Why one download attempt did not store the file.
enum MediaFailure: Sendable, Equatable {
    /// Worth trying again later: no answer, a 5xx, a rate limit, a disk error, a dead URL.
    case transient(code: Int?, details: String)
    /// The bytes did not match Meta's digest.
    case checksumMismatch(details: String)
    /// Larger than the configured cap.
    case tooLarge(details: String)
    /// Meta refused for good (a permanent Graph error).
    case permanent(code: Int?, details: String)
    /// Meta no longer has the media.
    case gone(code: Int?, details: String)
    /// The account cannot download now (no credentials, token or permission problem); not the media's fault.
    case accountUnavailable(code: Int?, details: String)
    /// The daemon is stopping; the attempt was cut short.
    case interrupted

    /// Which of these an error from the Graph client or the file system is.
    /// - Parameter fromDownloadURL: the error answered the download URL itself, not the Graph API.
    static func classify(_ error: any Error, fromDownloadURL: Bool) -> MediaFailure {
        switch error {
        case is DownloadInterrupted, is CancellationError:
            return .interrupted
        case let error as GraphBodyTooLarge:
            return .tooLarge(details: error.description)
        case let error as GraphAPIError:
            let code = error.code ?? error.httpStatus
            var details = error.description
            // error_data.details may quote the request; it is kept in the row (not logged), like a message's error.
            if let more = error.details { details += " — \(more)" }
            if error.isUnknownObject { return .gone(code: code, details: details) }
            if fromDownloadURL {
                // The download host answers with bare HTTP statuses. A 404 means the URL expired (a fresh one is
                // fetched next time); 401 and 403 mean the token is not accepted.
                switch error.httpStatus {
                case 401, 403: return .accountUnavailable(code: code, details: details)
                case 400...499 where error.code == nil: return .transient(code: code, details: details)
                default: break
                }
            }
            switch error.action {
            case .retryLater, .retryWithBackoff: return .transient(code: code, details: details)
            case .failMessage: return .permanent(code: code, details: details)
            case .halt: return .accountUnavailable(code: code, details: details)
            }
        case let error as GraphHTTPError:
            return .transient(code: nil, details: error.description)
        case let error as GraphSendError:
            return .transient(code: nil, details: error.description)
        case let error as MediaStorageError:
            return .transient(code: nil, details: error.description)
        default:
            return .transient(code: nil, details: String(describing: error).prefix(500).description)
        }
    }
}

/// The download was cut short because the daemon is stopping.
struct DownloadInterrupted: Error, CustomStringConvertible {
    var description: String { "the download was interrupted by shutdown" }
}

/// What the attempt leaves in the row.
enum MediaAttemptOutcome: Sendable, Equatable {
    /// `stored`: the file is in place.
    case stored(path: String, mimeType: String?, sizeBytes: Int64, sha256: String?)
    /// Back to `pending`, due again after the delay; the attempt counts.
    case retry(after: Duration, reason: String, code: Int?, details: String, forgetURL: Bool)
    /// `failed` for good.
    case fail(reason: String, code: Int?, details: String)
    /// `expired`: Meta no longer has it.
    case expire(code: Int?, details: String)
    /// Back to `pending`, due again after the delay, and the attempt does not count.
    case putBack(after: Duration, reason: String, code: Int?, details: String?)
}

/// Turns a failed attempt into the row's next state (docs/schema.md §5.9). Pure: no clock, no I/O.
struct MediaRetryPolicy: Sendable {
    var initialBackoff: Duration
    var maximumBackoff: Duration
    var maximumAttempts: Int
    var checksumAttempts: Int
    var accountRetryDelay: Duration

    /// The delay after the given attempt (1 for the first): the initial backoff, doubled per attempt, capped.
    func backoff(afterAttempt attempt: Int) -> Duration {
        var delay = initialBackoff
        for _ in 1..<max(1, attempt) {
            delay *= 2
            if delay >= maximumBackoff { return maximumBackoff }
        }
        return min(delay, maximumBackoff)
    }

    /// The outcome of a failed attempt.
    /// - Parameters:
    ///   - attempt: the row's `attempt_count`, this attempt included.
    ///   - urlIsDead: the row's download URL answered 404 or 401; it is cleared so the next attempt asks for a fresh one.
    func outcome(of failure: MediaFailure, attempt: Int, urlIsDead: Bool = false) -> MediaAttemptOutcome {
        switch failure {
        case .transient(let code, let details):
            guard attempt < maximumAttempts else { return .fail(reason: "retries_exhausted", code: code, details: details) }
            return .retry(after: backoff(afterAttempt: attempt), reason: "download_error", code: code, details: details, forgetURL: urlIsDead)
        case .checksumMismatch(let details):
            guard attempt < min(checksumAttempts, maximumAttempts) else { return .fail(reason: "checksum_mismatch", code: nil, details: details) }
            return .retry(after: backoff(afterAttempt: attempt), reason: "checksum_mismatch", code: nil, details: details, forgetURL: true)
        case .tooLarge(let details):
            return .fail(reason: "too_large", code: nil, details: details)
        case .permanent(let code, let details):
            return .fail(reason: "meta_error", code: code, details: details)
        case .gone(let code, let details):
            return .expire(code: code, details: details)
        case .accountUnavailable(let code, let details):
            // Until the meta_media_expires_at, when the row expires instead.
            return .putBack(after: accountRetryDelay, reason: "no_credentials", code: code, details: details)
        case .interrupted:
            return .putBack(after: .zero, reason: "interrupted", code: nil, details: nil)
        }
    }
}
