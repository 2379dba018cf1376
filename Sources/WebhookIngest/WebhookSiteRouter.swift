import Foundation
import Logging
import MariaDB
import Synchronization
import WhatsAppCloudAPI
import WordPressStore

/// Decides which site's `webhook_events` table an accepted body goes to.
///
/// A single site takes everything. On a multisite network each change goes to
/// the site that owns its `metadata.phone_number_id`; a change without one
/// (template, account and other WABA-level fields) goes to every site with an
/// account in the entry's WABA. A body whose changes belong to several sites is
/// split, one re-serialised body per site, so no site stores another's data.
/// Changes no site claims go to the home site, marked `unrouted`, one body per
/// unknown number or WABA, to be moved when that number is added.
///
/// The common body (every change for one owned number) is routed by a byte
/// scan; only bodies that need splitting or a WABA lookup are parsed here.
public final class WebhookSiteRouter: Sendable {
    /// Where one body, or one part of a split body, goes.
    public struct Route: Sendable, Equatable {
        /// The site whose tables receive it.
        public let site: WordPressSite
        /// The business number it concerns, if any.
        public let phoneNumberID: String?
        /// The WABA it concerns, when it was routed by WABA.
        public let wabaID: String?
        /// `pending`, or `unrouted` when no site owns the number or WABA.
        public let processingState: String
        /// The re-serialised part of a split body; nil stores the body as received.
        public let splitBody: [UInt8]?

        public init(site: WordPressSite, phoneNumberID: String?, wabaID: String? = nil, processingState: String, splitBody: [UInt8]? = nil) {
            self.site = site
            self.phoneNumberID = phoneNumberID
            self.wabaID = wabaID
            self.processingState = processingState
            self.splitBody = splitBody
        }

        /// Whether this is one site's part of a body that was split.
        public var isSplit: Bool { splitBody != nil }

        /// The bytes to store for this route.
        public func body(from original: [UInt8]) -> [UInt8] { splitBody ?? original }
    }

    /// Which site owns each business number and which sites have accounts in each WABA.
    public struct Owners: Sendable, Equatable {
        /// Phone number id → the one site that owns it.
        public var numbers: [String: WordPressSite] = [:]
        /// WABA id → the sites with an account in it (blog order).
        public var wabas: [String: [WordPressSite]] = [:]
        /// Numbers that more than one site has an account for: routed to none of them until one is removed.
        public var contested: [String: [WordPressSite]] = [:]

        public init(numbers: [String: WordPressSite] = [:], wabas: [String: [WordPressSite]] = [:]) {
            self.numbers = numbers
            self.wabas = wabas
        }

        /// Whether `self` knows a number or WABA that `other` did not.
        public func knowsMore(than other: Owners) -> Bool {
            numbers.keys.contains { other.numbers[$0] != numbers[$0] } || wabas.contains { other.wabas[$0.key] != $0.value }
        }
    }

    private let sites: [WordPressSite]
    /// Where bodies no site claims go.
    public let home: WordPressSite
    private let owners = Mutex(Owners())

    /// Creates a router for the sites a daemon serves.
    /// - Parameter home: the site that keeps unclaimed bodies; the first site by default.
    public init(sites: [WordPressSite], home: WordPressSite? = nil) {
        precondition(!sites.isEmpty, "a router needs at least one site")
        self.sites = sites
        self.home = home ?? sites[0]
    }

    /// Replaces the maps of numbers and WABAs to sites.
    public func update(owners: Owners) {
        self.owners.withLock { $0 = owners }
    }

    /// The maps in use.
    public var currentOwners: Owners { owners.withLock { $0 } }

    /// Reads every site's accounts and returns who owns each number and WABA.
    /// A number claimed by two sites is left out (and so unrouted): one site can
    /// never receive another's messages by mistake.
    public static func loadOwners(of sites: [WordPressSite], on connection: MariaDBConnection) throws -> Owners {
        var owners = Owners()
        var claims: [String: [WordPressSite]] = [:]
        for site in sites {
            let rows = try connection.query("""
                SELECT phone_number_id, waba_id FROM \(site.table(.accounts)) WHERE state <> \("disabled")
                """)
            for row in rows {
                let number = try row.decode(String.self, at: 0)
                let waba = try row.decode(String.self, at: 1)
                claims[number, default: []].append(site)
                if !(owners.wabas[waba]?.contains(site) ?? false) { owners.wabas[waba, default: []].append(site) }
            }
        }
        for (number, sites) in claims {
            if sites.count == 1 { owners.numbers[number] = sites[0] } else { owners.contested[number] = sites }
        }
        return owners
    }

    /// Routes one body: one route, or one per site when it had to be split.
    public func route(_ body: [UInt8]) -> [Route] {
        if sites.count == 1 {
            return [Route(site: sites[0], phoneNumberID: Self.firstPhoneNumberID(in: body), processingState: "pending")]
        }
        let owners = self.owners.withLock { $0 }
        // Fast path: every change names the same number, and a site owns it.
        let scan = Self.scanNumbers(in: body)
        if let number = scan.onlyNumber, scan.numberCount == scan.fieldCount, let owner = owners.numbers[number] {
            return [Route(site: owner, phoneNumberID: number, processingState: "pending")]
        }
        return routeParsed(body, owners: owners) ?? [Route(site: home, phoneNumberID: scan.firstNumber, processingState: "pending")]
    }

