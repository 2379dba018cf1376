import Foundation
import Testing
@testable import CloudChatCrypto

@Suite("HMAC-SHA256")
struct HMACSHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let key: [UInt8]
        let message: [UInt8]
        let expected: String
        var testDescription: String { name }
    }

    /// RFC 4231 §4 test cases (case 5 covers truncated output and is not applicable).
    static let rfc4231: [Vector] = [
        Vector(
            name: "RFC 4231 case 1",
            key: [UInt8](repeating: 0x0B, count: 20),
            message: Array("Hi There".utf8),
            expected: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        Vector(
            name: "RFC 4231 case 2",
            key: Array("Jefe".utf8),
            message: Array("what do ya want for nothing?".utf8),
            expected: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        Vector(
            name: "RFC 4231 case 3",
            key: [UInt8](repeating: 0xAA, count: 20),
            message: [UInt8](repeating: 0xDD, count: 50),
            expected: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        Vector(
            name: "RFC 4231 case 4",
            key: Array(1...25),
            message: [UInt8](repeating: 0xCD, count: 50),
            expected: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        Vector(
            name: "RFC 4231 case 6",
            key: [UInt8](repeating: 0xAA, count: 131),
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            expected: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        Vector(
            name: "RFC 4231 case 7",
            key: [UInt8](repeating: 0xAA, count: 131),
            message: Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm.").utf8
            ),
            expected: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test("RFC 4231 known answers", arguments: rfc4231)
    func knownAnswer(_ vector: Vector) {
        let code = HMACSHA256.authenticationCode(for: vector.message, key: vector.key)
        #expect(code.count == HMACSHA256.byteCount)
        #expect(code == hexBytes(vector.expected))
        #expect(HMACSHA256.hexAuthenticationCode(for: vector.message, key: vector.key) == vector.expected)
    }

    @Test("String keys and Data messages are used as their bytes")
    func convenienceInputs() {
        let fromString = HMACSHA256.authenticationCode(for: Data("what do ya want for nothing?".utf8), key: "Jefe")
        #expect(fromString == hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    }

    @Test("Empty key and empty message are valid HMAC inputs")
    func emptyInputs() {
        // Independently computed: HMAC-SHA256 with an empty key over an empty message.
        #expect(
            HMACSHA256.hexAuthenticationCode(for: [UInt8](), key: [UInt8]())
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        )
    }
}

@Suite("Webhook signature header")
struct SignatureHeaderTests {
    static let secret = "3f9c2b7e1a8d4c6f0e5b9a7d2c4e6f80"
    static let body = Data(
        #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp"}}]}]}"#
            .utf8
    )
    static let digest = "f8bc3a5c6b47e4fcc65869f77b8a606b6ef8b3877aaac40d5cd50d26ab12bc69"

    @Test("A Meta-style header over the raw body is accepted")
    func acceptsValidHeader() {
        #expect(HMACSHA256.isValidSignature(header: "sha256=" + Self.digest, body: Self.body, secret: Self.secret))
        #expect(
            HMACSHA256.isValidSignature(header: "sha256=" + Self.digest, body: Self.body, secret: Array(Self.secret.utf8))
        )
    }

    @Test("Hex and prefix case and surrounding whitespace are tolerated")
    func toleratesCaseAndWhitespace() {
        #expect(HMACSHA256.isValidSignature(header: "sha256=" + Self.digest.uppercased(), body: Self.body, secret: Self.secret))
        #expect(HMACSHA256.isValidSignature(header: "SHA256=" + Self.digest, body: Self.body, secret: Self.secret))
        #expect(HMACSHA256.isValidSignature(header: " \tsha256=\(Self.digest) ", body: Self.body, secret: Self.secret))
    }

    @Test("signatureHeader produces what isValidSignature accepts")
    func signAndVerify() {
        let header = HMACSHA256.signatureHeader(for: Self.body, secret: Self.secret)
        #expect(header == "sha256=" + Self.digest)
        #expect(HMACSHA256.isValidSignature(header: header, body: Self.body, secret: Self.secret))
    }

    @Test("A wrong secret is rejected")
    func rejectsWrongSecret() {
        #expect(!HMACSHA256.isValidSignature(header: "sha256=" + Self.digest, body: Self.body, secret: Self.secret + "x"))
    }

    @Test("An altered body is rejected")
    func rejectsAlteredBody() {
        var altered = Self.body
        altered[altered.startIndex + 10] ^= 0x01
        #expect(!HMACSHA256.isValidSignature(header: "sha256=" + Self.digest, body: altered, secret: Self.secret))
        // Re-serialised JSON with different spacing is a different body.
        let respaced = Data(String(decoding: Self.body, as: UTF8.self).replacingOccurrences(of: ",", with: ", ").utf8)
        #expect(!HMACSHA256.isValidSignature(header: "sha256=" + Self.digest, body: respaced, secret: Self.secret))
    }

    @Test(
        "Malformed headers are rejected",
        arguments: [
            "",
            "   ",
            "sha256=",
            digest,  // missing prefix
            "sha1=" + digest,
            "sha256:" + digest,
            "sha256 =" + digest,
            "sha256=" + String(digest.dropLast()),  // odd number of hex digits
            "sha256=" + String(digest.dropLast(2)),  // too short
            "sha256=" + digest + "00",  // too long
            "sha256=" + String(digest.dropLast()) + "g",  // not hex
            "sha256=" + digest + ",sha256=" + digest,
            "sha256=sha256=" + digest,
        ]
    )
    func rejectsMalformed(header: String) {
        #expect(!HMACSHA256.isValidSignature(header: header, body: Self.body, secret: Self.secret))
    }

    @Test("A missing header is rejected")
    func rejectsMissingHeader() {
        #expect(!HMACSHA256.isValidSignature(header: nil, body: Self.body, secret: Self.secret))
    }

    @Test("An empty secret never validates, even with a matching digest")
    func rejectsEmptySecret() {
        let forged = HMACSHA256.signatureHeader(for: Self.body, secret: "")
        #expect(!HMACSHA256.isValidSignature(header: forged, body: Self.body, secret: ""))
        #expect(!HMACSHA256.isValidSignature(header: forged, body: Self.body, secret: [UInt8]()))
    }
}

@Suite("Constant-time comparison")
struct ConstantTimeTests {
    @Test("Equal sequences compare equal")
    func equal() {
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(ConstantTime.equals(Data([9, 8, 7]), [9, 8, 7] as [UInt8]))
    }

    @Test("A difference anywhere makes them unequal")
    func differentBytes() {
        let base = [UInt8](repeating: 0x41, count: 32)
        for position in base.indices {
            var other = base
            other[position] ^= 0x80
            #expect(!ConstantTime.equals(base, other))
        }
    }

    @Test("Different lengths are unequal")
    func differentLengths() {
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(!ConstantTime.equals([UInt8](), [0] as [UInt8]))
    }

    @Test("Collections without contiguous storage use the fallback loop")
    func nonContiguous() {
        let lazy = [UInt8]([1, 2, 3]).lazy.map { $0 }
        #expect(ConstantTime.equals(lazy, [1, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals(lazy, [1, 2, 4] as [UInt8]))
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], (1...3).lazy.map { UInt8($0) }))
    }
}
