import Foundation
import WhatsAppCloudAPI
import WordPressStore

/// Signed calls to a running daemon's control API, as the WordPress plugin makes them; the CLI uses
/// it to tell the daemon about changes it made in the database, so they take effect at once.
public struct ControlClient: Sendable {
    private let baseURL: String
    private let secret: String
    private let http: GraphHTTPClient

    /// A client for the daemon this configuration describes; nil when it has no control secret.
    public init?(configuration: DaemonConfiguration, http: GraphHTTPClient) {
        guard let secret = configuration.controlSecret, !secret.isEmpty else { return nil }
        let host = configuration.controlHost.contains(":") ? "[\(configuration.controlHost)]" : configuration.controlHost
        baseURL = "http://\(host):\(configuration.controlPort)"
        self.secret = secret
        self.http = http
    }

    /// Posts a JSON body to a control path and answers the status and body.
    public func post(_ path: String, _ body: JSONValue) async throws -> (status: Int, body: JSONValue?) {
        let bytes = Array(body.jsonText.utf8)
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = ControlAPI.signature(secret: secret, timestamp: timestamp, method: "POST", path: path, body: bytes)
        let response = try await http.send(GraphHTTPClient.Request(
            method: "POST", url: baseURL + path,
            headers: [("Content-Type", "application/json"), ("X-CloudChat-Timestamp", timestamp), ("X-CloudChat-Signature", signature)],
            body: bytes, timeout: .seconds(5)))
        return (response.status, try? JSONValue.parse(response.body))
    }

    /// Gets a control path, signed like every call.
    public func get(_ path: String) async throws -> (status: Int, body: JSONValue?) {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = ControlAPI.signature(secret: secret, timestamp: timestamp, method: "GET", path: path, body: [])
        let response = try await http.send(GraphHTTPClient.Request(
            method: "GET", url: baseURL + path,
            headers: [("X-CloudChat-Timestamp", timestamp), ("X-CloudChat-Signature", signature)],
            body: nil, timeout: .seconds(5)))
        return (response.status, try? JSONValue.parse(response.body))
    }

    /// Where the daemon's control API is.
    public var address: String { baseURL }

    /// Tells the daemon that a site's outbox or campaigns changed; false when it could not be reached.
    /// - Parameters:
    ///   - site: the site, as this command found it.
    ///   - databaseName: the database this command connected to, which names the site's install to the daemon.
    public func notify(site: WordPressSite, databaseName: String, topic: String) async -> Bool {
        let answer = try? await post("/v1/notify", .object([
            "blog_id": .number(Double(site.blogID)), "table_prefix": .string(site.tablePrefix),
            "db_name": .string(site.database ?? databaseName), "topic": .string(topic),
        ]))
        return answer.map { (200..<300).contains($0.status) } ?? false
    }
}

