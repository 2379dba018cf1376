import Foundation

/// The Media API (API digest §8): look up, download, upload and delete media.
extension GraphClient {
    /// What `GET /{media-id}` answers about a media item.
    public struct MediaInfo: Sendable, Equatable {
        /// The media id.
        public let id: String
        /// A download URL; it works for about 5 minutes, with the Bearer token.
        public let url: String
        public let mimeType: String?
        /// The SHA-256 of the file as Meta gives it (base64 or hex).
        public let sha256: String?
        /// The size in bytes, when Meta says.
        public let fileSize: Int64?

        public init(id: String, url: String, mimeType: String?, sha256: String?, fileSize: Int64?) {
            self.id = id
            self.url = url
            self.mimeType = mimeType
            self.sha256 = sha256
            self.fileSize = fileSize
        }
    }

    /// Looks up a media item and a fresh download URL (`GET /{ver}/{media-id}`).
    /// - Parameters:
    ///   - mediaID: Meta's media id (from a webhook: usable for 7 days).
    ///   - phoneNumberID: the business number, when Meta should check the media belongs to it.
    /// - Throws: ``GraphAPIError`` when Meta refused (``GraphAPIError/isUnknownObject`` when the id is gone);
    ///   ``GraphSendError/unexpectedAnswer(_:)`` without a URL; ``GraphHTTPError`` when no answer came.
    public func mediaInfo(_ mediaID: String, phoneNumberID: String? = nil) async throws -> MediaInfo {
        var url = "\(baseURL)/\(apiVersion)/\(Self.percentEncoded(mediaID))"
        if let phoneNumberID { url += "?phone_number_id=\(Self.percentEncoded(phoneNumberID))" }
        let answer = try await exchange(.init(url: url, headers: [("Authorization", "Bearer " + accessToken())]))
        guard let downloadURL = answer["url"]?.stringValue, !downloadURL.isEmpty else {
            throw GraphSendError.unexpectedAnswer("the media answer has no url")
        }
        // Meta documents file_size as a number; a string is read too.
        let fileSize: Int64? = switch answer["file_size"] {
        case .number(let number)?: Int64(exactly: number.rounded(.towardZero))
        case .string(let text)?: Int64(text)
        default: nil
        }
        return MediaInfo(id: answer["id"]?.stringValue ?? mediaID, url: downloadURL, mimeType: answer["mime_type"]?.stringValue,
                         sha256: answer["sha256"]?.stringValue, fileSize: fileSize)
    }

    /// Whether the Bearer token may be sent to a download URL: `https`, or the Graph base URL's own
    /// scheme, host and port (a simulator on loopback). Anything else would hand the token to a stranger.
    public func acceptsDownloadURL(_ url: String) -> Bool {
        guard let target = URLComponents(string: url), let scheme = target.scheme?.lowercased(), let host = target.host,
              !host.isEmpty else { return false }
        if scheme == "https" { return true }
        guard let base = URLComponents(string: baseURL) else { return false }
        return scheme == base.scheme?.lowercased() && host.lowercased() == base.host?.lowercased() && target.port == base.port
    }

    /// Downloads media with the Bearer token, handing the bytes to `sink` as they arrive.
    ///
    /// ```swift
    /// let bytes = try await client.downloadMedia(from: info.url, maximumBytes: 100_000_000) { chunk in
    ///     try file.write(chunk)   // on the client's transfer thread
    /// }
    /// ```
    /// - Parameters:
    ///   - url: the URL from a webhook or from ``mediaInfo(_:phoneNumberID:)``; see ``acceptsDownloadURL(_:)``.
    ///   - maximumBytes: a longer file aborts the transfer.
    ///   - timeout: for the whole transfer.
    ///   - sink: receives each chunk on the client's transfer thread; keep it quick. Throwing aborts the transfer.
    /// - Returns: the number of bytes downloaded.
    /// - Throws: ``GraphAPIError`` for an answer that is not 2xx (its `httpStatus` tells a 404, meaning the URL
    ///   expired, from the rest); ``GraphBodyTooLarge`` past `maximumBytes`; what `sink` throws;
    ///   ``GraphSendError/invalid(_:)`` for a URL the token may not go to; ``GraphHTTPError`` when no answer came.
    public func downloadMedia(from url: String, maximumBytes: Int64, timeout: Duration = .seconds(600),
                              into sink: @escaping GraphHTTPClient.Sink) async throws -> Int64 {
        guard acceptsDownloadURL(url) else { throw GraphSendError.invalid("the media URL is not https") }
        let response = try await http.stream(.init(url: url, headers: [("Authorization", "Bearer " + accessToken())], timeout: timeout),
                                             maximumBytes: maximumBytes, into: sink)
        guard (200..<300).contains(response.status) else { throw GraphAPIError(httpStatus: response.status, body: response.errorBody) }
        return response.streamedBytes
    }

