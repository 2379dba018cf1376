internal import CMariaDB
import Foundation

/// Conversions between `Date` and libmariadb's `MYSQL_TIME`, always in UTC.
enum MariaDBTime {
    /// The instants a DATETIME holds: 1000-01-01 up to the end of 9999.
    static let representable: Range<TimeInterval> = -30_610_224_000..<253_402_300_800

    static func mysqlTime(from date: Date) -> MYSQL_TIME {
        // A time no DATETIME holds (or not a number) becomes the zero date, which the server refuses
        // with an error the caller sees, instead of trapping on the conversion below.
        guard representable.contains(date.timeIntervalSince1970) else {
            var zero = MYSQL_TIME()
            zero.time_type = MYSQL_TIMESTAMP_DATETIME
            return zero
        }
        var seconds = date.timeIntervalSince1970.rounded(.down)
        var micros = ((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded()
        if micros >= 1_000_000 {
            seconds += 1
            micros -= 1_000_000
        }
        var whole = time_t(seconds)
        var parts = tm()
        gmtime_r(&whole, &parts)
        var value = MYSQL_TIME()
        value.year = UInt32(parts.tm_year + 1900)
        value.month = UInt32(parts.tm_mon + 1)
        value.day = UInt32(parts.tm_mday)
        value.hour = UInt32(parts.tm_hour)
        value.minute = UInt32(parts.tm_min)
        value.second = UInt32(parts.tm_sec)
        value.second_part = UInt(micros)
        value.time_type = MYSQL_TIMESTAMP_DATETIME
        return value
    }

    /// The value of a DATE, DATETIME, TIMESTAMP or TIME column.
    static func value(from time: MYSQL_TIME) -> MariaDBValue {
        if time.time_type == MYSQL_TIMESTAMP_TIME {
            var text = String(format: "%@%02u:%02u:%02u", time.neg != 0 ? "-" : "", time.hour, time.minute, time.second)
            if time.second_part > 0 { text += String(format: ".%06lu", time.second_part) }
            return .string(text)
        }
        // A zero date ("0000-00-00") is no instant; strict mode keeps them out of
        // CloudChat's tables, and elsewhere NULL is the honest reading.
        guard time.year > 0, time.month > 0, time.day > 0 else { return .null }
        var parts = tm()
        parts.tm_year = Int32(time.year) - 1900
        parts.tm_mon = Int32(time.month) - 1
        parts.tm_mday = Int32(time.day)
        parts.tm_hour = Int32(time.hour)
        parts.tm_min = Int32(time.minute)
        parts.tm_sec = Int32(time.second)
        let seconds = timegm(&parts)
        return .date(Date(timeIntervalSince1970: Double(seconds) + Double(time.second_part) / 1_000_000))
    }

    /// Parses the text protocol's `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (UTC).
    static func value(fromText text: String, isTime: Bool) -> MariaDBValue {
        if isTime { return .string(text) }
        let digits = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == ":" || $0 == "." })
        guard digits.count >= 3 else { return .string(text) }
        var time = MYSQL_TIME()
        let numbers = digits.map { UInt32($0) ?? 0 }
        time.year = numbers[0]
        time.month = numbers[1]
        time.day = numbers[2]
        if numbers.count >= 6 {
            time.hour = numbers[3]
            time.minute = numbers[4]
            time.second = numbers[5]
        }
        if digits.count >= 7 {
            // Fractional digits: pad to microseconds.
            let fraction = String(digits[6]).padding(toLength: 6, withPad: "0", startingAt: 0)
            time.second_part = UInt(fraction.prefix(6)) ?? 0
        }
        time.time_type = MYSQL_TIMESTAMP_DATETIME
        return value(from: time)
    }
}
