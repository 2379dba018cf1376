internal import CMariaDB

/// An error from the MariaDB client layer.
///
/// `description` is safe to log: it names the operation, the MariaDB error
/// number and SQLSTATE and a plain summary, but never the server's message
/// text (which can quote row values, such as a duplicate phone number) nor a
/// password. The server's message is in `debugDescription` only.
public struct MariaDBError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is, for callers that react differently to each.
    public enum Kind: Sendable, Equatable {
        /// Could not open a connection (bad host, refused, access denied, unknown database…).
        case connectionFailed
        /// The connection broke (server restart, `KILL CONNECTION`, network). It is
        /// never reconnected silently; the pool replaces it before its next use.
        case connectionLost
        /// The server rejected a statement (syntax, duplicate key, deadlock, lock timeout…).
        case server
        /// A statement was misused: wrong parameter count, nested transaction, bad identifier.
        case misuse
        /// A column could not be decoded as the type asked for.
        case decoding
        /// The pool was shut down.
        case poolClosed
    }

    /// The kind of failure.
    public let kind: Kind
    /// The MariaDB/MySQL error number (`mysql_errno`), or 0 when the error is ours.
    public let errorNumber: UInt32
    /// The five-character SQLSTATE, or `"HY000"` when unknown.
    public let sqlState: String
    /// What the layer was doing: "connect", "prepare", "execute", "commit", …
    public let operation: String
    /// A summary that holds no row data and no secret.
    public let summary: String
    /// The server's or client library's own message; may quote data, so it is never logged by default.
    public let serverMessage: String

    init(kind: Kind, errorNumber: UInt32 = 0, sqlState: String = "HY000", operation: String, summary: String, serverMessage: String = "") {
        self.kind = kind
        self.errorNumber = errorNumber
        self.sqlState = sqlState
        self.operation = operation
        self.summary = summary
        self.serverMessage = serverMessage
    }

    public var description: String {
        if errorNumber == 0 {
            return "MariaDB \(operation) failed: \(summary)"
        }
        return "MariaDB \(operation) failed: \(summary) (error \(errorNumber), SQLSTATE \(sqlState))"
    }

    public var debugDescription: String {
        serverMessage.isEmpty ? description : "\(description): \(serverMessage)"
    }

    /// True for a duplicate key (`ER_DUP_ENTRY`), the signal of an idempotent insert meeting its twin.
    public var isDuplicateKey: Bool { errorNumber == 1062 }
    /// True for a deadlock or lock wait timeout: the transaction may be retried as a whole.
    public var isRetryableTransactionConflict: Bool { errorNumber == 1213 || errorNumber == 1205 }
}

extension MariaDBError {
    /// Error numbers that mean the connection itself is gone.
    static let connectionLostNumbers: Set<UInt32> = [
        2006,  // CR_SERVER_GONE_ERROR
        2013,  // CR_SERVER_LOST
        2055,  // CR_SERVER_LOST_EXTENDED
        1927,  // ER_CONNECTION_KILLED
        1053,  // ER_SERVER_SHUTDOWN
        4031,  // ER_CLIENT_INTERACTION_TIMEOUT
    ]

    /// Builds the typed error for the last failure on a connection handle.
    static func from(connection handle: UnsafeMutablePointer<MYSQL>, operation: String, connecting: Bool = false) -> MariaDBError {
        let number = mysql_errno(handle)
        return make(number: number, state: mysql_sqlstate(handle), message: mysql_error(handle), operation: operation, connecting: connecting)
    }

    /// Builds the typed error for the last failure on a prepared statement.
    static func from(statement handle: UnsafeMutablePointer<MYSQL_STMT>, operation: String) -> MariaDBError {
        make(number: mysql_stmt_errno(handle), state: mysql_stmt_sqlstate(handle), message: mysql_stmt_error(handle), operation: operation, connecting: false)
    }

    private static func make(number: UInt32, state: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?, operation: String, connecting: Bool) -> MariaDBError {
        let sqlState = state.map { String(cString: $0) } ?? "HY000"
        let serverMessage = message.map { String(cString: $0) } ?? ""
        let kind: Kind
        if connecting {
            kind = .connectionFailed
        } else if connectionLostNumbers.contains(number) {
            kind = .connectionLost
        } else {
            kind = .server
        }
        return MariaDBError(kind: kind, errorNumber: number, sqlState: sqlState, operation: operation,
                            summary: summary(for: number, kind: kind), serverMessage: serverMessage)
    }

    /// Plain words for the errors an operator meets, with what to do about them.
    static func summary(for number: UInt32, kind: Kind) -> String {
        switch number {
        case 1045: return "access denied for this user and password; check the database user and password settings"
        case 1044: return "the user may not use this database; grant it privileges on the database"
        case 1049: return "unknown database; check the database name setting or create the database"
        case 1142, 1143: return "the user lacks a privilege this statement needs"
        case 1146: return "a table does not exist; run `cloudchatd migrate`"
        case 1054: return "a column does not exist; the schema may be behind, run `cloudchatd migrate`"
        case 1062: return "duplicate key"
        case 1064: return "SQL syntax error"
        case 1205: return "lock wait timeout; retry the transaction"
        case 1213: return "deadlock; retry the transaction"
        case 1040: return "the server has too many connections; lower pool sizes or raise max_connections"
        case 2002: return "cannot connect through the socket; is the server running and the socket path right?"
        case 2003: return "cannot connect to the server's TCP port; is it running and listening there?"
        case 2005: return "unknown server host; check the database host setting"
        case 2006, 2013, 2055: return "the connection to the server was lost"
        case 1927: return "the connection was killed on the server"
        case 1053: return "the server is shutting down"
        case 4031: return "the server closed an idle connection"
        default:
            switch kind {
            case .connectionFailed: return "could not connect to the server"
            case .connectionLost: return "the connection to the server was lost"
            default: return "the server rejected the statement"
            }
        }
    }

    static func misuse(_ operation: String, _ summary: String) -> MariaDBError {
        MariaDBError(kind: .misuse, operation: operation, summary: summary)
    }

    static func decoding(_ summary: String) -> MariaDBError {
        MariaDBError(kind: .decoding, operation: "decode", summary: summary)
    }
}
