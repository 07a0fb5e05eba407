import Foundation

/// What went wrong with ingest itself: each is logged, audited and handed to
/// `IngestService.reportFailure`, the one place to tell people about it.
enum IngestFailure: Sendable, Equatable, CustomStringConvertible {
    /// A body refused with 400 (the sender's configuration or version is wrong).
    case badInput(source: IngestedAlert.Source, reason: String)
    /// The store refused a delivery: the sender got a 5xx and retries (Alertmanager) or not (GlitchTip).
    case storeFailed(source: IngestedAlert.Source, reason: String)
    /// Alertmanager dropped alerts of a group (`max_alerts`): FieldMedic never saw them.
    case truncated(group: String, count: UInt64)
    /// No enrolled host matches the alert: stored, no ticket.
    case unknownHost(alert: String, source: IngestedAlert.Source, candidates: [String])
    /// Turning a stored alert into a ticket change failed repeatedly: it is kept, marked failed.
    case processingFailed(alert: String, row: Int64, reason: String)

    var description: String {
        switch self {
        case .badInput(let source, let reason):
            "\(source.display) delivery refused (400): \(reason)"
        case .storeFailed(let source, let reason):
            "\(source.display) delivery could not be stored: \(reason)" + (source == .glitchtip ? " (GlitchTip never retries: this alert is lost)" : " (Alertmanager retries it)")
        case .truncated(let group, let count):
            "Alertmanager left out \(count) alert(s) of group \(group) (max_alerts): FieldMedic never saw them; raise max_alerts on the webhook receiver"
        case .unknownHost(let alert, let source, let candidates):
            "\(source.display) alert \(alert) names no enrolled host (tried: \(candidates.isEmpty ? "no host label" : candidates.joined(separator: ", "))); "
                + "it is stored without a ticket: enroll the host or set [ingest] host_labels / [ingest.glitchtip.projects]"
        case .processingFailed(let alert, let row, let reason):
            "stored alert \(row) (\(alert)) could not be turned into a ticket: \(reason)"
        }
    }

    /// Who sent what failed, as a notification names it.
    var sourceName: String {
        switch self {
        case .badInput(let source, _), .storeFailed(let source, _), .unknownHost(_, let source, _): source.display
        case .truncated: IngestedAlert.Source.alertmanager.display
        case .processingFailed: "an alert source"
        }
    }

    var kind: String {
        switch self {
        case .badInput: "bad_input"
        case .storeFailed: "store_failed"
        case .truncated: "truncated"
        case .unknownHost: "unknown_host"
        case .processingFailed: "processing_failed"
        }
    }
}
