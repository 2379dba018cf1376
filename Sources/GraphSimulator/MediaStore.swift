import CloudChatCrypto
import Foundation

/// Uploaded and inbound media, and the short-lived download URLs handed out for them (digest §8).
struct MediaStore: Sendable {
    typealias Instant = ContinuousClock.Instant

    struct Item: Sendable {
        let id: String
        let bytes: [UInt8]
        let mimeType: String
        /// Hex SHA-256 of ``bytes`` as stored, whatever is served later.
        let sha256: String
        /// The number it was uploaded to or received on.
        let phoneNumberID: String?
        /// When set, downloads serve bytes that do not match ``sha256``.
        var corrupt = false
    }

    private struct IssuedURL: Sendable {
        let mediaID: String
        var expiresAt: Instant
    }

    private var items: [String: Item] = [:]
    private var urls: [String: IssuedURL] = [:]
    private var nextID: UInt64 = 1
    private(set) var uploads = 0
    private(set) var downloads = 0

    /// Stores media and returns it with its new id (numeric, like Meta's).
    mutating func add(_ bytes: [UInt8], mimeType: String, phoneNumberID: String?, uploaded: Bool) -> Item {
        let id = String(1_037_000_000_000_000 + nextID * 104_729)
        nextID += 1
        let item = Item(id: id, bytes: bytes, mimeType: mimeType, sha256: SHA256.hexHash(bytes), phoneNumberID: phoneNumberID)
        items[id] = item
        if uploaded { uploads += 1 }
        return item
    }

    func item(_ id: String) -> Item? { items[id] }

    /// Deletes media and every URL of it; false when there was none.
    mutating func delete(_ id: String) -> Bool {
        guard items.removeValue(forKey: id) != nil else { return false }
        urls = urls.filter { $0.value.mediaID != id }
        return true
    }

    /// Makes downloads of the media serve altered bytes; false when there is no such media.
    mutating func corrupt(_ id: String) -> Bool {
        guard items[id] != nil else { return false }
        items[id]!.corrupt = true
        return true
    }

    /// Registers a download URL's secret `hash` for the media until `lifetime` from now.
    mutating func issueURL(for id: String, hash: String, now: Instant, lifetime: Duration) {
        if urls.count >= 4096 { urls = urls.filter { $0.value.expiresAt > now } }
        urls[hash] = IssuedURL(mediaID: id, expiresAt: now + lifetime)
    }

    /// Ends every URL handed out so far.
    mutating func expireAllURLs(now: Instant) {
        for hash in urls.keys { urls[hash]!.expiresAt = now }
    }

    /// The bytes and type a download URL serves now; nil once it has expired, or its media is gone.
    mutating func download(mediaID: String, hash: String, now: Instant) -> (bytes: [UInt8], mimeType: String)? {
        guard let url = urls[hash], url.mediaID == mediaID, url.expiresAt > now, let item = items[mediaID] else { return nil }
        downloads += 1
        guard item.corrupt else { return (item.bytes, item.mimeType) }
        var altered = item.bytes
        if altered.isEmpty { altered = [0] } else { altered[altered.count / 2] ^= 0xFF }
        return (altered, item.mimeType)
    }

    mutating func resetCounts() {
        uploads = 0
        downloads = 0
    }

    // MARK: Limits

    /// Meta's accepted MIME types and size limits per media type (digest §8).
    static let limits: [(type: String, mimeTypes: Set<String>, maximumBytes: Int)] = [
        ("audio", ["audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"], 16 * 1024 * 1024),
        ("document", [
            "text/plain", "application/pdf", "application/vnd.ms-excel", "application/msword", "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ], 100 * 1024 * 1024),
        ("image", ["image/jpeg", "image/png"], 5 * 1024 * 1024),
        ("sticker", ["image/webp"], 500 * 1024),
        ("video", ["video/mp4", "video/3gpp"], 16 * 1024 * 1024),
    ]

    /// Why Meta would refuse to store this upload (131053), or nil.
    static func uploadProblem(mimeType: String, byteCount: Int) -> String? {
        let bare = mimeType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard let limit = limits.first(where: { $0.mimeTypes.contains(bare) }) else {
            return "Param file must be a file with one of the following types: \(limits.flatMap(\.mimeTypes).sorted().joined(separator: ", ")). Received file of type '\(bare)'."
        }
        if byteCount == 0 { return "The file is empty." }
        if byteCount > limit.maximumBytes { return "The \(limit.type) file is larger than the \(limit.maximumBytes / 1024) KB Meta accepts." }
        return nil
    }

    /// A 1×1 PNG, for inbound images sent without bytes of their own.
    static let samplePNG: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
        0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x50, 0xBD, 0x9C, 0xF6,
        0x1F, 0x00, 0x04, 0xDD, 0x02, 0x5E, 0x3B, 0x0B, 0x4E, 0x63, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
        0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
}
