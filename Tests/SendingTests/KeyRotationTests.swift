import CloudChatCrypto
import Foundation
import MariaDB
@testable import Sending
import TestSupport
import Testing
import WordPressStore

@Suite("Secrets key rotation", .serialized)
struct KeyRotationTests {
    /// Two sites (a network's blogs) with credentials stored under the first key of a fresh key file.
    final class Fixture {
        let network: ScratchNetwork
        let directory: TemporaryDirectory
        let keyFile: String
        var sites: [WordPressSite] { Array(network.sites.prefix(2)) }
        var connection: MariaDBConnection { network.connection }

        init() throws {
            network = try ScratchNetwork("kr")
            directory = try TemporaryDirectory()
            keyFile = try directory.write("secrets.key", SecretsKeyring.newFileText(keyID: "k1"))
            chmod(keyFile, 0o640)
            let keyring = try SecretsKeyring(contentsOf: keyFile)
            for (index, site) in sites.enumerated() {
                try network.addAccount(site, phoneNumberID: "10654035224292\(index)")
                try network.addAccount(site, phoneNumberID: "20654035224292\(index)")
                try AccountCredentials.store(AccountSecrets(accessToken: "token-\(index)-a", appSecret: "secret-\(index)-a"), accountID: 1,
                                             site: site, keyring: keyring, on: connection)
                try AccountCredentials.store(AccountSecrets(accessToken: "token-\(index)-b", appSecret: nil), accountID: 2,
                                             site: site, keyring: keyring, on: connection)
            }
        }

        func close() {
            network.drop()
            directory.remove()
        }

        func keyIDs() throws -> [String] {
            var ids: [String] = []
            for site in sites {
                ids += try connection.query("SELECT secrets_key_id FROM \(site.table(.accounts)) ORDER BY id").map { try $0.decode(String.self, at: 0) }
            }
            return ids
        }

        func readAll(_ keyring: SecretsKeyring) throws -> [String] {
            var tokens: [String] = []
            for site in sites {
                for id: UInt64 in [1, 2] {
                    let secrets = try AccountCredentials.load(accountID: id, site: site, keyring: keyring, on: connection)
                    tokens.append("\(secrets?.accessToken ?? "-")/\(secrets?.appSecret ?? "-")")
                }
            }
            return tokens
        }
    }

    static let expected = ["token-0-a/secret-0-a", "token-0-b/-", "token-1-a/secret-1-a", "token-1-b/-"]

    @Test func everySecretOfEverySiteMovesToTheNewKeyAndOldKeysGoOnlyWhenUnused() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        var info = stat()
        stat(fixture.keyFile, &info)
        let before = info

        // A daemon that read the key file before the rotation, with nothing in memory yet.
        let runningVault = CredentialVault(keyring: try SecretsKeyring(contentsOf: fixture.keyFile), keyFile: fixture.keyFile)

        var options = SecretsKeyRotation.Options()
        options.newKeyID = "k2"
        let report = try SecretsKeyRotation.rotate(keyFile: fixture.keyFile, sites: fixture.sites, options: options, on: fixture.connection)
        #expect(report.keyID == "k2" && report.addedKey && report.isComplete)
        #expect(report.sites.map(\.reencrypted) == [2, 2])
        #expect(report.keptKeys == ["k1 (unused; --drop-old-keys removes it)"])
        #expect(try fixture.keyIDs() == ["k2", "k2", "k2", "k2"])
        let both = try SecretsKeyring(contentsOf: fixture.keyFile)
        #expect(both.current.id == "k2" && both.key(id: "k1") != nil, "the old key stays until asked to go")
        #expect(try fixture.readAll(both) == Self.expected)
        // The file kept its mode (and owner).
        stat(fixture.keyFile, &info)
        #expect(info.st_mode & 0o777 == 0o640 && info.st_uid == before.st_uid && info.st_gid == before.st_gid)
        // The running daemon meets k2, reads the file again, and still has the token.
        #expect(try runningVault.secrets(site: fixture.sites[1], accountID: 1, on: fixture.connection)?.accessToken == "token-1-a")
        // Each site's audit log says so, without a secret.
        let audit = try #require(try fixture.connection.queryFirst("""
            SELECT details_json FROM \(fixture.sites[0].table(.auditLog)) WHERE action = 'keys.rotated'
            """)?.decode(String.self, at: 0))
        #expect(audit.contains(#""reencrypted":2"#) && !audit.contains("token"))

        // Running again (--resume) finds nothing to do.
        options.addKey = false
        options.dropOldKeys = true
        let resumed = try SecretsKeyRotation.rotate(keyFile: fixture.keyFile, sites: fixture.sites, options: options, on: fixture.connection)
        #expect(resumed.sites.map(\.reencrypted) == [0, 0] && resumed.sites.map(\.alreadyCurrent) == [2, 2])
        #expect(resumed.droppedKeys == ["k1"])
        let only = try SecretsKeyring(contentsOf: fixture.keyFile)
        #expect(only.key(id: "k1") == nil && only.current.id == "k2")
        #expect(try fixture.readAll(only) == Self.expected)
    }

    @Test func anInterruptedRotationLeavesEveryRowReadableAndKeepsTheKeysItStillNeeds() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        // As if a rotation to k2 stopped after the key file was written and one site was done.
        var options = SecretsKeyRotation.Options()
        options.newKeyID = "k2"
        options.dryRun = true
        #expect(try SecretsKeyRotation.rotate(keyFile: fixture.keyFile, sites: fixture.sites, options: options, on: fixture.connection)
            .sites.map(\.reencrypted) == [2, 2])
        #expect(try fixture.keyIDs() == ["k1", "k1", "k1", "k1"], "a dry run changes nothing")
        #expect(try SecretsKeyring(contentsOf: fixture.keyFile).key(id: "k2") == nil)
        options.dryRun = false
        _ = try SecretsKeyRotation.rotate(keyFile: fixture.keyFile, sites: [fixture.sites[0]], options: options, on: fixture.connection)
        #expect(try fixture.keyIDs() == ["k2", "k2", "k1", "k1"])
        let mixed = try SecretsKeyring(contentsOf: fixture.keyFile)
        #expect(try fixture.readAll(mixed) == Self.expected, "half-way, every row opens with the file's keys")

        // Finishing it (--resume --drop-old-keys) moves the rest, then drops k1.
        options.addKey = false
        options.dropOldKeys = true
        let finished = try SecretsKeyRotation.rotate(keyFile: fixture.keyFile, sites: fixture.sites, options: options, on: fixture.connection)
        #expect(finished.sites.map(\.reencrypted) == [0, 2] && finished.droppedKeys == ["k1"] && finished.isComplete)
        #expect(try fixture.readAll(try SecretsKeyring(contentsOf: fixture.keyFile)) == Self.expected)
    }

    @Test func aRowUnderAKeyTheFileLacksIsReportedAndLeftAlone() throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        try fixture.connection.execute("UPDATE \(fixture.sites[1].table(.accounts)) SET secrets_key_id = 'lost' WHERE id = 2")
        var options = SecretsKeyRotation.Options()
        options.newKeyID = "k2"
        options.dropOldKeys = true
        let report = try SecretsKeyRotation.rotate(keyFile: fixture.keyFile, sites: fixture.sites, options: options, on: fixture.connection)
        #expect(!report.isComplete)
        #expect(report.sites[1].unreadable == ["cloudchat_accounts#2"])
        #expect(try fixture.keyIDs() == ["k2", "k2", "k2", "lost"])
        #expect(report.droppedKeys == ["k1"])
    }
}
