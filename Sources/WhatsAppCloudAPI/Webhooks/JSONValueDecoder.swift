import Foundation

/// Decodes `Decodable` models from a parsed ``JSONValue`` tree.
///
/// Strict like Foundation's `JSONDecoder` with default strategies (no string
/// to number conversion; integers must be whole and in range), but a
/// ``JSONValue`` member is handed over as it is instead of being rebuilt, and
/// coding paths are only assembled when an error needs one.
public enum JSONValueDecoder {
    /// Decodes a model from a tree.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try JSONTreeDecoder(value: value, path: nil).decode(T.self)
    }
}

/// The coding path as a chain to the root, built into an array only for errors.
final class JSONCodingPathNode: @unchecked Sendable {
    let parent: JSONCodingPathNode?
    let key: any CodingKey

    init(parent: JSONCodingPathNode?, key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    static func codingPath(of node: JSONCodingPathNode?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var current = node
        while let node = current {
            keys.append(node.key)
            current = node.parent
        }
        return keys.reversed()
    }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private func typeMismatch(_ type: Any.Type, _ value: JSONValue, path: JSONCodingPathNode?) -> DecodingError {
    let found = switch value {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
    return DecodingError.typeMismatch(type, .init(codingPath: JSONCodingPathNode.codingPath(of: path), debugDescription: "Expected \(type) but found \(found)."))
}

/// Scalar conversions shared by the three container kinds.
private func scalar<T>(_ type: T.Type, _ value: JSONValue, path: JSONCodingPathNode?) throws -> T {
    switch value {
    case .string(let text) where T.self == String.self: return text as! T
    case .bool(let flag) where T.self == Bool.self: return flag as! T
    case .number(let number):
        if T.self == Double.self { return number as! T }
        if T.self == Float.self { return Float(number) as! T }
        if let integer = integer(T.self, number) { return integer }
    default: break
    }
    if case .null = value {
        throw DecodingError.valueNotFound(type, .init(codingPath: JSONCodingPathNode.codingPath(of: path), debugDescription: "Expected \(type) but found null."))
    }
    throw typeMismatch(type, value, path: path)
}

/// A whole number that fits the integer type, or nil.
private func integer<T>(_ type: T.Type, _ number: Double) -> T? {
    func exact<I: FixedWidthInteger>(_: I.Type) -> I? { I(exactly: number) }
    switch type {
    case is Int.Type: return exact(Int.self) as? T
    case is Int8.Type: return exact(Int8.self) as? T
    case is Int16.Type: return exact(Int16.self) as? T
    case is Int32.Type: return exact(Int32.self) as? T
    case is Int64.Type: return exact(Int64.self) as? T
    case is UInt.Type: return exact(UInt.self) as? T
    case is UInt8.Type: return exact(UInt8.self) as? T
    case is UInt16.Type: return exact(UInt16.self) as? T
    case is UInt32.Type: return exact(UInt32.self) as? T
    case is UInt64.Type: return exact(UInt64.self) as? T
    default: return nil
    }
}

struct JSONTreeDecoder: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let path: JSONCodingPathNode?
    var codingPath: [any CodingKey] { JSONCodingPathNode.codingPath(of: path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw typeMismatch([String: JSONValue].self, value, path: path) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw typeMismatch([JSONValue].self, value, path: path) }
        return UnkeyedContainer(elements: elements, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try scalar(type, value, path: path) }
    func decode(_ type: String.Type) throws -> String { try scalar(type, value, path: path) }
    func decode(_ type: Double.Type) throws -> Double { try scalar(type, value, path: path) }
    func decode(_ type: Float.Type) throws -> Float { try scalar(type, value, path: path) }
    func decode(_ type: Int.Type) throws -> Int { try scalar(type, value, path: path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try scalar(type, value, path: path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try scalar(type, value, path: path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try scalar(type, value, path: path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try scalar(type, value, path: path) }
    func decode(_ type: UInt.Type) throws -> UInt { try scalar(type, value, path: path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try scalar(type, value, path: path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try scalar(type, value, path: path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try scalar(type, value, path: path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try scalar(type, value, path: path) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let path: JSONCodingPathNode?
    var codingPath: [any CodingKey] { JSONCodingPathNode.codingPath(of: path) }
    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value for key \"\(key.stringValue)\"."))
        }
        return value
    }

    private func child(_ key: Key) -> JSONCodingPathNode { JSONCodingPathNode(parent: path, key: key) }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try member(key) { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let value = try member(key)
        if T.self == JSONValue.self { return value as! T }
        return try T(from: JSONTreeDecoder(value: value, path: child(key)))
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try scalar(type, member(key), path: child(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try scalar(type, member(key), path: child(key)) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONTreeDecoder(value: member(key), path: child(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONTreeDecoder(value: member(key), path: child(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        JSONTreeDecoder(value: members["super"] ?? .null, path: path)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONTreeDecoder(value: members[key.stringValue] ?? .null, path: child(key))
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let path: JSONCodingPathNode?
    var currentIndex = 0
    var codingPath: [any CodingKey] { JSONCodingPathNode.codingPath(of: path) }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [JSONValue], path: JSONCodingPathNode?) {
        self.elements = elements
        self.path = path
    }

    private func child() -> JSONCodingPathNode { JSONCodingPathNode(parent: path, key: IndexKey(intValue: currentIndex)) }

    /// The next element; the index moves on only when decoding it succeeds.
    private mutating func next<T>(_ type: Any.Type, _ read: (JSONValue, JSONCodingPathNode) throws -> T) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: JSONCodingPathNode.codingPath(of: child()), debugDescription: "Unkeyed container is at end."))
        }
        let result = try read(elements[currentIndex], child())
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any?.self, .init(codingPath: JSONCodingPathNode.codingPath(of: child()), debugDescription: "Unkeyed container is at end."))
        }
        if case .null = elements[currentIndex] {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try next(type) { value, path in
            if T.self == JSONValue.self { return value as! T }
            return try T(from: JSONTreeDecoder(value: value, path: path))
        }
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: String.Type) throws -> String { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type) { try scalar(type, $0, path: $1) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type) { try scalar(type, $0, path: $1) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next(type) { try JSONTreeDecoder(value: $0, path: $1).container(keyedBy: type) }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next([JSONValue].self) { try JSONTreeDecoder(value: $0, path: $1).unkeyedContainer() }
    }

    mutating func superDecoder() throws -> any Decoder {
        try next(JSONValue.self) { JSONTreeDecoder(value: $0, path: $1) }
    }
}
