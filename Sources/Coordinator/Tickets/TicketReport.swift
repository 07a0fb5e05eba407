import Foundation
import Shared

/// The one comment per ticket, edited in place as the run progresses. The hidden marker lets
/// a restarted coordinator find its own comment instead of posting a second one.
enum TicketReport {
    static func marker(_ ticket: Ticket) -> String { "<!-- fieldmedic:report ticket=\(ticket.id) -->" }
    static let markerPrefix = "<!-- fieldmedic:report ticket="

    /// The state's label and the ticket's priority label.
    static func labels(for ticket: Ticket, playbook: Playbook) -> [String] {
        labels(for: ticket.state) + [ticket.priority(playbook).label]
    }

    static func labels(for state: TicketState) -> [String] {
        switch state {
        case .resolved: ["fieldmedic:resolved"]
        case .escalated: ["fieldmedic:escalated"]
        case .healthy: ["fieldmedic:healthy"]
        case .awaitingApproval: ["fieldmedic:awaiting-approval"]
        default: []
        }
    }

    static let allLabels = ["fieldmedic:resolved", "fieldmedic:escalated", "fieldmedic:healthy", "fieldmedic:awaiting-approval"]
        + TicketPriority.allCases.map(\.label)

    /// Close only after a verified fix or a healthy status request; a standing checklist
    /// gets its report and stays open.
    static func shouldClose(_ ticket: Ticket) -> Bool {
        ticket.state == .resolved || (ticket.state == .healthy && ticket.intent != .checklist)
    }

    static func render(_ t: Ticket, mode: RolloutMode, mentions: [String], playbook: Playbook = .builtIn) -> String {
        var out: [String] = [marker(t)]
        out.append("### FieldMedic — \(headline(t))")
        out.append("")
        out.append("**\(verdictLine(t))**")
        out.append("")
        var facts = ["**\(t.priority(playbook).rawValue)**", "host: `\(t.host ?? "?")`", "state: `\(t.state.rawValue)`", "run \(t.run)", "mode: `\(mode.rawValue)`"]
        if let plan = t.plan { facts.append("plan `\(plan.shortHash)`") }
        out.append(facts.joined(separator: " · "))

        if t.state == .awaitingApproval, let plan = t.plan {
            out.append("")
            out.append("#### Approval needed")
            out.append("FieldMedic will run, in order:")
            for (i, step) in plan.steps.enumerated() where i >= t.step {
                out.append("\(i + 1). `\(step.summary)` — for `\(step.finding)` on `\(step.subject)` (policy: \(step.policy.rawValue))")
            }
            out.append("")
            out.append("An approver answers with a new comment: `/fieldmedic approve \(plan.shortHash)` or `/fieldmedic deny`. "
                + "The approval is bound to this plan; if the plan changes it needs a new one. Edited comments do not count.")
            if !mentions.isEmpty { out.append(mentions.map { "@" + $0 }.joined(separator: " ")) }
        }

        if t.state == .escalated {
            out.append("")
            out.append("#### Why this needs a person")
            out.append(t.reason ?? "—")
            if !t.nextSteps.isEmpty {
                out.append("")
                out.append("#### Next steps")
                for step in t.nextSteps { out.append("- " + step) }
            }
            if !mentions.isEmpty {
                out.append("")
                out.append(mentions.map { "@" + $0 }.joined(separator: " "))
            }
        }

        let findings = t.targets.isEmpty ? TicketEngine.actionable(t.latest?.findings ?? []) : t.targets
        if !findings.isEmpty {
            out.append("")
            out.append("#### Findings")
            for f in findings {
                let evidence = f.evidence.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                out.append("- **\(f.code)** on `\(f.subject)` (\(f.severity.rawValue)): \(escape(f.message))" + (evidence.isEmpty ? "" : " — `\(escape(evidence))`"))
            }
        }

        let proxyRows = proxyErrorRows(findings)
        if !proxyRows.isEmpty {
            out.append("")
            out.append("#### Proxy errors (nginx)")
            out.append("| status | endpoints | errors | of requests | rate | window | example |")
            out.append("|---|---|---|---|---|---|---|")
            out += proxyRows
        }

        if let unchecked = t.latest?.notChecked, !unchecked.isEmpty {
            out.append("")
            out.append("#### Not checked")
            out.append("These probes could not look, so the report says nothing about what they watch:")
            for probe in unchecked { out.append("- " + escape(probe.notCheckedText)) }
        }

        if !t.actions.isEmpty {
            out.append("")
            out.append("#### Actions")
            out.append("| # | action | result | verified | duration |")
            out.append("|---|---|---|---|---|")
            for (i, a) in t.actions.enumerated() {
                let duration = a.durationSeconds.map { String(format: "%.1f s", $0) } ?? "—"
                let verified = a.dryRun ? "dry run" : (a.verified.map { $0 ? "yes" : "**no**" } ?? "—")
                out.append("| \(i + 1) | `\(a.summary)` | \(a.status)\(a.message.isEmpty ? "" : ": " + escape(oneLine(a.message))) | \(verified) | \(duration) |")
                if a.dryRun && !a.plan.isEmpty {
                    for line in a.plan { out.append("|  | ↳ \(escape(line)) | | | |") }
                }
            }
        }

        let table = beforeAfter(t)
        if !table.isEmpty {
            out.append("")
            out.append("#### Before / after")
            out.append("| | before | after |")
            out.append("|---|---|---|")
            out += table
        }

        if let anchor = t.auditAnchor {
            out.append("")
            out.append("<sub>Audit anchor `\(anchor)`: `fieldmedic-coordinator audit verify --anchor \(anchor)` shows the audit log was not rewritten up to here.</sub>")
            out.append("<!-- fieldmedic:audit-anchor \(anchor) -->")
        }

        out.append("")
        out.append("<details><summary>Timeline</summary>")
        out.append("")
        for entry in t.timeline {
            out.append("- `\(WireDate.format(entry.at))` \(escape(entry.text))")
        }
        out.append("")
        out.append("</details>")
        return Redactor.redact(out.joined(separator: "\n"))
    }

