#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A 256-bit key for ``AES256GCM``.
///
/// The key bytes never appear in `description`, `debugDescription` or
/// `dump` output, so a key that ends up in a log line or a crash report
/// does not leak.
public struct SymmetricKey: Sendable, ContiguousBytes, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// The length of a key in bytes.
    public static let byteCount = 32

    private let bytes: [UInt8]

    /// Creates a key from exactly 32 bytes, for example a key decoded from configuration.
    ///
    /// - Parameter bytes: The key material.
    /// - Throws: ``CryptoError`` with reason `.invalidKeyLength` if `bytes` is not 32 bytes long.
    public init(bytes: some ContiguousBytes) throws {
        let copy = bytes.withUnsafeBytes { [UInt8]($0) }
        guard copy.count == Self.byteCount else {
            throw CryptoError(.invalidKeyLength(copy.count))
        }
        self.bytes = copy
    }

    private init(trustedBytes: [UInt8]) {
        self.bytes = trustedBytes
    }

    /// Creates a new random key from the secure random generator.
    ///
    /// - Returns: A fresh 256-bit key.
    public static func generate() -> SymmetricKey {
        SymmetricKey(trustedBytes: SecureRandom.bytes(count: byteCount))
    }

    /// Calls `body` with the raw key bytes, for storing a generated key.
    ///
    /// - Parameter body: A closure receiving the 32 key bytes; the pointer is
    ///   valid only during the call and must not escape it.
    /// - Returns: Whatever `body` returns.
    /// - Throws: Whatever `body` throws.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    /// A redacted description that shows the key size only.
    public var description: String { "SymmetricKey(\(Self.byteCount * 8) bits, redacted)" }

    /// A redacted description that shows the key size only.
    public var debugDescription: String { description }

    /// A mirror without children, so reflection cannot reveal the key bytes.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
