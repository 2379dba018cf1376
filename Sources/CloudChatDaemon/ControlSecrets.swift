import CloudChatCrypto

/// The secrets that sign control API calls.
///
/// The daemon's `control_secret` reaches every site it serves; the CLI and a
/// single install's plugin use it. When one daemon serves installs that belong
/// to different people, each install's plugin is given its own secret instead,
/// derived from the control secret and the install's database and table prefix:
/// a call signed with it reaches that install's sites only, so one install's
/// administrator cannot read or change another's data through the daemon.
/// `cloudchatd control-secret` prints it.
public enum ControlSecrets {
    /// The secret of one install: hex HMAC-SHA256 of `"cloudchat install\n<database>\n<table prefix>"`
    /// keyed with the control secret.
    public static func installSecret(controlSecret: String, database: String, tablePrefix: String) -> String {
        HMACSHA256.hexAuthenticationCode(for: Array("cloudchat install\n\(database)\n\(tablePrefix)".utf8), key: controlSecret)
    }
}
