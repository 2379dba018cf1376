import ArgumentParser
import CloudChatDaemon
import Foundation
import Logging
import MariaDB
import Sending
import WordPressStore

struct RotateKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Add a new secrets key and re-encrypt every stored access token, app secret and lead secret with it.",
        discussion: """
            The new key is appended to the secrets key file (secrets_key_file), which keeps \
            its owner and mode; the old keys stay in it. Then each site's secrets are \
            re-encrypted with the new key, one transaction per site, each row only if it is \
            still under its old key. Every credential stays readable throughout: a running \
            daemon reads the key file again when it meets the new key, and an interrupted \
            run is finished with `cloudchatd rotate-key --resume`.

            Old keys are removed only with --drop-old-keys, and only those no row of any \
            site uses any more (run it with the rotation, or later with --resume). Keep a \
            backup of the key file with the database backups that still need the old keys.

            Exit codes: 0 every secret is under the new key; 1 some secret could not be \
            read (its key is not in the file, or it does not open) or another failure; 78 \
            configuration error.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(name: .long, help: "Add no key: re-encrypt into the newest key already in the file (finishes an interrupted rotation).")
    var resume = false

    @Option(name: .customLong("key-id"), help: ArgumentHelp("Id of the new key (default: k<today>, e.g. k20261207).", valueName: "id"))
    var keyID: String?

    @Flag(name: .customLong("drop-old-keys"), help: "Afterwards, remove the keys no stored secret uses any more from the key file.")
    var dropOldKeys = false

    @Flag(name: .customLong("dry-run"), help: "Report what would be re-encrypted; change neither the key file nor the database.")
    var dryRun = false

    func validate() throws {
        if resume, keyID != nil { throw ValidationError("--key-id names a new key; --resume adds none") }
    }

    func run() async throws {
        let configuration = try options.load()
        var rotation = SecretsKeyRotation.Options()
        rotation.addKey = !resume
        rotation.newKeyID = keyID
        rotation.dropOldKeys = dropOldKeys
        rotation.dryRun = dryRun
        let options = rotation
        let pool = MariaDBPool(configuration: configuration.mariaDB, size: 1, logger: Logger(label: "cloudchatd.rotate-key"))
        let report: SecretsKeyRotation.Report
        do {
            let actor: String? = OperatorAudit.operatorName
            report = try await pool.withConnection { connection in
                let sites = try configuration.discoverSites(on: connection)
                return try SecretsKeyRotation.rotate(keyFile: configuration.secretsKeyFile, sites: sites, options: options,
                                                     actorLabel: actor.map { String($0.prefix(128)) }, on: connection)
            }
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            printError("cloudchatd rotate-key: \(error)")
            throw ExitStatus.failure
        }
        print(Self.describe(report, keyFile: configuration.secretsKeyFile, dryRun: dryRun))
        if !report.isComplete { throw ExitStatus.failure }
    }

    static func describe(_ report: SecretsKeyRotation.Report, keyFile: String, dryRun: Bool) -> String {
        var lines: [String] = []
        let would = dryRun ? " (dry run: nothing changed)" : ""
        lines.append(report.addedKey ? "added key \(report.keyID) to \(keyFile)\(would)" : "re-encrypting into key \(report.keyID) of \(keyFile)\(would)")
        for site in report.sites {
            var line = "\(site.site): \(site.reencrypted) row(s) re-encrypted, \(site.alreadyCurrent) already under \(report.keyID)"
            if !site.unreadable.isEmpty {
                line += "; NOT readable, left as they are: \(site.unreadable.joined(separator: ", ")) (enter those credentials again in wp-admin)"
            }
            lines.append(line)
        }
        if !report.droppedKeys.isEmpty { lines.append("removed from the key file: \(report.droppedKeys.joined(separator: ", "))") }
        if !report.keptKeys.isEmpty { lines.append("kept in the key file: \(report.keptKeys.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
