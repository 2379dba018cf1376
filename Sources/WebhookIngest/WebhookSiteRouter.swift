import Foundation
import Logging
import MariaDB
import Synchronization
import WordPressStore

/// Decides which site's `webhook_events` table an accepted body goes to.
///
/// A single site takes everything. On a multisite network the body's
/// `metadata.phone_number_id` names the business number, and the site whose
/// accounts table holds that number owns the event. A number no site holds yet
/// goes to the first site (blog 1) marked `unrouted`, to be routed when the
/// number is added. Only a byte scan of the body is done here; parsing is the
/// processor's job, after the acknowledgement.
public final class WebhookSiteRouter: Sendable {
    /// Where one body goes.
    public struct Route: Sendable, Equatable {
        /// The site whose tables receive the event.
        public let site: WordPressSite
        /// The first `phone_number_id` in the body, if any.
        public let phoneNumberID: String?
        /// `pending`, or `unrouted` when no site owns the number.
        public let processingState: String
    }

    private let sites: [WordPressSite]
    private let owners = Mutex<[String: WordPressSite]>([:])

    /// Creates a router for the sites a daemon serves (blog 1 first).
    public init(sites: [WordPressSite]) {
        precondition(!sites.isEmpty, "a router needs at least one site")
        self.sites = sites
    }

    /// Replaces the map of numbers to sites.
    public func update(owners: [String: WordPressSite]) {
        self.owners.withLock { $0 = owners }
    }

    /// Reads every site's accounts and returns which site owns each number.
    /// A number claimed by two sites is left out (and so unrouted): one site can
    /// never receive another's messages by mistake.
    public static func loadOwners(of sites: [WordPressSite], on connection: MariaDBConnection) throws -> [String: WordPressSite] {
        var owners: [String: WordPressSite] = [:]
        var contested: Set<String> = []
        for site in sites {
            let rows = try connection.query("""
                SELECT phone_number_id FROM \(site.table(.accounts)) WHERE state <> \("disabled")
                """)
            for row in rows {
                let number = try row.decode(String.self, at: 0)
                if owners[number] != nil { contested.insert(number) } else { owners[number] = site }
            }
        }
        for number in contested { owners[number] = nil }
        return owners
    }

    /// Routes one body.
    public func route(_ body: [UInt8]) -> Route {
        let number = Self.firstPhoneNumberID(in: body)
        if sites.count == 1 {
            return Route(site: sites[0], phoneNumberID: number, processingState: "pending")
        }
        if let number, let owner = owners.withLock({ $0[number] }) {
            return Route(site: owner, phoneNumberID: number, processingState: "pending")
        }
        return Route(site: sites[0], phoneNumberID: number, processingState: "unrouted")
    }

    private static let key = Array(#""phone_number_id""#.utf8)

    /// The value of the first `"phone_number_id":"…"` in the body, found by a byte
    /// scan (digits only, at most 32; anything else is treated as absent).
    static func firstPhoneNumberID(in bytes: [UInt8]) -> String? {
        guard bytes.count >= key.count else { return nil }
        var index = 0
        let last = bytes.count - key.count
        while index <= last {
            if bytes[index] == 0x22, bytes[index..<index + key.count].elementsEqual(key) {
                var cursor = index + key.count
                while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x3A || bytes[cursor] == 0x09 { cursor += 1 }
                guard cursor < bytes.count, bytes[cursor] == 0x22 else { return nil }
                cursor += 1
                let start = cursor
                while cursor < bytes.count, cursor - start <= 32, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 { cursor += 1 }
                guard cursor < bytes.count, bytes[cursor] == 0x22, cursor > start else { return nil }
                return String(decoding: bytes[start..<cursor], as: UTF8.self)
            }
            index += 1
        }
        return nil
    }
}
