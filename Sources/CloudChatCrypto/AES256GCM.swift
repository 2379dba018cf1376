#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
internal import COpenSSL

/// AES-256 in Galois/Counter Mode: authenticated encryption for secrets kept
/// at rest, such as access tokens stored in the WordPress database.
///
/// Each seal draws a fresh random 96-bit nonce. Associated data is
/// authenticated but not encrypted; use it to bind a ciphertext to its
/// purpose (for example `account:42:access_token`) so it cannot be moved to
/// another row or field and still open. With random nonces, keep well under
/// 2³² seals per key.
public enum AES256GCM {
    /// The nonce length in bytes (96 bits, the size GCM is designed for).
    public static let nonceByteCount = 12

    /// The authentication tag length in bytes (128 bits).
    public static let tagByteCount = 16

    /// The output of a seal: nonce, ciphertext and authentication tag.
    public struct SealedBox: Sendable, Equatable {
        /// The 12-byte nonce used for this seal.
        public let nonce: [UInt8]
        /// The encrypted bytes, as long as the plaintext.
        public let ciphertext: [UInt8]
        /// The 16-byte authentication tag.
        public let tag: [UInt8]

        /// Creates a sealed box from its parts.
        ///
        /// - Parameters:
        ///   - nonce: The 12-byte nonce.
        ///   - ciphertext: The encrypted bytes.
        ///   - tag: The 16-byte tag.
        /// - Throws: ``CryptoError/malformedSealedBox`` if the nonce or tag has the wrong size.
        public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) throws {
            guard nonce.count == AES256GCM.nonceByteCount, tag.count == AES256GCM.tagByteCount else {
                throw CryptoError.malformedSealedBox
            }
            self.nonce = nonce
            self.ciphertext = ciphertext
            self.tag = tag
        }

        /// Creates a sealed box from its combined form, `nonce ‖ ciphertext ‖ tag`.
        ///
        /// - Parameter combined: At least 28 bytes: 12 of nonce, the ciphertext, 16 of tag.
        /// - Throws: ``CryptoError/malformedSealedBox`` if the data is shorter than 28 bytes.
        public init(combined: some ContiguousBytes) throws {
            let bytes = combined.withUnsafeBytes { [UInt8]($0) }
            let overhead = AES256GCM.nonceByteCount + AES256GCM.tagByteCount
            guard bytes.count >= overhead else { throw CryptoError.malformedSealedBox }
            try self.init(
                nonce: Array(bytes.prefix(AES256GCM.nonceByteCount)),
                ciphertext: Array(bytes.dropFirst(AES256GCM.nonceByteCount).dropLast(AES256GCM.tagByteCount)),
                tag: Array(bytes.suffix(AES256GCM.tagByteCount))
            )
        }

