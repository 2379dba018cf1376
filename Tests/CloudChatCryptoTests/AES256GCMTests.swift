import Foundation
import Testing
@testable import CloudChatCrypto

@Suite("AES-256-GCM")
struct AES256GCMTests {
    // Test cases 13-16 of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)".
    static let zeroKey = try! SymmetricKey(bytes: [UInt8](repeating: 0, count: 32))
    static let specKey = try! SymmetricKey(
        bytes: hexBytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    )
    static let specNonce = hexBytes("cafebabefacedbaddecaf888")
    static let specPlaintext = hexBytes(
        """
        d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255
        """
    )
    static let specCiphertext = hexBytes(
        """
        522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
        8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad
        """
    )
    static let specAssociatedData = hexBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2")

    @Test("GCM spec test case 13: empty plaintext, zero key and nonce")
    func testCase13() throws {
        let box = try AES256GCM.seal([UInt8](), key: Self.zeroKey, associatedData: [UInt8](), nonce: [UInt8](repeating: 0, count: 12))
        #expect(box.ciphertext.isEmpty)
        #expect(box.tag == hexBytes("530f8afbc74536b9a963b4f1c4cb738b"))
        #expect(try AES256GCM.open(box, key: Self.zeroKey).isEmpty)
    }

    @Test("GCM spec test case 14: one zero block, zero key and nonce")
    func testCase14() throws {
        let box = try AES256GCM.seal(
            [UInt8](repeating: 0, count: 16), key: Self.zeroKey, associatedData: [UInt8](),
            nonce: [UInt8](repeating: 0, count: 12)
        )
        #expect(box.ciphertext == hexBytes("cea7403d4d606b6e074ec5d3baf39d18"))
        #expect(box.tag == hexBytes("d0d1c8a799996bf0265b98b5d48ab919"))
    }

    @Test("GCM spec test case 15: four blocks, no associated data")
    func testCase15() throws {
        let box = try AES256GCM.seal(Self.specPlaintext, key: Self.specKey, associatedData: [UInt8](), nonce: Self.specNonce)
        #expect(box.nonce == Self.specNonce)
        #expect(box.ciphertext == Self.specCiphertext)
        #expect(box.tag == hexBytes("b094dac5d93471bdec1a502270e3cc6c"))
        #expect(try AES256GCM.open(box, key: Self.specKey) == Self.specPlaintext)
    }

