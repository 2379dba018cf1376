import CloudChatCrypto
import Foundation
import MariaDB
import Sending
import TestSupport
import Testing
import WordPressStore

@Suite("Secrets key file")
struct SecretsKeyringTests {
    private func write(_ text: String, mode: mode_t = 0o600, in directory: TemporaryDirectory) throws -> String {
        let path = directory.path + "/secrets.key"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    @Test func readsKeysAndUsesTheLastAsCurrent() throws {
        let directory = try TemporaryDirectory()
        let first = Data(repeating: 1, count: 32).base64EncodedString()
        let second = Data(repeating: 2, count: 32).base64EncodedString()
        let path = try write("# comment\nold \(first)\n\nnew \(second)\n", in: directory)
        let keyring = try SecretsKeyring(contentsOf: path)
        #expect(keyring.current.id == "new")
        #expect(keyring.key(id: "old") != nil)
        #expect(keyring.key(id: "other") == nil)
    }

    @Test func aNewFileHoldsOneFreshKey() throws {
        let directory = try TemporaryDirectory()
        let one = try SecretsKeyring(contentsOf: try write(SecretsKeyring.newFileText(keyID: "k1"), in: directory))
        #expect(one.current.id == "k1")
        let other = SecretsKeyring.newFileText(keyID: "k1")
        #expect(other != SecretsKeyring.newFileText(keyID: "k1"), "each file gets a random key")
    }

    @Test func refusesAFileOthersCanRead() throws {
        let directory = try TemporaryDirectory()
        let path = try write(SecretsKeyring.newFileText(), mode: 0o644, in: directory)
        #expect(throws: SecretsKeyringError.self) { try SecretsKeyring(contentsOf: path) }
        do {
            _ = try SecretsKeyring(contentsOf: path)
        } catch {
            #expect("\(error)".contains("chmod 600"))
        }
    }

    @Test func namesTheLineOfABadKey() throws {
        let directory = try TemporaryDirectory()
        let path = try write("k1 \(Data(repeating: 1, count: 16).base64EncodedString())\n", in: directory)
        do {
            _ = try SecretsKeyring(contentsOf: path)
            Issue.record("a 16-byte key was accepted")
        } catch {
            #expect("\(error)".contains(":1:"))
            #expect(!"\(error)".contains(Data(repeating: 1, count: 16).base64EncodedString()), "the key never reaches an error")
        }
    }
}

@Suite("Account credentials", .timeLimit(.minutes(1)))
struct AccountCredentialsTests {
    static let token = "EAAGm0PX4ZCpsBAKZCtesttoken1234567890"

    private static func account(_ scratch: ScratchSite, phoneNumberID: String = "106540352242922") throws -> UInt64 {
        try scratch.connection.execute("""
            INSERT INTO \(scratch.site.table(.accounts)) (waba_id, phone_number_id, created_at, updated_at)
            VALUES ('102290129340398', \(phoneNumberID), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))
            """).lastInsertID
    }

    @Test func storedEncryptedAndReadBack() throws {
        let scratch = try ScratchSite("cred")
        defer { scratch.drop() }
        let keyring = try SecretsKeyring(keys: [("k1", SymmetricKey.generate())])
        let id = try Self.account(scratch)
        try AccountCredentials.store(.init(accessToken: Self.token, appSecret: "app-secret-value"), accountID: id, site: scratch.site,
                                     keyring: keyring, on: scratch.connection)
        let loaded = try AccountCredentials.load(accountID: id, site: scratch.site, keyring: keyring, on: scratch.connection)
        #expect(loaded == AccountSecrets(accessToken: Self.token, appSecret: "app-secret-value"))

        // What a database dump would hold: no token, no secret.
        let row = try #require(try scratch.connection.queryFirst("""
            SELECT access_token_ciphertext, app_secret_ciphertext, secrets_key_id FROM \(scratch.site.table(.accounts)) WHERE id = \(id)
            """))
        let stored = try row.decode([UInt8].self, at: 0) + (try row.decode([UInt8].self, at: 1))
        #expect(!String(decoding: stored, as: UTF8.self).contains("EAAG"))
        #expect(!String(decoding: stored, as: UTF8.self).contains("app-secret"))
        #expect(try row.decode(String.self, at: 2) == "k1")
    }

    @Test func aCiphertextCopiedToAnotherRowDoesNotDecrypt() throws {
        let scratch = try ScratchSite("cred")
        defer { scratch.drop() }
        let keyring = try SecretsKeyring(keys: [("k1", SymmetricKey.generate())])
        let first = try Self.account(scratch, phoneNumberID: "111")
        let second = try Self.account(scratch, phoneNumberID: "222")
        try AccountCredentials.store(.init(accessToken: Self.token, appSecret: nil), accountID: first, site: scratch.site, keyring: keyring,
                                     on: scratch.connection)
        try scratch.connection.execute("""
            UPDATE \(scratch.site.table(.accounts)) b JOIN \(scratch.site.table(.accounts)) a ON a.id = \(first)
               SET b.access_token_ciphertext = a.access_token_ciphertext, b.secrets_key_id = a.secrets_key_id WHERE b.id = \(second)
            """)
        #expect(throws: CredentialError.self) {
            try AccountCredentials.load(accountID: second, site: scratch.site, keyring: keyring, on: scratch.connection)
        }
    }

    @Test func aMissingKeySaysWhichOne() throws {
        let scratch = try ScratchSite("cred")
        defer { scratch.drop() }
        let id = try Self.account(scratch)
        try AccountCredentials.store(.init(accessToken: Self.token, appSecret: nil), accountID: id, site: scratch.site,
                                     keyring: try SecretsKeyring(keys: [("old", SymmetricKey.generate())]), on: scratch.connection)
        do {
            _ = try AccountCredentials.load(accountID: id, site: scratch.site, keyring: try SecretsKeyring(keys: [("new", SymmetricKey.generate())]),
                                            on: scratch.connection)
            Issue.record("decrypted without its key")
        } catch {
            #expect("\(error)".contains("\"old\""))
        }
    }

    @Test func newCredentialsLiftAHalt() throws {
        let scratch = try ScratchSite("cred")
        defer { scratch.drop() }
        let id = try Self.account(scratch)
        try scratch.connection.execute("UPDATE \(scratch.site.table(.accounts)) SET state = 'halted', state_reason = 'credentials_invalid'")
        try AccountCredentials.store(.init(accessToken: Self.token, appSecret: nil), accountID: id, site: scratch.site,
                                     keyring: try SecretsKeyring(keys: [("k", SymmetricKey.generate())]), on: scratch.connection)
        let row = try #require(try scratch.connection.queryFirst("SELECT state, state_reason FROM \(scratch.site.table(.accounts))"))
        #expect(try row.decode(String.self, at: 0) == "active")
        #expect(try row.decode(String?.self, at: 1) == nil)
    }
}