        /// The combined form, `nonce ‖ ciphertext ‖ tag`, for storage or transport.
        public var combined: [UInt8] { nonce + ciphertext + tag }
    }

    /// Encrypts and authenticates `plaintext` under a fresh random nonce.
    ///
    /// - Parameters:
    ///   - plaintext: The bytes to protect.
    ///   - key: The 256-bit key.
    ///   - associatedData: Bytes that are authenticated but not encrypted; the
    ///     same bytes must be given when opening. Empty by default.
    /// - Returns: The sealed box.
    /// - Throws: ``CryptoError`` with reason `.library` if libcrypto fails.
    public static func seal(
        _ plaintext: some ContiguousBytes,
        key: SymmetricKey,
        associatedData: some ContiguousBytes = [UInt8]()
    ) throws -> SealedBox {
        try seal(plaintext, key: key, associatedData: associatedData, nonce: SecureRandom.bytes(count: nonceByteCount))
    }

    /// Encrypts and authenticates `plaintext`, binding it to a text purpose used as UTF-8.
    ///
    /// - Parameters:
    ///   - plaintext: The bytes to protect.
    ///   - key: The 256-bit key.
    ///   - associatedData: A purpose label such as `account:42:access_token`,
    ///     authenticated but not encrypted.
    /// - Returns: The sealed box.
    /// - Throws: ``CryptoError`` with reason `.library` if libcrypto fails.
    public static func seal(_ plaintext: some ContiguousBytes, key: SymmetricKey, associatedData: String) throws -> SealedBox {
        try seal(plaintext, key: key, associatedData: Array(associatedData.utf8))
    }

    /// Decrypts a sealed box after verifying its tag.
    ///
    /// - Parameters:
    ///   - box: The sealed box.
    ///   - key: The key it was sealed with.
    ///   - associatedData: The associated data given when sealing. Empty by default.
    /// - Returns: The plaintext.
    /// - Throws: ``CryptoError/authenticationFailed`` if the ciphertext, tag,
    ///   nonce or associated data were altered or the key is wrong;
    ///   ``CryptoError`` with reason `.library` if libcrypto fails.
    public static func open(
        _ box: SealedBox,
        key: SymmetricKey,
        associatedData: some ContiguousBytes = [UInt8]()
    ) throws -> [UInt8] {
        guard let context = EVP_CIPHER_CTX_new() else {
            throw libraryError("EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }

        try check(EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil), "EVP_DecryptInit_ex")
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceByteCount), nil),
            "EVP_CTRL_GCM_SET_IVLEN"
        )
        try key.withUnsafeBytes { keyBytes in
            try box.nonce.withUnsafeBufferPointer { nonce in
                try check(
                    EVP_DecryptInit_ex(context, nil, nil, keyBytes.bindMemory(to: UInt8.self).baseAddress, nonce.baseAddress),
                    "EVP_DecryptInit_ex"
                )
            }
        }
        try associatedData.withUnsafeBytes { try update(context, input: $0, output: nil, EVP_DecryptUpdate) }

        var plaintext = try box.ciphertext.withUnsafeBytes { ciphertext in
            try [UInt8](unsafeUninitializedCapacity: ciphertext.count) { output, initialized in
                try update(context, input: ciphertext, output: output, EVP_DecryptUpdate)
                initialized = ciphertext.count
            }
        }

        // The tag is set before finalising; EVP_DecryptFinal_ex then verifies it.
        var tag = box.tag
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), &tag),
            "EVP_CTRL_GCM_SET_TAG"
        )
        var trailing = [UInt8](repeating: 0, count: 32)
        var trailingCount: Int32 = 0
        guard EVP_DecryptFinal_ex(context, &trailing, &trailingCount) > 0 else {
            // Unauthenticated plaintext must not outlive this call.
            plaintext.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            ERR_clear_error()
            throw CryptoError.authenticationFailed
        }
        return plaintext
    }

    /// Decrypts a sealed box bound to a text purpose, used as UTF-8.
    ///
    /// - Parameters:
    ///   - box: The sealed box.
    ///   - key: The key it was sealed with.
    ///   - associatedData: The purpose label given when sealing.
    /// - Returns: The plaintext.
    /// - Throws: ``CryptoError/authenticationFailed`` if anything was altered,
    ///   the key is wrong or the purpose differs; ``CryptoError`` with reason
    ///   `.library` if libcrypto fails.
    public static func open(_ box: SealedBox, key: SymmetricKey, associatedData: String) throws -> [UInt8] {
        try open(box, key: key, associatedData: Array(associatedData.utf8))
    }

    /// Seals with a caller-chosen nonce. Only for known-answer tests: reusing
    /// a nonce under one key destroys GCM's confidentiality and integrity.
    static func seal(
        _ plaintext: some ContiguousBytes,
        key: SymmetricKey,
        associatedData: some ContiguousBytes,
        nonce: [UInt8]
    ) throws -> SealedBox {
        precondition(nonce.count == nonceByteCount, "AES-256-GCM nonces are \(nonceByteCount) bytes")
        guard let context = EVP_CIPHER_CTX_new() else {
            throw libraryError("EVP_CIPHER_CTX_new")
        }
        defer { EVP_CIPHER_CTX_free(context) }

        try check(EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil), "EVP_EncryptInit_ex")
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceByteCount), nil),
            "EVP_CTRL_GCM_SET_IVLEN"
        )
        try key.withUnsafeBytes { keyBytes in
            try nonce.withUnsafeBufferPointer { nonce in
                try check(
                    EVP_EncryptInit_ex(context, nil, nil, keyBytes.bindMemory(to: UInt8.self).baseAddress, nonce.baseAddress),
                    "EVP_EncryptInit_ex"
                )
            }
        }
        try associatedData.withUnsafeBytes { try update(context, input: $0, output: nil, EVP_EncryptUpdate) }

        let ciphertext = try plaintext.withUnsafeBytes { plaintext in
            try [UInt8](unsafeUninitializedCapacity: plaintext.count) { output, initialized in
                try update(context, input: plaintext, output: output, EVP_EncryptUpdate)
                initialized = plaintext.count
            }
        }

        // GCM is a stream mode, so finalising emits no bytes; it completes the tag.
        var trailing = [UInt8](repeating: 0, count: 32)
        var trailingCount: Int32 = 0
        try check(EVP_EncryptFinal_ex(context, &trailing, &trailingCount), "EVP_EncryptFinal_ex")
        var tag = [UInt8](repeating: 0, count: tagByteCount)
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), &tag),
            "EVP_CTRL_GCM_GET_TAG"
        )
        return try SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag)
    }

    /// The shape shared by `EVP_EncryptUpdate` and `EVP_DecryptUpdate`.
    private typealias UpdateFunction = (
        OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int32>?, UnsafePointer<UInt8>?, Int32
    ) -> Int32

    /// Feeds `input` through an update call in chunks that fit libcrypto's
    /// `int` lengths. With no `output`, the input is associated data.
    private static func update(
        _ context: OpaquePointer,
        input: UnsafeRawBufferPointer,
        output: UnsafeMutableBufferPointer<UInt8>?,
        _ function: UpdateFunction
    ) throws {
        guard let base = input.bindMemory(to: UInt8.self).baseAddress, !input.isEmpty else { return }
        let chunkLimit = 1 << 30
        var offset = 0
        while offset < input.count {
            let chunk = min(chunkLimit, input.count - offset)
            var written: Int32 = 0
            try check(
                function(context, output?.baseAddress.map { $0 + offset }, &written, base + offset, Int32(chunk)),
                output == nil ? "associated data update" : "cipher update"
            )
            // GCM processes every byte at once; anything else means libcrypto misbehaved.
            if output != nil, Int(written) != chunk {
                throw libraryError("cipher update", detail: "produced \(written) bytes for \(chunk)")
            }
            offset += chunk
        }
    }

    private static func check(_ result: Int32, _ operation: String) throws {
        guard result == 1 else { throw libraryError(operation) }
    }

    private static func libraryError(_ operation: String, detail: String? = nil) -> CryptoError {
        CryptoError(.library(operation: operation, detail: detail ?? drainOpenSSLErrors()))
    }
}
