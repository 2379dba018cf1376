internal import COpenSSL

/// Cryptographically secure random bytes from libcrypto's CSPRNG.
public enum SecureRandom {
    /// Returns `count` bytes from `RAND_bytes`.
    ///
    /// Traps if libcrypto cannot supply secure randomness (for example an
    /// unseeded generator): carrying on with weak bytes would produce
    /// guessable keys, nonces and tokens, which is worse than stopping.
    ///
    /// - Parameter count: The number of bytes; must not be negative.
    /// - Returns: An array of exactly `count` random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes(count:) needs a non-negative count")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    /// Returns a random token as lowercase hexadecimal, two characters per byte.
    ///
    /// - Parameter byteCount: The number of random bytes (default 32, i.e. 256 bits).
    /// - Returns: A string of `2 * byteCount` hex digits.
    public static func hexToken(byteCount: Int = 32) -> String {
        Hex.encode(bytes(count: byteCount))
    }

    /// Returns a random token in unpadded base64url (RFC 4648 §5), safe in URLs,
    /// headers and file names.
    ///
    /// - Parameter byteCount: The number of random bytes (default 32, i.e. 256 bits).
    /// - Returns: The base64url text, without `=` padding.
    public static func base64URLToken(byteCount: Int = 32) -> String {
        Base64URL.encode(bytes(count: byteCount))
    }

    /// Fills a buffer with secure random bytes, trapping on failure.
    static func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        guard var next = buffer.baseAddress else { return }
        var remaining = buffer.count
        // RAND_bytes takes an Int32 length, so very large requests go in chunks.
        while remaining > 0 {
            let chunk = min(remaining, Int(Int32.max))
            guard RAND_bytes(next, Int32(chunk)) == 1 else {
                fatalError("libcrypto could not produce secure random bytes: \(drainOpenSSLErrors())")
            }
            next += chunk
            remaining -= chunk
        }
    }
}

/// Unpadded base64url encoding (RFC 4648 §5).
enum Base64URL {
    private static let alphabet: [UInt8] =
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes bytes as base64url without padding.
    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
            output.append(alphabet[Int(group & 0x3F)])
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let group = UInt32(bytes[index]) << 16
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
        case 2:
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }
}
