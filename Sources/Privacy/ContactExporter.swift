import Foundation
import MariaDB
import WordPressStore

/// Everything a site keeps about a person, as one machine-readable JSON document
/// (docs/schema.md §7, "Export"), with the list of their media files.
///
/// The document is `{"exported_at":"…","site":{"blog_id":1},"contacts":[Contact…]}`:
/// a person may be a contact on each of the site's business numbers. Each `Contact`
/// has the sections of the WordPress plugin's exporter (`CloudChat_Personal_Data`):
/// `contact` (every column of the row), `tags`, `consent`, `conversation`,
/// `messages` (with their current status and the time of each status), `statuses`
/// (every status event received), `outbox`, `campaigns` (participation, with the
/// campaign's name and template) and `media` (each file, and under `file` its name
/// inside a zip export). Times are ISO 8601 in UTC; `*_json` columns are parsed.
///
/// ```swift
/// let exporter = ContactExporter(site: site, mediaDirectory: "/var/www/html/wp-content/uploads/cloudchat")
/// let export = try exporter.export(contactIDs: [42], actor: .commandLine(label: "root"), on: connection)
/// try export.json.write(to: URL(fileURLWithPath: "contact-42.json"))
/// try export.writeZip(to: "contact-42.zip")
/// ```
public struct ContactExporter: Sendable {
    /// A media file of the person, as the export lists it.
    public struct MediaFile: Sendable, Equatable {
        /// The `cloudchat_media` row.
        public var mediaID: UInt64
        /// Where the file is on disk, or nil when it is not stored (not downloaded, failed, outside the media directory).
        public var path: String?
        /// Its name inside a zip export: `media/<id>-<stored name>`.
        public var archiveName: String
    }

    /// One export: the JSON document and the files it lists.
    public struct Export: Sendable {
        /// The document, pretty-printed UTF-8 JSON with sorted keys.
        public var json: Data
        /// The person's media files that are stored.
        public var files: [MediaFile]
        /// The contacts it covers.
        public var contactIDs: [UInt64]

        /// The name of the document inside a zip export.
        public static let documentName = "cloudchat-export.json"

        /// Writes a zip (stored, uncompressed) holding the document and every stored file.
        public func writeZip(to path: String) throws {
            var entries = [ZipWriter.Entry(name: Self.documentName, source: .data(json))]
            for file in files {
                if let source = file.path { entries.append(ZipWriter.Entry(name: file.archiveName, source: .file(source))) }
            }
            try ZipWriter.write(entries, to: path)
        }
    }

    /// Why an export could not be made.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public let site: WordPressSite
    /// The site's media directory (`…/uploads/cloudchat`); `storage_path` is relative to it.
    public let mediaDirectory: String

    public init(site: WordPressSite, mediaDirectory: String) {
        self.site = site
        self.mediaDirectory = mediaDirectory
    }

    /// Exports the contacts and writes one `contact.exported` audit entry for each (counts only).
    /// - Parameter format: recorded in the audit entry: `json` or `zip`.
    public func export(contactIDs: [UInt64], actor: PrivacyActor, format: String = "json",
                       on connection: MariaDBConnection) throws -> Export {
        var documents: [Any] = []
        var files: [MediaFile] = []
        for id in contactIDs {
            guard let found = try contactDocument(id, on: connection) else {
                throw Failure(description: "no contact \(id) in this site")
            }
            let (document, contactFiles, accountID) = found
            documents.append(document)
            files += contactFiles
            let messages = (document["messages"] as? [Any])?.count ?? 0
            try actor.audit("contact.exported", contactID: id, accountID: accountID,
                            detailsJSON: "{\"format\":\"\(format == "zip" ? "zip" : "json")\",\"messages\":\(messages),\"files\":\(contactFiles.filter { $0.path != nil }.count)}",
                            site: site, on: connection)
        }
        let root: [String: Any] = [
            "exported_at": Self.iso(Date()),
            "site": ["blog_id": site.blogID],
            "contacts": documents,
        ]
        let json = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return Export(json: json + Data("\n".utf8), files: files.filter { $0.path != nil }, contactIDs: contactIDs)
    }