    /// Uploads a file for sending (`POST /{ver}/{phone-number-id}/media`, multipart/form-data).
    /// Meta keeps uploaded media for 30 days.
    /// - Parameters:
    ///   - bytes: the file.
    ///   - mimeType: its MIME type, which must match the content (131053 otherwise).
    ///   - fileName: the name Meta records; quotes and line breaks are replaced.
    ///   - phoneNumberID: the business number that will send it.
    ///   - timeout: for the whole upload.
    /// - Returns: the new media id.
    /// - Throws: ``GraphAPIError`` when Meta refused; ``GraphSendError/unexpectedAnswer(_:)`` without an id;
    ///   ``GraphHTTPError`` when no answer came.
    public func uploadMedia(_ bytes: [UInt8], mimeType: String, fileName: String, from phoneNumberID: String,
                            timeout: Duration = .seconds(300)) async throws -> String {
        let boundary = "cloudchat-" + UUID().uuidString
        let safeName = String(fileName.map { "\"\\\r\n".contains($0) ? "_" : $0 }.prefix(200))
        let safeType = String(mimeType.filter { !"\r\n".contains($0) }.prefix(127))
        var body: [UInt8] = []
        body.reserveCapacity(bytes.count + 512)
        body += Array("""
            --\(boundary)\r
            Content-Disposition: form-data; name="messaging_product"\r
            \r
            whatsapp\r
            --\(boundary)\r
            Content-Disposition: form-data; name="type"\r
            \r
            \(safeType)\r
            --\(boundary)\r
            Content-Disposition: form-data; name="file"; filename="\(safeName)"\r
            Content-Type: \(safeType)\r
            \r

            """.utf8)
        body += bytes
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        let answer = try await exchange(.init(method: "POST", url: "\(baseURL)/\(apiVersion)/\(Self.percentEncoded(phoneNumberID))/media",
                                              headers: [("Authorization", "Bearer " + accessToken()),
                                                        ("Content-Type", "multipart/form-data; boundary=\(boundary)")],
                                              body: body, timeout: timeout))
        guard let id = answer["id"]?.stringValue, !id.isEmpty else { throw GraphSendError.unexpectedAnswer("the upload answer has no id") }
        return id
    }

    /// Deletes a media item (`DELETE /{ver}/{media-id}`).
    /// - Throws: ``GraphAPIError`` when Meta refused; ``GraphSendError/unexpectedAnswer(_:)`` unless it says success.
    public func deleteMedia(_ mediaID: String) async throws {
        let answer = try await exchange(.init(method: "DELETE", url: "\(baseURL)/\(apiVersion)/\(Self.percentEncoded(mediaID))",
                                              headers: [("Authorization", "Bearer " + accessToken())]))
        guard answer["success"] == .bool(true) else { throw GraphSendError.unexpectedAnswer("the answer does not say success") }
    }
}

extension GraphAPIError {
    /// Meta does not know the object (code 100, subcode 33): for a media id, it has expired or was deleted.
    /// API versions from v16 on may leave the subcode out; then this is false and the code alone decides.
    public var isUnknownObject: Bool { code == 100 && subcode == 33 }
}
