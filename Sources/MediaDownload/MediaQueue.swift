import Foundation
import MariaDB
import WordPressStore

/// A `cloudchat_media` row claimed for download.
struct ClaimedMedia: Sendable, Equatable {
    let id: UInt64
    let accountID: UInt64
    let metaMediaID: String?
    let downloadURL: String?
    let mimeType: String?
    let sha256: String?
    /// `attempt_count` after the claim; with `claimed_by` it fences every later write to the row.
    let attempt: Int
    /// The webhook's URL is young enough to try (Meta's URLs live 5 minutes from receipt).
    let urlIsFresh: Bool
}

/// The download queue in `cloudchat_media` (docs/schema.md §5.9): claims, recovery and the
/// writes that end an attempt. Every write is a compare-and-set on the row's state.
enum MediaQueue {
    /// What one claim did.
    struct Claim: Sendable {
        var rows: [ClaimedMedia] = []
        /// Due rows whose Meta id had passed `meta_media_expires_at`: set `expired` instead.
        var expired: [UInt64] = []
        /// Due rows that had no `attempt_count` left: set `failed`.
        var exhausted: [UInt64] = []
    }

    /// Claims due rows, in `next_attempt_at` order, skipping rows another claim holds, and marks them
    /// `downloading`. Runs its own `READ COMMITTED` transaction, so the claim is committed on return
    /// and no download ever runs inside it.
    /// - Parameters:
    ///   - limit: the most rows to claim.
    ///   - urlLifetime: how long after the row's `created_at` its `download_url` is still tried.
    ///   - maximumAttempts: rows that used them all fail instead of being claimed.
    static func claim(site: WordPressSite, instanceID: String, limit: Int, urlLifetime: Duration, maximumAttempts: Int,
                      on connection: MariaDBConnection) throws -> Claim {
        let table = site.table(.media)
        return try connection.withTransaction(isolation: .readCommitted) { connection in
            let rows = try connection.query("""
                SELECT id, account_id, meta_media_id, download_url, mime_type, sha256, attempt_count,
                       (download_url IS NOT NULL AND created_at > UTC_TIMESTAMP(6) - INTERVAL \(urlLifetime.microseconds) MICROSECOND),
                       (meta_media_expires_at IS NOT NULL AND meta_media_expires_at <= UTC_TIMESTAMP(6))
                  FROM \(table)
                 WHERE state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(6)
                 ORDER BY next_attempt_at
                 LIMIT \(limit)
                   FOR UPDATE SKIP LOCKED
                """)
            var claim = Claim()
            var toClaim: [UInt64] = []
            for row in rows {
                let id = try row.decode(UInt64.self, at: 0)
                let attempts = try row.decode(Int.self, at: 6)
                if try row.decode(Bool.self, at: 8) {
                    claim.expired.append(id)
                    continue
                }
                if attempts >= maximumAttempts {
                    claim.exhausted.append(id)
                    continue
                }
                toClaim.append(id)
                claim.rows.append(ClaimedMedia(
                    id: id, accountID: try row.decode(at: 1), metaMediaID: try row.decode(at: 2), downloadURL: try row.decode(at: 3),
                    mimeType: try row.decode(at: 4), sha256: try row.decode(at: 5), attempt: attempts + 1, urlIsFresh: try row.decode(at: 7)))
            }
            if !toClaim.isEmpty {
                try connection.execute("""
                    UPDATE \(table)
                       SET state = 'downloading', attempt_count = attempt_count + 1, claimed_at = UTC_TIMESTAMP(6), claimed_by = \(instanceID),
                           updated_at = UTC_TIMESTAMP(6)
                     WHERE id IN (\(list: toClaim)) AND state = 'pending'
                    """)
            }
            if !claim.expired.isEmpty {
                try connection.execute("""
                    UPDATE \(table)
                       SET state = 'expired', state_reason = 'expired_id', next_attempt_at = NULL, updated_at = UTC_TIMESTAMP(6)
                     WHERE id IN (\(list: claim.expired)) AND state = 'pending'
                    """)
            }
            if !claim.exhausted.isEmpty {
                try connection.execute("""
                    UPDATE \(table)
                       SET state = 'failed', state_reason = 'retries_exhausted', next_attempt_at = NULL, updated_at = UTC_TIMESTAMP(6)
                     WHERE id IN (\(list: claim.exhausted)) AND state = 'pending'
                    """)
            }
            return claim
        }
    }

