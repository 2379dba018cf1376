import CloudChatCrypto
import Foundation
import Synchronization

/// The app secrets webhooks may be signed with: those in the configuration, and those the site
/// owners stored with their business numbers (from wp-admin), which change while the daemon runs.
public final class WebhookAppSecrets: Sendable {
    private let configured: [[UInt8]]
    /// The configured secrets followed by the stored ones, built when the stored ones change, so a
    /// webhook reads one array.
    private let current: Mutex<(all: [[UInt8]], stored: Int)>

    /// Secrets from the configuration; empty ones are ignored.
    public init(configured: [String]) {
        let configured = configured.filter { !$0.isEmpty }.map { Array($0.utf8) }
        self.configured = configured
        current = Mutex((configured, 0))
    }

    /// Replaces the secrets stored with the numbers.
    public func replaceStored(_ secrets: [String]) {
        let stored = Set(secrets.filter { !$0.isEmpty }).sorted().map { Array($0.utf8) }
        let all = configured + stored
        current.withLock { $0 = (all, stored.count) }
    }

    /// Every secret a body may be signed with.
    public var all: [[UInt8]] { current.withLock { $0.all } }

    /// How many secrets come from the configuration and from the numbers.
    public var counts: (configured: Int, stored: Int) { (configured.count, current.withLock { $0.stored }) }
}

/// Checks `X-Hub-Signature-256` against the app secrets.
///
/// Meta signs the exact bytes it sends with the app secret; the check runs on
/// those raw bytes, before any parsing, and compares in constant time. Several
/// secrets may be known (several Meta apps subscribed to one number, a secret
/// being rotated, or numbers of different apps); a body signed with any of them
/// is accepted.
public struct WebhookSignatureVerifier: Sendable {
    /// The outcome of a check.
    public enum Verdict: Sendable, Equatable {
        /// Signed with one of the secrets.
        case valid
        /// No `X-Hub-Signature-256` header (answer 401).
        case missing
        /// A header that is malformed or matches no secret (answer 403).
        case invalid
        /// No app secret is known, so nothing can be verified (answer 503: Meta retries).
        case notConfigured
    }

    private let secrets: WebhookAppSecrets

    /// A verifier over secrets that may change.
    public init(secrets: WebhookAppSecrets) {
        self.secrets = secrets
    }

    /// A verifier over fixed secrets; empty ones are ignored.
    public init(appSecrets: [String]) {
        self.init(secrets: WebhookAppSecrets(configured: appSecrets))
    }

    /// Whether any secret is known.
    public var isConfigured: Bool { !secrets.all.isEmpty }

    /// Checks a signature header against the body.
    public func verify(header: String?, body: some ContiguousBytes) -> Verdict {
        let known = secrets.all
        guard !known.isEmpty else { return .notConfigured }
        guard let header else { return .missing }
        for secret in known where HMACSHA256.isValidSignature(header: header, body: body, secret: secret) {
            return .valid
        }
        return .invalid
    }
}
