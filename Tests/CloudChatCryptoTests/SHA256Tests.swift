import Foundation
import Testing
import CloudChatCrypto

@Suite("SHA-256")
struct SHA256Tests {
    /// FIPS 180-4 example vectors (NIST CSRC "SHA256.pdf" and the long-message test).
    @Test func theEmptyString() {
        #expect(SHA256.hash([UInt8]()) == hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    @Test func abc() {
        #expect(SHA256.hexHash(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func twoBlocks() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hexHash(message) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func aMillionAsFedInOddSizedChunks() {
        let hasher = SHA256()
        let chunkSizes = [1, 7, 63, 64, 65, 127, 1000, 4093]
        var fed = 0
        var turn = 0
        while fed < 1_000_000 {
            let size = min(chunkSizes[turn % chunkSizes.count], 1_000_000 - fed)
            hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: size))
            fed += size
            turn += 1
        }
        #expect(hasher.finalize() == hexBytes("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"))
    }

    @Test func chunkBoundariesDoNotChangeTheDigest() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SHA256.hash(bytes)
        for split in [0, 1, 63, 64, 65, 5000, 9999, 10_000] {
            let hasher = SHA256()
            hasher.update(Array(bytes[..<split]))
            hasher.update(Data(bytes[split...]))
            #expect(hasher.finalize() == whole)
        }
    }
}
