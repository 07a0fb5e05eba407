import Foundation
import Shared

/// What one send carries: one event, or a burst of them grouped.
struct NotificationMessage: Sendable, Equatable {
    var events: [NotificationEvent]
    /// The outbox rows this message delivers (for the webhook's delivery id).
    var ids: [Int64] = []

    var subject: String {
        guard events.count > 1 else { return events.first?.title ?? "FieldMedic" }
        return "FieldMedic: \(events.count) events (" + Self.counts(events) + ")"
    }

    static func counts(_ events: [NotificationEvent]) -> String {
        var order: [NotificationEvent.Kind] = []
        var counts: [NotificationEvent.Kind: Int] = [:]
        for event in events {
            if counts[event.kind] == nil { order.append(event.kind) }
            counts[event.kind, default: 0] += 1
        }
        return order.map { "\(counts[$0]!) \($0.rawValue.replacingOccurrences(of: "_", with: " "))" }.joined(separator: ", ")
    }

    /// A link to the whole story, for a message that must be cut.
    var fullReportLink: String? { events.compactMap(\.link).first }

    /// Plain text: subject, then each event's title and lines.
    var plainText: String {
        var parts: [String] = []
        if events.count > 1 { parts.append(subject) }
        for event in events {
            parts.append(([event.title] + event.lines + (event.link.map { ["Details: \($0)"] } ?? [])).joined(separator: "\n"))
        }
        return parts.joined(separator: "\n\n")
    }
}

/// Telegram's HTML parse mode: three characters to escape, a length limit in characters.
enum TelegramText {
    static let limit = 4096

    /// `&`, `<` and `>` are all the HTML mode needs escaped (core.telegram.org/bots/api#html-style).
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// The message as Telegram HTML: titles bold, everything else escaped.
    static func render(_ message: NotificationMessage) -> String {
        var parts: [String] = []
        if message.events.count > 1 { parts.append("<b>" + escape(message.subject) + "</b>") }
        for event in message.events {
            var block = ["<b>" + escape(event.title) + "</b>"] + event.lines.map(escape)
            if let link = event.link { block.append("<a href=\"" + escape(link).replacingOccurrences(of: "\"", with: "&quot;") + "\">Details</a>") }
            parts.append(block.joined(separator: "\n"))
        }
        return cut(parts.joined(separator: "\n\n"), link: message.fullReportLink, ticket: message.events.compactMap(\.ticketID).first)
    }

    /// At most `limit` characters (counted as Telegram counts them, in UTF-16 code units,
    /// which is never fewer than Swift's characters): cut at a line end, never inside a tag or
    /// an entity, with a pointer to the whole report.
    static func cut(_ html: String, link: String?, ticket: Int64? = nil, limit: Int = limit) -> String {
        guard html.utf16.count > limit else { return html }
        let tail = "\n\n… (cut: " + (link.map { "<a href=\"" + escape($0).replacingOccurrences(of: "\"", with: "&quot;") + "\">full report</a>" }
            ?? "full report: fieldmedic-coordinator tickets show \(ticket.map(String.init) ?? "ID")") + ")"
        let budget = limit - tail.utf16.count
        var kept = ""
        var used = 0
        for line in html.split(separator: "\n", omittingEmptySubsequences: false) {
            let cost = line.utf16.count + 1
            if used + cost > budget { break }
            kept += line + "\n"
            used += cost
        }
        if kept.isEmpty {
            // One enormous line: keep its escaped text only (no tags, no half entity).
            var plain = ""
            for ch in html where ch != "\n" {
                if plain.utf16.count + ch.utf16.count > budget - 8 { break }
                plain.append(ch)
            }
            if let amp = plain.lastIndex(of: "&"), !plain[amp...].contains(";") { plain = String(plain[..<amp]) }
            if let lt = plain.lastIndex(of: "<"), !plain[lt...].contains(">") { plain = String(plain[..<lt]) }
            kept = plain
        }
        return kept.trimmingCharacters(in: .newlines) + tail
    }
}

/// Slack mrkdwn: the same three characters, as the same entities.
enum SlackText {
    static func escape(_ text: String) -> String { TelegramText.escape(text) }

    static func render(_ message: NotificationMessage) -> String {
        var parts: [String] = []
        if message.events.count > 1 { parts.append("*" + escape(message.subject) + "*") }
        for event in message.events {
            var block = ["*" + escape(event.title) + "*"] + event.lines.map(escape)
            if let link = event.link { block.append("<" + link + "|Details>") }
            parts.append(block.joined(separator: "\n"))
        }
        // Slack truncates past 40,000 characters; stay well inside.
        let text = parts.joined(separator: "\n\n")
        return text.count > 39_000 ? String(text.prefix(39_000)) + "\n… (cut)" : text
    }
}
