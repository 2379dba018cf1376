/// A SQL statement with its parameters kept apart from its text.
///
/// Interpolated values become `?` placeholders and server-side binds, so a
/// value can never change the statement's meaning:
///
/// ```swift
/// let query: SQLQuery = "SELECT id FROM \(table) WHERE wamid = \(wamid) AND account_id = \(accountID)"
/// ```
///
/// Identifiers (table and column names) cannot be bound. Interpolate an
/// ``SQLIdentifier``, which is validated and back-quoted, or, where nothing
/// else fits, text through the explicitly named `unsafeSQL:`.
public struct SQLQuery: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The statement text with `?` for every bound value.
    public private(set) var sql: String
    /// The bound values, in placeholder order.
    public private(set) var binds: [MariaDBValue]

    /// Creates a query from text and binds; the number of `?` must match `binds`.
    public init(unsafeSQL sql: String, binds: [MariaDBValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// The statement text only; bound values are left out so it is safe to log.
    public var description: String { sql }

    /// Appends another query's text and binds.
    public mutating func append(_ other: SQLQuery) {
        sql += other.sql
        binds += other.binds
    }

    /// Appends raw SQL text. The caller vouches that it holds no untrusted input.
    public mutating func append(unsafeSQL text: String) {
        sql += text
    }

    /// Appends one bound value as `?`.
    public mutating func append(bind value: some MariaDBEncodable) {
        sql += "?"
        binds.append(value.mariaDBValue)
    }

    /// Builds the interpolated form of a query.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [MariaDBValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// A value, bound as a parameter.
        public mutating func appendInterpolation(_ value: some MariaDBEncodable) {
            sql += "?"
            binds.append(value.mariaDBValue)
        }

        /// An optional value, bound as a parameter (`nil` binds NULL).
        public mutating func appendInterpolation<Value: MariaDBEncodable>(_ value: Value?) {
            sql += "?"
            binds.append(value?.mariaDBValue ?? .null)
        }

        /// A validated, back-quoted identifier.
        public mutating func appendInterpolation(_ identifier: SQLIdentifier) {
            sql += identifier.quoted
        }

        /// A list of values, bound as `?, ?, ?` (for `IN (…)`); an empty list becomes `NULL`
        /// so that `x IN (NULL)` matches nothing instead of being a syntax error.
        public mutating func appendInterpolation(list values: [some MariaDBEncodable]) {
            if values.isEmpty {
                sql += "NULL"
                return
            }
            for (index, value) in values.enumerated() {
                sql += index == 0 ? "?" : ", ?"
                binds.append(value.mariaDBValue)
            }
        }

        /// Raw SQL text. The caller vouches that it holds no untrusted input.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            sql += text
        }

        /// Another query, with its binds.
        public mutating func appendInterpolation(_ query: SQLQuery) {
            sql += query.sql
            binds += query.binds
        }
    }
}

/// A table or column name that is safe to put into SQL text.
///
/// Only letters, digits, `_` and `$` are accepted (the characters WordPress
/// allows in a table prefix, and all CloudChat names use), at most 64 of them.
public struct SQLIdentifier: Sendable, Hashable, CustomStringConvertible {
    /// The name as given.
    public let name: String
    /// The database the table is in, when it is not the connection's own (`database`.`table`).
    public let database: String?

    /// Validates a name; throws a `.misuse` error for anything else.
    /// - Parameter database: the database holding the table, when not the connection's default;
    ///   letters, digits, `_`, `$` and `-`, as database names commonly use.
    public init(_ name: String, database: String? = nil) throws(MariaDBError) {
        guard Self.isValid(name) else {
            throw .misuse("identifier", "'\(name.prefix(80))' is not a valid identifier: use letters, digits, _ or $, at most 64 characters")
        }
        if let database, !Self.isValidDatabaseName(database) {
            throw .misuse("identifier", "'\(database.prefix(80))' is not a usable database name: use letters, digits, _, $ or -, at most 64 characters")
        }
        self.name = name
        self.database = database
    }

    /// Whether `name` is accepted as a database name: an identifier that may also hold `-`.
    public static func isValidDatabaseName(_ name: String) -> Bool {
        isValid(String(decoding: name.utf8.map { $0 == 0x2D ? 0x5F : $0 }, as: UTF8.self))
    }

    /// Whether `name` is accepted by ``init(_:)``.
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x24
        }
    }

    /// The name in back-quotes, qualified by its database when it has one, ready for SQL text.
    public var quoted: String { database.map { "`\($0)`.`\(name)`" } ?? "`\(name)`" }
    public var description: String { database.map { "\($0).\(name)" } ?? name }
}

extension SQLQuery {
    /// `CASE <column> WHEN ? THEN … END` over many rows, built in one pass (a value per row in one
    /// statement is how batches update many rows at once).
    public static func caseOf<Item>(_ column: String, _ items: [Item], key: (Item) -> MariaDBValue, value: (Item) -> SQLQuery) -> SQLQuery {
        var query = SQLQuery(unsafeSQL: "CASE \(column)")
        for item in items {
            query.append(unsafeSQL: " WHEN ")
            query.append(bind: key(item))
            query.append(unsafeSQL: " THEN ")
            query.append(value(item))
        }
        query.append(unsafeSQL: " END")
        return query
    }

    /// Builds one multi-row `INSERT` for many rows, the fast way to write batches.
    ///
    /// ```swift
    /// let insert = SQLQuery.insert(into: table, columns: ["wamid", "body"], rows: rows.map { [$0.wamid, $0.body] })
    /// ```
    /// - Parameters:
    ///   - table: the table.
    ///   - columns: column names, validated as identifiers.
    ///   - rows: one array of values per row, each as long as `columns`.
    ///   - verb: `INSERT`, `INSERT IGNORE` or `REPLACE`.
    ///   - suffix: text appended after the values, such as `ON DUPLICATE KEY UPDATE …`.
    public static func insert(
        into table: SQLIdentifier, columns: [String], rows: [[MariaDBValue]],
        verb: String = "INSERT", suffix: SQLQuery? = nil
    ) throws(MariaDBError) -> SQLQuery {
        guard !rows.isEmpty else { throw .misuse("insert", "no rows to insert") }
        var quotedColumns: [String] = []
        for column in columns { quotedColumns.append(try SQLIdentifier(column).quoted) }
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        var query = SQLQuery(unsafeSQL: "\(verb) INTO \(table.quoted) (\(quotedColumns.joined(separator: ", "))) VALUES ")
        query.binds.reserveCapacity(rows.count * columns.count)
        query.sql.reserveCapacity(query.sql.count + rows.count * (placeholders.count + 2))
        for (index, row) in rows.enumerated() {
            guard row.count == columns.count else {
                throw .misuse("insert", "row \(index) has \(row.count) values for \(columns.count) columns")
            }
            query.sql += index == 0 ? placeholders : ", " + placeholders
            query.binds += row
        }
        if let suffix {
            query.sql += " "
            query.append(suffix)
        }
        return query
    }

}

extension Array {
    /// The elements in runs of at most `size`, for multi-row statements of bounded length.
    public func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
