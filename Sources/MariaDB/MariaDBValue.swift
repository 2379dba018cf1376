import Foundation

/// A value bound to a statement parameter or read from a result column.
public enum MariaDBValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// A signed integer (every integer column type, and BIT(1)-style flags).
    case int(Int64)
    /// An unsigned integer too large for `Int64` (BIGINT UNSIGNED).
    case uint(UInt64)
    /// FLOAT or DOUBLE.
    case double(Double)
    /// Text in the connection's character set (utf8mb4); also DECIMAL, JSON, ENUM and SET.
    case string(String)
    /// Binary data (BINARY, VARBINARY, BLOB columns).
    case bytes([UInt8])
    /// DATE, DATETIME or TIMESTAMP, as an instant in UTC (the session time zone is UTC).
    case date(Date)
}

/// A Swift type that can be bound as a statement parameter.
public protocol MariaDBEncodable: Sendable {
    /// The value to bind.
    var mariaDBValue: MariaDBValue { get }
}

/// A Swift type that can be read from a result column.
public protocol MariaDBDecodable {
    /// Decodes a column value; throws a `.decoding` error naming the mismatch.
    init(mariaDBValue: MariaDBValue) throws(MariaDBError)
}

extension MariaDBValue: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { self }
    public init(mariaDBValue: MariaDBValue) { self = mariaDBValue }

    /// A short name of the case, for error messages (never the value itself).
    var kindName: String {
        switch self {
        case .null: "NULL"
        case .int: "integer"
        case .uint: "unsigned integer"
        case .double: "double"
        case .string: "string"
        case .bytes: "binary"
        case .date: "date"
        }
    }
}

extension Optional: MariaDBEncodable where Wrapped: MariaDBEncodable {
    public var mariaDBValue: MariaDBValue { self?.mariaDBValue ?? .null }
}

extension Optional: MariaDBDecodable where Wrapped: MariaDBDecodable {
    public init(mariaDBValue: MariaDBValue) throws(MariaDBError) {
        if case .null = mariaDBValue { self = .none } else { self = .some(try Wrapped(mariaDBValue: mariaDBValue)) }
    }
}

private func mismatch<T>(_ value: MariaDBValue, _ type: T.Type) -> MariaDBError {
    .decoding("cannot read a \(value.kindName) column as \(T.self)")
}

extension Int64: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { .int(self) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        switch value {
        case .int(let v): self = v
        case .uint(let v):
            guard let exact = Int64(exactly: v) else { throw .decoding("unsigned value does not fit in Int64") }
            self = exact
        case .string(let s):
            // DECIMAL and text-protocol integers arrive as text.
            guard let v = Int64(s) else { throw mismatch(value, Int64.self) }
            self = v
        default: throw mismatch(value, Int64.self)
        }
    }
}

extension UInt64: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { self <= UInt64(Int64.max) ? .int(Int64(self)) : .uint(self) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        switch value {
        case .uint(let v): self = v
        case .int(let v):
            guard let exact = UInt64(exactly: v) else { throw .decoding("negative value cannot be read as UInt64") }
            self = exact
        case .string(let s):
            guard let v = UInt64(s) else { throw mismatch(value, UInt64.self) }
            self = v
        default: throw mismatch(value, UInt64.self)
        }
    }
}

/// Integer types that go through `Int64`, checking the range on the way back.
public protocol MariaDBIntegerConvertible: FixedWidthInteger, MariaDBEncodable, MariaDBDecodable {}

extension MariaDBIntegerConvertible {
    public var mariaDBValue: MariaDBValue { Int64(exactly: self).map { .int($0) } ?? .uint(UInt64(self)) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        let wide = try Int64(mariaDBValue: value)
        guard let exact = Self(exactly: wide) else { throw .decoding("value does not fit in \(Self.self)") }
        self = exact
    }
}

extension Int: MariaDBIntegerConvertible {}
extension Int32: MariaDBIntegerConvertible {}
extension Int16: MariaDBIntegerConvertible {}
extension Int8: MariaDBIntegerConvertible {}
extension UInt32: MariaDBIntegerConvertible {}
extension UInt16: MariaDBIntegerConvertible {}
extension UInt8: MariaDBIntegerConvertible {}
extension UInt: MariaDBIntegerConvertible {}

extension Bool: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { .int(self ? 1 : 0) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        self = try Int64(mariaDBValue: value) != 0
    }
}

extension Double: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { .double(self) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        switch value {
        case .double(let v): self = v
        case .int(let v): self = Double(v)
        case .uint(let v): self = Double(v)
        case .string(let s):
            guard let v = Double(s) else { throw mismatch(value, Double.self) }
            self = v
        default: throw mismatch(value, Double.self)
        }
    }
}

extension String: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { .string(self) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        switch value {
        case .string(let s): self = s
        case .bytes(let b):
            guard let s = String(validating: b, as: UTF8.self) else { throw .decoding("binary column is not valid UTF-8") }
            self = s
        case .int(let v): self = String(v)
        case .uint(let v): self = String(v)
        case .double(let v): self = String(v)
        default: throw mismatch(value, String.self)
        }
    }
}

extension Array: MariaDBEncodable where Element == UInt8 {
    public var mariaDBValue: MariaDBValue { .bytes(self) }
}

extension Array: MariaDBDecodable where Element == UInt8 {
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        switch value {
        case .bytes(let b): self = b
        case .string(let s): self = Array(s.utf8)
        default: throw mismatch(value, [UInt8].self)
        }
    }
}

extension Data: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { .bytes([UInt8](self)) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        self = Data(try [UInt8](mariaDBValue: value))
    }
}

extension Date: MariaDBEncodable, MariaDBDecodable {
    public var mariaDBValue: MariaDBValue { .date(self) }
    public init(mariaDBValue value: MariaDBValue) throws(MariaDBError) {
        guard case .date(let d) = value else { throw mismatch(value, Date.self) }
        self = d
    }
}
