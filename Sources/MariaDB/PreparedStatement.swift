internal import CMariaDB
import Foundation

/// A server-side prepared statement, owned by one connection on one thread.
final class PreparedStatement {
    let handle: UnsafeMutablePointer<MYSQL_STMT>
    let parameterCount: Int
    private var columns: MariaDBColumns?

    /// Prepares `sql` on a connection.
    init(connection: UnsafeMutablePointer<MYSQL>, sql: String) throws(MariaDBError) {
        guard let statement = mysql_stmt_init(connection) else {
            throw MariaDBError.from(connection: connection, operation: "prepare")
        }
        let status = sql.withCCharsAndLength { mysql_stmt_prepare(statement, $0, $1) }
        if status != 0 {
            let error = MariaDBError.from(statement: statement, operation: "prepare")
            mysql_stmt_close(statement)
            throw error
        }
        // Let store_result compute each column's longest value, so result
        // buffers are sized exactly and nothing is truncated.
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
        self.handle = statement
        self.parameterCount = Int(mysql_stmt_param_count(statement))
    }

    deinit {
        mysql_stmt_close(handle)
    }

    /// Executes with `binds` and reads every row.
    func execute(binds: [MariaDBValue]) throws(MariaDBError) -> MariaDBResult {
        guard binds.count == parameterCount else {
            throw .misuse("execute", "the statement has \(parameterCount) placeholders but \(binds.count) values were bound")
        }
        try bindAndExecute(binds)
        let fieldCount = Int(mysql_stmt_field_count(handle))
        if fieldCount == 0 {
            return MariaDBResult(rows: [], affectedRows: mysql_stmt_affected_rows(handle), lastInsertID: mysql_stmt_insert_id(handle))
        }
        defer { mysql_stmt_free_result(handle) }
        if mysql_stmt_store_result(handle) != 0 {
            throw MariaDBError.from(statement: handle, operation: "fetch")
        }
        let rows = try fetchRows(fieldCount: fieldCount)
        return MariaDBResult(rows: rows, affectedRows: UInt64(rows.count), lastInsertID: 0)
    }

    private func bindAndExecute(_ binds: [MariaDBValue]) throws(MariaDBError) {
        guard !binds.isEmpty else {
            if mysql_stmt_execute(handle) != 0 { throw MariaDBError.from(statement: handle, operation: "execute") }
            return
        }
        let storage = ParameterStorage(binds)
        defer { storage.deallocate() }
        if mysql_stmt_bind_param(handle, storage.binds) != 0 {
            throw MariaDBError.from(statement: handle, operation: "bind")
        }
        if mysql_stmt_execute(handle) != 0 {
            throw MariaDBError.from(statement: handle, operation: "execute")
        }
    }

    private func fetchRows(fieldCount: Int) throws(MariaDBError) -> [MariaDBRow] {
        guard let fields = handle.pointee.fields else {
            throw .misuse("fetch", "the server sent no column metadata")
        }
        let columns = currentColumns(fields: fields, count: fieldCount)
        let buffers = ResultBuffers(fields: fields, count: fieldCount)
        defer { buffers.deallocate() }
        if mysql_stmt_bind_result(handle, buffers.binds) != 0 {
            throw MariaDBError.from(statement: handle, operation: "bind result")
        }
        var rows: [MariaDBRow] = []
        rows.reserveCapacity(Int(mysql_stmt_num_rows(handle)))
        while true {
            let status = mysql_stmt_fetch(handle)
            if status == MYSQL_NO_DATA { break }
            if status == 1 { throw MariaDBError.from(statement: handle, operation: "fetch") }
            if status == MYSQL_DATA_TRUNCATED { try buffers.refetchTruncated(statement: handle) }
            rows.append(MariaDBRow(columns: columns, values: buffers.values()))
        }
        return rows
    }

    private func currentColumns(fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) -> MariaDBColumns {
        if let columns, columns.names.count == count {
            var same = true
            for index in 0..<count where String(cString: fields[index].name) != columns.names[index] {
                same = false
                break
            }
            if same { return columns }
        }
        let fresh = MariaDBColumns(names: (0..<count).map { String(cString: fields[$0].name) })
        columns = fresh
        return fresh
    }
}

/// Buffers holding parameter values for one execution.
private final class ParameterStorage {
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private var allocations: [UnsafeMutableRawPointer] = []
    private let count: Int

    init(_ values: [MariaDBValue]) {
        count = values.count
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        for (index, value) in values.enumerated() {
            switch value {
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case .int(let v):
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].buffer = store(v)
            case .uint(let v):
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].is_unsigned = 1
                binds[index].buffer = store(v)
            case .double(let v):
                binds[index].buffer_type = MYSQL_TYPE_DOUBLE
                binds[index].buffer = store(v)
            case .string(let s):
                binds[index].buffer_type = MYSQL_TYPE_STRING
                setBytes(Array(s.utf8), at: index)
            case .bytes(let b):
                binds[index].buffer_type = MYSQL_TYPE_BLOB
                setBytes(b, at: index)
            case .date(let d):
                binds[index].buffer_type = MYSQL_TYPE_DATETIME
                binds[index].buffer = store(MariaDBTime.mysqlTime(from: d))
            }
        }
    }

    private func store<T>(_ value: T) -> UnsafeMutableRawPointer {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
        pointer.storeBytes(of: value, as: T.self)
        allocations.append(pointer)
        return pointer
    }

    private func setBytes(_ bytes: [UInt8], at index: Int) {
        // One spare byte so an empty value still has a valid buffer.
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: bytes.count) }
        }
        allocations.append(pointer)
        binds[index].buffer = pointer
        binds[index].buffer_length = UInt(bytes.count)
    }

    func deallocate() {
        for pointer in allocations { pointer.deallocate() }
        binds.deinitialize(count: count)
        binds.deallocate()
    }
}

