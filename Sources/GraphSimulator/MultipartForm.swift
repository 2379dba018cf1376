/// A `multipart/form-data` body (RFC 7578), as media uploads send it.
struct MultipartForm {
    /// One field or file.
    struct Part {
        /// The `name` of `Content-Disposition`.
        let name: String
        /// The `filename`, for files.
        let filename: String?
        /// The part's own `Content-Type`, when it has one.
        let contentType: String?
        let body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let parts: [Part]

    func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    /// Parses a body; nil when the content type is not multipart with a boundary, or the body does not follow it.
    init?(body: [UInt8], contentType: String) {
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
              let boundary = Self.parameter("boundary", in: contentType), !boundary.isEmpty else { return nil }
        let delimiter = Array("--\(boundary)".utf8)
        let headEnd: [UInt8] = [13, 10, 13, 10]
        var parts: [Part] = []
        guard var cursor = body.firstRange(of: delimiter)?.upperBound else { return nil }
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if body[cursor...].starts(with: [45, 45]) { break }
            guard body[cursor...].starts(with: [13, 10]) else { return nil }
            cursor += 2
            guard let headRange = body[cursor...].firstRange(of: headEnd),
                  let next = body[headRange.upperBound...].firstRange(of: [13, 10] + delimiter) else { return nil }
            let head = String(decoding: body[cursor..<headRange.lowerBound], as: UTF8.self)
            var disposition = ""
            var type: String?
            for line in head.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let value = line[line.index(after: colon)...].drop { $0 == " " }
                switch line[..<colon].lowercased() {
                case "content-disposition": disposition = String(value)
                case "content-type": type = String(value)
                default: break
                }
            }
            guard let name = Self.parameter("name", in: disposition) else { return nil }
            parts.append(Part(name: name, filename: Self.parameter("filename", in: disposition), contentType: type,
                              body: Array(body[headRange.upperBound..<next.lowerBound])))
            cursor = next.upperBound
        }
        self.parts = parts
    }

    /// A `key=value` or `key="value"` parameter of a header value.
    private static func parameter(_ key: String, in header: String) -> String? {
        for field in header.split(separator: ";").dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].drop(while: { $0 == " " }).lowercased() == key else { continue }
            var value = Substring(pair[1])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value)
        }
        return nil
    }
}
