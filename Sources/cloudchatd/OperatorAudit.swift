import Foundation
import MariaDB
import WordPressStore

/// Audit entries for what an operator does with `cloudchatd` commands (actor `cli`), as the
/// plugin writes them for what a WordPress user does: the action and the object, never personal data.
enum OperatorAudit {
    /// The OS user running the command (the one behind sudo, if any), for `actor_label`.
    static var operatorName: String {
        let environment = ProcessInfo.processInfo.environment
        return String((environment["SUDO_USER"] ?? environment["USER"] ?? ProcessInfo.processInfo.userName).prefix(128))
    }

    /// Writes one entry, e.g. `campaign.started` on `campaign` 7; `details` holds counts or names only.
    static func record(_ action: String, objectType: String, objectID: UInt64?, accountID: UInt64? = nil, details: String? = nil,
                       site: WordPressSite, on connection: MariaDBConnection) throws {
        try connection.execute("""
            INSERT INTO \(site.table(.auditLog))
                (occurred_at, actor_type, actor_label, action, object_type, object_id, account_id, details_json)
            VALUES (UTC_TIMESTAMP(6), 'cli', \(operatorName), \(action), \(objectType), \(objectID), \(accountID), \(details))
            """)
    }
}
