import Foundation

/// A CSV file read into a header and rows (RFC 4180: quoted fields, doubled
/// quotes, line breaks inside quotes), as spreadsheet programs export it:
/// comma- or semicolon-separated, with or without a byte-order mark, LF or CRLF.
public struct CSVTable: Sendable, Equatable {
    /// The first row's names, trimmed.
    public let header: [String]
    /// The data rows, each with the line number it starts on (the header is line 1).
    public let rows: [(line: Int, fields: [String])]

    public static func == (lhs: CSVTable, rhs: CSVTable) -> Bool {
        lhs.header == rhs.header && lhs.rows.map(\.line) == rhs.rows.map(\.line) && lhs.rows.map(\.fields) == rhs.rows.map(\.fields)
    }

    /// Parses the text; throws when there is no header or a quote is never closed.
    public init(parsing text: String) throws(CampaignError) {
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        let firstLine = scalars.prefix { $0 != "\n" && $0 != "\r" }
        let separator: Unicode.Scalar = firstLine.contains(";") && !firstLine.contains(",") ? ";" : ","
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1
        var recordLine = 1
        var quoted = false
        var index = scalars.startIndex
        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
        }
        func endRecord() {
            endField()
            // Blank lines are not records.
            if !(fields.count == 1 && fields[0].allSatisfy(\.isWhitespace)) { records.append((recordLine, fields)) }
            fields = []
        }
        while index < scalars.endIndex {
            let scalar = scalars[index]
            index = scalars.index(after: index)
            if quoted {
                if scalar == "\"" {
                    if index < scalars.endIndex, scalars[index] == "\"" {
                        field.append("\"")
                        index = scalars.index(after: index)
                    } else {
                        quoted = false
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.allSatisfy({ $0 == " " }):
                field = String.UnicodeScalarView()
                quoted = true
            case separator:
                endField()
            case "\r":
                if index < scalars.endIndex, scalars[index] == "\n" { index = scalars.index(after: index) }
                endRecord()
                line += 1
                recordLine = line
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            default:
                field.append(scalar)
            }
        }
        if quoted { throw CampaignError("the CSV file has a quote opened on line \(recordLine) that is never closed") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        guard let first = records.first else { throw CampaignError("the CSV file is empty; it needs a header row naming its columns") }
        header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        rows = Array(records.dropFirst())
    }
}

/// Phone numbers as people type them, made into the digits WhatsApp uses.
public enum PhoneNumber {
    /// `+1 (650) 555-1234`, `0016505551234` and `16505551234` all give `16505551234`; nil for anything
    /// that is not a plausible international number (7 to 15 digits, no leading zero after the prefix).
    public static func normalized(_ text: String) -> String? {
        var digits = ""
        var rest = text.trimmingCharacters(in: .whitespaces)[...]
        if rest.hasPrefix("+") {
            rest = rest.dropFirst()
        } else if rest.hasPrefix("00") {
            rest = rest.dropFirst(2)
        }
        for character in rest {
            if let digit = character.wholeNumberValue, character.isASCII {
                digits.append(String(digit))
            } else if !" -.()/\u{00A0}".contains(character) {
                return nil
            }
        }
        guard (7...15).contains(digits.count), digits.first != "0" else { return nil }
        return digits
    }
}
