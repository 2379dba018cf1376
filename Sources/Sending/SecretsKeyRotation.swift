import CloudChatCrypto
import Foundation
import MariaDB
import WordPressStore

/// Moves every encrypted secret to a new key (docs/schema.md §6.6): `cloudchatd rotate-key`.
///
/// The order keeps every credential readable at every moment:
/// 1. a new key is appended to the key file (the old ones stay), written to a
///    temporary file, fsynced and renamed over the old one, keeping its owner and mode;
/// 2. each site's rows are re-encrypted with it, one transaction per site, each
///    row with `UPDATE … WHERE id = ? AND secrets_key_id = <old>`: an interrupted
///    run leaves every row under a key the file still holds, and running again
///    (``Options/addKey`` false) finishes the rest;
/// 3. only when no row of any site uses another key are the old keys dropped from the
///    file (``Options/dropOldKeys``).
///
/// A running daemon reads the key file again when it meets a key id it does not
/// know and before it stores new credentials, so it keeps sending throughout.
public enum SecretsKeyRotation {
    /// What to do.
    public struct Options: Sendable {
        /// Append a new key before re-encrypting; false re-encrypts into the newest key already in the file (resume).
        public var addKey = true
        /// The new key's id; nil means `k<date>` (with a suffix when that id is taken).
        public var newKeyID: String?
        /// After re-encrypting, remove every other key from the file when no row uses it any more.
        public var dropOldKeys = false
        /// Report only: change neither the file nor the database.
        public var dryRun = false

        public init() {}
    }

    /// What happened in one site.
    public struct SiteReport: Sendable, Equatable {
        public var site: String
        /// Rows whose secrets were re-encrypted with the new key.
        public var reencrypted = 0
        /// Rows already under the new key.
        public var alreadyCurrent = 0
        /// Row ids (table and id) whose key is not in the file, or whose ciphertext does not open: left as they are.
        public var unreadable: [String] = []
    }

    /// What a rotation did.
    public struct Report: Sendable, Equatable {
        /// The key every secret is now encrypted with.
        public var keyID = ""
        /// Whether a key was added to the file.
        public var addedKey = false
        /// Keys removed from the file.
        public var droppedKeys: [String] = []
        /// Keys left in the file besides the current one, and why.
        public var keptKeys: [String] = []
        /// Per site.
        public var sites: [SiteReport] = []

        /// Whether every stored secret is readable with the current key.
        public var isComplete: Bool { sites.allSatisfy(\.unreadable.isEmpty) }
    }

    /// One encrypted column group: a table's ciphertext columns and their key id column.
    struct SecretColumns {
        let table: CloudChatTable
        let columns: [String]
    }

    static let encrypted = [
        SecretColumns(table: .accounts, columns: ["access_token_ciphertext", "app_secret_ciphertext"]),
        SecretColumns(table: .automations, columns: ["lead_secret_ciphertext"]),
    ]

    /// Rotates the key of `keyFile` and re-encrypts every site's secrets.
    /// - Throws: ``SecretsKeyringError`` for key file problems, ``MariaDBError`` from the database; either way,
    ///   every secret is still readable with the keys in the file.
    public static func rotate(keyFile: String, sites: [WordPressSite], options: Options = Options(), actorLabel: String? = nil,
                              on connection: MariaDBConnection) throws -> Report {
        var file = try SecretsKeyFile(path: keyFile)
        var report = Report()
        if options.addKey {
            let id = file.unusedID(options.newKeyID ?? SecretsKeyring.defaultKeyID())
            guard SecretsKeyring.isValidID(id) else { throw SecretsKeyringError("key id \"\(id.prefix(64))\" is not valid: use 1 to 64 letters, digits, '-', '_' or '.'") }
            file.keys.append((id, Data(SecureRandom.bytes(count: SymmetricKey.byteCount))))
            if !options.dryRun { try file.write() }
            report.addedKey = true
        }
        let keyring = try file.keyring()
        report.keyID = keyring.current.id
        for site in sites {
            report.sites.append(try reencrypt(site: site, keyring: keyring, dryRun: options.dryRun, actorLabel: actorLabel, on: connection))
        }
        // Which older keys are still named by a row, in any site (a daemon may have stored credentials meanwhile).
        var inUse: Set<String> = []
        for site in sites {
            for group in encrypted {
                for row in try connection.query("SELECT DISTINCT secrets_key_id FROM \(site.table(group.table)) WHERE secrets_key_id IS NOT NULL") {
                    inUse.insert(try row.decode(String.self, at: 0))
                }
            }
        }
        let older = file.keys.map(\.id).filter { $0 != keyring.current.id }
        if options.dropOldKeys {
            let droppable = older.filter { !inUse.contains($0) }
            report.droppedKeys = droppable
            report.keptKeys = older.filter { inUse.contains($0) }.map { "\($0) (still used by a row)" }
            if !droppable.isEmpty, !options.dryRun {
                file.keys.removeAll { droppable.contains($0.id) }
                try file.write()
            }
        } else {
            report.keptKeys = older.map { inUse.contains($0) ? "\($0) (still used by a row)" : "\($0) (unused; --drop-old-keys removes it)" }
        }
        return report
    }

