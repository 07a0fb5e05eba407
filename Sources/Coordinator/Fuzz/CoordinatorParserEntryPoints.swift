import Foundation
import Shared

/// The coordinator's parsers the outside world feeds: alerts from Alertmanager and GlitchTip,
/// GitHub webhook deliveries (anyone can
/// POST to the webhook listener; the signature is checked first, but the parser must not
/// crash on what a signed sender or a replay holds), GitHub's API answers, and the issue and
/// comment texts people write. Replayed from Fuzz/corpus/TARGET by CoordinatorTests' corpus
/// test; fuzzed by scripts/fuzz.sh.
/// An ingest configuration with a mapping of each kind, for the fuzz targets.
private let fuzzMapping = AlertMapping(config: IngestConfig(
    listen: ListenAddress("127.0.0.1:8092")!, tls: false, alertmanagerTokenFile: nil, glitchtipTokenFile: nil,
    hostLabels: IngestConfig.defaultHostLabels, findings: ["QFieldCloudWorkerDown": .serviceDown], glitchtipProjects: ["qfieldcloud": "vps-1"]))

private func mapAlerts(_ alerts: [IngestedAlert]) {
    for alert in alerts {
        if case .host(let host) = fuzzMapping.host(of: alert, hosts: ["vps-1", "qfc-1"]) {
            _ = fuzzMapping.finding(of: alert, host: host)
        }
        _ = fuzzMapping.finding(of: alert, host: "vps-1")
    }
}

extension ParserEntryPoint {
    public static let coordinator: [ParserEntryPoint] = [
        // POST /v1/ingest/alertmanager: the body, then each alert through the host and finding
        // mapping (a mapped alertname and a generic one).
        ParserEntryPoint(name: "alertmanager") { data in
            guard let (alerts, _, _) = try? AlertmanagerMessage.parse(data, hostLabels: IngestConfig.defaultHostLabels) else { return }
            mapAlerts(alerts)
        },
        // POST /v1/ingest/glitchtip/<token>: the older and the current body, uptime alerts.
        ParserEntryPoint(name: "glitchtip") { data in
            guard let alerts = try? GlitchTipMessage.parse(data) else { return }
            mapAlerts(alerts)
        },
        ParserEntryPoint(name: "webhook") { data in
            for event in ["issues", "issue_comment", "ping", "push"] {
                if case .issue(_, let issue, _) = try? WebhookEvent.decode(event: event, body: data) {
                    _ = IntentClassifier.classify(title: issue.title, body: issue.body ?? "")
                    _ = IntentClassifier.mentionsAccountQuota(title: issue.title, body: issue.body ?? "")
                    _ = HostResolver.resolve(labels: issue.labels, body: issue.body ?? "", hosts: ["vps-1", "vps-2"])
                }
                if case .comment(_, _, let comment, _) = try? WebhookEvent.decode(event: event, body: data) {
                    _ = ChatCommand.parse(comment.body)
                }
            }
            _ = WebhookEvent.repositoryFullName(body: data)
            _ = try? JSONDecoder().decode([GitHubIssue].self, from: data)
            _ = try? JSONDecoder().decode([GitHubComment].self, from: data)
            let text = String(decoding: data, as: UTF8.self)
            _ = GitHubLink.parse(text)
            _ = GitHubDate.parse(text)
        },
    ]
}
