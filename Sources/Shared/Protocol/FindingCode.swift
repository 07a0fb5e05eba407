import Foundation

/// Every finding code either side raises: the shared vocabulary of probe → finding →
/// playbook. A new code is one case here; the compiler then lists the switches that must
/// learn it (who raises it, the playbook entry). On the wire a finding's code stays its raw
/// string, so an agent newer than its coordinator still reports (an unknown code gets the
/// playbook's generic entry: escalate, never a fix). Ingested alerts with no mapping carry
/// `alert.<alertname>` (the coordinator's `AlertMapping`): open-ended, so never a case here.
public enum FindingCode: String, Codable, Sendable, CaseIterable {
    // The agent's probes.
    case serviceDown = "service.down"
    case serviceUnhealthy = "service.unhealthy"
    case serviceRestarting = "service.restarting"
    case serviceOOMKilled = "service.oom_killed"
    case serviceFailed = "service.failed"
    case dbUnreachable = "db.unreachable"
    case queueStuck = "queue.stuck"
    case queueBacklog = "queue.backlog"
    case queueQueryFailed = "queue.query_failed"
    case diskHigh = "disk.high"
    case diskInodesHigh = "disk.inodes_high"
    case memoryHigh = "memory.high"
    case appStatusError = "app.status_error"
    case tlsExpiring = "tls.expiring"
    case tlsInvalid = "tls.invalid"
    case storageUnreachable = "storage.unreachable"
    // The coordinator's own, from trends and silence.
    case diskFullPredicted = "disk.full_predicted"
    case queueBacklogGrowing = "queue.backlog_growing"
    case serviceCrashloop = "service.crashloop"
    case agentOffline = "agent.offline"
    // Proxy, configuration and certificate faults seen by the agent (issue 12).
    case proxyErrors = "proxy.errors"
    case configInvalid = "config.invalid"
    case composeInvalid = "compose.invalid"
    // The agent's probes, added for issue 12.
    case jobsFailing = "jobs.failing"
    case workerCannotStart = "worker.cannot_start"
    case processOOMKilled = "process.oom_killed"
    case migrationsPending = "migrations.pending"
    /// nginx serves another certificate (or a shorter chain) than the newest one on disk.
    case tlsMismatch = "tls.mismatch"

    public enum Origin: Sendable { case agent, coordinator }

    /// Who raises it: the coordinator's own findings never appear in an agent's diagnosis, so
    /// a ticket about one is not "cleared" because the agent does not report it.
    public var origin: Origin {
        switch self {
        case .serviceDown, .serviceUnhealthy, .serviceRestarting, .serviceOOMKilled, .serviceFailed, .dbUnreachable, .queueStuck,
             .queueBacklog, .queueQueryFailed, .diskHigh, .diskInodesHigh, .memoryHigh, .appStatusError, .tlsExpiring, .tlsInvalid,
             .storageUnreachable:
            .agent
        case .diskFullPredicted, .queueBacklogGrowing, .serviceCrashloop, .agentOffline:
            .coordinator
        case .proxyErrors, .configInvalid, .composeInvalid,
             .jobsFailing, .workerCannotStart, .processOOMKilled, .migrationsPending, .tlsMismatch:
            .agent
        }
    }
}

/// The actions in the agent's compiled-in catalog, by the name both sides use.
public enum ActionKind: String, Codable, Sendable, CaseIterable {
    case diagnose
    case collectLogs = "collect_logs"
    case restartService = "restart_service"
    case startService = "start_service"
    case recreateService = "recreate_service"
    case pruneDocker = "prune_docker"
    case failStuckJobs = "fail_stuck_jobs"
    /// `nginx -t`, then `nginx -s reload` in the proxy container; verified by the certificate
    /// it then serves.
    case reloadNginx = "reload_nginx"

    /// Whether it takes a `service` parameter.
    public var takesService: Bool {
        switch self {
        case .collectLogs, .restartService, .startService, .recreateService: true
        case .diagnose, .pruneDocker, .failStuckJobs, .reloadNginx: false
        }
    }

    /// Whether it may act on one named `container` of the service.
    public var takesContainer: Bool {
        switch self {
        case .restartService, .startService: true
        case .diagnose, .collectLogs, .recreateService, .pruneDocker, .failStuckJobs, .reloadNginx: false
        }
    }

    /// Whether it changes the host (read-only actions always run and count against nothing).
    public var changesHost: Bool {
        switch self {
        case .diagnose, .collectLogs: false
        case .restartService, .startService, .recreateService, .pruneDocker, .failStuckJobs, .reloadNginx: true
        }
    }
}

extension Finding {
    public init(_ code: FindingCode, severity: Severity, subject: String, message: String, evidence: [String: String] = [:]) {
        self.init(code: code.rawValue, severity: severity, subject: subject, message: message, evidence: evidence)
    }

    /// The code as a known case; nil for a code this build does not know.
    public var kind: FindingCode? { FindingCode(rawValue: code) }
}