    /// Re-encrypts one site's secrets with the keyring's current key, in one transaction.
    static func reencrypt(site: WordPressSite, keyring: SecretsKeyring, dryRun: Bool, actorLabel: String?,
                          on connection: MariaDBConnection) throws -> SiteReport {
        var report = SiteReport(site: site.description)
        let newID = keyring.current.id
        try connection.withTransaction { connection in
            for group in encrypted {
                let columns = group.columns.map { try! SQLIdentifier($0) }
                let selected = SQLQuery(unsafeSQL: group.columns.joined(separator: ", "))
                let anyCipher = SQLQuery(unsafeSQL: group.columns.map { "\($0) IS NOT NULL" }.joined(separator: " OR "))
                let rows = try connection.query("""
                    SELECT id, secrets_key_id, \(selected) FROM \(site.table(group.table)) WHERE \(anyCipher) ORDER BY id FOR UPDATE
                    """)
                for row in rows {
                    let id = try row.decode(UInt64.self, at: 0)
                    let oldID = try row.decode(String?.self, at: 1)
                    if oldID == newID {
                        report.alreadyCurrent += 1
                        continue
                    }
                    guard let oldID, let oldKey = keyring.key(id: oldID) else {
                        report.unreadable.append("\(group.table.rawValue)#\(id)")
                        continue
                    }
                    var sealed: [MariaDBValue] = []
                    var readable = true
                    for (index, column) in group.columns.enumerated() {
                        guard let ciphertext = try row.decode([UInt8]?.self, at: 2 + index) else {
                            sealed.append(.null)
                            continue
                        }
                        let associated = "\(group.table.rawValue).\(column)#\(id)"
                        do {
                            let plain = try AES256GCM.open(try AES256GCM.SealedBox(combined: ciphertext), key: oldKey, associatedData: associated)
                            sealed.append(.bytes(try AES256GCM.seal(plain, key: keyring.current.key, associatedData: associated).combined))
                        } catch {
                            readable = false
                        }
                    }
                    guard readable else {
                        report.unreadable.append("\(group.table.rawValue)#\(id)")
                        continue
                    }
                    if dryRun {
                        report.reencrypted += 1
                        continue
                    }
                    var assignments: SQLQuery = "secrets_key_id = \(newID)"
                    for (column, value) in zip(columns, sealed) { assignments = "\(assignments), \(column) = \(value)" }
                    let updated = try connection.execute("""
                        UPDATE \(site.table(group.table)) SET \(assignments) WHERE id = \(id) AND secrets_key_id = \(oldID)
                        """)
                    if updated.affectedRows == 1 { report.reencrypted += 1 }
                }
            }
            if !dryRun, report.reencrypted > 0 {
                let details = #"{"key_id":"\#(newID)","reencrypted":\#(report.reencrypted)}"#
                try connection.execute("""
                    INSERT INTO \(site.table(.auditLog)) (occurred_at, actor_type, actor_label, action, object_type, details_json)
                    VALUES (UTC_TIMESTAMP(6), 'cli', \(actorLabel), 'keys.rotated', 'settings', \(details))
                    """)
            }
        }
        return report
    }
}

/// The key file as lines of keys, rewritten whole and atomically with its owner and mode kept.
struct SecretsKeyFile {
    let path: String
    var keys: [(id: String, bytes: Data)]

    init(path: String) throws {
        self.path = path
        // Reading through the keyring checks the mode and every line.
        _ = try SecretsKeyring(contentsOf: path)
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        keys = text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            let fields = trimmed.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, let bytes = Data(base64Encoded: String(fields[1])) else { return nil }
            return (String(fields[0]), bytes)
        }
    }

    func keyring() throws -> SecretsKeyring {
        try SecretsKeyring(keys: try keys.map { ($0.id, try SymmetricKey(bytes: $0.bytes)) })
    }

    /// `wanted`, or `wanted-2`, `wanted-3`… when the file already has it.
    func unusedID(_ wanted: String) -> String {
        let taken = Set(keys.map(\.id))
        guard taken.contains(wanted) else { return wanted }
        var suffix = 2
        while taken.contains("\(wanted)-\(suffix)") { suffix += 1 }
        return "\(wanted)-\(suffix)"
    }

    /// Writes the keys to a temporary file beside the old one, fsyncs it, gives it the old file's owner and mode, and renames it over.
    func write() throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SecretsKeyringError("cannot read \(path): \(String(cString: strerror(errno)))") }
        var text = """
            # CloudChat secrets key file: one key per line, "<key id> <base64 of 32 bytes>".
            # The last key encrypts new secrets; earlier keys still decrypt what they encrypted.
            # Losing this file means entering every access token and app secret again.

            """
        for key in keys { text += "\(key.id) \(key.bytes.base64EncodedString())\n" }
        let temporary = path + ".new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw SecretsKeyringError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        // The new file gets the old one's owner and mode; one that cannot be given them is not put in its place.
        let owned = fchown(descriptor, info.st_uid, info.st_gid) == 0 || (info.st_uid == geteuid() && info.st_gid == getegid())
        let ok = written == bytes.count && owned && fchmod(descriptor, info.st_mode & 0o7777) == 0 && fsync(descriptor) == 0
        let failure = String(cString: strerror(errno))
        close(descriptor)
        guard ok else {
            unlink(temporary)
            throw SecretsKeyringError("cannot write \(temporary): \(failure)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SecretsKeyringError("cannot replace \(path): \(reason)")
        }
        // The rename is durable once the directory is synced.
        let directory = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, O_RDONLY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
