import CloudChatCrypto
import Foundation

/// Checks `X-Hub-Signature-256` against the configured app secrets.
///
/// Meta signs the exact bytes it sends with the app secret; the check runs on
/// those raw bytes, before any parsing, and compares in constant time. Several
/// secrets may be configured (several Meta apps subscribed to one number, or a
/// secret being rotated); a body signed with any of them is accepted.
public struct WebhookSignatureVerifier: Sendable {
    /// The outcome of a check.
    public enum Verdict: Sendable, Equatable {
        /// Signed with one of the secrets.
        case valid
        /// No `X-Hub-Signature-256` header (answer 401).
        case missing
        /// A header that is malformed or matches no secret (answer 403).
        case invalid
        /// No app secret is configured, so nothing can be verified (answer 503: Meta retries).
        case notConfigured
    }

    private let secrets: [[UInt8]]

    /// Creates a verifier; empty secrets are ignored.
    public init(appSecrets: [String]) {
        secrets = appSecrets.filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    /// Whether any secret is configured.
    public var isConfigured: Bool { !secrets.isEmpty }

    /// Checks a signature header against the body.
    public func verify(header: String?, body: some ContiguousBytes) -> Verdict {
        guard isConfigured else { return .notConfigured }
        guard let header else { return .missing }
        for secret in secrets where HMACSHA256.isValidSignature(header: header, body: body, secret: secret) {
            return .valid
        }
        return .invalid
    }
}
