import MariaDB
import WordPressStore

/// Who exercised a contact's rights, as the audit log records it (docs/schema.md §5.15).
public enum PrivacyActor: Sendable, Equatable {
    /// A WordPress user, through the plugin (also through the control API on their behalf).
    case wordPressUser(UInt64)
    /// The daemon on its own.
    case daemon
    /// An operator's `cloudchatd` command; the label is the OS user who ran it.
    case commandLine(label: String?)

    var actorType: String {
        switch self {
        case .wordPressUser: "wp_user"
        case .daemon: "daemon"
        case .commandLine: "cli"
        }
    }

    var userID: UInt64? {
        if case .wordPressUser(let id) = self { return id }
        return nil
    }

    var label: String? {
        if case .commandLine(let label) = self { return label.map { String($0.prefix(128)) } }
        return nil
    }

    /// Writes an audit entry naming a contact by id; `detailsJSON` must hold counts or field names only.
    func audit(_ action: String, contactID: UInt64, accountID: UInt64? = nil, detailsJSON: String?, site: WordPressSite,
               on connection: MariaDBConnection) throws {
        try connection.execute("""
            INSERT INTO \(site.table(.auditLog))
                (occurred_at, actor_type, actor_user_id, actor_label, action, object_type, object_id, account_id, details_json)
            VALUES (UTC_TIMESTAMP(6), \(actorType), \(userID), \(label), \(action), 'contact', \(contactID), \(accountID), \(detailsJSON))
            """)
    }
}