    @Test("GCM spec test case 16: partial block with associated data")
    func testCase16() throws {
        let plaintext = Array(Self.specPlaintext.prefix(60))
        let box = try AES256GCM.seal(plaintext, key: Self.specKey, associatedData: Self.specAssociatedData, nonce: Self.specNonce)
        #expect(box.ciphertext == Array(Self.specCiphertext.prefix(60)))
        #expect(box.tag == hexBytes("76fc6ece0f4e1768cddf8853bb2d551b"))
        #expect(box.combined == Self.specNonce + Array(Self.specCiphertext.prefix(60)) + box.tag)

        // The published vector also opens, from parts and from the combined form.
        let published = try AES256GCM.SealedBox(
            nonce: Self.specNonce,
            ciphertext: Array(Self.specCiphertext.prefix(60)),
            tag: hexBytes("76fc6ece0f4e1768cddf8853bb2d551b")
        )
        #expect(try AES256GCM.open(published, key: Self.specKey, associatedData: Self.specAssociatedData) == plaintext)
        let reparsed = try AES256GCM.SealedBox(combined: Data(published.combined))
        #expect(reparsed == published)
        #expect(try AES256GCM.open(reparsed, key: Self.specKey, associatedData: Self.specAssociatedData) == plaintext)
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(published, key: Self.specKey)
        }
    }

    @Test("Round trip with a purpose as associated data, through the combined form")
    func roundTrip() throws {
        let key = SymmetricKey.generate()
        let token = Array("EAAG-example-access-token".utf8)
        let box = try AES256GCM.seal(token, key: key, associatedData: "account:42:access_token")
        #expect(box.nonce.count == AES256GCM.nonceByteCount)
        #expect(box.tag.count == AES256GCM.tagByteCount)
        #expect(box.ciphertext.count == token.count)
        #expect(box.ciphertext != token)

        let stored = box.combined
        #expect(stored.count == 12 + token.count + 16)
        let loaded = try AES256GCM.SealedBox(combined: stored)
        #expect(try AES256GCM.open(loaded, key: key, associatedData: "account:42:access_token") == token)
        #expect(try AES256GCM.open(loaded, key: key, associatedData: Array("account:42:access_token".utf8)) == token)
    }

    @Test("Round trip without associated data and with large and empty plaintexts", arguments: [0, 1, 15, 16, 17, 1 << 20])
    func roundTripSizes(size: Int) throws {
        let key = SymmetricKey.generate()
        let plaintext = SecureRandom.bytes(count: size)
        let box = try AES256GCM.seal(Data(plaintext), key: key)
        #expect(try AES256GCM.open(box, key: key) == plaintext)
    }

    @Test("Each seal uses a fresh nonce")
    func freshNonces() throws {
        let key = SymmetricKey.generate()
        let first = try AES256GCM.seal(Self.specPlaintext, key: key)
        let second = try AES256GCM.seal(Self.specPlaintext, key: key)
        #expect(first.nonce != second.nonce)
        #expect(first.ciphertext != second.ciphertext)
    }

    @Test("Any altered ciphertext byte fails to open")
    func tamperedCiphertext() throws {
        let key = SymmetricKey.generate()
        let box = try AES256GCM.seal(Self.specPlaintext, key: key, associatedData: "account:42:access_token")
        for position in [0, box.ciphertext.count / 2, box.ciphertext.count - 1] {
            var ciphertext = box.ciphertext
            ciphertext[position] ^= 0x01
            let altered = try AES256GCM.SealedBox(nonce: box.nonce, ciphertext: ciphertext, tag: box.tag)
            #expect(throws: CryptoError.authenticationFailed) {
                try AES256GCM.open(altered, key: key, associatedData: "account:42:access_token")
            }
        }
        let truncated = try AES256GCM.SealedBox(nonce: box.nonce, ciphertext: box.ciphertext.dropLast(), tag: box.tag)
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(truncated, key: key, associatedData: "account:42:access_token")
        }
    }

    @Test("An altered tag or nonce fails to open")
    func tamperedTagAndNonce() throws {
        let key = SymmetricKey.generate()
        let box = try AES256GCM.seal(Self.specPlaintext, key: key)
        var tag = box.tag
        tag[15] ^= 0x80
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(AES256GCM.SealedBox(nonce: box.nonce, ciphertext: box.ciphertext, tag: tag), key: key)
        }
        var nonce = box.nonce
        nonce[0] ^= 0x01
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(AES256GCM.SealedBox(nonce: nonce, ciphertext: box.ciphertext, tag: box.tag), key: key)
        }
    }

    @Test("Different or missing associated data fails to open")
    func wrongAssociatedData() throws {
        let key = SymmetricKey.generate()
        let box = try AES256GCM.seal(Self.specPlaintext, key: key, associatedData: "account:42:access_token")
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(box, key: key, associatedData: "account:43:access_token")
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(box, key: key)
        }
    }

    @Test("The wrong key fails to open")
    func wrongKey() throws {
        let box = try AES256GCM.seal(Self.specPlaintext, key: Self.specKey, associatedData: "purpose")
        #expect(throws: CryptoError.authenticationFailed) {
            try AES256GCM.open(box, key: SymmetricKey.generate(), associatedData: "purpose")
        }
    }

    @Test("Malformed sealed boxes are rejected before decryption")
    func malformedBoxes() {
        #expect(throws: CryptoError.malformedSealedBox) { try AES256GCM.SealedBox(combined: [UInt8](repeating: 0, count: 27)) }
        #expect(throws: CryptoError.malformedSealedBox) { try AES256GCM.SealedBox(combined: Data()) }
        #expect(throws: CryptoError.malformedSealedBox) {
            try AES256GCM.SealedBox(nonce: [UInt8](repeating: 0, count: 16), ciphertext: [], tag: [UInt8](repeating: 0, count: 16))
        }
        #expect(throws: CryptoError.malformedSealedBox) {
            try AES256GCM.SealedBox(nonce: [UInt8](repeating: 0, count: 12), ciphertext: [], tag: [UInt8](repeating: 0, count: 12))
        }
        // Exactly nonce plus tag is a valid box for an empty plaintext.
        #expect(throws: Never.self) { try AES256GCM.SealedBox(combined: [UInt8](repeating: 0, count: 28)) }
    }

    @Test("Error descriptions are clear and carry no secrets")
    func errorDescriptions() {
        #expect(CryptoError.authenticationFailed.description == "authentication failed: the data was altered or the key is wrong")
        #expect(CryptoError(.invalidKeyLength(16)).description == "invalid key length: expected 32 bytes, got 16")
        #expect(CryptoError.malformedSealedBox.description.hasPrefix("malformed sealed box"))
    }
}

@Suite("Symmetric keys")
struct SymmetricKeyTests {
    @Test("Keys must be exactly 32 bytes", arguments: [0, 16, 31, 33, 64])
    func rejectsWrongLength(count: Int) {
        #expect(throws: CryptoError(.invalidKeyLength(count))) {
            try SymmetricKey(bytes: [UInt8](repeating: 1, count: count))
        }
    }

    @Test("Key bytes round trip through withUnsafeBytes")
    func exportAndImport() throws {
        let key = SymmetricKey.generate()
        let exported = key.withUnsafeBytes { Data($0) }
        #expect(exported.count == SymmetricKey.byteCount)
        let imported = try SymmetricKey(bytes: exported)
        let box = try AES256GCM.seal([1, 2, 3] as [UInt8], key: key)
        #expect(try AES256GCM.open(box, key: imported) == [1, 2, 3])
        #expect(SymmetricKey.generate().withUnsafeBytes { Data($0) } != exported)
    }

    @Test("Descriptions, debug output and reflection never show key bytes")
    func redacted() throws {
        let key = try SymmetricKey(bytes: [UInt8](repeating: 0xAB, count: 32))
        var dumped = ""
        dump(key, to: &dumped)
        for text in [key.description, String(reflecting: key), "\(key)", dumped] {
            #expect(text.contains("redacted"))
            #expect(!text.lowercased().contains("ab"))
            #expect(!text.contains("171"))
            #expect(!text.contains("elements"))
        }
    }
}
