internal import CMariaDB
import Foundation

/// Initialises libmariadb once per process, before any connection.
enum MariaDBLibrary {
    private static let initialized: Bool = cloudchat_mysql_library_init() == 0

    static func ensureInitialized() throws(MariaDBError) {
        guard initialized else {
            throw .misuse("initialise", "libmariadb could not be initialised")
        }
    }

    /// The client library's version, e.g. "3.3.8".
    static var clientVersion: String { String(cString: mysql_get_client_info()) }
}

/// One connection to a MariaDB server.
///
/// A connection is not thread-safe and its calls block: use it from one thread
/// at a time, never from Swift's cooperative pool. ``MariaDBPool`` lends
/// connections on dedicated threads through a closure; a connection opened
/// directly is for command-line tools and tests.
///
/// Every statement goes to the server as a prepared statement with typed
/// binds; prepared statements are cached per connection by their SQL text.
/// The session uses utf8mb4 and the UTC time zone. A lost connection is never
/// re-opened behind the caller's back: the call throws `.connectionLost`,
/// ``isBroken`` becomes true, and the pool replaces the connection.
public final class MariaDBConnection {
    /// Transaction isolation levels.
    public enum IsolationLevel: String, Sendable {
        case readUncommitted = "READ UNCOMMITTED"
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    private let handle: UnsafeMutablePointer<MYSQL>
    /// How this connection was opened (the password is never shown).
    public let configuration: MariaDBConfiguration
    /// The server's id for this session (`CONNECTION_ID()`), for `KILL` and the process list.
    public let connectionID: UInt64
    /// The server version string, e.g. "10.11.6-MariaDB-0+deb12u1".
    public let serverVersion: String
    /// True once the connection was lost; it must be discarded.
    public private(set) var isBroken = false
    /// True inside ``withTransaction(isolation:_:)``.
    public private(set) var isInTransaction = false
    /// When this connection last ran a statement.
    public private(set) var lastUsed = ContinuousClock.now

    private var statements: [String: PreparedStatement] = [:]
    private var statementUse: [String: UInt64] = [:]
    private var useCounter: UInt64 = 0
    private let statementCacheCapacity = 128

    /// Opens a connection. Blocks until it is open or fails.
    /// - Throws: a `.connectionFailed` error that says what to check.
    public init(configuration: MariaDBConfiguration) throws(MariaDBError) {
        try MariaDBLibrary.ensureInitialized()
        guard let handle = mysql_init(nil) else {
            throw .misuse("connect", "out of memory creating a connection handle")
        }
        self.handle = handle
        self.configuration = configuration

        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        // Strict mode turns silent truncation into errors; UTC keeps DATETIME honest.
        mysql_options(handle, MYSQL_INIT_COMMAND,
                      "SET time_zone = '+00:00', sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'")
        var connectTimeout = configuration.connectTimeoutSeconds
        var readTimeout = configuration.readTimeoutSeconds
        var writeTimeout = configuration.writeTimeoutSeconds
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &readTimeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &writeTimeout)
        var noReconnect: my_bool = 0
        mysql_options(handle, MYSQL_OPT_RECONNECT, &noReconnect)
        var noLocalInfile: UInt32 = 0
        mysql_options(handle, MYSQL_OPT_LOCAL_INFILE, &noLocalInfile)
        var protocolKind = configuration.usesUnixSocket ? MYSQL_PROTOCOL_SOCKET.rawValue : MYSQL_PROTOCOL_TCP.rawValue
        mysql_options(handle, MYSQL_OPT_PROTOCOL, &protocolKind)
        mysql_options4(handle, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", configuration.programName)

        let host = configuration.usesUnixSocket ? "localhost" : configuration.host
        let socket = configuration.usesUnixSocket ? configuration.socket : nil
        let connected = mysql_real_connect(
            handle, host, configuration.user, configuration.password, configuration.database,
            UInt32(configuration.port ?? 0), socket, 0)
        if connected == nil {
            let error = MariaDBError.from(connection: handle, operation: "connect to \(configuration.endpointDescription)", connecting: true)
            mysql_close(handle)
            throw error
        }
        connectionID = UInt64(mysql_thread_id(handle))
        serverVersion = String(cString: mysql_get_server_info(handle))
    }

    deinit {
        statements.removeAll()
        mysql_close(handle)
    }

    // MARK: Statements

    /// Runs a statement and returns what it did (rows, affected rows, insert id).
    /// - Throws: ``MariaDBError``; `.connectionLost` marks this connection broken.
    @discardableResult
    public func execute(_ query: SQLQuery) throws(MariaDBError) -> MariaDBResult {
        try ensureUsable("execute")
        let statement = try preparedStatement(for: query.sql)
        do {
            let result = try statement.execute(binds: query.binds)
            lastUsed = .now
            return result
        } catch {
            noteFailure(error)
            if error.kind != .misuse && error.kind != .decoding {
                // A statement that failed mid-result may be left in a state the
                // next execution cannot reuse; prepare it afresh.
                statements[query.sql] = nil
                statementUse[query.sql] = nil
            }
            throw error
        }
    }

    /// Runs a query and returns its rows.
    public func query(_ query: SQLQuery) throws(MariaDBError) -> [MariaDBRow] {
        try execute(query).rows
    }

    /// Runs a query and returns its first row, or nil.
    public func queryFirst(_ query: SQLQuery) throws(MariaDBError) -> MariaDBRow? {
        try execute(query).rows.first
    }

