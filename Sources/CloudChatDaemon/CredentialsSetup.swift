import Foundation
import MariaDB
import Sending
import WhatsAppCloudAPI
import WordPressStore

/// Adds a business number to a site, or replaces its credentials: checks them
/// with Meta, refuses a number another site has, creates or updates the
/// account row and stores the secrets encrypted. Used by the control API and
/// by `cloudchatd credentials set`.
public struct CredentialsSetup: Sendable {
    public struct Request: Sendable {
        public var phoneNumberID: String
        public var wabaID: String
        public var accessToken: String
        public var appSecret: String?
        public var label: String?
        public var sendRate: Int?
        /// Ask Meta about the number with the token before storing it.
        public var verify: Bool

        public init(phoneNumberID: String, wabaID: String, accessToken: String, appSecret: String? = nil, label: String? = nil,
                    sendRate: Int? = nil, verify: Bool = true) {
            self.phoneNumberID = phoneNumberID
            self.wabaID = wabaID
            self.accessToken = accessToken
            self.appSecret = appSecret
            self.label = label
            self.sendRate = sendRate
            self.verify = verify
        }
    }

    public struct Stored: Sendable, Equatable {
        public let accountID: UInt64
        /// Meta's display name for the number, when it was checked.
        public let verifiedName: String?
    }

    /// Why credentials were not stored, with the HTTP status the control API answers.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let status: Int
        public let description: String
    }

    let sites: [WordPressSite]
    let pool: MariaDBPool
    let vault: CredentialVault
    let http: GraphHTTPClient
    let sending: SenderConfiguration

    public init(sites: [WordPressSite], pool: MariaDBPool, vault: CredentialVault, http: GraphHTTPClient, sending: SenderConfiguration) {
        self.sites = sites
        self.pool = pool
        self.vault = vault
        self.http = http
        self.sending = sending
    }

    public func store(_ request: Request, site: WordPressSite) async -> Result<Stored, Failure> {
        guard Self.isMetaID(request.phoneNumberID), Self.isMetaID(request.wabaID) else {
            return .failure(.init(status: 400, description: "phone_number_id and waba_id must be Meta's numeric ids, as shown in WhatsApp Manager"))
        }
        let token = request.accessToken
        guard !token.isEmpty, token.count <= 2048, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            return .failure(.init(status: 400, description: "access_token must be the access token as Meta issued it (no spaces)"))
        }
        let appSecret = request.appSecret.flatMap { $0.isEmpty ? nil : $0 }
        if let appSecret, appSecret.count > 256 || !appSecret.allSatisfy({ $0.isASCII && !$0.isWhitespace }) {
            return .failure(.init(status: 400, description: "app_secret must be the app secret as shown in the Meta app's settings"))
        }
        if let rate = request.sendRate, !(1...10_000).contains(rate) {
            return .failure(.init(status: 400, description: "send_rate_mps must be from 1 to 10000 messages per second"))
        }
        guard vault.hasKeyring else {
            return .failure(.init(status: 503, description: "cloudchatd has no secrets key file (secrets_key_file), so it cannot store "
                                  + "credentials; create one with `cloudchatd secrets-key generate` and restart cloudchatd"))
        }
        // Ask Meta first: a wrong token or number is refused here, not at the first send.
        let info: GraphClient.PhoneNumberInfo?
        if request.verify {
            let client = sending.client(http: http, accessToken: token)
            do {
                info = try await client.phoneNumber(request.phoneNumberID)
            } catch let error as GraphAPIError {
                return .failure(.init(status: 422, description: "Meta refused these credentials for this number: \(error)"))
            } catch {
                return .failure(.init(status: 502, description: "could not reach the Graph API at \(sending.graphBaseURL) to check the credentials: \(error)"))
            }
        } else {
            info = nil
        }
        let sites = self.sites
        let label = request.label.map { String($0.prefix(255)) }
        let secrets = AccountSecrets(accessToken: token, appSecret: appSecret)
        do {
            let accountID = try await pool.withConnection { [vault] connection -> UInt64? in
                for other in sites where other != site {
                    if try connection.queryFirst("SELECT 1 FROM \(other.table(.accounts)) WHERE phone_number_id = \(request.phoneNumberID)") != nil {
                        return nil
                    }
                }
                let now = Date()
                let display = info?.displayPhoneNumber.map { $0.filter(\.isNumber) }
                let row = try connection.execute("""
                    INSERT INTO \(site.table(.accounts))
                        (waba_id, phone_number_id, display_phone_number, verified_name, label, state, send_rate_mps, quality_rating,
                         created_at, updated_at)
                    VALUES (\(request.wabaID), \(request.phoneNumberID), \(display), \(info?.verifiedName), \(label), 'active',
                            \(request.sendRate ?? 80), \(info?.qualityRating), \(now), \(now))
                    ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), waba_id = VALUES(waba_id),
                        display_phone_number = COALESCE(VALUES(display_phone_number), display_phone_number),
                        verified_name = COALESCE(VALUES(verified_name), verified_name), label = COALESCE(VALUES(label), label),
                        send_rate_mps = IF(\(request.sendRate != nil), VALUES(send_rate_mps), send_rate_mps), updated_at = VALUES(updated_at)
                    """)
                try vault.store(secrets, site: site, accountID: row.lastInsertID, on: connection)
                return row.lastInsertID
            }
            guard let accountID else {
                return .failure(.init(status: 409, description: "another site served by this daemon already has this phone number; remove it there first"))
            }
            return .success(Stored(accountID: accountID, verifiedName: info?.verifiedName))
        } catch {
            return .failure(.init(status: 500, description: "could not store the credentials: \(error)"))
        }
    }

    static func isMetaID(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 32 && text.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
