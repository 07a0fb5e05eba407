import Foundation
import Shared

/// How urgent a ticket is, from what is affected and how: P0 users cannot work (the app,
/// nginx, the database or the storage down), P1 work is degraded (the worker down, jobs
/// stuck), P2 trouble ahead (a disk filling, memory), P3 one error, a question. Shown in
/// the report, as a `priority:P1` label on GitHub and in `tickets list`; overridable per
/// finding code with `[playbook."<code>"] priority = "P1"`.
enum TicketPriority: String, Codable, Sendable, CaseIterable, Comparable {
    case p0 = "P0", p1 = "P1", p2 = "P2", p3 = "P3"

    static func < (a: TicketPriority, b: TicketPriority) -> Bool { a.rawValue < b.rawValue }

    var label: String { "priority:\(rawValue)" }

    /// Services without which nobody can sync or log in.
    static let userFacingServices: Set<String> = ["app", "nginx", "db", "minio", "rustfs", "storage"]

    /// The built-in priority of one finding: a switch, so a new code must choose one.
    static func of(_ finding: Finding) -> TicketPriority {
        guard let code = finding.kind else { return .p3 }
        let userFacing = userFacingServices.contains(finding.subject)
        return switch code {
        case .serviceDown, .serviceUnhealthy, .serviceRestarting, .serviceCrashloop: userFacing ? .p0 : .p1
        case .serviceOOMKilled: userFacing ? .p0 : .p1
        case .dbUnreachable, .appStatusError, .storageUnreachable, .tlsInvalid: .p0
        case .queueStuck, .queueBacklogGrowing, .agentOffline, .queueQueryFailed: .p1
        case .queueBacklog, .diskHigh, .diskInodesHigh, .diskFullPredicted, .memoryHigh, .tlsExpiring: .p2
        case .serviceFailed: .p2
        // Users' own requests fail at the proxy: they cannot sync. Except: clients that gave
        // up (499) are phones on bad networks as often as a slow server, so 499s alone do not
        // page; Django's CSRF 403s stop the web login, while QField (token auth) still syncs.
        case .proxyErrors: proxyErrors(status: finding.subject.split(separator: ":").last.map(String.init) ?? "")
        case .configInvalid, .composeInvalid: .p2
        // Jobs fail or cannot start: packages and deltas wait, sync itself works.
        case .jobsFailing, .workerCannotStart, .processOOMKilled: .p1
        case .migrationsPending: .p2
        // A chain clients cannot verify stops Android phones at once; an old certificate
        // still served works until it expires (then tls.invalid pages on its own).
        case .tlsMismatch: finding.subject.hasSuffix(":chain") || finding.severity == .critical ? .p0 : .p1
        }
    }
}

extension TicketPriority {
    /// proxy.errors by its status code (the subject's `nginx:<status>`).
    static func proxyErrors(status: String) -> TicketPriority {
        switch status {
        case "499": .p2
        case "403": .p1
        default: .p0
        }
    }
}

extension Ticket {
    /// The most urgent of its findings (the playbook's overrides first); a report with no
    /// finding is P3 until one explains it.
    func priority(_ playbook: Playbook) -> TicketPriority {
        TicketPriority.of(targets: targets, seeds: seeds, playbook)
    }
}

extension TicketPriority {
    /// A ticket's priority from its targets (or, before a diagnosis, the findings it was
    /// opened with): what `Ticket.priority` and the dashboard's ticket lines both use.
    static func of(targets: [Finding], seeds: [Finding]?, _ playbook: Playbook) -> TicketPriority {
        let findings = targets.isEmpty ? (seeds ?? []) : targets
        return findings.map { playbook.priority(of: $0) }.min() ?? .p3
    }
}
