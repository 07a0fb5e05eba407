import Foundation
import Shared

/// Alerts → tickets. `IngestService` decides which ticket an alert belongs to and asks here;
/// like every ticket change these run under the ticket mutex (the caller holds it) and do no
/// network I/O.
extension TicketEngine {
    /// A new ticket for an alert nobody owns yet: the normal diagnose → fix → verify loop,
    /// about the alert's finding on `host`.
    @discardableResult
    func openAlertTicket(_ alert: IngestedAlert, finding: Finding, host: String, rowID: Int64) async throws -> Ticket {
        let now = clock.now()
        var lines = ["\(alert.source.display) reports **\(alert.name)** (\(alert.status.rawValue)) on `\(host)`.", ""]
        if alert.summary != alert.name { lines.append("> \(alert.summary)") }
        if let description = alert.annotations["description"], description != alert.summary { lines.append("> \(description)") }
        let labels = alert.labels.sorted { $0.key < $1.key }.map { "`\($0.key)=\($0.value)`" }
        if !labels.isEmpty { lines += ["", "Labels: " + labels.joined(separator: " ")] }
        if let link = alert.link { lines += ["", "Source: \(link)"] }
        lines += ["", "Finding: `\(finding.code)`" + (finding.subject.isEmpty ? "" : " on `\(finding.subject)`"), "", "host: \(host)"]
        var ticket = Ticket(source: .alert, title: "\(alert.name) on \(host)" + (alert.summary == alert.name ? "" : ": \(alert.summary.prefix(120))"),
                            body: lines.joined(separator: "\n"), author: alert.source.rawValue,
                            labels: ["host:\(host)", "fieldmedic:alert"], now: now)
        ticket.intent = .problem
        ticket.host = host
        ticket.seeds = [finding]
        ticket.alerts = [Self.link(alert, rowID: rowID, now: now)]
        return try await open(ticket, via: alert.source.rawValue).ticket
    }

    /// An alert for a ticket that already answers it (same host and key) or owns its fault
    /// (same host and finding). A repeat is counted (noted at most once an hour); a resolved
    /// alert is noted, and once every alert of an escalated alert ticket has resolved the
    /// ticket runs again, so that it closes on FieldMedic's own check of the host, never on
    /// the alert's word. Returns what happened, for the stored alert's outcome.
    @discardableResult
    func alertArrived(_ start: Ticket, alert: IngestedAlert, finding: Finding, rowID: Int64) async throws -> String {
        let now = clock.now()
        var ticket = start
        var links = ticket.alerts ?? []
        let who = "\(alert.source.display): \(alert.name)"
        var outcome: String
        if let index = links.firstIndex(where: { $0.source == alert.source && $0.key == alert.key }) {
            if links[index].lastRowID >= rowID { return "already applied to \(ticket.subjectName)" }
            links[index].count += 1
            links[index].lastAt = now
            links[index].lastRowID = rowID
            switch alert.status {
            case .firing:
                let wasResolved = !links[index].firing
                links[index].firing = true
                if let start = alert.startsAt { links[index].startsAt = start }
                let last = ticket.timeline.last { $0.text.hasPrefix(who + " firing") }?.at ?? .distantPast
                if wasResolved || now.timeIntervalSince(last) >= 3600 {
                    ticket.note("\(who) firing again (\(links[index].count) deliveries)" + (ticket.closedAt != nil ? ", after FieldMedic verified the host." : "."), at: now)
                }
                outcome = "repeat added to \(ticket.subjectName)"
            case .resolved:
                links[index].firing = false
                ticket.note("\(who) resolved" + (alert.endsAt.map { " at \(WireDate.format($0))" } ?? "") + ".", at: now)
                outcome = "resolution noted on \(ticket.subjectName)"
            }
        } else {
            links.append(Self.link(alert, rowID: rowID, now: now))
            ticket.note("\(who) (\(alert.status.rawValue)) joined this ticket: it owns the same fault (\(finding.code)"
                + (finding.subject.isEmpty ? "" : " on \(finding.subject)") + ").", at: now)
            outcome = "added to \(ticket.subjectName), which owns \(finding.code)"
        }
        ticket.alerts = links
        ticket.github.dirty = true
        ticket.updatedAt = now
        let audit = AuditEntry(at: now, actor: alert.source.rawValue, action: "ticket.alert", subject: ticket.subjectName,
                               details: ["alert": alert.name, "key": alert.key, "status": alert.status.rawValue, "row": String(rowID)])
        let allResolved = links.allSatisfy { !$0.firing }
        if ticket.source == .alert, allResolved, ticket.state == .escalated, ticket.closedAt == nil {
            try await store.saveTicket(ticket, audit: audit)
            try await restart(&ticket, reason: "the alert resolved: FieldMedic checks the host itself before closing", actor: alert.source.rawValue)
            return outcome + "; the ticket runs again to verify the host"
        }
        try await store.saveTicket(ticket, audit: audit)
        await wake()
        return outcome
    }

    /// The open alert ticket or fault owner for a finding with no subject: any ticket of the
    /// host with that code (the alert did not say which service or mount).
    func alertOwner(of finding: Finding, host: String) async throws -> Ticket? {
        // Only the host's unclosed tickets that name the code can own the fault: SQLite finds
        // those, instead of every unclosed ticket of the host being decoded for every alert
        // (a burst of 1,000 alerts spent about a third of its time there).
        let candidates: [Ticket]
        if let ingest = store as? any IngestStore {
            candidates = try await ingest.unclosedTickets(host: host, naming: finding.code, findingKey: "\(host)|\(finding.code)|\(finding.subject)")
        } else {
            candidates = try await store.unclosedTickets(host: host)
        }
        if !finding.subject.isEmpty || finding.kind == nil { return Self.owner(of: finding, host: host, among: candidates) }
        return candidates
            .filter { $0.closedAt == nil }
            .filter { ticket in
                (ticket.targets + (ticket.seeds ?? [])).contains { $0.code == finding.code }
                    || Self.actionable(ticket.latest?.findings ?? []).contains { $0.code == finding.code } && !ticket.state.isTerminal
            }
            .min { $0.id < $1.id }
    }

    static func link(_ alert: IngestedAlert, rowID: Int64, now: Date) -> AlertLink {
        AlertLink(source: alert.source, key: alert.key, name: alert.name, startsAt: alert.startsAt, firing: alert.status == .firing,
                  count: 1, lastAt: now, lastRowID: rowID, link: alert.link)
    }
}