    private func contactDocument(_ id: UInt64, on connection: MariaDBConnection) throws -> ([String: Any], [MediaFile], UInt64?)? {
        guard let contactRow = try connection.queryFirst("SELECT * FROM \(site.table(.contacts)) WHERE id = \(id)") else { return nil }
        let contact = Self.object(contactRow)
        let accountID = try contactRow.decode("account_id", as: UInt64?.self)
        let tags = try connection.query("SELECT tag FROM \(site.table(.contactTags)) WHERE contact_id = \(id) ORDER BY tag")
            .map { try $0.decode(String.self, at: 0) }
        let consent = try connection.query("""
            SELECT event, source, detail, occurred_at FROM \(site.table(.consentEvents)) WHERE contact_id = \(id) ORDER BY occurred_at, id
            """).map(Self.object)
        let conversation = try connection.query("""
            SELECT state, unread_count, last_message_at, last_inbound_at, last_outbound_at, created_at
            FROM \(site.table(.conversations)) WHERE contact_id = \(id) ORDER BY id
            """).map(Self.object)
        let messages = try connection.query("""
            SELECT id, wamid, direction, type, source, body, payload_json AS payload, context_wamid, target_wamid, referral_json AS referral,
                   media_id, status, message_at, sent_at, delivered_at, read_at, played_at, failed_at, error_code, edited_at, revoked_at
            FROM \(site.table(.messages)) WHERE contact_id = \(id) ORDER BY message_at, id
            """).map { Self.object($0, jsonColumns: ["payload", "referral"]) }
        let statuses = try connection.query("""
            SELECT s.wamid, s.status, s.status_at, s.error_code FROM \(site.table(.statusEvents)) s
            WHERE s.contact_id = \(id)
               OR s.wamid IN (SELECT m.wamid FROM \(site.table(.messages)) m WHERE m.contact_id = \(id) AND m.wamid IS NOT NULL)
            ORDER BY s.status_at, s.id
            """).map(Self.object)
        let outbox = try connection.query("""
            SELECT id, type, payload_json, state, state_reason, created_at, sent_at FROM \(site.table(.outbox))
            WHERE contact_id = \(id) ORDER BY id
            """).map(Self.object)
        let campaigns = try connection.query("""
            SELECT r.campaign_id, c.name AS campaign_name, c.template_name, c.template_language, r.state, r.state_reason, r.variables_json,
                   r.sent_at, r.delivered_at, r.read_at, r.failed_at, r.replied_at
            FROM \(site.table(.campaignRecipients)) r LEFT JOIN \(site.table(.campaigns)) c ON c.id = r.campaign_id
            WHERE r.contact_id = \(id) ORDER BY r.id
            """).map(Self.object)
        var files: [MediaFile] = []
        let media = try connection.query("""
            SELECT id, direction, mime_type, file_name, size_bytes, state, created_at, storage_path FROM \(site.table(.media))
            WHERE contact_id = \(id) ORDER BY id
            """).map { row -> [String: Any] in
            var object = Self.object(row)
            object.removeValue(forKey: "storage_path")
            let mediaID = try row.decode("id", as: UInt64.self)
            if let relative = try row.decode("storage_path", as: String?.self), let path = self.path(of: relative),
               FileManager.default.isReadableFile(atPath: path) {
                let name = "media/\(mediaID)-\((relative as NSString).lastPathComponent)"
                files.append(MediaFile(mediaID: mediaID, path: path, archiveName: name))
                object["file"] = name
            } else {
                object["file"] = NSNull()
            }
            return object
        }
        let document: [String: Any] = [
            "contact": contact, "tags": tags, "consent": consent, "conversation": conversation, "messages": messages,
            "statuses": statuses, "outbox": outbox, "campaigns": campaigns, "media": media,
        ]
        return (document, files, accountID)
    }

    /// A stored file's absolute path, only when it lies inside the media directory.
    private func path(of relative: String) -> String? {
        guard !relative.isEmpty else { return nil }
        let root = URL(fileURLWithPath: mediaDirectory).standardizedFileURL.path
        let path = URL(fileURLWithPath: root + "/" + relative).standardizedFileURL.path
        return path.hasPrefix(root + "/") ? path : nil
    }

    /// A row as a JSON object: times as ISO 8601 UTC, `*_json` columns (and `jsonColumns`) parsed.
    static func object(_ row: MariaDBRow) -> [String: Any] { object(row, jsonColumns: []) }

    static func object(_ row: MariaDBRow, jsonColumns: Set<String>) -> [String: Any] {
        var object: [String: Any] = [:]
        for (index, name) in row.columns.names.enumerated() {
            let value: Any = switch row[index] {
            case .null: NSNull()
            case .int(let number): NSNumber(value: number)
            case .uint(let number): NSNumber(value: number)
            case .double(let number): NSNumber(value: number)
            case .date(let date): iso(date)
            case .bytes(let bytes): Data(bytes).base64EncodedString()
            case .string(let text):
                if name.hasSuffix("_json") || jsonColumns.contains(name),
                   let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) {
                    parsed
                } else {
                    text
                }
            }
            object[name] = value
        }
        return object
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
