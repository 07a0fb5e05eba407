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
        if !report.probes.isEmpty {
            sections.append(TextTable.render(
                ["PROBE", "TIME", "RESULT"],
                report.probes.map { [$0.name, String(format: "%.1f ms", $0.durationMs), $0.error ?? "ok"] }))
        }
        if report.findings.isEmpty {
            sections.append("No findings: everything checked is within its thresholds.")
        } else {
            sections.append(TextTable.render(
                ["SEVERITY", "FINDING", "SUBJECT", "DETAIL"],
                report.findings.sorted { $0.severity > $1.severity }.map { [$0.severity.rawValue, $0.code, $0.subject, $0.message] }))
        }
        return sections.joined(separator: "\n\n")
    }
}
