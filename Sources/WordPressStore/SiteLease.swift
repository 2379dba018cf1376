import MariaDB

/// A named lease in a site's `cloudchat_leases` table (docs/schema.md §5.16).
///
/// The epoch read back at acquisition is the fencing token: every later write
/// to the row names both owner and epoch, so a holder that lost the lease
/// cannot move the progress. All times are the database's clock.
public struct SiteLease: Sendable, Equatable {
    public let site: WordPressSite
    public let name: String
    public let ownerID: String
    public let epoch: UInt64
    /// The progress recorded by the last holder.
    public let progressID: UInt64?

    /// A lease as read from its row; ``acquire(_:site:ownerID:duration:on:)`` is how a holder gets one.
    public init(site: WordPressSite, name: String, ownerID: String, epoch: UInt64, progressID: UInt64?) {
        self.site = site
        self.name = name
        self.ownerID = ownerID
        self.epoch = epoch
        self.progressID = progressID
    }

    /// Acquires the lease if it is free or expired.
    /// - Returns: the lease, or nil when another instance holds it.
    public static func acquire(_ name: String, site: WordPressSite, ownerID: String, duration: Duration,
                               on connection: MariaDBConnection) throws -> SiteLease? {
        try connection.execute("""
            INSERT IGNORE INTO \(site.table(.leases)) (name, updated_at) VALUES (\(name), UTC_TIMESTAMP(6))
            """)
        let taken = try connection.execute("""
            UPDATE \(site.table(.leases))
               SET owner_id = \(ownerID), epoch = epoch + 1, acquired_at = UTC_TIMESTAMP(6), renewed_at = UTC_TIMESTAMP(6),
                   expires_at = UTC_TIMESTAMP(6) + INTERVAL \(duration.wholeMilliseconds * 1000) MICROSECOND, updated_at = UTC_TIMESTAMP(6)
             WHERE name = \(name) AND (owner_id IS NULL OR expires_at IS NULL OR expires_at < UTC_TIMESTAMP(6) OR owner_id = \(ownerID))
            """)
        guard taken.affectedRows == 1,
              let row = try connection.queryFirst("SELECT epoch, progress_id FROM \(site.table(.leases)) WHERE name = \(name) AND owner_id = \(ownerID)")
        else { return nil }
        return SiteLease(site: site, name: name, ownerID: ownerID, epoch: try row.decode(UInt64.self, at: 0),
                         progressID: try row.decode(UInt64?.self, at: 1))
    }

    /// Extends the lease.
    /// - Throws: ``SiteLeaseLost`` when another instance took it meanwhile.
    public func renew(duration: Duration, on connection: MariaDBConnection) throws {
        let renewed = try connection.execute("""
            UPDATE \(site.table(.leases))
               SET renewed_at = UTC_TIMESTAMP(6), expires_at = UTC_TIMESTAMP(6) + INTERVAL \(duration.wholeMilliseconds * 1000) MICROSECOND,
                   updated_at = UTC_TIMESTAMP(6)
             WHERE name = \(name) AND owner_id = \(ownerID) AND epoch = \(epoch)
            """)
        guard renewed.affectedRows == 1 else { throw SiteLeaseLost(name: name) }
    }

    /// Records progress, fenced: fails when the lease was lost.
    public func record(progress: UInt64, on connection: MariaDBConnection) throws {
        let written = try connection.execute("""
            UPDATE \(site.table(.leases)) SET progress_id = \(progress), updated_at = UTC_TIMESTAMP(6)
             WHERE name = \(name) AND owner_id = \(ownerID) AND epoch = \(epoch)
            """)
        guard written.affectedRows == 1 else { throw SiteLeaseLost(name: name) }
    }

    /// Frees the lease for the next holder.
    public func release(on connection: MariaDBConnection) throws {
        try connection.execute("""
            UPDATE \(site.table(.leases)) SET owner_id = NULL, expires_at = NULL, updated_at = UTC_TIMESTAMP(6)
             WHERE name = \(name) AND owner_id = \(ownerID) AND epoch = \(epoch)
            """)
    }
}

/// Another instance holds the lease now; the work it guards must stop.
public struct SiteLeaseLost: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "the \(name) lease was taken over by another daemon" }
}

extension Duration {
    var wholeMilliseconds: Int64 { Int64(self / .milliseconds(1)) }
}
