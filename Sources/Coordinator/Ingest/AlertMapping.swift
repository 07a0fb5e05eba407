import Foundation
import Shared

/// Alert → host and alert → finding, from `[ingest]`.
///
/// Generic alert codes are not `FindingCode` cases: an alert with no mapping becomes a
/// finding with the code `alert.<alertname>` (GlitchTip: `alert.glitchtip`, uptime monitors
/// `alert.uptime`), whose `kind` is nil. Such a code gets the playbook's generic entry (no
/// automatic fix of its own) and P3 unless `[playbook."alert.<alertname>"]` says otherwise,
/// and its ticket's diagnosis takes every actionable finding on the host as the candidates;
/// a mapped alert (`[ingest.alertmanager.findings] NAME = "service.down"`) is a known code
/// and is answered by the agent's own finding of that code.
struct AlertMapping: Sendable {
    let config: IngestConfig

    static let genericPrefix = "alert."
    /// Labels that name the thing an alert is about, tried in order (the finding's subject).
    static let subjectLabels = ["service", "container", "mountpoint"]

    enum HostMatch: Equatable {
        case host(String)
        /// The candidates tried (none is an enrolled host).
        case unknown([String])
    }

    /// The enrolled host an alert is about: a label value (port stripped) equal to a host's
    /// name, or whose first DNS label is (`qfc-1.example.org:9100` → `qfc-1`); for GlitchTip
    /// also the project's configured host.
    func host(of alert: IngestedAlert, hosts: Set<String>) -> HostMatch {
        var candidates = alert.hostHints.map(Self.stripPort)
        if let project = alert.project, let mapped = config.glitchtipProjects[project] { candidates.append(mapped) }
        for candidate in candidates {
            if hosts.contains(candidate) { return .host(candidate) }
            let short = String(candidate.prefix { $0 != "." })
            if !short.isEmpty, short != candidate, hosts.contains(short) { return .host(short) }
        }
        return .unknown(candidates)
    }

    /// `host:9100` → `host`, `[::1]:9100` → `::1`, a bare IPv6 address stays as it is.
    static func stripPort(_ text: String) -> String {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<close]) }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.lastIndex(of: ":"), Int(text[text.index(after: colon)...]) != nil {
            return String(text[..<colon])
        }
        return text
    }

    /// The finding the alert stands for on `host`.
    func finding(of alert: IngestedAlert, host: String) -> Finding {
        let subject = Self.subjectLabels.lazy.compactMap { alert.labels[$0] }.first { !$0.isEmpty } ?? ""
        let code: String
        switch alert.source {
        case .alertmanager:
            code = config.findings[alert.name]?.rawValue ?? Self.genericCode(alert.name)
        case .glitchtip:
            code = alert.uptime ? "alert.uptime" : "alert.glitchtip"
        }
        let severity: Finding.Severity = switch (alert.labels["severity"] ?? "").lowercased() {
        case "critical", "error", "page": .critical
        case "info", "none": .info
        default: .warning
        }
        var evidence = alert.labels.filter { $0.key != "alertname" }
        evidence["alert_source"] = alert.source.rawValue
        evidence["alert_key"] = alert.key
        if let link = alert.link { evidence["alert_link"] = link }
        let subjectForGlitchTip = alert.source == .glitchtip ? (alert.uptime ? alert.name : alert.project ?? "") : subject
        return Finding(code: code, severity: severity, subject: subjectForGlitchTip,
                       message: "\(alert.source.display): \(alert.name) on \(host)" + (alert.summary == alert.name ? "" : ": \(alert.summary)"),
                       evidence: evidence)
    }

    static func genericCode(_ alertname: String) -> String {
        genericPrefix + String(alertname.prefix(100))
    }

    /// The findings of a diagnosis that explain an alert ticket's seeds: a known code by its
    /// own finding (any subject when the alert named none), a generic alert by every actionable
    /// finding on the host.
    static func explaining(_ seeds: [Finding], in diagnosis: [Finding]) -> [Finding] {
        var out: [Finding] = []
        for finding in diagnosis {
            let explains = seeds.contains { seed in
                guard seed.kind != nil else { return true }
                return seed.code == finding.code && (seed.subject.isEmpty || seed.subject == finding.subject)
            }
            if explains && !out.contains(where: { $0.code == finding.code && $0.subject == finding.subject }) { out.append(finding) }
        }
        return out
    }

    /// What a person should look at when no finding explains an alert.
    static func nextSteps(_ ticket: Ticket) -> [String] {
        let links = (ticket.alerts ?? []).compactMap { alert in alert.link.map { "\(alert.name): \($0)" } }
        return ["Look at what the alert measures; FieldMedic's probes see nothing wrong on \(ticket.host ?? "the host")."]
            + (links.isEmpty ? [] : ["Where the alert comes from: " + links.joined(separator: "; ") + "."])
            + ["If this alert stands for a fault FieldMedic knows, map it in coordinator.toml: `[ingest.alertmanager.findings] ALERTNAME = \"service.down\"`."]
    }
}
