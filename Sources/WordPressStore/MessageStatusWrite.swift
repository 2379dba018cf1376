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

    /// Moves the message forward to `status` if it is behind, and fills `<status>_at` either way.
    /// - Returns: whether a message row with this wamid exists.
    public static func apply(_ status: Status, wamid: String, site: WordPressSite, now: Date, on connection: MariaDBConnection) throws -> Bool {
        let timeColumn = try SQLIdentifier(status.value + "_at")
        let failed = status.value == "failed"
        let advanced = try connection.execute("""
            UPDATE \(site.table(.messages))
               SET status = \(status.value), status_at = \(status.at), \(timeColumn) = COALESCE(\(timeColumn), \(status.at)),
                   error_code = IF(\(failed), \(status.errorCode), error_code),
                   error_details = IF(\(failed), \(status.errorDetails), error_details),
                   pricing_type = COALESCE(\(status.pricingType), pricing_type),
                   pricing_category = COALESCE(\(status.pricingCategory), pricing_category),
                   updated_at = \(now)
             WHERE wamid = \(wamid) AND status_rank < \(status.rank)
            """)
        if advanced.affectedRows > 0 { return true }
        let filled = try connection.execute("""
            UPDATE \(site.table(.messages))
               SET \(timeColumn) = COALESCE(\(timeColumn), \(status.at)),
                   pricing_type = COALESCE(\(status.pricingType), pricing_type),
                   pricing_category = COALESCE(\(status.pricingCategory), pricing_category),
                   updated_at = \(now)
             WHERE wamid = \(wamid)
            """)
        return filled.affectedRows > 0
    }
}
