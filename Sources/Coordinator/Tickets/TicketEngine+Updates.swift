import Foundation
import Shared

/// The changes to a ticket that come from outside its state machine — a publish that went
/// through, an issue edited or reopened on GitHub, comments read, a reply to post, the
/// watcher seeing its finding again. `TicketEngine` is the only writer of tickets: the
/// intake, the watcher and the publisher ask it here. Every method runs under the ticket
/// mutex (the caller holds it) and does no network I/O.
extension TicketEngine {
    // MARK: Publishing

    /// Merges what a publish did into the ticket as it is now: the publish started from
    /// `snapshot` outside the mutex, and the runner, a webhook or the watcher may have changed
    /// the ticket since. Replies posted are taken off the front of the queue (new ones stay);
    /// a ticket changed meanwhile stays dirty, so its newer state is published next.
    @discardableResult
    func recordPublished(snapshot: Ticket, _ outcome: TicketPublisher.Outcome) async throws -> Ticket {
        guard var fresh = try await store.ticket(id: snapshot.id) else { return outcome.ticket }
        let published = outcome.ticket
        var unchanged = fresh
        unchanged.github = snapshot.github
        let changedMeanwhile = unchanged != snapshot
        let posted = max(0, snapshot.github.replies.count - published.github.replies.count)
        var github = published.github
        github.replies = Array(fresh.github.replies.dropFirst(posted))
        github.commentsSeenAt = [fresh.github.commentsSeenAt, published.github.commentsSeenAt].compactMap { $0 }.max()
        if changedMeanwhile || fresh.github.dirty && fresh.github != snapshot.github { github.dirty = true }
        if fresh.github.closed != snapshot.github.closed {
            // The intake saw the issue reopened (or closed) while we published: its word stands.
            github.closed = fresh.github.closed
        }
        fresh.github = github
        if fresh.issueNumber == nil { fresh.issueNumber = published.issueNumber }
        if fresh.issueURL == nil { fresh.issueURL = published.issueURL }
        try await store.saveTicket(fresh, audit: outcome.audit)
        if changedMeanwhile || !github.replies.isEmpty { await wake() }
        return fresh
    }

    // MARK: GitHub intake

    /// The issue's title, body or labels changed on GitHub.
    func issueEdited(_ ticket: Ticket, title: String, body: String, labels: [String]) async throws {
        var ticket = ticket
        ticket.labels = labels
        ticket.body = body
        ticket.title = title
        if ticket.host == nil { ticket.dueAt = clock.now() }
        try await store.saveTicket(ticket, audit: nil)
        await wake()
    }

    /// The issue was reopened after FieldMedic closed it: a new run (it counts against the
    /// false-closure rate).
    func issueReopened(_ ticket: Ticket, via: String) async throws {
        var ticket = ticket
        let now = clock.now()
        ticket.reopens.append(now)
        ticket.github.closed = false
        ticket.github.dirty = true
        try await store.saveTicket(ticket, audit: AuditEntry(at: now, actor: via, action: "ticket.reopened", subject: ticket.subjectName,
                                                             details: ["issue": ticket.issueNumber.map(String.init) ?? "-"]))
        try await restart(&ticket, reason: "the issue was reopened", actor: via)
    }

    /// Comments up to `seenAt` have been read by polling.
    func commentsSeen(ticketID: Int64, upTo seenAt: Date) async throws {
        guard var ticket = try await store.ticket(id: ticketID) else { return }
        let newest = max(seenAt, ticket.github.commentsSeenAt ?? .distantPast)
        guard newest != ticket.github.commentsSeenAt else { return }
        ticket.github.commentsSeenAt = newest
        try await store.saveTicket(ticket, audit: nil)
    }

    /// A short answer to post on the ticket's issue.
    func reply(ticketID: Int64, _ text: String) async throws {
        guard var ticket = try await store.ticket(id: ticketID) else { return }
        ticket.github.replies.append(text)
        ticket.github.dirty = true
        try await store.saveTicket(ticket, audit: nil)
        await wake()
    }

    // MARK: Watcher

    /// The open ticket (running, or escalated and not closed) that already owns this fault on
    /// this host, whatever opened it: an issue, an operator, an alert or the watcher. One
    /// ticket per fault: a finding it owns is added to it, never given a second ticket.
    func owner(of finding: Finding, host: String) async throws -> Ticket? {
        Self.owner(of: finding, host: host, among: try await store.unclosedTickets(host: host))
    }

    /// `owner(of:host:)` among `tickets` (the host's unclosed tickets, or every one of them that can own the fault).
    static func owner(of finding: Finding, host: String, among tickets: [Ticket]) -> Ticket? {
        let key = "\(finding.code)|\(finding.subject)"
        return tickets
            .filter { $0.closedAt == nil }
            .filter { ticket in
                (ticket.targets + (ticket.seeds ?? [])).contains { "\($0.code)|\($0.subject)" == key }
                    || ticket.findingKey == "\(host)|\(key)"
                    || Self.actionable(ticket.latest?.findings ?? []).contains { "\($0.code)|\($0.subject)" == key } && !ticket.state.isTerminal
            }
            .min { $0.id < $1.id }
    }

    /// The watcher saw a finding its ticket already owns: noted at most once an hour, so an
    /// escalated ticket stays quiet.
    func seenAgain(_ ticket: Ticket, finding: Finding, source: String) async throws {
        let now = clock.now()
        var ticket = ticket
        let last = ticket.timeline.last { $0.text.hasPrefix("Seen again") }?.at ?? ticket.createdAt
        guard now.timeIntervalSince(last) >= 3600 else { return }
        ticket.note("Seen again (\(source)): \(finding.code) on \(finding.subject): \(finding.message)", at: now)
        ticket.github.dirty = true
        try await store.saveTicket(ticket, audit: nil)
    }

    /// A closed proactive ticket whose finding came back soon after: reopened with a new run.
    func reopen(_ ticket: Ticket, finding: Finding, closedAt closed: Date) async throws {
        let now = clock.now()
        var ticket = ticket
        ticket.reopens.append(now)
        ticket.seeds = [finding]
        try await store.saveTicket(ticket, audit: AuditEntry(at: now, actor: Self.actor, action: "ticket.reopened", subject: ticket.subjectName,
                                                             details: ["finding": finding.code, "subject": finding.subject]))
        try await restart(&ticket, reason: "\(finding.code) came back \(DurationText.human(now.timeIntervalSince(closed))) after it was closed",
                          actor: Self.actor)
    }

    /// An agent that went quiet reports again: its offline ticket resolves with the gap noted.
    func reportsResumed(_ ticket: Ticket, agent: String, lastReportAt: Date?) async throws {
        let now = clock.now()
        var open = ticket
        let since = open.seeds?.first?.evidence["last_report"].flatMap(WireDate.parse) ?? open.createdAt
        let gap = (lastReportAt ?? now).timeIntervalSince(since)
        open.state = .resolved
        open.verdict = "Reports resumed: \(agent) was silent for about \(DurationText.human(max(gap, 0))); the agent's spool replays what it saw in the gap."
        open.close(at: now)
        open.note("Reports resumed after \(DurationText.human(max(gap, 0))).", at: now)
        open.github.dirty = true
        open.updatedAt = now
        try await store.saveTicket(open, audit: AuditEntry(at: now, actor: Self.actor, action: "ticket.resolved", subject: open.subjectName,
                                                           details: ["finding": "agent.offline", "gap_s": String(Int(gap))]))
        await wake()
    }
}
