import Foundation
import Shared

/// Finding code → ordered fixes and a policy. Built-in defaults follow DESIGN §5; each code
/// can be overridden in `coordinator.toml` under `[playbook."<code>"]`.
struct Playbook: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        /// Each step's action; `service` parameters come from the finding's subject.
        var steps: [Template]
        /// nil: each step keeps its own default policy.
        var policy: PlaybookPolicy?
        /// After a verified fix, still hand it to a human (e.g. an OOM kill: the restart
        /// helps now, the memory limit needs a person).
        var escalateAfterFix: Bool = false
        var manual: [String]
    }

    struct Template: Sendable, Equatable {
        var action: String
        /// A fixed subject; nil means the finding's subject.
        var service: String?
        var defaultPolicy: PlaybookPolicy
    }

    /// The actions the agent's catalog knows, and whether they take a `service`.
    static let actions: [String: Bool] = [
        "restart_service": true, "start_service": true, "recreate_service": true, "prune_docker": false, "fail_stuck_jobs": false,
    ]
    static let defaultPolicies: [String: PlaybookPolicy] = [
        "restart_service": .auto, "start_service": .auto, "recreate_service": .approve, "prune_docker": .auto, "fail_stuck_jobs": .approve,
    ]

    var entries: [String: Entry]

    static let builtIn: Playbook = {
        func t(_ action: String, _ service: String? = nil) -> Template {
            Template(action: action, service: service, defaultPolicy: defaultPolicies[action] ?? .approve)
        }
        let manualService = ["Read the service's logs: `docker compose logs --tail 200 SERVICE`.",
                             "Check the host's free memory and disk (`fieldmedic-coordinator hosts show HOST`)."]
        return Playbook(entries: [
            // The least disruptive fix first, per container: start the exited replica (the
            // running ones are left alone); recreating the service needs an approver.
            "service.down": Entry(steps: [t("start_service"), t("recreate_service")], policy: nil, manual: manualService),
            "service.unhealthy": Entry(steps: [t("restart_service"), t("recreate_service")], policy: nil, manual: manualService),
            // A one-shot (createbuckets, mkcert…) that failed is not re-run blindly.
            "service.failed": Entry(steps: [], policy: nil, manual: [
                "A one-shot service exited with an error: read its logs (`docker compose logs SERVICE`), fix the cause, then run `docker compose up SERVICE`.",
            ]),
            "service.restarting": Entry(steps: [], policy: nil, manual: [
                "The service is crash-looping: restarting it again will not help. Read its logs: `docker compose logs --tail 200 SERVICE`.",
            ]),
            "service.oom_killed": Entry(steps: [t("start_service")], policy: nil, escalateAfterFix: true, manual: [
                "The kernel killed the service for memory. Raise its memory limit or the host's memory, or find what grew.",
            ]),
            "db.unreachable": Entry(steps: [t("restart_service", "db")], policy: nil, manual: [
                "Check the `db` container's logs and the disk it writes to.",
            ]),
            "disk.high": Entry(steps: [t("prune_docker")], policy: nil, manual: [
                "Find what fills the disk: `du -xh --max-depth 2 MOUNT | sort -h | tail`; QFieldCloud's storage and logs are the usual suspects.",
            ]),
            "disk.inodes_high": Entry(steps: [t("prune_docker")], policy: nil, manual: [
                "Find the directory with the most files: `find MOUNT -xdev -type f | cut -d/ -f2-4 | sort | uniq -c | sort -n | tail`.",
            ]),
            "queue.stuck": Entry(steps: [t("fail_stuck_jobs"), t("restart_service", "worker_wrapper")], policy: nil, manual: [
                "Look at the worker's logs: `docker compose logs --tail 200 worker_wrapper`.",
            ]),
            "queue.backlog": Entry(steps: [], policy: nil, manual: [
                "Jobs queue faster than the worker runs them: check the worker's logs and consider more worker replicas.",
            ]),
            "memory.high": Entry(steps: [], policy: nil, manual: [
                "Find the biggest consumers: `docker stats --no-stream`; consider more memory or lower limits.",
            ]),
            "tls.expiring": Entry(steps: [], policy: nil, manual: [
                "Renew the certificate: check the `certbot` service's logs and that port 80 reaches nginx.",
            ]),
            "tls.invalid": Entry(steps: [], policy: nil, manual: ["Check the certificate nginx serves and its chain."]),
            "app.status_error": Entry(steps: [], policy: nil, manual: [
                "Open `/api/v1/status/` on the server and read which part reports an error (database, storage).",
                "Storage errors: check the object storage credentials and that the bucket exists.",
            ]),
            "disk.full_predicted": Entry(steps: [t("prune_docker")], policy: nil, manual: [
                "The disk fills steadily: find what grows (`du -xh --max-depth 2 MOUNT | sort -h | tail`) before it is full.",
            ]),
            // The workers run (nothing is down): restarting them would cut their jobs short,
            // so a person approves it.
            "queue.backlog_growing": Entry(steps: [t("restart_service", "worker_wrapper")], policy: .approve, manual: [
                "Jobs pile up and none finish: read the worker's logs (`docker compose logs --tail 200 worker_wrapper`).",
            ]),
            "service.crashloop": Entry(steps: [], policy: nil, manual: [
                "The service keeps restarting (history in the evidence): read its logs, `docker compose logs --tail 200 SERVICE`; restarting it again will not help.",
            ]),
            "agent.offline": Entry(steps: [], policy: nil, manual: [
                "Check the host is up, then `systemctl status fieldmedic-agent` and `journalctl -u fieldmedic-agent` on it, and that it reaches the coordinator's port.",
            ]),
            "queue.query_failed": Entry(steps: [], policy: nil, manual: ["Check the database role's permissions on `core_job`."]),
        ])
    }()

    static let genericManual = ["No automatic fix is known for this finding; a person needs to look at it."]

    /// Services that hold data: never restarted, started or recreated without an approver,
    /// whatever the playbook or its overrides say (`[tickets] stateful_services`).
    static let defaultStatefulServices: Set<String> = ["db", "minio", "rustfs", "storage", "geodb"]
    var statefulServices: Set<String> = Playbook.defaultStatefulServices

    /// Actions that act on one container when the finding names it.
    static let perContainer: Set<String> = ["start_service", "restart_service"]

    /// The built-in playbook with `coordinator.toml`'s overrides applied.
    func overriding(_ overrides: [String: Override]) -> Playbook {
        var copy = self
        for (code, override) in overrides {
            var entry = copy.entries[code] ?? Entry(steps: [], policy: nil, manual: Self.genericManual)
            if let actions = override.actions {
                entry.steps = actions.map { Template(action: $0, service: nil, defaultPolicy: Self.defaultPolicies[$0] ?? .approve) }
            }
            if let policy = override.policy { entry.policy = policy }
            copy.entries[code] = entry
        }
        return copy
    }

    struct Override: Sendable, Equatable {
        var policy: PlaybookPolicy?
        var actions: [String]?
    }

    /// The plan for these findings: steps in finding order, duplicates dropped.
    func plan(for findings: [Finding]) -> (plan: Plan, escalateAfterFix: Bool) {
        var steps: [PlanStep] = []
        var manual: [String] = []
        var escalate = false
        for finding in findings {
            let entry = entries[finding.code] ?? Entry(steps: [], policy: nil, manual: Self.genericManual)
            if entry.escalateAfterFix { escalate = true }
            if entry.steps.isEmpty || entry.policy == .never {
                manual += entry.manual.map { "\(finding.code) on \(finding.subject): " + $0.replacingOccurrences(of: "SERVICE", with: finding.subject) }
                if entry.policy == .never, !entry.steps.isEmpty {
                    manual.append("\(finding.code): the playbook's policy is `never`, so FieldMedic does not fix it itself.")
                }
                continue
            }
            let state = finding.evidence["state"]
            for template in entry.steps {
                var params: [String: String] = [:]
                if Self.actions[template.action] == true { params["service"] = template.service ?? finding.subject }
                if Self.perContainer.contains(template.action) {
                    // No container to start or restart: only recreating can bring it back.
                    if state == "missing" && template.service == nil { continue }
                    // Already running again (an OOM kill the restart policy answered): nothing to start.
                    if template.action == "start_service" && (state == "running" || state == "restarting") && template.service == nil { continue }
                    if template.service == nil, let container = finding.evidence["container"], !container.isEmpty { params["container"] = container }
                }
                var policy = entry.policy ?? template.defaultPolicy
                if policy == .auto, let service = params["service"], statefulServices.contains(service) { policy = .approve }
                let step = PlanStep(action: template.action, params: params, policy: policy, finding: finding.code, subject: finding.subject)
                if !steps.contains(where: { $0.action == step.action && $0.params == step.params }) { steps.append(step) }
            }
            if entry.policy != .never, !entry.steps.isEmpty, !steps.contains(where: { $0.finding == finding.code && $0.subject == finding.subject }) {
                manual += entry.manual.map { "\(finding.code) on \(finding.subject): " + $0.replacingOccurrences(of: "SERVICE", with: finding.subject) }
            }
            if entry.escalateAfterFix {
                manual += entry.manual.map { "\(finding.code) on \(finding.subject): " + $0 }
            }
        }
        // The least disruptive first: every per-container step before any service-wide one
        // (two exited replicas are both started before anything recreates the service).
        let ordered = steps.filter { $0.params["container"] != nil } + steps.filter { $0.params["container"] == nil }
        return (Plan(steps: ordered, manual: manual), escalate)
    }
}
