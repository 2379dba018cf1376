import Foundation

/// Writes a zip archive whose entries are stored (not compressed), as `unzip`,
/// Python's `zipfile` and every desktop archiver read it. Files are streamed in
/// chunks, never held whole in memory. Archives stay under 4 GiB (no ZIP64).
public enum ZipWriter {
    /// One entry: its name in the archive and where its bytes come from.
    public struct Entry: Sendable {
        public enum Source: Sendable {
            case data(Data)
            case file(String)
        }

        public var name: String
        public var source: Source

        public init(name: String, source: Source) {
            self.name = name
            self.source = source
        }
    }

    /// Why an archive could not be written.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    static let chunkSize = 1 << 20

    /// Writes the entries to `path`, replacing a file there; the archive is written beside it and renamed into place.
    public static func write(_ entries: [Entry], to path: String, modified: Date = Date()) throws {
        let partial = path + ".partial"
        FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let out = FileHandle(forWritingAtPath: partial) else { throw Failure(description: "cannot write \(path)") }
        do {
            let (time, date) = dosTime(modified)
            var central = Data()
            var offset: UInt64 = 0
            for entry in entries {
                let name = Data(entry.name.utf8)
                let (crc, size) = try checksum(entry.source)
                guard offset + UInt64(size) + 1024 < UInt64(UInt32.max) else { throw Failure(description: "the export is larger than 4 GiB") }
                var header = Data()
                header.append(le32: 0x0403_4b50)
                header.append(le16: 20)  // version needed
                header.append(le16: 0x0800)  // UTF-8 names
                header.append(le16: 0)  // stored
                header.append(le16: time)
                header.append(le16: date)
                header.append(le32: crc)
                header.append(le32: UInt32(size))
                header.append(le32: UInt32(size))
                header.append(le16: UInt16(name.count))
                header.append(le16: 0)
                header.append(name)
                try out.write(contentsOf: header)
                try copy(entry.source, to: out)

                central.append(le32: 0x0201_4b50)
                central.append(le16: 0x031e)  // made by: Unix, 3.0
                central.append(le16: 20)
                central.append(le16: 0x0800)
                central.append(le16: 0)
                central.append(le16: time)
                central.append(le16: date)
                central.append(le32: crc)
                central.append(le32: UInt32(size))
                central.append(le32: UInt32(size))
                central.append(le16: UInt16(name.count))
                central.append(le16: 0)  // extra
                central.append(le16: 0)  // comment
                central.append(le16: 0)  // disk
                central.append(le16: 0)  // internal attributes
                central.append(le32: UInt32(0o100600) << 16)  // external: a regular file, rw-------
                central.append(le32: UInt32(offset))
                central.append(name)
                offset += UInt64(header.count) + UInt64(size)
            }
            guard entries.count < Int(UInt16.max) else { throw Failure(description: "too many files for one archive") }
            var end = Data()
            end.append(le32: 0x0605_4b50)
            end.append(le16: 0)
            end.append(le16: 0)
            end.append(le16: UInt16(entries.count))
            end.append(le16: UInt16(entries.count))
            end.append(le32: UInt32(central.count))
            end.append(le32: UInt32(offset))
            end.append(le16: 0)
            try out.write(contentsOf: central)
            try out.write(contentsOf: end)
            try out.synchronize()
            try out.close()
            _ = try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.moveItem(atPath: partial, toPath: path)
        } catch {
            try? out.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    private static func checksum(_ source: Entry.Source) throws -> (UInt32, Int) {
        switch source {
        case .data(let data):
            return (CRC32.update(0, data), data.count)
        case .file(let path):
            guard let input = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot read \(path)") }
            defer { try? input.close() }
            var crc: UInt32 = 0
            var size = 0
            while let chunk = try input.read(upToCount: chunkSize), !chunk.isEmpty {
                crc = CRC32.update(crc, chunk)
                size += chunk.count
            }
            return (crc, size)
        }
    }

    private static func copy(_ source: Entry.Source, to out: FileHandle) throws {
        switch source {
        case .data(let data):
            try out.write(contentsOf: data)
        case .file(let path):
            guard let input = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot read \(path)") }
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: chunkSize), !chunk.isEmpty { try out.write(contentsOf: chunk) }
        }
    }

    /// MS-DOS time and date fields, in UTC.
    private static func dosTime(_ date: Date) -> (UInt16, UInt16) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let year = max(0, (parts.year ?? 1980) - 1980)
        let time = UInt16((parts.hour ?? 0) << 11 | (parts.minute ?? 0) << 5 | (parts.second ?? 0) / 2)
        let day = UInt16(year << 9 | (parts.month ?? 1) << 5 | (parts.day ?? 1))
        return (time, day)
    }
}

/// CRC-32 (IEEE 802.3), as zip archives carry it.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func update(_ crc: UInt32, _ data: Data) -> UInt32 {
        var value = ~crc
        data.withUnsafeBytes { bytes in
            for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
        }
        return ~value
    }
}

extension Data {
    fileprivate mutating func append(le16 value: UInt16) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func append(le32 value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
