import CloudChatCrypto
import Foundation
import Logging
import MariaDB
import MediaDownload
import Privacy
import Sending
import Synchronization
import WebhookIngest
import WhatsAppCloudAPI
import WordPressStore

/// The bridge's calls to the daemon, signed with the control secret both share.
///
/// Every request carries `X-CloudChat-Timestamp` (Unix seconds) and
/// `X-CloudChat-Signature: sha256=<hex>`, the HMAC-SHA256 of
/// `"<timestamp>\n<METHOD>\n<path>\n<body>"` with the secret. A request more
/// than 5 minutes from the daemon's clock is refused, so a captured request
/// cannot be replayed later. Only loopback clients are served.
///
/// A request names its site with `table_prefix` and `db_name` (the daemon's own database when
/// absent), with or without `blog_id`; `blog_id` alone names a blog of the first install, and only
/// while the daemon serves one install. A request may be signed with the secret of the install it
/// names (``ControlSecrets``) instead of the control secret; it then reaches that install's sites only.
///
/// - `POST /v1/notify` `{"blog_id":1,"topic":"outbox"}`: new outbox rows (or `templates`, `accounts`).
/// - `POST /v1/credentials`: a business number's credentials; they are checked with Meta, then stored encrypted.
/// - `POST /v1/templates/sync` `{"blog_id":1}`: syncs the site's templates now and answers the counts.
/// - `GET /v1/status`: the daemon's version, webhook and sending counters, and the webhook verify token
///   (for the settings screen, where the site owner copies it into Meta's dashboard); `?live=1` adds uptime,
///   processing per site, and the queues and campaigns read from the database (for `cloudchatd status`).
/// - `POST /v1/campaigns` `{"blog_id":1,"name":"…","phone_number_id":"…","template_name":"…","template_language":"…",
///   "variables":{…},"audience":{…},"rate_limit_mps":10,"created_by_user_id":1,"csv":"…","phone_column":"…"}`:
///   creates a draft (checked against the template) and imports a CSV audience; answered 201 with its progress.
/// - `POST /v1/campaigns/{id}/{start|schedule|pause|resume|cancel}` `{"blog_id":1}` (`schedule` also
///   `"at":"2026-12-01T09:00:00Z"`): a campaign transition, answered with the campaign's progress.
/// - `POST /v1/campaigns/{id}/recipients` `{"blog_id":1,"csv":"…","phone_column":"phone"}` or
///   `{"blog_id":1,"numbers":["…"]}`: adds recipients to a draft, answered with the import report.
/// - `GET /v1/campaigns/{id}?blog_id=1`: the campaign's progress.
/// - `POST /v1/contacts/{id}/erase` `{"blog_id":1,"actor_user_id":3}`: erases the contact, its messages,
///   files and raw webhooks (docs/schema.md §7); answered with the counts removed per table.
/// - `GET /metrics`: the Prometheus page, unsigned so a scraper can read it (loopback only, counts only).
///
/// Answers to authentic requests are signed too: `X-CloudChat-Response-Signature: sha256=<hex>`, the
/// HMAC of `"<request signature>\n<status>\n<body>"`, so the bridge can tell the daemon from any other
/// process answering on the control port.
final class ControlAPI: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Lowercased names.
        var headers: [String: String]
        var body: [UInt8]
        var fromLoopback: Bool
    }

    struct Response: Sendable, Equatable {
        var status: Int
        var body: [UInt8]
        /// The `X-CloudChat-Response-Signature` value; set on answers to authentic requests.
        var signature: String?
        var contentType = "application/json"

        init(status: Int, _ members: [String: JSONValue]) {
            self.status = status
            body = Array((JSONValue.object(members).jsonText + "\n").utf8)
        }

        init(status: Int, text: String, contentType: String) {
            self.status = status
            body = Array(text.utf8)
            self.contentType = contentType
        }
    }

    /// How far a request's timestamp may be from the daemon's clock.
    static let allowedClockSkew: TimeInterval = 300

    private let secret: String?
    private let sites: [WordPressSite]
    /// The database the daemon connects to: a request's `db_name` equal to it names the daemon's own database.
    private let ownDatabase: String
    private let pool: MariaDBPool
    private let vault: CredentialVault
    private let sender: OutboxSenderService
    private let templates: TemplateSyncService
    private let http: GraphHTTPClient
    private let sending: SenderConfiguration
    private let onAccountsChanged: @Sendable () -> Void
    private let webhookStatus: @Sendable () -> [String: JSONValue]
    private let metrics: @Sendable () async -> String
    private let liveStatus: @Sendable () async -> [String: JSONValue]
    private let mediaDirectory: @Sendable (WordPressSite) -> String
    private let logger: Logger

    init(secret: String?, sites: [WordPressSite], ownDatabase: String = "wordpress", pool: MariaDBPool, vault: CredentialVault, sender: OutboxSenderService,
         templates: TemplateSyncService, http: GraphHTTPClient, sending: SenderConfiguration, logger: Logger,
         webhookStatus: @escaping @Sendable () -> [String: JSONValue] = { [:] }, mediaDirectory: @escaping @Sendable (WordPressSite) -> String = { MediaStorage.defaultRoot(of: $0, uploadsDirectory: "/var/lib/cloudchat/uploads") },
         metrics: @escaping @Sendable () async -> String = { "" },
         liveStatus: @escaping @Sendable () async -> [String: JSONValue] = { [:] },
         onAccountsChanged: @escaping @Sendable () -> Void) {
        self.metrics = metrics
        self.liveStatus = liveStatus
        self.secret = secret
        self.sites = sites
        self.ownDatabase = ownDatabase
        self.pool = pool
        self.vault = vault
        self.sender = sender
        self.templates = templates
        self.http = http
        self.sending = sending
        self.logger = logger
        self.webhookStatus = webhookStatus
        self.mediaDirectory = mediaDirectory
        self.onAccountsChanged = onAccountsChanged
    }

    /// The signature header value for a request, as the bridge computes it.
    static func signature(secret: String, timestamp: String, method: String, path: String, body: [UInt8]) -> String {
        HMACSHA256.signatureHeader(for: Array("\(timestamp)\n\(method)\n\(path)\n".utf8) + body, secret: secret)
    }

    /// The signature header value of an answer to a request that carried `requestSignature`.
    static func responseSignature(secret: String, requestSignature: String, status: Int, body: [UInt8]) -> String {
        HMACSHA256.signatureHeader(for: Array("\(requestSignature)\n\(status)\n".utf8) + body, secret: secret)
    }

    func handle(_ request: Request, now: Date = Date()) async -> Response {
        guard request.fromLoopback else {
            return Response(status: 403, ["error": "the control API serves loopback clients only"])
        }
        if request.method == "GET", request.path.split(separator: "?", maxSplits: 1).first == "/metrics" {
            return Response(status: 200, text: await metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        guard let secret, !secret.isEmpty else {
            return Response(status: 503, ["error": "no control_secret is configured in cloudchatd; set the same secret in cloudchatd and in wp-admin"])
        }
        // A request is signed with the daemon's control secret (any site), or with the secret of
        // the install it names (that install's sites only, see ControlSecrets).
        // The body is read once: it names the site the signature is checked for, then the route uses it.
        let body = request.body.isEmpty ? JSONValue.object([:]) : (try? JSONValue.parse(request.body))
        let claimed = request.method == "GET" ? site(named: Self.queryFields(request.path)) : body.map(site(named:))
        var signedWith = secret
        var scope: InstallScope?
        if let refusal = Self.authenticate(request, secret: secret, now: now) {
            guard refusal.status == 401, let claimed, case .found(let site) = claimed else { return refusal }
            let installSecret = ControlSecrets.installSecret(controlSecret: secret, database: site.database ?? ownDatabase,
                                                             tablePrefix: site.installPrefix)
            if Self.authenticate(request, secret: installSecret, now: now) != nil { return refusal }
            signedWith = installSecret
            scope = InstallScope(database: site.database, installPrefix: site.installPrefix)
        }
        var response = await route(request, body: body, scope: scope)
        response.signature = Self.responseSignature(secret: signedWith, requestSignature: request.headers["x-cloudchat-signature"] ?? "",
                                                    status: response.status, body: response.body)
        return response
    }

    /// The install a request signed with an install secret may reach.
    struct InstallScope: Sendable {
        let database: String?
        let installPrefix: String

        func contains(_ site: WordPressSite) -> Bool { site.database == database && site.installPrefix == installPrefix }
    }

    private func route(_ request: Request, body: JSONValue?, scope: InstallScope?) async -> Response {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        // Every site a request reaches is the one it names, and within the install whose secret signed it.
        func lookup(_ body: JSONValue?) -> SiteLookup {
            guard let body else { return .notNamed }
            let lookup = self.site(named: body)
            if let scope, case .found(let site) = lookup, !scope.contains(site) { return .notServed }
            return lookup
        }
        func site(in body: JSONValue?) -> WordPressSite? {
            if case .found(let site) = lookup(body) { return site }
            return nil
        }
        func refusal(_ body: JSONValue?) -> Response { Self.refusal(lookup(body)) }
        switch (request.method, path) {
        case ("POST", "/v1/notify"):
            guard let body, let site = site(in: body) else { return refusal(body) }
            switch body["topic"]?.stringValue ?? "outbox" {
            case "outbox", "campaigns": sender.notify(site: site)
            case "templates": templates.requestSync(site: site)
            case "accounts":
                sender.notify(site: site)
                onAccountsChanged()
            case let topic:
                return Response(status: 400, ["error": .string("unknown topic \"\(topic.prefix(40))\"; use outbox, campaigns, templates or accounts")])
            }
            return Response(status: 202, ["ok": .bool(true)])
        case ("POST", "/v1/credentials"):
            guard let body, let site = site(in: body) else { return refusal(body) }
            return await storeCredentials(body, site: site)
        case ("POST", "/v1/templates/sync"):
            guard let body, let site = site(in: body) else { return refusal(body) }
            do {
                let results = try await templates.syncSite(site)
                return Response(status: 200, ["synced": .array(results.map { waba, result in
                    .object(["waba_id": .string(waba), "listed": .number(Double(result.listed)), "approved": .number(Double(result.approved)),
                             "removed": .number(Double(result.removed))])
                })])
            } catch {
                return Response(status: 502, ["error": .string("template sync failed: \(error)")])
            }
        case ("GET", "/v1/status"):
            // The plugin asks often whether the daemon answers: only `?live=1` (cloudchatd status) reads the database.
            var report = statusReport(scope: scope)
            // The live part spans every install: only for the daemon's own secret (the CLI).
            if scope == nil, Self.queryFlag("live", in: request.path) { report.merge(await liveStatus()) { _, new in new } }
            return Response(status: 200, report)
        case ("POST", "/v1/campaigns"):
            guard let body, let site = site(in: body) else { return refusal(body) }
            return await createCampaign(body, site: site)
        case ("POST", _) where path.hasPrefix("/v1/contacts/") && path.hasSuffix("/erase"):
            guard let body, let site = site(in: body) else { return refusal(body) }
            return await eraseContact(path: path, body: body, site: site)
        case (_, _) where path.hasPrefix("/v1/campaigns/"):
            return await campaign(request, path: path, body: body, site: site(in:), refusal: refusal)
        case (_, "/v1/notify"), (_, "/v1/credentials"), (_, "/v1/templates/sync"), (_, "/v1/status"):
            return Response(status: 405, ["error": .string("\(request.method) is not allowed on \(path)")])
        default:
            return Response(status: 404, ["error": .string("no such control endpoint: \(path.prefix(100))")])
        }
    }

    /// The status; for a request signed with an install's secret, only that install's sites and no other numbers.
    private func statusReport(scope: InstallScope?) -> [String: JSONValue] {
        let statistics = sender.statistics
        func count(_ value: Int) -> JSONValue { .number(Double(value)) }
        var sending: [String: JSONValue] = [
            "accepted": count(statistics.accepted.load(ordering: .relaxed)), "failed": count(statistics.failed.load(ordering: .relaxed)),
            "retried": count(statistics.retried.load(ordering: .relaxed)), "in_doubt": count(statistics.inDoubt.load(ordering: .relaxed)),
            "throughput_limited": count(statistics.throughputLimited.load(ordering: .relaxed)),
        ]
        if scope == nil { sending["pace_per_number"] = .object(statistics.currentPaces.mapValues { JSONValue.number($0) }) }
        let siteList: [JSONValue] = sites.filter { scope?.contains($0) ?? true }.map { site in
            var entry: [String: JSONValue] = ["blog_id": .number(Double(site.blogID)), "prefix": .string(site.tablePrefix), "site": .string(site.key)]
            if let database = site.database { entry["db_name"] = .string(database) }
            return JSONValue.object(entry)
        }
        var report: [String: JSONValue] = ["version": .string(CloudChatVersion.current), "sites": .array(siteList), "sending": .object(sending)]
        report.merge(webhookStatus()) { _, new in new }
        return report
    }

    /// What a request's site fields name.
    enum SiteLookup: Sendable {
        case found(WordPressSite)
        /// No `table_prefix` or `blog_id`, or not JSON.
        case notNamed
        /// Named, but not a site this daemon serves (or not one the request's secret may reach).
        case notServed
        /// Only a `blog_id`, while the daemon serves several installs.
        case ambiguous
    }

    private static func refusal(_ lookup: SiteLookup) -> Response {
        switch lookup {
        case .found, .notNamed:
            Response(status: 400, ["error": "the body must be JSON naming the site: table_prefix (with db_name when it is not the daemon's database), or blog_id"])
        case .notServed:
            Response(status: 404, ["error": "this daemon serves no such site; check also_serve in cloudchatd's configuration"])
        case .ambiguous:
            Response(status: 400, ["error": "this daemon serves several WordPress installs, so a request must name its table_prefix and db_name; update the CloudChat plugin"])
        }
    }

    /// The site named by `table_prefix` and `db_name` (the daemon's own database when absent), and
    /// `blog_id` when given, which must agree; a plugin that names only `blog_id` reaches the first
    /// install's blogs, and only while the daemon serves one install.
    func site(named fields: JSONValue) -> SiteLookup {
        var blogID: Int?
        if let value = fields["blog_id"] {
            guard case .number(let number) = value, let id = Int(exactly: number) else { return .notNamed }
            blogID = id
        }
        guard let prefix = fields["table_prefix"]?.stringValue else {
            guard let blogID else { return .notNamed }
            let firstInstall = sites.first.map { InstallScope(database: $0.database, installPrefix: $0.installPrefix) }
            guard sites.allSatisfy({ firstInstall?.contains($0) == true }) else { return .ambiguous }
            return sites.first { $0.blogID == blogID }.map(SiteLookup.found) ?? .notServed
        }
        let named = fields["db_name"]?.stringValue
        let database = named == nil || named == ownDatabase ? nil : named
        guard let site = sites.first(where: { $0.tablePrefix == prefix && $0.database == database }),
              blogID == nil || blogID == site.blogID else { return .notServed }
        return .found(site)
    }

    /// Whether a query string has `name=1`.
    static func queryFlag(_ name: String, in path: String) -> Bool {
        guard let rawQuery = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return false }
        return rawQuery.split(separator: "&").contains { $0 == "\(name)=1" }
    }

    /// `blog_id`, `table_prefix` and `db_name` from a GET's query string.
    static func queryFields(_ path: String) -> JSONValue {
        var members: [String: JSONValue] = [:]
        guard let rawQuery = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return .object(members) }
        for pair in rawQuery.split(separator: "&") {
            let field = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            guard field.count == 2 else { continue }
            switch field[0] {
            case "blog_id": if let number = Double(field[1]) { members["blog_id"] = .number(number) }
            case "table_prefix", "db_name": members[field[0]] = .string(field[1])
            default: break
            }
        }
        return .object(members)
    }

    /// Checks the timestamp and signature; nil when the request is authentic.
    static func authenticate(_ request: Request, secret: String, now: Date) -> Response? {
        guard let timestamp = request.headers["x-cloudchat-timestamp"], let seconds = TimeInterval(timestamp),
              let claimed = request.headers["x-cloudchat-signature"] else {
            return Response(status: 401, ["error": "missing X-CloudChat-Timestamp or X-CloudChat-Signature"])
        }
        guard abs(now.timeIntervalSince1970 - seconds) <= allowedClockSkew else {
            return Response(status: 401, ["error": "the request's timestamp is more than 5 minutes from the daemon's clock; check both clocks (NTP)"])
        }
        let path = request.path
        let expected = signature(secret: secret, timestamp: timestamp, method: request.method, path: path, body: request.body)
        guard ConstantTime.equals(Array(expected.utf8), Array(claimed.utf8)) else {
            return Response(status: 401, ["error": "the signature does not match; the bridge and cloudchatd must share the same control secret"])
        }
        return nil
    }

    // MARK: Campaigns

    private func campaign(_ request: Request, path: String, body: JSONValue?,
                          site: (JSONValue?) -> WordPressSite?, refusal: (JSONValue?) -> Response) async -> Response {
        let parts = path.split(separator: "/").map(String.init)  // v1, campaigns, id, action?
        guard parts.count == 3 || parts.count == 4, let id = UInt64(parts[2]) else {
            return Response(status: 404, ["error": .string("no such control endpoint: \(path.prefix(100))")])
        }
        let action = parts.count == 4 ? parts[3] : nil
        let fields = request.method == "GET" ? Self.queryFields(request.path) : body
        guard let query = fields, let site = site(query) else { return refusal(fields) }
        let store = CampaignStore(site: site)
        do {
            switch (request.method, action) {
            case ("GET", nil):
                break
            case ("POST", "recipients"):
                let audience = CampaignAudience(site: site)
                let report: CampaignAudience.ImportReport
                if let csv = query["csv"]?.stringValue {
                    let column = query["phone_column"]?.stringValue
                    report = try await pool.withConnection { try audience.importCSV(csv, into: id, phoneColumn: column, on: $0) }
                } else if case .array(let list)? = query["numbers"] {
                    let numbers = list.compactMap(\.stringValue)
                    report = try await pool.withConnection { try audience.importNumbers(numbers, into: id, on: $0) }
                } else {
                    return Response(status: 400, ["error": "give the recipients as \"csv\" (the file's text) or \"numbers\" (a list)"])
                }
                return Response(status: 200, ["import": report.json])
            case ("POST", "start"):
                _ = try await pool.withConnection { try store.beginStart(id, on: $0) }
                sender.notify(site: site)  // sending starts while the rest of the recipients are made
                _ = try await pool.withConnection { try store.finishStart(id, on: $0) }
            case ("POST", "schedule"):
                guard let text = query["at"]?.stringValue, let instant = ISO8601DateFormatter().date(from: text) else {
                    return Response(status: 400, ["error": "give \"at\" as a UTC time such as 2026-12-01T09:00:00Z"])
                }
                _ = try await pool.withConnection { try store.schedule(id, at: instant, on: $0) }
            case ("POST", "pause"):
                _ = try await pool.withConnection { try store.pause(id, on: $0) }
            case ("POST", "resume"):
                _ = try await pool.withConnection { try store.resume(id, on: $0) }
            case ("POST", "cancel"):
                _ = try await pool.withConnection { try store.cancel(id, on: $0) }
            case ("POST", let action?) where !["start", "schedule", "pause", "resume", "cancel", "recipients"].contains(action),
                 ("GET", let action?):
                return Response(status: 404, ["error": .string("no such campaign action: \(action.prefix(40)); use start, schedule, pause, resume, cancel or recipients")])
            default:
                return Response(status: 405, ["error": .string("\(request.method) is not allowed on \(path.prefix(100))")])
            }
            if action != nil { sender.notify(site: site) }
            let progress = try await pool.withConnection { try store.progress(id, on: $0) }
            return Response(status: 200, ["campaign": progress.json])
        } catch let error as CampaignError {
            return Response(status: error.status, ["error": .string(error.description)])
        } catch {
            logger.error("a campaign request failed", metadata: ["site": "\(site.key)", "campaign_id": "\(id)", "error": "\(error)"])
            return Response(status: 500, ["error": .string("the campaign could not be read or changed: \(error)")])
        }
    }

    private func createCampaign(_ body: JSONValue, site: WordPressSite) async -> Response {
        guard let name = body["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty,
              let number = body["phone_number_id"]?.stringValue, let template = body["template_name"]?.stringValue,
              let language = body["template_language"]?.stringValue, let audience = body["audience"], case .object = audience else {
            return Response(status: 400, ["error": "give name, phone_number_id, template_name, template_language and audience"])
        }
        var rate: Double?
        if case .number(let value)? = body["rate_limit_mps"] { rate = value }
        var creator: UInt64?
        if case .number(let value)? = body["created_by_user_id"] { creator = UInt64(exactly: value) }
        let variables = body["variables"].flatMap { $0 == .null ? nil : $0 }
        let new = NewCampaign(phoneNumberID: number, name: name, templateName: template, templateLanguage: language,
                              variables: variables, audience: audience, rateLimit: rate, createdByUserID: creator)
        let store = CampaignStore(site: site)
        do {
            let id = try await pool.withConnection { try store.create(new, on: $0) }
            var answer: [String: JSONValue] = [:]
            if let csv = body["csv"]?.stringValue, !csv.isEmpty {
                let column = body["phone_column"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
                let report = try await pool.withConnection { try CampaignAudience(site: site).importCSV(csv, into: id, phoneColumn: column, on: $0) }
                answer["import"] = report.json
            }
            answer["campaign"] = try await pool.withConnection { try store.progress(id, on: $0) }.json
            return Response(status: 201, answer)
        } catch let error as CampaignError {
            return Response(status: error.status, ["error": .string(error.description)])
        } catch {
            logger.error("creating a campaign failed", metadata: ["site": "\(site.key)", "error": "\(error)"])
            return Response(status: 500, ["error": .string("the campaign could not be created: \(error)")])
        }
    }

    // MARK: Contacts

    private func eraseContact(path: String, body: JSONValue, site: WordPressSite) async -> Response {
        let parts = path.split(separator: "/")  // v1, contacts, id, erase
        guard parts.count == 4, let id = UInt64(parts[2]) else {
            return Response(status: 404, ["error": .string("no such control endpoint: \(path.prefix(100))")])
        }
        var actor: UInt64?
        if case .number(let value)? = body["actor_user_id"] { actor = UInt64(exactly: value) }
        let eraser = ContactEraser(site: site, mediaDirectory: mediaDirectory(site),
                                   logger: logger)
        do {
            let report = try await eraser.erase(contactID: id, actorUserID: actor, pool: pool)
            return Response(status: 200, [
                "erased": .object(report.rowsByTable.mapValues { .number(Double($0)) }), "files": .number(Double(report.files)),
            ])
        } catch let failure as ContactEraser.Failure {
            return Response(status: failure.status, ["error": .string(failure.description)])
        } catch {
            logger.error("erasing a contact failed", metadata: ["site": "\(site.key)", "contact_id": "\(id)", "error": "\(error)"])
            return Response(status: 500, ["error": .string("the contact could not be erased completely; run the erasure again: \(error)")])
        }
    }

    // MARK: Credentials

    private func storeCredentials(_ body: JSONValue, site: WordPressSite) async -> Response {
        let rate = body["send_rate_mps"].flatMap { value -> Int? in
            if case .number(let number) = value { return Int(exactly: number) }
            return nil
        }
        let request = CredentialsSetup.Request(
            phoneNumberID: body["phone_number_id"]?.stringValue ?? "", wabaID: body["waba_id"]?.stringValue ?? "",
            accessToken: body["access_token"]?.stringValue ?? "", appSecret: body["app_secret"]?.stringValue,
            label: body["label"]?.stringValue, sendRate: rate, verify: body["verify"] != .bool(false))
        let setup = CredentialsSetup(sites: sites, pool: pool, vault: vault, http: http, sending: sending)
        switch await setup.store(request, site: site) {
        case .success(let stored):
            logger.info("credentials stored for a business number", metadata: ["site": "\(site.key)", "account_id": "\(stored.accountID)"])
            onAccountsChanged()
            sender.notify(site: site)
            templates.requestSync(site: site)
            var answer: [String: JSONValue] = ["account_id": .number(Double(stored.accountID)), "verified": .bool(request.verify)]
            if let name = stored.verifiedName { answer["verified_name"] = .string(name) }
            return Response(status: 200, answer)
        case .failure(let error):
            if error.status >= 500 { logger.error("could not store credentials", metadata: ["site": "\(site.key)", "error": "\(error)"]) }
            return Response(status: error.status, ["error": .string(error.description)])
        }
    }

}
