import Foundation

/// The tables `diagnose` and `hosts show` print: host, disks, probes, findings.
public enum ReportFormatter {
    public static func render(_ report: HealthReport, now: Date = Date()) -> String {
        var sections: [String] = []
        // Sequence 0: a diagnosis made on request, not a spooled minute report.
        let what = report.sequence == 0 ? "diagnosis" : "report #\(report.sequence)"
        sections.append("Agent \(report.agent) (v\(report.agentVersion)), \(what) at \(WireDate.format(report.createdAt)) (\(RelativeTime.describe(report.createdAt, now: now)))")
        if let host = report.host {
            let memory = host.memory
            sections.append(TextTable.render(
                ["HOST", "UPTIME", "LOAD 1/5/15", "MEMORY USED", "AVAILABLE"],
                [[host.hostname, DurationText.human(host.uptimeSeconds),
                  String(format: "%.2f %.2f %.2f", host.load1, host.load5, host.load15),
                  String(format: "%.0f%%", memory.usedPercent), RelativeTime.bytes(memory.availableBytes)]]))
        }
        if let disks = report.disks, !disks.isEmpty {
            sections.append(TextTable.render(
                ["MOUNT", "SIZE", "USED", "AVAILABLE", "INODES USED"],
                disks.map { disk in
                    [disk.mount, RelativeTime.bytes(disk.totalBytes), String(format: "%.0f%%", disk.usedPercent),
                     RelativeTime.bytes(disk.availableBytes), String(format: "%.0f%%", disk.inodesUsedPercent)]
                }))
        }
        if let services = report.services, !services.isEmpty {
            sections.append(TextTable.render(
                ["SERVICE", "CONTAINER", "STATE", "SINCE", "RESTARTS", "EXIT"],
                services.map { service in
                    let since = service.state == "running" ? service.startedAt : (service.finishedAt ?? service.startedAt)
                    return [service.service, service.container, service.state + (service.health.map { " (\($0))" } ?? "") + (service.oomKilled ? " OOM" : ""),
                            RelativeTime.describe(since, now: now), String(service.restartCount), String(service.exitCode)]
                }))
        }
        if let docker = report.docker {
            sections.append("Docker: images \(RelativeTime.bytes(docker.imagesBytes)) (\(RelativeTime.bytes(docker.reclaimableImageBytes)) unused), build cache \(RelativeTime.bytes(docker.buildCacheBytes)) (\(RelativeTime.bytes(docker.reclaimableBuildCacheBytes)) reclaimable), volumes \(RelativeTime.bytes(docker.volumesBytes))"
                + (docker.measuredAt.map { now.timeIntervalSince($0) >= 60 ? " (measured \(RelativeTime.describe($0, now: now)))" : "" } ?? ""))
        }
        if let queue = report.queue {
            let statuses = ["pending", "queued", "started", "finished", "failed", "stopped"]
            sections.append(TextTable.render(
                statuses.map { $0.uppercased() } + ["OLDEST PENDING", "STUCK", "BLOCKED PROJECTS"],
                [statuses.map { String(queue.count($0)) } + [queue.oldestPendingSeconds.map { DurationText.human($0) } ?? "-", String(queue.stuckJobs.count), String(queue.blockedProjects)]]))
        }
        if let app = report.app {
            let state = app.error ?? app.components.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            sections.append("Status endpoint \(app.url): \(state)")
        }
        if let tls = report.tls {
            let expiry = tls.daysLeft.map { String(format: "expires in %.1f days", $0) } ?? "expiry unknown"
            sections.append("TLS \(tls.url): \(expiry)" + (tls.verificationError.map { "; NOT accepted by verifying clients: \($0)" } ?? ""))
        }
        if !report.probes.isEmpty {
            sections.append(TextTable.render(
                ["PROBE", "TIME", "RESULT"],
                report.probes.map { [$0.name, String(format: "%.1f ms", $0.durationMs), $0.error ?? "ok"] }))
        }
        let blind = report.probes.filter { $0.error != nil }.count
        if report.findings.isEmpty && blind > 0 {
            sections.append("No findings from the probes that ran; \(blind) probe(s) could not look (see PROBE above).")
        } else if report.findings.isEmpty {
            sections.append("No findings: everything checked is within its thresholds.")
        } else {
            sections.append(TextTable.render(
                ["SEVERITY", "FINDING", "SUBJECT", "DETAIL"],
                report.findings.sorted { $0.severity > $1.severity }.map { [$0.severity.rawValue, $0.code, $0.subject, $0.message] }))
        }
        return sections.joined(separator: "\n\n")
    }

    /// An action's result: verdict, plan, before/after table, output.
    public static func render(_ outcome: ActionOutcome, status: String, message: String) -> String {
        var sections: [String] = []
        let verdict = outcome.dryRun ? "DRY RUN (nothing changed)" : outcome.verified.map { $0 ? "VERIFIED" : "NOT VERIFIED" } ?? "DONE"
        sections.append("\(outcome.action) \(outcome.subject): \(status) — \(verdict) in \(String(format: "%.1f", outcome.durationSeconds))s\n\(message)")
        sections.append((outcome.dryRun ? "Would:" : "Plan:") + "\n" + outcome.plan.map { "  - \($0)" }.joined(separator: "\n"))
        let keys = Set(outcome.before.keys).union(outcome.after.keys).sorted()
        if !keys.isEmpty {
            sections.append(TextTable.render(
                outcome.dryRun ? ["", "NOW"] : ["", "BEFORE", "AFTER"],
                keys.map { key in outcome.dryRun ? [key, outcome.before[key] ?? "-"] : [key, outcome.before[key] ?? "-", outcome.after[key] ?? "-"] }))
        }
        if let output = outcome.output { sections.append(output) }
        return sections.joined(separator: "\n\n")
    }
}
