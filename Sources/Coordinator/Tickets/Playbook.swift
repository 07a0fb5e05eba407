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
        /// Overrides the built-in triage (`[playbook."<code>"] priority`).
        var priority: TicketPriority?
    }

    /// A finding's priority: the override for its code, else the built-in triage.
    func priority(of finding: Finding) -> TicketPriority {
        entries[finding.code]?.priority ?? TicketPriority.of(finding)
    }

    struct Template: Sendable, Equatable {
        var action: ActionKind
        /// A fixed subject; nil means the finding's subject.
        var service: String?
        var defaultPolicy: PlaybookPolicy
    }

    /// What each fix may do without asking, by default (DESIGN §5).
    static func defaultPolicy(_ action: ActionKind) -> PlaybookPolicy {
        switch action {
        case .restartService, .startService, .pruneDocker, .diagnose, .collectLogs: .auto
        case .recreateService, .failStuckJobs: .approve
        // nginx -t first, a graceful reload, checked by the certificate served afterwards.
        case .reloadNginx: .auto
        }
    }

    var entries: [String: Entry]

    static let builtIn = Playbook(entries: Dictionary(uniqueKeysWithValues: FindingCode.allCases.map { ($0.rawValue, entry(for: $0)) }))

    /// The built-in entry of every code: a switch, so a new code does not compile without one
    /// (a code with no entry used to close its tickets as "cleared by itself").
    static func entry(for code: FindingCode) -> Entry {
        func t(_ action: ActionKind, _ service: String? = nil) -> Template {
            Template(action: action, service: service, defaultPolicy: defaultPolicy(action))
        }
        let manualService = ["Read the service's logs: `docker compose logs --tail 200 SERVICE`.",
                             "Check the host's free memory and disk (`fieldmedic-coordinator hosts show HOST`)."]
        return switch code {
        // The least disruptive fix first, per container: start the exited replica (the
        // running ones are left alone); recreating the service needs an approver.
        case .serviceDown:
            Entry(steps: [t(.startService), t(.recreateService)], policy: nil, manual: manualService)
        case .serviceUnhealthy:
            Entry(steps: [t(.restartService), t(.recreateService)], policy: nil, manual: manualService)
        // A one-shot (createbuckets, mkcert…) that failed is not re-run blindly.
        case .serviceFailed:
            Entry(steps: [], policy: nil, manual: [
            "A one-shot service exited with an error: read its logs (`docker compose logs SERVICE`), fix the cause, then run `docker compose up SERVICE`.",
        ])
        case .serviceRestarting:
            Entry(steps: [], policy: nil, manual: [
            "The service is crash-looping: restarting it again will not help. Read its logs: `docker compose logs --tail 200 SERVICE`.",
        ])
        case .serviceOOMKilled:
            Entry(steps: [t(.startService)], policy: nil, escalateAfterFix: true, manual: [
            "The kernel killed the service for memory. Raise its memory limit or the host's memory, or find what grew.",
        ])
        case .dbUnreachable:
            Entry(steps: [t(.restartService, "db")], policy: nil, manual: [
            "Check the `db` container's logs and the disk it writes to.",
        ])
        case .diskHigh:
            Entry(steps: [t(.pruneDocker)], policy: nil, manual: [
            "Find what fills the disk: `du -xh --max-depth 2 MOUNT | sort -h | tail`; QFieldCloud's storage and logs are the usual suspects.",
        ])
        case .diskInodesHigh:
            Entry(steps: [t(.pruneDocker)], policy: nil, manual: [
            "Find the directory with the most files: `find MOUNT -xdev -type f | cut -d/ -f2-4 | sort | uniq -c | sort -n | tail`.",
        ])
        case .queueStuck:
            Entry(steps: [t(.failStuckJobs), t(.restartService, "worker_wrapper")], policy: nil, manual: [
            "Look at the worker's logs: `docker compose logs --tail 200 worker_wrapper`.",
        ])
        case .queueBacklog:
            Entry(steps: [], policy: nil, manual: [
            "Jobs queue faster than the worker runs them: check the worker's logs and consider more worker replicas.",
        ])
        case .memoryHigh:
            Entry(steps: [], policy: nil, manual: [
            "Find the biggest consumers: `docker stats --no-stream`; consider more memory or lower limits.",
        ])
        case .tlsExpiring:
            Entry(steps: [], policy: nil, manual: [
            "Renew the certificate: check the `certbot` service's logs and that port 80 reaches nginx.",
        ])
        case .tlsInvalid:
            Entry(steps: [], policy: nil, manual: ["Check the certificate nginx serves and its chain."])
        case .appStatusError:
            Entry(steps: [], policy: nil, manual: [
            "Open `/api/v1/status/` on the server and read which part reports an error (database, storage).",
            "Storage errors: check the object storage credentials and that the bucket exists.",
        ])
        case .diskFullPredicted:
            Entry(steps: [t(.pruneDocker)], policy: nil, manual: [
            "The disk fills steadily: find what grows (`du -xh --max-depth 2 MOUNT | sort -h | tail`) before it is full.",
        ])
        // The workers run (nothing is down): restarting them would cut their jobs short,
        // so a person approves it.
        case .queueBacklogGrowing:
            Entry(steps: [t(.restartService, "worker_wrapper")], policy: .approve, manual: [
            "Jobs pile up and none finish: read the worker's logs (`docker compose logs --tail 200 worker_wrapper`).",
        ])
        case .serviceCrashloop:
            Entry(steps: [], policy: nil, manual: [
            "The service keeps restarting (history in the evidence): read its logs, `docker compose logs --tail 200 SERVICE`; restarting it again will not help.",
        ])
        case .storageUnreachable:
            // Storage holds the projects' files: never restarted without a person.
            Entry(steps: [], policy: nil, manual: [
                "Check that the storage service runs (`docker compose ps`) and its logs (`docker compose logs --tail 200 minio` or `rustfs`).",
                "Check the endpoint in .env (`STORAGES` … `endpoint_url`): inside the stack use the service name (e.g. http://minio:9000), not the bridge gateway; a host firewall can block the containers from a host port.",
                "A missing bucket: `docker compose logs createbuckets`, then `docker compose up createbuckets`.",
            ])
        case .agentOffline:
            Entry(steps: [], policy: nil, manual: [
            "Check the host is up, then `systemctl status fieldmedic-agent` and `journalctl -u fieldmedic-agent` on it, and that it reaches the coordinator's port.",
        ])
        case .queueQueryFailed:
            Entry(steps: [], policy: nil, manual: ["Check the database role's permissions on `core_job`."])
        // nginx's own settings or the app behind it: nothing FieldMedic may change itself.
        case .proxyErrors:
            Entry(steps: [], policy: nil, manual: [
            "The finding's message names the setting for its status code; the evidence has the endpoint families, their rates and a sample path.",
            "See the requests themselves: `docker compose logs --since 15m nginx | grep -E '(\" |\"status\":)(413|444|499|5[0-9][0-9])'`.",
        ])
        // The operator's own file: FieldMedic never edits it.
        case .configInvalid:
            Entry(steps: [], policy: nil, manual: [
            "Edit the line the finding names (file:line) as it says, then apply it: `docker compose up -d` in the install directory.",
        ])
        // Nothing can be recreated or updated until the files parse again: a person fixes them.
        case .composeInvalid:
            Entry(steps: [], policy: nil, manual: [
            "Read compose's own error in the evidence (`compose_error`), fix the file it names, and check with `docker compose config -q` in the install directory.",
            "If the files did not change, the compose version did: compare `docker compose version` with the one QFieldCloud's release notes name.",
        ])
        // Failing jobs have many causes and none is fixed by a restart: a person reads the
        // groups (the finding's message names the next step for each error type).
        case .jobsFailing:
            Entry(steps: [], policy: nil, manual: [
            "Jobs fail (groups, job ids and projects in the evidence; the message names the next step per error type).",
            "Read one failed job's output: `docker compose exec -T db psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -c \"SELECT output, feedback FROM core_job WHERE id = 'JOB_ID'\"`.",
            "Read the worker's log around the failures: `docker compose logs --since 1h worker_wrapper`.",
        ])
        // Restarting the worker changes nothing here: an image, a network, a version or a
        // label is wrong, and a person sets it right.
        case .workerCannotStart:
            Entry(steps: [], policy: nil, manual: [
            "Missing QGIS image: `docker image inspect IMAGE` (names in the evidence) must succeed; rebuild with `docker compose build qgis3 qgis4` (or `docker compose pull`), then `docker compose up -d worker_wrapper`.",
            "Missing job network: `docker network inspect NETWORK` must succeed; set QFIELDCLOUD_DEFAULT_NETWORK in .env to the project's network (default `<project>_default`), then `docker compose up -d`.",
            "Version skew: build or pull app, worker_wrapper, qgis3 and qgis4 together (`docker compose build && docker compose up -d`).",
            "Shared worker label: give each stack its own ENVIRONMENT in its .env, then `docker compose up -d` in each.",
        ])
        // The container still runs (or was a QGIS job): nothing to start or restart; the
        // limit or the host's memory is a person's decision.
        case .processOOMKilled:
            Entry(steps: [], policy: nil, manual: [
            "The kernel killed a process for memory (counts, times and the limit in the evidence). Find it: `journalctl -k --since '2 hours ago' | grep -iE 'killed process|out of memory'`.",
            "In `app`: fewer gunicorn workers (GUNICORN_WORKERS) or more memory for the host or the container (QFieldCloud #1238); `docker stats --no-stream` shows who uses it.",
            "QGIS jobs: raise WORKER_QGIS_MEMORY_LIMIT (Django admin → Constance, default 1000m) if the host has the memory, or make the project smaller.",
        ])
        // Migrating changes the schema of the live database: a person runs it, after a backup.
        case .migrationsPending:
            Entry(steps: [], policy: nil, manual: [
            "Back up the database, then `docker compose exec app python manage.py migrate`; `docker compose exec app python manage.py showmigrations --plan` lists what is applied.",
            "If migrate fails on privileges, the database role in .env (POSTGRES_USER) needs to own the schema (QFieldCloud #1469).",
        ])
        // A renewed certificate nginx has not loaded: a verified reload (never a restart).
        case .tlsMismatch:
            Entry(steps: [t(.reloadNginx)], policy: nil, manual: [
            "Compare what is served with the file (serials, dates and fingerprints in the evidence): `openssl s_client -connect HOST:443 -servername HOST </dev/null | openssl x509 -noout -serial -enddate` and `openssl x509 -in FILE -noout -serial -enddate`.",
            "If the file on disk is not the renewed one, point QFIELDCLOUD_TLS_CERT in .env at it (Let's Encrypt: /etc/letsencrypt/live/<host>/fullchain.pem), then `docker compose up -d nginx`.",
        ])
        }
    }

    static let genericManual = ["No automatic fix is known for this finding; a person needs to look at it."]

    /// Services that hold data: never restarted, started or recreated without an approver,
    /// whatever the playbook or its overrides say (`[tickets] stateful_services`).
    static let defaultStatefulServices: Set<String> = ["db", "minio", "rustfs", "storage", "geodb"]
    var statefulServices: Set<String> = Playbook.defaultStatefulServices


    /// The built-in playbook with `coordinator.toml`'s overrides applied.
    func overriding(_ overrides: [String: Override]) -> Playbook {
        var copy = self
        for (code, override) in overrides {
            var entry = copy.entries[code] ?? Entry(steps: [], policy: nil, manual: Self.genericManual)
            if let actions = override.actions {
                entry.steps = actions.map { Template(action: $0, service: nil, defaultPolicy: Self.defaultPolicy($0)) }
            }
            if let policy = override.policy { entry.policy = policy }
            if let priority = override.priority { entry.priority = priority }
            copy.entries[code] = entry
        }
        return copy
    }

    struct Override: Sendable, Equatable {
        var policy: PlaybookPolicy?
        var actions: [ActionKind]?
        var priority: TicketPriority?
    }

    /// The plan for these findings: steps in finding order, duplicates dropped.
    /// The manual lines that concern this finding's cause: worker.cannot_start has four
    /// causes, each line starts with its name, and the evidence says which ones were seen.
    /// Every line when the evidence names none of them.
    static func relevantManual(_ lines: [String], for finding: Finding) -> [String] {
        guard finding.code == FindingCode.workerCannotStart.rawValue else { return lines }
        let causes: [(prefix: String, evidence: String)] = [
            ("Missing QGIS image", "missing_images"), ("Missing job network", "network_missing"),
            ("Version skew", "version_skew"), ("Shared worker label", "shared_label_projects"),
        ]
        let seen = causes.filter { finding.evidence[$0.evidence].map { !$0.isEmpty } ?? false }.map(\.prefix)
        guard !seen.isEmpty else { return lines }
        return lines.filter { line in seen.contains { line.hasPrefix($0) } }
    }

    func plan(for findings: [Finding]) -> (plan: Plan, escalateAfterFix: Bool) {
        var steps: [PlanStep] = []
        var manual: [String] = []
        var escalate = false
        for finding in findings {
            let entry = entries[finding.code] ?? Entry(steps: [], policy: nil, manual: Self.genericManual)
            if entry.escalateAfterFix { escalate = true }
            if entry.steps.isEmpty || entry.policy == .never {
                manual += Self.relevantManual(entry.manual, for: finding).map { "\(finding.code) on \(finding.subject): " + $0.replacingOccurrences(of: "SERVICE", with: finding.subject) }
                if entry.policy == .never, !entry.steps.isEmpty {
                    manual.append("\(finding.code): the playbook's policy is `never`, so FieldMedic does not fix it itself.")
                }
                continue
            }
            let state = finding.evidence["state"]
            for template in entry.steps {
                var params: [String: String] = [:]
                if template.action.takesService { params["service"] = template.service ?? finding.subject }
                if template.action.takesContainer {
                    // No container to start or restart: only recreating can bring it back.
                    if state == "missing" && template.service == nil { continue }
                    // Already running again (an OOM kill the restart policy answered): nothing to start.
                    if template.action == .startService && (state == "running" || state == "restarting") && template.service == nil { continue }
                    if template.service == nil, let container = finding.evidence["container"], !container.isEmpty { params["container"] = container }
                }
                var policy = entry.policy ?? template.defaultPolicy
                if policy == .auto, let service = params["service"], statefulServices.contains(service) { policy = .approve }
                let step = PlanStep(action: template.action.rawValue, params: params, policy: policy, finding: finding.code, subject: finding.subject)
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
