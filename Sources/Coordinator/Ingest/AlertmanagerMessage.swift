import Crypto
import Foundation
import Shared

/// Alertmanager's webhook body (`notify/webhook/webhook.go` `Message`, version "4"). Unknown
/// keys (`notification_reason`, `routeLabels` of newer versions) are ignored.
struct AlertmanagerMessage: Decodable, Sendable {
    struct Alert: Decodable, Sendable {
        var status: String?
        var labels: [String: String]?
        var annotations: [String: String]?
        var startsAt: String?
        var endsAt: String?
        var generatorURL: String?
        var fingerprint: String?
    }

    var version: String?
    var status: String?
    var receiver: String?
    var groupKey: String?
    var truncatedAlerts: UInt64?
    var alerts: [Alert]?

    /// Every alert of the body, or why the body is refused (nothing of it is kept then).
    static func parse(_ data: Data, hostLabels: [String]) throws(IngestInputError) -> (alerts: [IngestedAlert], truncated: UInt64, groupKey: String) {
        let message: AlertmanagerMessage
        do {
            message = try JSONDecoder().decode(AlertmanagerMessage.self, from: data)
        } catch {
            throw IngestInputError("the body is not an Alertmanager webhook message (JSON): \(Self.reason(error))")
        }
        guard message.version == "4" else {
            throw IngestInputError("unsupported Alertmanager webhook version \(message.version.map { "\"\($0)\"" } ?? "(missing)"); FieldMedic reads version \"4\"")
        }
        guard let alerts = message.alerts, !alerts.isEmpty else { throw IngestInputError("the message has no alerts") }
        var out: [IngestedAlert] = []
        for (index, alert) in alerts.enumerated() {
            let labels = alert.labels ?? [:]
            guard let name = labels["alertname"], !name.isEmpty else { throw IngestInputError("alerts[\(index)] has no alertname label") }
            guard let statusText = alert.status, let status = IngestedAlert.Status(rawValue: statusText) else {
                throw IngestInputError("alerts[\(index)] (\(name)) has status \(alert.status.map { "\"\($0)\"" } ?? "(missing)"); expected \"firing\" or \"resolved\"")
            }
            if let text = alert.startsAt, !text.isEmpty, !text.hasPrefix("0001-01-01"), AlertTime.parse(text) == nil {
                throw IngestInputError("alerts[\(index)] (\(name)) has startsAt \"\(text.prefix(40))\", not an RFC 3339 time")
            }
            // Before Alertmanager 0.19 there was no fingerprint: the label set identifies the alert.
            let fingerprint = alert.fingerprint.flatMap { $0.isEmpty ? nil : $0 } ?? Self.fingerprint(labels)
            out.append(IngestedAlert(
                source: .alertmanager, key: fingerprint, name: name, status: status, labels: labels, annotations: alert.annotations ?? [:],
                startsAt: AlertTime.parse(alert.startsAt), endsAt: AlertTime.parse(alert.endsAt),
                link: alert.generatorURL.flatMap { $0.isEmpty ? nil : $0 },
                hostHints: hostLabels.compactMap { labels[$0] }.filter { !$0.isEmpty }))
        }
        return (out, message.truncatedAlerts ?? 0, message.groupKey ?? "")
    }

    static func fingerprint(_ labels: [String: String]) -> String {
        let canonical = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}")
        return SHA256.hash(data: Data(canonical.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return (path.isEmpty ? "" : "at \(path): ") + context.debugDescription
        case DecodingError.keyNotFound(let key, _):
            return "missing \(key.stringValue)"
        default:
            return "\(error)"
        }
    }
}
