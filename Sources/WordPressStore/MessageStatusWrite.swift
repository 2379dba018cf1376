import Foundation
import MariaDB

/// The monotonic status update of a message row (docs/schema.md §6.2), shared
/// by the webhook processor and the sender, which both apply statuses.
public enum MessageStatusWrite {
    /// One status to apply.
    public struct Status: Sendable {
        /// Meta's value: `sent`, `delivered`, `read`, `played` or `failed`.
        public var value: String
        /// Its place in the order received 0 < accepted 1 < held 2 < sent 3 < delivered 4 < read 5 < played 6 < failed 7.
        public var rank: Int
        /// Meta's time of the status.
        public var at: Date
        public var errorCode: Int?
        public var errorDetails: String?
        public var pricingType: String?
        public var pricingCategory: String?

        public init(value: String, rank: Int, at: Date, errorCode: Int? = nil, errorDetails: String? = nil,
                    pricingType: String? = nil, pricingCategory: String? = nil) {
            self.value = value
            self.rank = rank
            self.at = at
            self.errorCode = errorCode
            self.errorDetails = errorDetails
            self.pricingType = pricingType
            self.pricingCategory = pricingCategory
        }
    }

    /// Moves each message forward to its status if it is behind, and fills `<status>_at` either way
    /// (§6.2). One statement per status value, in rank order, for the whole list: a statement per status
    /// cost the database more than all else in applying a webhook batch. `status` is assigned last, so
    /// the assignments before it read the rank the row had.
    public static func apply(_ statuses: [(wamid: String, status: Status)], site: WordPressSite, now: Date,
                             on connection: MariaDBConnection) throws {
        let groups = Dictionary(grouping: statuses, by: \.status.value)
        for (value, group) in groups.sorted(by: { $0.value[0].status.rank < $1.value[0].status.rank }) {
            for chunk in group.chunked(into: 500) {
                let rank = chunk[0].status.rank
                func cases(_ field: (Status) -> MariaDBValue) -> SQLQuery {
                    SQLQuery.caseOf("wamid", chunk, key: { .string($0.wamid) }, value: { "\(field($0.status))" })
                }
                let timeColumn = try SQLIdentifier(value + "_at")
                var failure: SQLQuery = ""
                if value == "failed" {
                    failure = """
                        error_code = IF(status_rank < \(rank), \(cases { $0.errorCode.map { .int(Int64($0)) } ?? .null }), error_code),
                        error_details = IF(status_rank < \(rank), \(cases { $0.errorDetails.map { .string($0) } ?? .null }), error_details),
                        """
                }
                let pricing: SQLQuery = chunk.contains(where: { $0.status.pricingType != nil || $0.status.pricingCategory != nil }) ? """
                    pricing_type = COALESCE(\(cases { $0.pricingType.map { .string($0) } ?? .null }), pricing_type),
                    pricing_category = COALESCE(\(cases { $0.pricingCategory.map { .string($0) } ?? .null }), pricing_category),
                    """ : ""
                try connection.execute("""
                    UPDATE \(site.table(.messages))
                       SET \(timeColumn) = COALESCE(\(timeColumn), \(cases { .date($0.at) })), \(pricing) \(failure)
                           status_at = IF(status_rank < \(rank), \(cases { .date($0.at) }), status_at), updated_at = \(now),
                           status = IF(status_rank < \(rank), \(value), status)
                     WHERE wamid IN (\(list: chunk.map(\.wamid)))
                    """)
            }
        }
    }
}
