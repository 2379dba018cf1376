#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
internal import COpenSSL

/// HMAC-SHA256 (RFC 2104) for Meta's webhook signatures and for signing
/// control-API requests.
public enum HMACSHA256 {
    /// The length of an HMAC-SHA256 code in bytes.
    public static let byteCount = 32

    /// The prefix Meta puts before the hex digest in `X-Hub-Signature-256`.
    public static let signatureHeaderPrefix = "sha256="

    /// Computes the HMAC-SHA256 of a message.
    ///
    /// Traps only if libcrypto cannot compute SHA-256 at all, which means the
    /// installation is broken rather than that the input is bad.
    ///
    /// - Parameters:
    ///   - message: The bytes to authenticate, exactly as sent or received.
    ///   - key: The secret key, of any length.
    /// - Returns: The 32-byte authentication code.
    public static func authenticationCode(
        for message: some ContiguousBytes,
        key: some ContiguousBytes
    ) -> [UInt8] {
        key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                compute(message: messageBytes, key: keyBytes)
            }
        }
    }

    /// Computes the HMAC-SHA256 of a message with a text secret, used as UTF-8.
    ///
    /// - Parameters:
    ///   - message: The bytes to authenticate, exactly as sent or received.
    ///   - key: The secret, such as a Meta app secret; its UTF-8 bytes are the key.
    /// - Returns: The 32-byte authentication code.
    public static func authenticationCode(for message: some ContiguousBytes, key: String) -> [UInt8] {
        authenticationCode(for: message, key: Array(key.utf8))
    }

    /// Computes the HMAC-SHA256 of a message as lowercase hexadecimal.
    ///
    /// - Parameters:
    ///   - message: The bytes to authenticate.
    ///   - key: The secret key.
    /// - Returns: 64 lowercase hex digits.
    public static func hexAuthenticationCode(
        for message: some ContiguousBytes,
        key: some ContiguousBytes
    ) -> String {
        Hex.encode(authenticationCode(for: message, key: key))
    }

    /// Computes the HMAC-SHA256 of a message as lowercase hexadecimal, with a
    /// text secret used as UTF-8.
    ///
    /// - Parameters:
    ///   - message: The bytes to authenticate.
    ///   - key: The secret; its UTF-8 bytes are the key.
    /// - Returns: 64 lowercase hex digits.
    public static func hexAuthenticationCode(for message: some ContiguousBytes, key: String) -> String {
        hexAuthenticationCode(for: message, key: Array(key.utf8))
    }

    /// Builds a signature header value in Meta's format, `sha256=<hex>`.
    ///
    /// - Parameters:
    ///   - body: The raw request body.
    ///   - secret: The shared secret; its UTF-8 bytes are the key.
    /// - Returns: The header value, for example `sha256=5bd1…`.
    public static func signatureHeader(for body: some ContiguousBytes, secret: String) -> String {
        signatureHeaderPrefix + hexAuthenticationCode(for: body, key: secret)
    }

    /// Checks a `sha256=<hex>` signature header, as Meta sends in
    /// `X-Hub-Signature-256`, against the raw body.
    ///
    /// The value may carry surrounding spaces or tabs; the `sha256=` prefix and
    /// the 64 hex digits are accepted in either case. Anything else (missing or
    /// other prefix, wrong length, odd or non-hex digits, an empty header) is
    /// rejected, as is an empty secret, so a missing configuration can never
    /// make forged requests pass. The digests are compared in constant time.
    ///
    /// - Parameters:
    ///   - header: The header value, or `nil` when the request had none.
    ///   - body: The raw request body, byte for byte as received (not re-encoded JSON).
    ///   - secret: The shared secret bytes.
    /// - Returns: `true` only if the header is well formed and matches.
    public static func isValidSignature(
        header: String?,
        body: some ContiguousBytes,
        secret: some ContiguousBytes
    ) -> Bool {
        guard let header, let claimed = parseSignatureHeader(header) else { return false }
        guard secret.withUnsafeBytes({ !$0.isEmpty }) else { return false }
        return ConstantTime.equals(authenticationCode(for: body, key: secret), claimed)
    }

    /// Checks a `sha256=<hex>` signature header against the raw body with a
    /// text secret, such as the Meta app secret, used as UTF-8.
    ///
    /// - Parameters:
    ///   - header: The header value, or `nil` when the request had none.
    ///   - body: The raw request body, byte for byte as received.
    ///   - secret: The shared secret; its UTF-8 bytes are the key.
    /// - Returns: `true` only if the header is well formed and matches.
    public static func isValidSignature(header: String?, body: some ContiguousBytes, secret: String) -> Bool {
        isValidSignature(header: header, body: body, secret: Array(secret.utf8))
    }

    /// Extracts the 32 digest bytes from `sha256=<64 hex digits>`, or `nil`.
    static func parseSignatureHeader(_ header: String) -> [UInt8]? {
        let isOptionalWhitespace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var value = Array(header.utf8)[...]
        while let first = value.first, isOptionalWhitespace(first) { value.removeFirst() }
        while let last = value.last, isOptionalWhitespace(last) { value.removeLast() }

        let prefix = signatureHeaderPrefix.utf8
        guard value.count == prefix.count + 2 * byteCount,
              value.prefix(prefix.count).map(asciiLowercased).elementsEqual(prefix)
        else { return nil }
        return Hex.decode(utf8: value.dropFirst(prefix.count))
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    /// One-shot HMAC over raw buffers; pointers never leave this function.
    private static func compute(message: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(key.count <= Int(Int32.max), "HMAC key longer than libcrypto accepts")
        // libcrypto treats a null key or message pointer specially, so empty
        // inputs point at a harmless byte instead.
        let placeholder: [UInt8] = [0]
        return placeholder.withUnsafeBytes { fallback in
            let keyPointer = key.isEmpty ? fallback.baseAddress! : key.baseAddress!
            let messagePointer = (message.isEmpty ? fallback.baseAddress! : message.baseAddress!)
                .assumingMemoryBound(to: UInt8.self)
            return [UInt8](unsafeUninitializedCapacity: byteCount) { output, initialized in
                var length: UInt32 = 0
                let result = HMAC(
                    EVP_sha256(), keyPointer, Int32(key.count),
                    messagePointer, message.count,
                    output.baseAddress, &length
                )
                guard result != nil, length == UInt32(byteCount) else {
                    fatalError("libcrypto could not compute HMAC-SHA256: \(drainOpenSSLErrors())")
                }
                initialized = byteCount
            }
        }
    }
}
