import Foundation
import MariaDB
import WhatsAppCloudAPI
import WordPressStore

/// Stored webhook events that no site's account claimed (`unrouted`), and
/// moving them to their owner once the number or WABA is added.
///
/// A moved row is inserted as a new `pending` row in the owner's table, with
/// the same `received_at` and body, and the old row is deleted in the same
/// transaction: a row never becomes `pending` again in place, so nothing below
/// a processor's mark becomes unprocessed (docs/schema.md §6.1). The events
/// table has no index on the state, so both reads are primary-key range scans
/// in steps, which take time on large tables.
public enum UnroutedWebhookEvents {
    /// Unrouted events of one number or WABA.
    public struct Group: Sendable, Equatable {
        public var phoneNumberID: String?
        public var wabaID: String?
        public var count: Int
    }

    /// The unrouted events in one site's table, by number or WABA.
    public static func census(site: WordPressSite, on connection: MariaDBConnection) throws -> [Group] {
        var groups: [String: Group] = [:]
        try scan(site: site, on: connection) { rows in
            for row in rows {
                let key = "\(row.phoneNumberID ?? "")|\(row.wabaID ?? "")"
                groups[key, default: Group(phoneNumberID: row.phoneNumberID, wabaID: row.wabaID, count: 0)].count += 1
            }
        }
        return groups.values.sorted { $0.count > $1.count }
    }

    /// Moves every unrouted event whose number or WABA now has an owner to that owner's table.
    /// - Parameter sites: the sites whose tables are scanned (every site served).
    /// - Returns: how many events were moved into each site's table.
    @discardableResult
    public static func reroute(sites: [WordPressSite], owners: WebhookSiteRouter.Owners, on connection: MariaDBConnection) throws -> [WordPressSite: Int] {
        var moved: [WordPressSite: Int] = [:]
        for source in sites {
            try scan(site: source, on: connection) { rows in
                var targets: [WordPressSite: [UInt64]] = [:]
                for row in rows {
                    for site in owningSites(of: row, owners: owners) { targets[site, default: []].append(row.id) }
                }
                guard !targets.isEmpty else { return }
                try connection.withTransaction { connection in
                    let candidates = Array(Set(targets.values.joined())).sorted()
                    // Locked first, so two daemons moving at once cannot both copy a row. Each
                    // statement names one site's table: rows are read out and written back.
                    let locked = try connection.query("""
                        SELECT id, \(unsafeSQL: copiedColumns) FROM \(source.table(.webhookEvents))
                         WHERE id IN (\(list: candidates)) AND processing_state = 'unrouted' ORDER BY id FOR UPDATE
                        """)
                    guard !locked.isEmpty else { return }
                    var rowsByID: [UInt64: [MariaDBValue]] = [:]
                    for row in locked { rowsByID[try row.decode(at: 0)] = Array(row.values.dropFirst()) }
                    for (target, ids) in targets.sorted(by: { $0.key.key < $1.key.key }) {
                        let rows = ids.compactMap { rowsByID[$0] }
                        guard !rows.isEmpty else { continue }
                        for chunk in rows.chunked(into: 100) {
                            try connection.execute(try SQLQuery.insert(into: target.table(.webhookEvents), columns: WebhookEventRow.columns, rows: chunk))
                        }
                        moved[target, default: 0] += rows.count
                    }
                    try connection.execute("DELETE FROM \(source.table(.webhookEvents)) WHERE id IN (\(list: rowsByID.keys.sorted()))")
                }
            }
        }
        return moved
    }

    /// The writer's columns, read from the old row except the state: the copy starts `pending`.
    private static let copiedColumns = WebhookEventRow.columns.map { $0 == "processing_state" ? "'pending'" : $0 }.joined(separator: ", ")

    /// The sites an unrouted event now belongs to: the owner of its number, or every site in its WABA.
    static func owningSites(of row: UnroutedRow, owners: WebhookSiteRouter.Owners) -> [WordPressSite] {
        if let number = row.phoneNumberID { return owners.numbers[number].map { [$0] } ?? [] }
        if let waba = row.wabaID { return owners.wabas[waba] ?? [] }
        return []
    }

    struct UnroutedRow {
        var id: UInt64
        var phoneNumberID: String?
        var wabaID: String?
    }

    /// Ids read per range query.
    static let scanStep: UInt64 = 20_000

    /// Calls `visit` with the unrouted rows of each id range, in primary-key order.
    private static func scan(site: WordPressSite, on connection: MariaDBConnection, visit: ([UnroutedRow]) throws -> Void) throws {
        let table = site.table(.webhookEvents)
        guard let bounds = try connection.queryFirst("SELECT MIN(id), MAX(id) FROM \(table)"),
              let first = try bounds.decode(UInt64?.self, at: 0), let last = try bounds.decode(UInt64?.self, at: 1) else { return }
        var low = first
        while low <= last {
            let high = min(last, low + scanStep - 1)
            // The body is read only where neither column says whom the event concerns (a single site stores no WABA id).
            let rows = try connection.query("""
                SELECT id, phone_number_id, waba_id, IF(phone_number_id IS NULL AND waba_id IS NULL, body, NULL)
                  FROM \(table) WHERE id BETWEEN \(low) AND \(high) AND processing_state = 'unrouted'
                """).map { row in
                var unrouted = UnroutedRow(id: try row.decode(at: 0), phoneNumberID: try row.decode(at: 1), wabaID: try row.decode(at: 2))
                if let body = try row.decode([UInt8]?.self, at: 3) { unrouted.wabaID = firstWABA(in: body) }
                return unrouted
            }
            if !rows.isEmpty { try visit(rows) }
            low = high + 1
        }
    }

    /// The id of the first entry, which for WABA-level fields is the WABA.
    private static func firstWABA(in body: [UInt8]) -> String? {
        guard case .array(let entries)? = (try? JSONValue.parse(body))?["entry"] else { return nil }
        return entries.first?["id"]?.stringValue
    }
}
