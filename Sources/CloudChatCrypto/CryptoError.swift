/// A failure from one of the CloudChat cryptographic operations.
///
/// Descriptions name what went wrong and never include key material,
/// plaintext or ciphertext.
public struct CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of failure occurred.
    public enum Reason: Equatable, Sendable {
        /// A key had the wrong number of bytes (the associated value is the count given).
        case invalidKeyLength(Int)
        /// A sealed box was too short or had a part of the wrong size.
        case malformedSealedBox
        /// The tag did not verify: the data, associated data or key differ from sealing.
        case authenticationFailed
        /// libcrypto reported an unexpected failure in the named operation.
        case library(operation: String, detail: String)
    }

    /// The kind of failure.
    public let reason: Reason

    /// Creates an error for the given reason.
    /// - Parameter reason: The kind of failure.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// A sealed box failed authentication.
    public static let authenticationFailed = CryptoError(.authenticationFailed)

    /// A sealed box could not be parsed.
    public static let malformedSealedBox = CryptoError(.malformedSealedBox)

    /// A human-readable explanation, safe to log.
    public var description: String {
        switch reason {
        case .invalidKeyLength(let count):
            "invalid key length: expected \(SymmetricKey.byteCount) bytes, got \(count)"
        case .malformedSealedBox:
            "malformed sealed box: expected a \(AES256GCM.nonceByteCount)-byte nonce, "
                + "the ciphertext and a \(AES256GCM.tagByteCount)-byte tag"
        case .authenticationFailed:
            "authentication failed: the data was altered or the key is wrong"
        case .library(let operation, let detail):
            "libcrypto failure in \(operation): \(detail)"
        }
    }
}