    /// Runs SQL text through the text protocol, unprepared: for DDL, `SET`,
    /// `KILL` and statements that cannot be prepared. Takes no binds, so it
    /// must never carry untrusted input.
    @discardableResult
    public func execute(unsafeSQL sql: String) throws(MariaDBError) -> MariaDBResult {
        try ensureUsable("execute")
        let status = sql.withCCharsAndLength { mysql_real_query(handle, $0, $1) }
        if status != 0 {
            let error = MariaDBError.from(connection: handle, operation: "execute")
            noteFailure(error)
            throw error
        }
        lastUsed = .now
        guard mysql_field_count(handle) > 0 else {
            return MariaDBResult(rows: [], affectedRows: mysql_affected_rows(handle), lastInsertID: mysql_insert_id(handle))
        }
        guard let result = mysql_store_result(handle) else {
            let error = MariaDBError.from(connection: handle, operation: "fetch")
            noteFailure(error)
            throw error
        }
        defer { mysql_free_result(result) }
        return MariaDBResult(rows: textRows(result), affectedRows: mysql_affected_rows(handle), lastInsertID: 0)
    }

    private func textRows(_ result: UnsafeMutablePointer<MYSQL_RES>) -> [MariaDBRow] {
        let count = Int(mysql_num_fields(result))
        guard let fields = mysql_fetch_fields(result) else { return [] }
        let columns = MariaDBColumns(names: (0..<count).map { String(cString: fields[$0].name) })
        var rows: [MariaDBRow] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            var values: [MariaDBValue] = []
            values.reserveCapacity(count)
            for index in 0..<count {
                guard let cell = row[index] else {
                    values.append(.null)
                    continue
                }
                let bytes = UnsafeRawBufferPointer(start: cell, count: Int(lengths[index]))
                values.append(Self.textValue(bytes, field: fields[index]))
            }
            rows.append(MariaDBRow(columns: columns, values: values))
        }
        return rows
    }

    private static func textValue(_ bytes: UnsafeRawBufferPointer, field: MYSQL_FIELD) -> MariaDBValue {
        let text = { String(decoding: bytes, as: UTF8.self) }
        switch field.type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_INT24, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
            if let signed = Int64(text()) { return .int(signed) }
            if let unsigned = UInt64(text()) { return .uint(unsigned) }
            return .string(text())
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
            return Double(text()).map { .double($0) } ?? .string(text())
        case MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_NEWDATE:
            return MariaDBTime.value(fromText: text(), isTime: false)
        case MYSQL_TYPE_TIME, MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
            return .string(text())
        default:
            return field.charsetnr == 63 ? .bytes([UInt8](bytes)) : .string(text())
        }
    }

    private func preparedStatement(for sql: String) throws(MariaDBError) -> PreparedStatement {
        useCounter &+= 1
        if let cached = statements[sql] {
            statementUse[sql] = useCounter
            return cached
        }
        if statements.count >= statementCacheCapacity,
           let leastRecent = statementUse.min(by: { $0.value < $1.value })?.key {
            statements[leastRecent] = nil
            statementUse[leastRecent] = nil
        }
        do {
            let statement = try PreparedStatement(connection: handle, sql: sql)
            statements[sql] = statement
            statementUse[sql] = useCounter
            return statement
        } catch {
            noteFailure(error)
            throw error
        }
    }

    private func ensureUsable(_ operation: String) throws(MariaDBError) {
        if isBroken {
            throw MariaDBError(kind: .connectionLost, operation: operation,
                               summary: "this connection was lost earlier and cannot be used again")
        }
    }

    private func noteFailure(_ error: MariaDBError) {
        if error.kind == .connectionLost { isBroken = true }
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// If the connection is lost inside, the error is thrown and nothing is
    /// retried or reconnected: the work is rolled back by the server, or, if the
    /// loss came during `COMMIT`, its outcome is unknown (the error says so).
    /// - Parameters:
    ///   - isolation: the isolation level for this transaction, or the session default.
    ///   - body: the work; it receives this connection.
    public func withTransaction<T>(
        isolation: IsolationLevel? = nil, _ body: (MariaDBConnection) throws -> T
    ) throws -> T {
        guard !isInTransaction else {
            throw MariaDBError.misuse("begin", "a transaction is already open on this connection; transactions do not nest")
        }
        if let isolation {
            try execute(unsafeSQL: "SET TRANSACTION ISOLATION LEVEL \(isolation.rawValue)")
        }
        try execute(unsafeSQL: "START TRANSACTION")
        isInTransaction = true
        defer { isInTransaction = false }
        let result: T
        do {
            result = try body(self)
        } catch {
            if !isBroken { _ = mysql_rollback(handle) }
            throw error
        }
        if mysql_commit(handle) != 0 {
            var error = MariaDBError.from(connection: handle, operation: "commit")
            noteFailure(error)
            if error.kind == .connectionLost {
                error = MariaDBError(kind: .connectionLost, errorNumber: error.errorNumber, sqlState: error.sqlState,
                                     operation: "commit", summary: "the connection was lost during COMMIT; whether the transaction was committed is unknown",
                                     serverMessage: error.serverMessage)
            } else {
                _ = mysql_rollback(handle)
            }
            throw error
        }
        lastUsed = .now
        return result
    }

    // MARK: Health

    /// Asks the server whether the connection is alive (one round trip).
    /// Marks the connection broken when it is not.
    @discardableResult
    public func ping() -> Bool {
        guard !isBroken else { return false }
        if mysql_ping(handle) != 0 {
            isBroken = true
            return false
        }
        lastUsed = .now
        return true
    }

    /// The libmariadb version this program runs with.
    public static var clientLibraryVersion: String { MariaDBLibrary.clientVersion }
}
