import Foundation
import Shared

/// GlitchTip's "general (Slack-compatible) webhook" body: `{text, attachments}` today, plus
/// `alias` and MS Teams `sections` in older versions (`apps/alerts/webhooks.py`); uptime
/// monitors send the same shape with "The monitored site has gone down." / "is back up.".
struct GlitchTipMessage: Decodable, Sendable {
    struct Field: Decodable, Sendable {
        var title: String?
        var value: String?
    }
    struct Attachment: Decodable, Sendable {
        var title: String?
        var title_link: String?
        var text: String?
        var color: String?
        var fields: [Field]?
    }
    struct Section: Decodable, Sendable {
        var activityTitle: String?
        var activitySubtitle: String?
    }

    var text: String?
    var alias: String?
    var attachments: [Attachment]?
    var sections: [Section]?

    static func parse(_ data: Data) throws(IngestInputError) -> [IngestedAlert] {
        let message: GlitchTipMessage
        do {
            message = try JSONDecoder().decode(GlitchTipMessage.self, from: data)
        } catch {
            throw IngestInputError("the body is not a GlitchTip webhook (JSON with text and attachments): \(AlertmanagerMessage.reason(error))")
        }
        guard let attachments = message.attachments, !attachments.isEmpty else {
            throw IngestInputError("the GlitchTip webhook has no attachments (one per issue or monitor)")
        }
        let headline = message.text ?? ""
        var out: [IngestedAlert] = []
        for (index, attachment) in attachments.enumerated() {
            guard let link = attachment.title_link, !link.isEmpty else {
                throw IngestInputError("attachments[\(index)] has no title_link (the issue's link identifies it)")
            }
            let title = attachment.title.flatMap { $0.isEmpty ? nil : $0 } ?? link
            var fields: [String: String] = [:]
            for field in attachment.fields ?? [] {
                if let key = field.title, let value = field.value { fields[key] = value }
            }
            let body = attachment.text ?? ""
            let uptime = headline.localizedCaseInsensitiveContains("uptime") || body.contains("monitored site")
            let status: IngestedAlert.Status = uptime && body.localizedCaseInsensitiveContains("back up") ? .resolved : .firing
            var annotations: [String: String] = [:]
            if !body.isEmpty { annotations[uptime ? "summary" : "culprit"] = body }
            // Only the older body's MS Teams section carried the short id ("[View Issue PROJ-5](link)").
            if let subtitle = message.sections?.first(where: { $0.activitySubtitle?.contains(link) == true })?.activitySubtitle,
               let open = subtitle.range(of: "[View Issue "), let close = subtitle[open.upperBound...].firstIndex(of: "]") {
                annotations["short_id"] = String(subtitle[open.upperBound..<close])
            }
            var labels: [String: String] = [:]
            for (field, label) in [("Project", "project"), ("Environment", "environment"), ("Server Name", "server_name"), ("Release", "release")] {
                if let value = fields[field] { labels[label] = value }
            }
            out.append(IngestedAlert(
                source: .glitchtip, key: link, name: title, status: status, labels: labels, annotations: annotations,
                // An uptime alert names only its monitor: the monitor's name may be the host's,
                // and `[ingest.glitchtip.projects]` may map it like a project.
                startsAt: nil, endsAt: nil, link: link, hostHints: ([fields["Server Name"]] + (uptime ? [title] : [])).compactMap { $0 }.filter { !$0.isEmpty },
                project: fields["Project"] ?? (uptime ? title : nil), uptime: uptime))
        }
        return out
    }
}
