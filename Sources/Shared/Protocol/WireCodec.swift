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

/// RFC 3339 timestamps with milliseconds, always UTC.
public enum WireDate {
    public static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)) {
            return date
        }
        return try? Date(text, strategy: .iso8601)
    }
}
