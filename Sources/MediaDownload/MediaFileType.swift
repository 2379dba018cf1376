import Foundation

/// What a media file is called on disk, and how its checksum is read.
public enum MediaFileType {
    /// The extension for a MIME type, from an allowlist of the types WhatsApp carries; `bin` for anything else.
    ///
    /// The extension never comes from the sender's file name, so a file named
    /// `invoice.pdf.php` cannot become something a web server would run.
    /// - Parameter mimeType: as Meta gave it, e.g. `audio/ogg; codecs=opus`; parameters and case are ignored.
    public static func fileExtension(forMIMEType mimeType: String?) -> String {
        guard let mimeType else { return "bin" }
        let essence = mimeType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return extensions[essence] ?? "bin"
    }

    /// MIME type to extension: Meta's supported media types (API digest §8) and their common aliases.
    static let extensions: [String: String] = [
        // Images and stickers
        "image/jpeg": "jpg", "image/jpg": "jpg", "image/pjpeg": "jpg",
        "image/png": "png",
        "image/webp": "webp",
        "image/gif": "gif",
        // Video
        "video/mp4": "mp4",
        "video/3gpp": "3gp", "video/3gp": "3gp",
        // Audio; voice notes are OGG with the Opus codec
        "audio/ogg": "ogg", "audio/opus": "opus",
        "audio/mpeg": "mp3", "audio/mp3": "mp3",
        "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/m4a": "m4a",
        "audio/aac": "aac", "audio/x-aac": "aac",
        "audio/amr": "amr",
        // Documents
        "application/pdf": "pdf",
        "text/plain": "txt",
        "text/csv": "csv",
        "application/msword": "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
        "application/vnd.ms-excel": "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
        "application/vnd.ms-powerpoint": "ppt",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    ]

    /// Reads the `sha256` Meta sent for a media item.
    ///
    /// Meta's reference does not say how the digest is encoded, and both forms
    /// occur: base64 (44 characters, as the webhook examples and the schema
    /// show) and hexadecimal (64 characters, in Media API answers). Both are
    /// accepted, base64 in either the standard or the URL alphabet, padded or not.
    /// - Returns: the 32 digest bytes, or nil when the text is neither form.
    public static func sha256Digest(_ text: String?) -> [UInt8]? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.utf8.count == 64, let bytes = hexBytes(text) { return bytes }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), data.count == 32 else { return nil }
        return [UInt8](data)
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var high: UInt8?
        for unit in text.utf8 {
            let value: UInt8
            switch unit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = unit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = unit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = unit - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return high == nil ? bytes : nil
    }
}
