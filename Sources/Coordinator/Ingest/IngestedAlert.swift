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
enum AlertTime {
    static func parse(_ text: String?) -> Date? {
        guard let text, !text.isEmpty, !text.hasPrefix("0001-01-01") else { return nil }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        // Go prints nanoseconds (9 digits), which the formatter refuses: keep milliseconds.
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let digits = text[text.index(after: dot)..<zone].prefix(3)
            return fractional.date(from: String(text[..<dot]) + "." + digits + String(text[zone...]))
        }
        return nil
    }
}