/// Output buffers for one result set, sized from the columns' longest values.
private final class ResultBuffers {
    private enum Shape { case signed, unsigned, double, time, text, binary, null }

    let binds: UnsafeMutablePointer<MYSQL_BIND>
    private let count: Int
    private var shapes: [Shape] = []
    private let lengths: UnsafeMutablePointer<UInt>
    private let nulls: UnsafeMutablePointer<my_bool>
    private let errors: UnsafeMutablePointer<my_bool>
    private var buffers: [UnsafeMutableRawPointer]
    private var capacities: [Int]

    init(fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) {
        self.count = count
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        nulls = .allocate(capacity: count)
        nulls.initialize(repeating: 0, count: count)
        errors = .allocate(capacity: count)
        errors.initialize(repeating: 0, count: count)
        buffers = []
        capacities = []
        for index in 0..<count {
            let field = fields[index]
            let shape: Shape
            var capacity = 8
            switch field.type {
            case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_INT24, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
                shape = (field.flags & UInt32(UNSIGNED_FLAG)) != 0 ? .unsigned : .signed
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].is_unsigned = shape == .unsigned ? 1 : 0
            case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
                shape = .double
                binds[index].buffer_type = MYSQL_TYPE_DOUBLE
            case MYSQL_TYPE_DATE, MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_TIME, MYSQL_TYPE_NEWDATE:
                shape = .time
                capacity = MemoryLayout<MYSQL_TIME>.stride
                binds[index].buffer_type = field.type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : field.type
            case MYSQL_TYPE_NULL:
                shape = .null
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
                // Exact numbers come as text (their metadata says "binary" charset).
                shape = .text
                capacity = max(Int(field.max_length), 1)
                binds[index].buffer_type = MYSQL_TYPE_STRING
            default:
                // Character set 63 is "binary": BLOB, BINARY, VARBINARY and BIT.
                shape = field.charsetnr == 63 || field.type == MYSQL_TYPE_BIT ? .binary : .text
                capacity = max(Int(field.max_length), 1)
                binds[index].buffer_type = shape == .binary ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            shapes.append(shape)
            buffers.append(buffer)
            capacities.append(capacity)
            binds[index].buffer = buffer
            binds[index].buffer_length = UInt(capacity)
            binds[index].length = lengths + index
            binds[index].is_null = nulls + index
            binds[index].error = errors + index
        }
    }

    /// Fetches again, into bigger buffers, the columns that did not fit.
    func refetchTruncated(statement: UnsafeMutablePointer<MYSQL_STMT>) throws(MariaDBError) {
        for index in 0..<count where errors[index] != 0 && Int(lengths[index]) > capacities[index] {
            let needed = Int(lengths[index])
            buffers[index].deallocate()
            buffers[index] = .allocate(byteCount: needed, alignment: 16)
            capacities[index] = needed
            binds[index].buffer = buffers[index]
            binds[index].buffer_length = UInt(needed)
            if mysql_stmt_fetch_column(statement, binds + index, UInt32(index), 0) != 0 {
                throw MariaDBError.from(statement: statement, operation: "fetch")
            }
            errors[index] = 0
        }
    }

    /// The current row's values.
    func values() -> [MariaDBValue] {
        var row: [MariaDBValue] = []
        row.reserveCapacity(count)
        for index in 0..<count {
            if nulls[index] != 0 {
                row.append(.null)
                continue
            }
            let buffer = buffers[index]
            switch shapes[index] {
            case .null: row.append(.null)
            case .signed: row.append(.int(buffer.load(as: Int64.self)))
            case .unsigned:
                let value = buffer.load(as: UInt64.self)
                row.append(value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value))
            case .double: row.append(.double(buffer.load(as: Double.self)))
            case .time: row.append(MariaDBTime.value(from: buffer.load(as: MYSQL_TIME.self)))
            case .text, .binary:
                let length = min(Int(lengths[index]), capacities[index])
                let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
                if shapes[index] == .binary {
                    row.append(.bytes([UInt8](bytes)))
                } else {
                    row.append(.string(String(decoding: bytes, as: UTF8.self)))
                }
            }
        }
        return row
    }

    func deallocate() {
        for buffer in buffers { buffer.deallocate() }
        binds.deinitialize(count: count)
        binds.deallocate()
        lengths.deallocate()
        nulls.deallocate()
        errors.deallocate()
    }
}

extension String {
    /// Lends the UTF-8 bytes and their length to a C function that takes both
    /// (the string need not be NUL-terminated, and may contain NUL).
    func withCCharsAndLength<Result>(_ body: (UnsafePointer<CChar>, UInt) -> Result) -> Result {
        var text = self
        return text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                // An empty string still gets a valid pointer.
                chars.baseAddress.map { body($0, UInt(chars.count)) } ?? body("", 0)
            }
        }
    }
}
