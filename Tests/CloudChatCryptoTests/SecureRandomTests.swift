import Testing
@testable import CloudChatCrypto

@Suite("Secure random")
struct SecureRandomTests {
    @Test("Returns exactly the requested number of bytes", arguments: [0, 1, 12, 32, 4096])
    func length(count: Int) {
        #expect(SecureRandom.bytes(count: count).count == count)
    }

    @Test("Successive calls differ")
    func differs() {
        let samples = (0..<8).map { _ in SecureRandom.bytes(count: 32) }
        #expect(Set(samples).count == samples.count)
    }

    @Test("Hex tokens are lowercase hex of twice the byte count")
    func hexToken() {
        let token = SecureRandom.hexToken()
        #expect(token.count == 64)
        #expect(token.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(SecureRandom.hexToken(byteCount: 16).count == 32)
        #expect(SecureRandom.hexToken() != token)
    }

    @Test("Base64url tokens are unpadded and URL-safe")
    func base64URLToken() {
        let token = SecureRandom.base64URLToken()
        #expect(token.count == 43)
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        #expect(token.allSatisfy { alphabet.contains($0) })
        #expect(SecureRandom.base64URLToken() != token)
    }

    @Test("Base64url encoding matches RFC 4648 vectors, without padding")
    func base64URLVectors() {
        let vectors: [(String, String)] = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"),
            ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
        ]
        for (input, expected) in vectors {
            #expect(Base64URL.encode(Array(input.utf8)) == expected)
        }
        // The two characters that differ from standard base64.
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.encode([0xFB, 0xEF, 0xBE]) == "----")
    }
}
