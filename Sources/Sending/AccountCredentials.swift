import CloudChatCrypto
import Foundation
import MariaDB
import Synchronization
import WhatsAppCloudAPI
import WordPressStore

/// The secrets of one business number, decrypted.
public struct AccountSecrets: Sendable, Equatable, CustomStringConvertible {
    /// The Graph API access token (a system user's token, usually).
    public var accessToken: String
    /// The app secret that signs this number's webhooks, when the site gave one.
    public var appSecret: String?

    public init(accessToken: String, appSecret: String?) {
        self.accessToken = accessToken
        self.appSecret = appSecret
    }

    /// Never the secrets themselves.
    public var description: String { "AccountSecrets(redacted)" }
}

/// Reads and writes the encrypted credential columns of `cloudchat_accounts`
/// (docs/schema.md §6.6): AES-256-GCM, a fresh nonce each time, and the row's
/// table, column and id as associated data, so a ciphertext copied to another
/// row or column does not decrypt.
public enum AccountCredentials {
    static let tokenColumn = "access_token_ciphertext"
    static let appSecretColumn = "app_secret_ciphertext"

    /// The associated data that binds a ciphertext to its cell.
    static func associatedData(column: String, accountID: UInt64) -> String {
        "cloudchat_accounts.\(column)#\(accountID)"
    }

    /// Encrypts and stores new credentials on an account row (and clears a halt caused by the old ones).
    /// - Throws: ``CredentialError`` when the account does not exist.
    public static func store(_ secrets: AccountSecrets, accountID: UInt64, site: WordPressSite, keyring: SecretsKeyring,
                             on connection: MariaDBConnection) throws {
        let (keyID, key) = keyring.current
        let token = try AES256GCM.seal(Array(secrets.accessToken.utf8), key: key,
                                       associatedData: associatedData(column: tokenColumn, accountID: accountID)).combined
        let appSecret = try secrets.appSecret.map {
            try AES256GCM.seal(Array($0.utf8), key: key, associatedData: associatedData(column: appSecretColumn, accountID: accountID)).combined
        }
        let now = Date()
        // MariaDB applies SET assignments left to right: the reason is cleared before the state changes.
        let result = try connection.execute("""
            UPDATE \(site.table(.accounts))
               SET access_token_ciphertext = \(token), app_secret_ciphertext = \(appSecret), secrets_key_id = \(keyID),
                   credentials_updated_at = \(now), updated_at = \(now),
                   state_reason = IF(state = 'halted', NULL, state_reason), state = IF(state = 'halted', 'active', state)
             WHERE id = \(accountID)
            """)
        guard result.affectedRows == 1 else { throw CredentialError("no account \(accountID) in this site") }
    }

    /// Decrypts an account's credentials.
    /// - Returns: nil when the account has no access token stored yet.
    /// - Throws: ``CredentialError`` when the key is missing or the ciphertext does not open.
    public static func load(accountID: UInt64, site: WordPressSite, keyring: SecretsKeyring, on connection: MariaDBConnection) throws -> AccountSecrets? {
        guard let row = try connection.queryFirst("""
            SELECT access_token_ciphertext, app_secret_ciphertext, secrets_key_id FROM \(site.table(.accounts)) WHERE id = \(accountID)
            """) else { return nil }
        guard let token = try row.decode([UInt8]?.self, at: 0) else { return nil }
        let keyID = try row.decode(String?.self, at: 2) ?? ""
        guard let key = keyring.key(id: keyID) else {
            throw CredentialError("account \(accountID)'s credentials were encrypted with key \"\(keyID.prefix(64))\", which the secrets key file "
                                  + "does not hold; restore that key file, or enter the credentials again in wp-admin")
        }
        func open(_ bytes: [UInt8], column: String) throws -> String {
            do {
                let plain = try AES256GCM.open(try AES256GCM.SealedBox(combined: bytes), key: key,
                                               associatedData: associatedData(column: column, accountID: accountID))
                return String(decoding: plain, as: UTF8.self)
            } catch {
                throw CredentialError("account \(accountID)'s \(column) does not decrypt with key \"\(keyID)\" (altered, or copied from "
                                      + "another row); enter the credentials again in wp-admin")
            }
        }
        return AccountSecrets(accessToken: try open(token, column: tokenColumn),
                              appSecret: try row.decode([UInt8]?.self, at: 1).map { try open($0, column: appSecretColumn) })
    }
}

