/// Masks a customer's phone number for logs: `+1650•••1234`.
///
/// A log line may say which contact it is about, but never carry the whole
/// number. The first four digits (country and area) and the last four stay, so
/// an operator can tell contacts apart and match one against the inbox; the
/// middle becomes `•••`. A number of fewer than ten digits would be given away
/// by eight of them, so it is masked entirely.
///
/// Business identifiers (`phone_number_id`, WABA ids) are not personal and are
/// logged as they are; this is for a customer's `wa_id`, `from`, `to`, or a
/// number typed into a campaign list.
///
/// ```swift
/// PhoneNumberMask.mask("16505551234")        // "+1650•••1234"
/// PhoneNumberMask.mask("+44 20 7946 0958")   // "+4420•••0958"
/// PhoneNumberMask.mask("5551234")            // "•••"
/// ```
public enum PhoneNumberMask {
    /// What replaces the hidden digits.
    public static let hidden = "•••"

    /// The fewest digits a number may have for its first and last four to be shown.
    public static let shortestShown = 10

    /// The masked form of a phone number.
    ///
    /// Anything but digits is ignored (`+`, spaces, dashes, brackets); a value
    /// that is already masked is returned as it is.
    /// - Parameter number: the number as stored or received, e.g. a `wa_id`.
    /// - Returns: `+` and the first four digits, `•••`, the last four; `•••` alone
    ///   for a short number or one without digits; an empty string for an empty one.
    public static func mask(_ number: some StringProtocol) -> String {
        if number.isEmpty { return "" }
        if number.contains(hidden) { return String(number) }
        let digits = number.unicodeScalars.filter { ("0"..."9").contains($0) }
        guard digits.count >= shortestShown else { return hidden }
        return "+" + String(String.UnicodeScalarView(digits.prefix(4))) + hidden + String(String.UnicodeScalarView(digits.suffix(4)))
    }

    /// Masks every international number written out in free text: a `+`
    /// followed by seven to fifteen digits (E.164 allows fifteen), as an error
    /// message or a pasted value may carry one.
    ///
    /// Bare digit runs are left alone: business ids, counts and timestamps look
    /// the same, and the call sites mask the numbers they know about.
    /// - Parameter text: any text.
    /// - Returns: the text with each such number masked; the text itself when it has none.
    public static func scrub(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "+")) else { return text }
        let scalars = Array(text.unicodeScalars)
        var result = String.UnicodeScalarView()
        var index = 0
        var changed = false
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "+" {
                var end = index + 1
                while end < scalars.count, ("0"..."9").contains(scalars[end]) { end += 1 }
                let count = end - index - 1
                if (7...15).contains(count) {
                    result.append(contentsOf: mask(String(String.UnicodeScalarView(scalars[index..<end]))).unicodeScalars)
                    index = end
                    changed = true
                    continue
                }
            }
            result.append(scalar)
            index += 1
        }
        return changed ? String(result) : text
    }
}