    /// Puts `downloading` rows that nobody is working on back to `pending`, due at once: rows of
    /// another daemon (while this one holds the site's `media` lease, the other has lost it), and
    /// rows of this daemon claimed longer than `staleAfter` ago that it is not downloading now.
    /// The attempt they were claimed for stays counted.
    /// - Parameter downloading: ids this daemon is downloading right now.
    /// - Returns: how many rows were put back.
    static func recover(site: WordPressSite, instanceID: String, staleAfter: Duration, downloading: [UInt64],
                        on connection: MariaDBConnection) throws -> Int {
        let table = site.table(.media)
        // `NOT IN (NULL)` would match nothing, so an empty list leaves the condition out.
        let notOurs: SQLQuery = downloading.isEmpty ? "" : "AND id NOT IN (\(list: downloading))"
        return try connection.withTransaction(isolation: .readCommitted) { connection in
            let ids = try connection.query("""
                SELECT id FROM \(table)
                 WHERE state = 'downloading'
                   AND (claimed_by IS NULL OR claimed_by <> \(instanceID)
                        OR claimed_at IS NULL OR claimed_at < UTC_TIMESTAMP(6) - INTERVAL \(staleAfter.microseconds) MICROSECOND)
                   \(notOurs)
                   FOR UPDATE SKIP LOCKED
                """).map { try $0.decode(UInt64.self, at: 0) }
            guard !ids.isEmpty else { return 0 }
            return Int(try connection.execute("""
                UPDATE \(table)
                   SET state = 'pending', state_reason = 'reconciled_retry', claimed_by = NULL, next_attempt_at = UTC_TIMESTAMP(6),
                       updated_at = UTC_TIMESTAMP(6)
                 WHERE id IN (\(list: ids)) AND state = 'downloading'
                """).affectedRows)
        }
    }

    /// Writes how an attempt ended, if the row is still this attempt's.
    /// - Returns: false when the row moved on meanwhile (recovered and claimed again): nothing was written.
    static func record(_ outcome: MediaAttemptOutcome, for row: ClaimedMedia, site: WordPressSite, instanceID: String,
                       on connection: MariaDBConnection) throws -> Bool {
        let table = site.table(.media)
        let fence: SQLQuery = "id = \(row.id) AND state = 'downloading' AND claimed_by = \(instanceID) AND attempt_count = \(row.attempt)"
        let update: SQLQuery
        switch outcome {
        case .stored(let path, let mimeType, let size, let sha256):
            update = """
                UPDATE \(table)
                   SET state = 'stored', state_reason = NULL, storage_path = \(path), mime_type = COALESCE(mime_type, \(mimeType)),
                       sha256 = COALESCE(sha256, \(sha256)), size_bytes = \(size), stored_at = UTC_TIMESTAMP(6), download_url = NULL,
                       claimed_by = NULL, next_attempt_at = NULL, error_code = NULL, error_details = NULL, updated_at = UTC_TIMESTAMP(6)
                 WHERE \(fence)
                """
        case .retry(let delay, let reason, let code, let details, let forgetURL):
            update = """
                UPDATE \(table)
                   SET state = 'pending', state_reason = \(reason), error_code = \(code.map(Int64.init)), error_details = \(clipped(details)),
                       next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL \(delay.microseconds) MICROSECOND,
                       download_url = IF(\(forgetURL), NULL, download_url), claimed_by = NULL, updated_at = UTC_TIMESTAMP(6)
                 WHERE \(fence)
                """
        case .fail(let reason, let code, let details):
            update = """
                UPDATE \(table)
                   SET state = 'failed', state_reason = \(reason), error_code = \(code.map(Int64.init)), error_details = \(clipped(details)),
                       next_attempt_at = NULL, claimed_by = NULL, updated_at = UTC_TIMESTAMP(6)
                 WHERE \(fence)
                """
        case .expire(let code, let details):
            update = """
                UPDATE \(table)
                   SET state = 'expired', state_reason = 'expired_id', error_code = \(code.map(Int64.init)), error_details = \(clipped(details)),
                       next_attempt_at = NULL, claimed_by = NULL, updated_at = UTC_TIMESTAMP(6)
                 WHERE \(fence)
                """
        case .putBack(let delay, let reason, let code, let details):
            // The attempt is given back: it never reached Meta, or was cut short by shutdown.
            update = """
                UPDATE \(table)
                   SET state = 'pending', state_reason = \(reason), attempt_count = attempt_count - 1,
                       error_code = IF(\(details != nil), \(code.map(Int64.init)), error_code),
                       error_details = IF(\(details != nil), \(details.map(clipped)), error_details),
                       next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL \(delay.microseconds) MICROSECOND, claimed_by = NULL,
                       updated_at = UTC_TIMESTAMP(6)
                 WHERE \(fence)
                """
        }
        return try connection.execute(update).affectedRows == 1
    }

    private static func clipped(_ text: String) -> String {
        String(text.prefix(2000))
    }
}

extension Duration {
    /// Whole microseconds, for `INTERVAL … MICROSECOND`.
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