    static func headline(_ t: Ticket) -> String {
        switch t.state {
        case .resolved: "resolved"
        case .healthy: "healthy"
        case .escalated: "needs a person"
        case .awaitingApproval: "waiting for approval"
        default: "working (\(t.state.rawValue))"
        }
    }

    static func verdictLine(_ t: Ticket) -> String {
        if let verdict = t.verdict { return verdict }
        if let wait = t.waitNote { return wait }
        switch t.state {
        case .received: return "Received; diagnosis starts shortly."
        case .diagnosing: return "Diagnosing \(t.host ?? "the host")…"
        case .planned: return "Planned: " + (t.plan?.steps.map(\.summary).joined(separator: " → ") ?? "—")
        case .awaitingApproval: return "A fix is ready and waits for an approver."
        case .fixing: return "Fixing: " + (t.plan.flatMap { t.step < $0.steps.count ? $0.steps[t.step].summary : nil } ?? "…")
        case .verifying: return "Verifying the fix…"
        default: return t.state.rawValue
        }
    }

    /// Rows for the containers, disks and queue that changed or that the findings name: one
    /// row per container (replicas apart), with state, exit code, restarts and start time, so
    /// a replica that exited and was started again shows as such.
    static func beforeAfter(_ t: Ticket) -> [String] {
        guard let before = t.baseline, let after = t.latest, before.id != after.id else { return [] }
        var rows: [String] = []
        let subjects = Set(t.targets.map(\.subject))
        let beforeByContainer = Dictionary((before.services ?? []).map { ($0.container, $0) }, uniquingKeysWith: { a, _ in a })
        let afterByContainer = Dictionary((after.services ?? []).map { ($0.container, $0) }, uniquingKeysWith: { a, _ in a })
        let containers = Set(beforeByContainer.keys).union(afterByContainer.keys).sorted()
        for name in containers {
            let old = beforeByContainer[name], new = afterByContainer[name]
            let service = (new ?? old)!.service
            let a = old.map(describe) ?? "—", b = new.map(describe) ?? "—"
            if a != b || subjects.contains(service) { rows.append("| `\(name)` (\(service)) | \(a) | \(b) |") }
        }
        let beforeDisks = Dictionary((before.disks ?? []).map { ($0.mount, $0) }, uniquingKeysWith: { a, _ in a })
        for disk in after.disks ?? [] {
            guard let old = beforeDisks[disk.mount] else { continue }
            let a = String(format: "%.1f %% used", old.usedPercent), b = String(format: "%.1f %% used", disk.usedPercent)
            if a != b || subjects.contains(disk.mount) { rows.append("| disk `\(disk.mount)` | \(a) | \(b) |") }
        }
        if let q1 = before.queue, let q2 = after.queue {
            let a = "\(q1.stuckJobs.count) stuck", b = "\(q2.stuckJobs.count) stuck"
            if a != b { rows.append("| queue | \(a) | \(b) |") }
        }
        let f1 = TicketEngine.actionable(before.findings).count, f2 = TicketEngine.actionable(after.findings).count
        rows.append("| findings | \(f1) | \(f2) |")
        return rows
    }

    /// The numbers behind proxy.errors findings, one row per status and endpoint family,
    /// read from the finding's evidence (`<family>_errors`, `_requests`, `_percent`, `_sample`).
    static func proxyErrorRows(_ findings: [Finding]) -> [String] {
        var rows: [String] = []
        for finding in findings where finding.kind == .proxyErrors {
            guard let status = finding.evidence["status"] else { continue }
            let families = finding.evidence.keys.filter { $0.hasSuffix("_errors") }.map { String($0.dropLast("_errors".count)) }.sorted()
            for family in families {
                let value = { (suffix: String) in finding.evidence["\(family)_\(suffix)"] ?? "—" }
                let sample = finding.evidence["\(family)_sample"].map { "`\(escape($0))`" } ?? "—"
                rows.append("| \(escape(status)) | \(escape(family)) | \(value("errors")) | \(value("requests")) | \(value("percent")) % | \(finding.evidence["window"] ?? "—") | \(sample) |")
            }
        }
        return rows
    }

    static func describe(_ s: ServiceStatus) -> String {
        var text = s.state
        if let health = s.health, !health.isEmpty { text += " (\(health))" }
        text += ", exit \(s.exitCode)"
        if s.oomKilled { text += ", OOM-killed" }
        text += ", \(s.restartCount) restarts"
        text += ", started " + (s.startedAt.map(WireDate.format) ?? "—")
        return text
    }

    static func oneLine(_ s: String) -> String {
        String(s.split(whereSeparator: \.isNewline).first ?? "").prefix(200).description
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "@", with: "@\u{200B}")
    }
}
