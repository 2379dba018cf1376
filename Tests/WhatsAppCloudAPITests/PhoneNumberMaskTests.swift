import Testing
import WhatsAppCloudAPI

@Suite("Phone number mask")
struct PhoneNumberMaskTests {
    @Test(arguments: [
        ("16505551234", "+1650•••1234"),
        ("+16505551234", "+1650•••1234"),
        ("+44 20 7946 0958", "+4420•••0958"),
        ("(650) 555-1234", "+6505•••1234"),
        ("491701234567890", "+4917•••7890"),
        ("5551234", "•••"),
        ("165055512", "•••"),
        ("no digits", "•••"),
        ("", ""),
        ("+1650•••1234", "+1650•••1234"),
    ])
    func masks(_ number: String, _ masked: String) {
        #expect(PhoneNumberMask.mask(number) == masked)
    }

    @Test func theMiddleNeverShows() {
        let masked = PhoneNumberMask.mask("16505551234")
        #expect(!masked.contains("555"))
        #expect(!masked.contains("16505551234"))
    }

    @Test func scrubMasksInternationalNumbersInText() {
        #expect(PhoneNumberMask.scrub("Recipient +16505551234 is not on the allowed list")
                == "Recipient +1650•••1234 is not on the allowed list")
        #expect(PhoneNumberMask.scrub("to +16505551234, +447700900123.") == "to +1650•••1234, +4477•••0123.")
        #expect(PhoneNumberMask.scrub("+1234567") == "•••")
    }

    @Test func scrubLeavesOtherTextAlone() {
        for text in ["phone_number_id 106540352242922", "rate +5", "2026-12-07T01:02:03+0000", "+12345678901234567 (too long)", "", "a+b"] {
            #expect(PhoneNumberMask.scrub(text) == text)
        }
    }
}