/// A credential problem an operator can act on. Never holds a secret.
public struct CredentialError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Decrypted credentials kept in memory, per site and account, so each send
/// reads its token without a database round trip. ``forget(site:accountID:)``
/// after new credentials are stored.
public final class CredentialVault: Sendable {
    private struct Key: Hashable { let site: String; let accountID: UInt64 }
    private let loadedKeyring: Mutex<SecretsKeyring?>
    private let keyFile: String?
    private let cache = Mutex<[Key: AccountSecrets]>([:])

    /// - Parameters:
    ///   - keyring: nil when no key file is configured: nothing can be decrypted or stored.
    ///   - keyFile: the key file, read again when a row names a key the keyring lacks and before credentials are
    ///     stored, so a running daemon follows `cloudchatd rotate-key`.
    public init(keyring: SecretsKeyring?, keyFile: String? = nil) {
        self.loadedKeyring = Mutex(keyring)
        self.keyFile = keyFile
    }

    /// Whether credentials can be stored and read at all.
    public var hasKeyring: Bool { keyring != nil }

    private var keyring: SecretsKeyring? { loadedKeyring.withLock { $0 } }

    /// Reads the key file again; keeps the keys held when it cannot be read.
    @discardableResult
    private func reloadKeyring() -> SecretsKeyring? {
        guard let keyFile, let fresh = try? SecretsKeyring(contentsOf: keyFile) else { return keyring }
        loadedKeyring.withLock { $0 = fresh }
        return fresh
    }

    /// The account's secrets, from memory or decrypted from its row.
    public func secrets(site: WordPressSite, accountID: UInt64, on connection: MariaDBConnection) throws -> AccountSecrets? {
        let key = Key(site: site.key, accountID: accountID)
        if let cached = cache.withLock({ $0[key] }) { return cached }
        guard let keyring = keyring ?? reloadKeyring() else {
            throw CredentialError("no secrets key file is configured (secrets_key_file), so stored credentials cannot be read")
        }
        let secrets: AccountSecrets?
        do {
            secrets = try AccountCredentials.load(accountID: accountID, site: site, keyring: keyring, on: connection)
        } catch let error as CredentialError where keyFile != nil {
            // Perhaps re-encrypted with a key added to the file since it was read.
            guard let fresh = reloadKeyring() else { throw error }
            secrets = try AccountCredentials.load(accountID: accountID, site: site, keyring: fresh, on: connection)
        }
        if let secrets { cache.withLock { $0[key] = secrets } }
        return secrets
    }

    /// Encrypts and stores credentials, replacing what memory held.
    public func store(_ secrets: AccountSecrets, site: WordPressSite, accountID: UInt64, on connection: MariaDBConnection) throws {
        // The newest key of the file: a rotation may have added one since it was read.
        guard let keyring = reloadKeyring() else {
            throw CredentialError("no secrets key file is configured (secrets_key_file); create one with `cloudchatd secrets-key generate` "
                                  + "and set secrets_key_file, then send the credentials again")
        }
        try AccountCredentials.store(secrets, accountID: accountID, site: site, keyring: keyring, on: connection)
        cache.withLock { $0[Key(site: site.key, accountID: accountID)] = secrets }
    }

    /// The Graph client of an account, or nil while it has no access token. Reads memory first,
    /// so the hot path (a send) borrows no database connection once the token is known.
    public func graphClient(site: WordPressSite, accountID: UInt64, pool: MariaDBPool, http: GraphHTTPClient,
                            configuration: SenderConfiguration) async throws -> GraphClient? {
        let cached = cache.withLock { $0[Key(site: site.key, accountID: accountID)] }
        let secrets: AccountSecrets?
        if let cached {
            secrets = cached
        } else {
            secrets = try await pool.withConnection { try self.secrets(site: site, accountID: accountID, on: $0) }
        }
        return secrets.map { configuration.client(http: http, accessToken: $0.accessToken) }
    }

    /// Drops what memory holds for an account, so the next read decrypts its row again.
    public func forget(site: WordPressSite, accountID: UInt64) {
        cache.withLock { $0[Key(site: site.key, accountID: accountID)] = nil }
    }
}
