#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
internal import COpenSSL

/// SHA-256 (FIPS 180-4) over libcrypto's EVP digest API, fed in chunks.
///
/// Used to check a download against the digest Meta sent while the bytes
/// arrive, without holding the file in memory:
///
/// ```swift
/// let hasher = SHA256()
/// for chunk in chunks { hasher.update(chunk) }
/// let digest = hasher.finalize()   // 32 bytes
/// ```
///
/// One instance belongs to one thread at a time (it owns a C context). It can
/// be finalised once; ``update(_:)-(UnsafeRawBufferPointer)`` after that is a programming error.
/// Traps only if libcrypto cannot compute SHA-256 at all, which means the
/// installation is broken rather than that the input is bad.
public final class SHA256 {
    /// The length of a SHA-256 digest in bytes.
    public static let byteCount = 32

    private let context: OpaquePointer
    private var isFinalized = false

    /// Starts a new digest.
    public init() {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("libcrypto could not allocate a digest context: \(drainOpenSSLErrors())")
        }
        self.context = context
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            fatalError("libcrypto could not start SHA-256: \(drainOpenSSLErrors())")
        }
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    /// Feeds the next bytes.
    /// - Parameter bytes: any number of bytes, including none.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!isFinalized, "SHA256.update(_:) after finalize()")
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else {
            fatalError("libcrypto could not compute SHA-256: \(drainOpenSSLErrors())")
        }
    }

    /// Feeds the next bytes.
    /// - Parameter bytes: an array, `Data` or other contiguous bytes.
    public func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Ends the digest.
    /// - Returns: the 32-byte digest.
    public func finalize() -> [UInt8] {
        precondition(!isFinalized, "SHA256.finalize() called twice")
        isFinalized = true
        return [UInt8](unsafeUninitializedCapacity: Self.byteCount) { output, initialized in
            var length: UInt32 = 0
            guard EVP_DigestFinal_ex(context, output.baseAddress, &length) == 1, length == UInt32(Self.byteCount) else {
                fatalError("libcrypto could not finish SHA-256: \(drainOpenSSLErrors())")
            }
            initialized = Self.byteCount
        }
    }

    /// The digest of some bytes, in one call.
    /// - Parameter bytes: the bytes.
    /// - Returns: the 32-byte digest.
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        let hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The digest of some bytes as lowercase hexadecimal.
    /// - Parameter bytes: the bytes.
    /// - Returns: 64 lowercase hex digits.
    public static func hexHash(_ bytes: some ContiguousBytes) -> String {
        Hex.encode(hash(bytes))
    }
}