    /// Routes change by change; nil when the body is not a JSON object with entries (the home site's processor records why).
    private func routeParsed(_ body: [UInt8], owners: Owners) -> [Route]? {
        guard case .object(var envelope)? = try? JSONValue.parse(body),
              case .array(let entries)? = envelope["entry"] else { return nil }
        /// Where a group of changes goes; unclaimed ones are grouped by number or WABA so each can be moved on its own.
        struct Target: Hashable {
            var site: WordPressSite
            var state: String
            var number: String?
            var waba: String?
        }
        var order: [Target] = []
        var changeCount = 0
        var parts: [Target: [(entry: Int, change: JSONValue)]] = [:]
        func add(_ target: Target, entry: Int, change: JSONValue) {
            if parts[target] == nil { order.append(target) }
            parts[target, default: []].append((entry, change))
        }
        for (index, entry) in entries.enumerated() {
            guard case .array(let changes)? = entry["changes"] else { continue }
            let waba = entry["id"]?.stringValue
            for change in changes {
                changeCount += 1
                if let number = change["value"]?["metadata"]?["phone_number_id"]?.stringValue {
                    if let owner = owners.numbers[number] {
                        add(Target(site: owner, state: "pending", number: number), entry: index, change: change)
                    } else {
                        add(Target(site: home, state: "unrouted", number: number), entry: index, change: change)
                    }
                } else if let waba, let wabaSites = owners.wabas[waba], !wabaSites.isEmpty {
                    for site in wabaSites { add(Target(site: site, state: "pending", waba: waba), entry: index, change: change) }
                } else {
                    add(Target(site: home, state: "unrouted", waba: waba), entry: index, change: change)
                }
            }
        }
        guard !order.isEmpty else { return nil }
        // Every change of the body goes to one site, or (WABA fields) to each of several sites: store it as received.
        if order.count == 1 || Set(order.map(\.site)).count == 1 && order.allSatisfy({ $0.state == "pending" }) {
            return [Route(site: order[0].site, phoneNumberID: order[0].number, wabaID: order[0].waba, processingState: order[0].state)]
        }
        if order.allSatisfy({ $0.state == "pending" && parts[$0]!.count == changeCount }) {
            return order.map { Route(site: $0.site, phoneNumberID: nil, wabaID: $0.waba, processingState: "pending") }
        }
        // Several owners: each gets the envelope with only its own entries and changes.
        return order.map { target in
            var byEntry: [(index: Int, changes: [JSONValue])] = []
            for (entryIndex, change) in parts[target]! {
                if byEntry.last?.index == entryIndex { byEntry[byEntry.count - 1].changes.append(change) } else { byEntry.append((entryIndex, [change])) }
            }
            envelope["entry"] = .array(byEntry.map { part in
                guard case .object(var members) = entries[part.index] else { return entries[part.index] }
                members["changes"] = .array(part.changes)
                return .object(members)
            })
            return Route(site: target.site, phoneNumberID: target.number, wabaID: target.waba, processingState: target.state,
                         splitBody: Array(JSONValue.object(envelope).jsonText.utf8))
        }
    }

    private static let numberKey = Array(#""phone_number_id""#.utf8)
    private static let fieldKey = Array(#""field""#.utf8)

    /// What a byte scan finds: the business numbers named and how many changes there are.
    struct NumberScan: Equatable {
        var firstNumber: String?
        /// The number, when every `phone_number_id` names the same one.
        var onlyNumber: String?
        var numberCount = 0
        var fieldCount = 0
    }

    /// Counts `"phone_number_id":"…"` values and `"field"` keys without parsing.
    /// A `"phone_number_id"` not followed by a string of digits (at most 32) makes
    /// `onlyNumber` nil, so the body is parsed instead.
    static func scanNumbers(in bytes: [UInt8]) -> NumberScan {
        var scan = NumberScan()
        var mixed = false
        var index = 0
        while index < bytes.count {
            guard bytes[index] == 0x22 else {
                index += 1
                continue
            }
            if bytes[index...].starts(with: fieldKey) {
                scan.fieldCount += 1
                index += fieldKey.count
            } else if bytes[index...].starts(with: numberKey) {
                scan.numberCount += 1
                index += numberKey.count
                if let (number, end) = digitString(in: bytes, after: index) {
                    if scan.firstNumber == nil { scan.firstNumber = number } else if number != scan.firstNumber { mixed = true }
                    index = end
                } else {
                    mixed = true
                }
            } else {
                index += 1
            }
        }
        scan.onlyNumber = mixed ? nil : scan.firstNumber
        return scan
    }

    /// The value of the first `"phone_number_id":"…"` in the body, found by a byte
    /// scan (digits only, at most 32; anything else is treated as absent).
    static func firstPhoneNumberID(in bytes: [UInt8]) -> String? {
        guard bytes.count >= numberKey.count else { return nil }
        for index in 0...(bytes.count - numberKey.count) where bytes[index] == 0x22 && bytes[index...].starts(with: numberKey) {
            return digitString(in: bytes, after: index + numberKey.count)?.value
        }
        return nil
    }

    /// A `: "digits"` value starting at `index`, and the index after its closing quote.
    private static func digitString(in bytes: [UInt8], after index: Int) -> (value: String, end: Int)? {
        var cursor = index
        while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x3A || bytes[cursor] == 0x09 { cursor += 1 }
        guard cursor < bytes.count, bytes[cursor] == 0x22 else { return nil }
        cursor += 1
        let start = cursor
        while cursor < bytes.count, cursor - start <= 32, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 { cursor += 1 }
        guard cursor < bytes.count, bytes[cursor] == 0x22, cursor > start else { return nil }
        return (String(decoding: bytes[start..<cursor], as: UTF8.self), cursor + 1)
    }
}
