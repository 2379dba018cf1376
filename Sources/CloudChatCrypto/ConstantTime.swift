internal import COpenSSL

/// Comparisons whose running time does not depend on where inputs differ.
public enum ConstantTime {
    /// Compares two byte sequences without an early exit on the first difference.
    ///
    /// Use this for secrets such as MACs and tokens, where an ordinary `==`
    /// would reveal through timing how many leading bytes an attacker guessed.
    /// Only the lengths are compared up front; lengths are not secret here.
    ///
    /// - Parameters:
    ///   - a: The first byte sequence.
    ///   - b: The second byte sequence.
    /// - Returns: `true` if both have the same length and the same bytes.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }

        // Contiguous storage goes to libcrypto's CRYPTO_memcmp, written to stay
        // constant-time whatever the optimiser does.
        let viaLibrary: Bool?? = a.withContiguousStorageIfAvailable { left in
            b.withContiguousStorageIfAvailable { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
            }
        }
        if let result = viaLibrary ?? nil { return result }

        // Otherwise accumulate every difference and decide only at the end.
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) {
            difference |= x ^ y
        }
        return difference == 0
    }
}
