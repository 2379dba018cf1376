import Foundation

/// The words that opt a contact out of (or back into) messages when a text
/// message consists of one of them (docs/schema.md §5.3, §6.4).
///
/// A message matches when its whole text, trimmed of white space and of the
/// punctuation people add (`Stop!`, `¿Baja?`), equals a keyword compared case-
/// and accent-insensitively with runs of white space taken as one space:
/// `stop`, ` STOP `, `Arrêt` and `arret` all match `ARRET`. A word inside a
/// longer message (`please don't stop`) never matches.
///
/// The daemon's lists come from `consent_opt_out_keywords` and
/// `consent_opt_in_keywords`; a site adds words of its own with enabled
/// `cloudchat_automations` rows of kind `opt_out_keywords` / `opt_in_keywords`.
public struct ConsentKeywords: Sendable, Equatable {
    /// What a matched keyword does.
    public enum Action: String, Sendable {
        /// `consent_state` becomes `opted_out`.
        case optOut = "opted_out"
        /// `consent_state` becomes `opted_in`.
        case optIn = "opted_in"
    }

    /// The built-in opt-out words: English as carriers use it, Spanish, Portuguese, French, German, Italian.
    public static let defaultOptOut = [
        "STOP", "STOPALL", "UNSUBSCRIBE", "OPT OUT", "OPTOUT",
        "BAJA", "ALTO", "DETENER",
        "PARAR", "SAIR",
        "ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE",
        "STOPP", "ABMELDEN", "ABBESTELLEN",
        "ANNULLA", "DISISCRIVI",
    ]
    /// The built-in opt-in words.
    public static let defaultOptIn = [
        "START", "UNSTOP", "SUBSCRIBE", "OPT IN", "OPTIN",
        "ALTA", "REANUDAR",
        "INICIAR", "VOLTAR",
        "DEMARRER", "REPRENDRE",
        "ANMELDEN",
        "RIPRENDI",
    ]
    /// The built-in lists.
    public static let defaults = ConsentKeywords(optOut: defaultOptOut, optIn: defaultOptIn)

    /// Opt-out words, normalised, each with the word as configured.
    private var optOut: [String: String] = [:]
    /// Opt-in words, normalised, each with the word as configured.
    private var optIn: [String: String] = [:]

    /// Creates lists from words as written; empty words are left out. A word in both lists opts out.
    public init(optOut: [String], optIn: [String]) {
        for word in optIn { add(word, .optIn) }
        for word in optOut { add(word, .optOut) }
    }

    /// Whether there are no words at all.
    public var isEmpty: Bool { optOut.isEmpty && optIn.isEmpty }

    /// The opt-out words, as configured, sorted.
    public var optOutWords: [String] { optOut.values.sorted() }
    /// The opt-in words, as configured, sorted.
    public var optInWords: [String] { optIn.values.sorted() }

    /// Adds a word to one list (and takes it out of the other).
    public mutating func add(_ word: String, _ action: Action) {
        let key = Self.normalise(word)
        guard !key.isEmpty else { return }
        let shown = word.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        switch action {
        case .optOut:
            optIn[key] = nil
            optOut[key] = shown
        case .optIn:
            optOut[key] = nil
            optIn[key] = shown
        }
    }

    /// These lists with another's words added; the other's win where they disagree.
    public func merging(_ other: ConsentKeywords) -> ConsentKeywords {
        var merged = self
        for word in other.optIn.values { merged.add(word, .optIn) }
        for word in other.optOut.values { merged.add(word, .optOut) }
        return merged
    }

    /// The action and the keyword (as configured) a message text stands for, or nil.
    public func match(_ text: String) -> (action: Action, keyword: String)? {
        // Keywords are short: a long text is never one, and is not worth normalising.
        guard text.utf8.count <= 200 else { return nil }
        let key = Self.normalise(text)
        guard !key.isEmpty else { return nil }
        if let word = optOut[key] { return (.optOut, word) }
        if let word = optIn[key] { return (.optIn, word) }
        return nil
    }

    /// Parses a comma-separated list, as the configuration keys hold it.
    public static func words(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Folds case and accents, trims white space and surrounding punctuation, and makes runs of white space one space.
    static func normalise(_ text: String) -> String {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .uppercased()
        let trimmed = folded.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters).union(.symbols))
        return trimmed.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
