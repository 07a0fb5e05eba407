import Foundation

/// The wire format of the agent ↔ coordinator channel: JSON with a `version` field.
///
/// Every body carries `version`; a peer that sends a version this build does not speak gets
/// a clear error instead of a half-understood message.
public enum WireCodec {
    /// The protocol version this build speaks.
    public static let version = 1

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(WireDate.format(date))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = WireDate.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected an RFC 3339 time such as 2026-11-22T13:51:20.123Z, got \(text)")
            }
            return date
        }
        return decoder
    }

    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try encoder().encode(value)
    }

    /// Decodes a versioned body, rejecting unknown versions and malformed JSON with a
    /// `WireError` that says what was wrong.
    public static func decode<T: VersionedBody>(_ type: T.Type, from data: Data) throws(WireError) -> T {
        // One parse on the happy path; the envelope is read only to explain a failure.
        let decoded: T
        do {
            decoded = try decoder().decode(T.self, from: data)
        } catch {
            guard let envelope = try? JSONDecoder().decode(VersionEnvelope.self, from: data) else {
                throw WireError.malformed("body is not a JSON object with a numeric \"version\" field")
            }
            guard envelope.version == version else { throw WireError.unsupportedVersion(envelope.version) }
            if let error = error as? DecodingError { throw WireError.malformed(describe(error)) }
            throw WireError.malformed("\(error)")
        }
        guard decoded.version == version else { throw WireError.unsupportedVersion(decoded.version) }
        return decoded
    }

    /// Decodes a plain (unversioned) JSON value, used for stored copies of wire bodies.
    public static func decodeStored<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder().decode(T.self, from: data)
    }

    public static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            return keys.isEmpty ? "body" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \"\(key.stringValue)\" in \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return "invalid value at \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private struct VersionEnvelope: Decodable { let version: Int }
}

/// A body of the channel protocol: it says which protocol version it speaks.
public protocol VersionedBody: Codable, Sendable {
    var version: Int { get }
}

/// Why a body was refused.
public enum WireError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    case unsupportedVersion(Int)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed request: \(why)"
        case .unsupportedVersion(let v):
            return "unsupported protocol version \(v): this build speaks version \(WireCodec.version); upgrade the older side"
        }
    }
}

/// Calendar arithmetic the hand-written timestamp readers share.
public enum CivilDate {
    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// days_from_civil); the caller has checked that the date exists.
    public static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// RFC 3339 timestamps with milliseconds, always UTC.
public enum WireDate {
    public static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    public static func parse(_ text: String) -> Date? {
        if let date = parseExact(text) { return date }
        if let date = try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)) {
            return date
        }
        return try? Date(text, strategy: .iso8601)
    }

    /// The shape `format` writes (`2026-11-30T08:15:02.123Z`, or without the milliseconds),
    /// read by hand: the store holds thousands of these and a page reads them all, and
    /// Foundation's ISO 8601 parser costs microseconds each. Anything else (another zone, a
    /// day that does not exist, a leap second, a year before the Gregorian calendar) is nil
    /// here and left to Foundation's parser.
    static func parseExact(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            guard bytes.count == 20 || bytes.count == 24, bytes[bytes.count - 1] == UInt8(ascii: "Z"),
                  bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
                  bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
            func number(_ start: Int, _ count: Int) -> Int? {
                var value = 0
                for i in start..<(start + count) {
                    let digit = Int(bytes[i]) - 48
                    guard digit >= 0, digit <= 9 else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
            var millis = 0
            if bytes.count == 24 {
                guard bytes[19] == UInt8(ascii: "."), let fraction = number(20, 3) else { return nil }
                millis = fraction
            }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            // Before 1583 Foundation's calendar is the Julian one: left to it.
            guard year >= 1583, (1...12).contains(month), day >= 1, day <= monthDays[month - 1],
                  hour < 24, minute < 60, second < 60 else { return nil }
            let seconds = CivilDate.daysSince1970(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
            // Date counts from 2001; the same sum Foundation's parser makes, so both agree to the bit.
            return Date(timeIntervalSinceReferenceDate: Double(seconds - 978_307_200) + Double(millis) / 1000)
        }
    }
}
