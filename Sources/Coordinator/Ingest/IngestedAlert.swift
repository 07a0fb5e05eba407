import Foundation
import Shared

/// One alert as received, whatever sent it: stored before the sender gets its answer, then
/// turned into (or added to) a ticket by `IngestService`.
struct IngestedAlert: Codable, Sendable, Equatable {
    enum Source: String, Codable, Sendable, CaseIterable {
        case alertmanager, glitchtip
        var display: String { self == .alertmanager ? "Alertmanager" : "GlitchTip" }
    }
    enum Status: String, Codable, Sendable { case firing, resolved }

    var source: Source
    /// Identifies the alert across deliveries: Alertmanager's fingerprint, GlitchTip's issue link.
    var key: String
    /// `alertname`, or the GlitchTip issue's title.
    var name: String
    var status: Status
    var labels: [String: String]
    var annotations: [String: String]
    /// When this occurrence started (Alertmanager); a new start is a new occurrence.
    var startsAt: Date?
    var endsAt: Date?
    /// Where to read more: the generator URL, the GlitchTip issue.
    var link: String?
    /// Host candidates in the order the mapping tries them (label values, Server Name…).
    var hostHints: [String]
    /// For GlitchTip: the project (mapped to a host by `[ingest.glitchtip.projects]`).
    var project: String?
    /// GlitchTip uptime monitors ("gone down" / "back up") rather than an error issue.
    var uptime: Bool = false

    var summary: String {
        annotations["summary"] ?? annotations["description"] ?? annotations["culprit"] ?? name
    }
}

/// Why a body was refused: said in the 400 answer, so the sender's log shows it.
struct IngestInputError: Error, CustomStringConvertible, Equatable {
    var description: String
    init(_ description: String) { self.description = description }
}

/// RFC 3339 times as Alertmanager writes them (fractional seconds or not; `0001-01-01T00:00:00Z` = unset).
///
/// Only the exact RFC 3339 shape reaches the date formatter, with at most three fractional
/// digits: Go prints nanoseconds, and ICU's parser crashes the process (SIGFPE) on a long run
/// of fractional digits — the alertmanager fuzz target found it (Fuzz/crashes/alertmanager).
enum AlertTime {
    static func parse(_ text: String?) -> Date? {
        guard let text, !text.hasPrefix("0001-01-01"), let normalized = normalize(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = normalized.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.date(from: normalized)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with the fraction cut to milliseconds, or nil
    /// for anything else.
    static func normalize(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 64 else { return nil }
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 } }
        guard digits(0..<4), bytes[4] == 0x2d, digits(5..<7), bytes[7] == 0x2d, digits(8..<10), bytes[10] == 0x54 || bytes[10] == 0x74,
              digits(11..<13), bytes[13] == 0x3a, digits(14..<16), bytes[16] == 0x3a, digits(17..<19) else { return nil }
        var index = 19
        var fraction = ""
        if bytes[index] == 0x2e {
            let start = index + 1
            index = start
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            guard index > start, index - start <= 9 else { return nil }
            fraction = "." + String(decoding: bytes[start..<min(index, start + 3)], as: UTF8.self)
        }
        let zone = Array(bytes[index...])
        let zoneOK = zone == [0x5a] || zone == [0x7a]
            || (zone.count == 6 && (zone[0] == 0x2b || zone[0] == 0x2d) && zone[3] == 0x3a
                && [1, 2, 4, 5].allSatisfy { zone[$0] >= 0x30 && zone[$0] <= 0x39 })
        guard zoneOK else { return nil }
        return String(decoding: bytes[0..<19], as: UTF8.self).uppercased() + fraction + String(decoding: zone, as: UTF8.self).uppercased()
    }
}
