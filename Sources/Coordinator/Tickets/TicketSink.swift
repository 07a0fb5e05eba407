import Crypto
import Foundation
import Logging
import Shared

/// Where reports go: GitHub, or files in outbox mode. Publishing is idempotent: it brings the
/// outside world in line with the ticket and records what it did in `ticket.github`.
protocol TicketSink: Sendable {
    var name: String { get }
    func publish(_ ticket: inout Ticket, report: String, labels: [String], close: Bool) async throws
}

enum Blocking {
    /// Runs a blocking call (libcurl) off the caller's executor and the NIO event loops.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

enum PublishDigest {
    static func of(report: String, labels: [String], close: Bool) -> String {
        let text = report + "\u{1}" + labels.joined(separator: ",") + "\u{1}" + String(close)
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Outbox mode (no `[github]`): what would be posted is written under `data_dir/outbox/`.
struct OutboxSink: TicketSink {
    let directory: String
    let logger: Logger
    var name: String { "outbox" }

    func publish(_ ticket: inout Ticket, report: String, labels: [String], close: Bool) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = directory + "/ticket-\(ticket.id)"
        var header = "<!-- ticket \(ticket.id) · \(ticket.title) · labels: \(labels.joined(separator: ", ")) · "
        header += close ? "closed (completed) -->\n" : "open -->\n"
        try AtomicFile.write(Data((header + report + "\n").utf8), to: base + ".md", mode: 0o644)
        if !ticket.github.replies.isEmpty {
            // Rewritten whole (atomically): a full disk fails the publish, which keeps the
            // replies for the next try, instead of leaving half a line.
            let existing = (try? String(contentsOfFile: base + ".replies.md", encoding: .utf8)) ?? ""
            let text = ticket.github.replies.map { "- " + Redactor.redact($0) }.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data((existing + text).utf8), to: base + ".replies.md", mode: 0o644)
            ticket.github.replies = []
        }
        ticket.github.labels = labels
        ticket.github.closed = close
        logger.info("outbox: wrote \(base).md", metadata: ["ticket": "\(ticket.id)", "state": "\(ticket.state.rawValue)"])
    }
}

/// Reports as one GitHub comment per ticket, labels, replies and closing.
struct GitHubSink: TicketSink {
    let api: any GitHubAPI
    let logger: Logger
    var name: String { "github" }
    static let replyMarker = "<!-- fieldmedic:reply -->"

    static func replyMarker(_ ticket: Ticket, _ index: Int) -> String { "<!-- fieldmedic:reply:\(ticket.id):\(index) -->" }
    static func issueMarker(_ ticket: Ticket) -> String { "<!-- fieldmedic:ticket:\(ticket.id) -->" }

    func publish(_ ticket: inout Ticket, report: String, labels: [String], close: Bool) async throws {
        let api = self.api
        if ticket.issueNumber == nil {
            let title = ticket.title
            let marker = Self.issueMarker(ticket)
            let body = ticket.body + "\n\n_Opened by FieldMedic._\n\n" + marker
            let openLabels = ([.finding, .prediction, .alert].contains(ticket.source) ? ["fieldmedic:proactive"] : []) + (ticket.host.map { ["host:\($0)"] } ?? [])
            // GitHub may have opened it before a crash or a lost answer kept us from saving its
            // number: find it by its marker rather than open a second one.
            let since = ticket.createdAt.addingTimeInterval(-60)
            let found: GitHubIssue? = try await Blocking.run {
                guard case .issues(let issues, _) = try api.pollIssues(since: since, label: openLabels.first, etag: nil) else { return nil }
                return issues.first { $0.body?.contains(marker) == true }
            }
            let issue: GitHubIssue
            if let found {
                issue = found
            } else {
                issue = try await Blocking.run { try api.createIssue(title: title, body: body, labels: openLabels) }
            }
            ticket.issueNumber = issue.number
            ticket.issueURL = issue.htmlURL
            ticket.github.labels = openLabels.filter { TicketReport.allLabels.contains($0) }
            logger.info("opened GitHub issue", metadata: ["ticket": "\(ticket.id)", "issue": "\(issue.number)"])
        }
        let number = ticket.issueNumber!
        if ticket.github.reportCommentID == nil {
            // After a crash between posting and saving, find our own comment by its marker.
            let marker = TicketReport.marker(ticket)
            let existing = try await Blocking.run { try api.comments(issue: number, since: nil) }.first { $0.body.contains(marker) }
            if let existing {
                ticket.github.reportCommentID = existing.id
                if existing.body != report {
                    _ = try await Blocking.run { try api.updateComment(id: existing.id, body: report) }
                }
            } else {
                let comment = try await Blocking.run { try api.createComment(issue: number, body: report) }
                ticket.github.reportCommentID = comment.id
            }
        } else if let id = ticket.github.reportCommentID {
            _ = try await Blocking.run { try api.updateComment(id: id, body: report) }
        }
        if !ticket.github.replies.isEmpty {
            // Each reply carries its own number: one GitHub stored before its answer was lost
            // (a 5xx, a dropped connection, a crash) is found instead of posted again.
            let posted = try await Blocking.run { try api.comments(issue: number, since: nil) }.map(\.body)
            while let reply = ticket.github.replies.first {
                let index = ticket.github.repliesPosted ?? 0
                let marker = Self.replyMarker(ticket, index)
                if !posted.contains(where: { $0.contains(marker) }) {
                    let body = Redactor.redact(reply) + "\n\n" + Self.replyMarker + "\n" + marker
                    _ = try await Blocking.run { try api.createComment(issue: number, body: body) }
                }
                ticket.github.replies.removeFirst()
                ticket.github.repliesPosted = index + 1
            }
        }
        let stale = ticket.github.labels.filter { TicketReport.allLabels.contains($0) && !labels.contains($0) }
        for label in stale {
            try await Blocking.run { try api.removeLabel(issue: number, label: label) }
        }
        let missing = labels.filter { !ticket.github.labels.contains($0) }
        if !missing.isEmpty {
            try await Blocking.run { try api.addLabels(issue: number, labels: missing) }
        }
        ticket.github.labels = labels
        if !close && ticket.github.closed {
            // FieldMedic closed it and the finding came back: reopen rather than open a new one.
            try await Blocking.run { try api.reopen(issue: number) }
            ticket.github.closed = false
        }
        if close && !ticket.github.closed {
            try await Blocking.run { try api.close(issue: number, reason: "completed") }
            ticket.github.closed = true
        }
    }
}

/// Publishes a ticket when it changed, keeping retry state on the ticket so that a GitHub
/// outage delays reports but loses none. The network calls run outside the ticket mutex (a
/// slow GitHub never holds up webhooks, approvals or the watcher); what they did is handed to
/// `TicketEngine.recordPublished`, which merges it into the ticket as it is by then.
struct TicketPublisher: Sendable {
    let sink: any TicketSink
    let engine: TicketEngine
    let mode: RolloutMode
    let mentions: [String]
    let clock: any WallClock
    let logger: Logger

    /// What one publish did: the ticket's publish state afterwards, and the audit row for it.
    struct Outcome: Sendable {
        var ticket: Ticket
        var audit: AuditEntry?
    }

    /// Publishes `snapshot` (a ticket as stored) if it needs it, then records the result.
    /// Must not be called while holding the ticket mutex.
    @discardableResult
    func publishIfNeeded(_ snapshot: Ticket) async throws -> Ticket {
        guard let outcome = await publish(snapshot) else { return snapshot }
        return try await engine.mutex.run { try await engine.recordPublished(snapshot: snapshot, outcome) }
    }

    /// The network part: nil when there is nothing to do now. Never saves.
    func publish(_ start: Ticket) async -> Outcome? {
        var ticket = start
        let now = clock.now()
        guard ticket.github.dirty || !ticket.github.replies.isEmpty else { return nil }
        if let retryAt = ticket.github.retryAt, retryAt > now { return nil }
        let report = TicketReport.render(ticket, mode: mode, mentions: mentions, playbook: engine.config.playbook)
        let labels = TicketReport.labels(for: ticket, playbook: engine.config.playbook)
        let close = TicketReport.shouldClose(ticket)
        let digest = PublishDigest.of(report: report, labels: labels, close: close)
        if digest == ticket.github.publishedDigest && ticket.github.replies.isEmpty {
            ticket.github.dirty = false
            return Outcome(ticket: ticket, audit: nil)
        }
        do {
            try await sink.publish(&ticket, report: report, labels: labels, close: close)
            let first = ticket.github.publishedDigest == nil
            ticket.github.publishedDigest = digest
            ticket.github.retryAt = nil
            ticket.github.lastError = nil
            ticket.github.failures = 0
            ticket.github.dirty = false
            let audit = (first || close != start.github.closed || labels != start.github.labels)
                ? AuditEntry(at: now, actor: TicketEngine.actor, action: "ticket.published", subject: ticket.subjectName,
                             details: ["sink": sink.name, "state": ticket.state.rawValue, "labels": labels.joined(separator: ","),
                                       "closed": String(close), "issue": ticket.issueNumber.map(String.init) ?? "-"])
                : nil
            return Outcome(ticket: ticket, audit: audit)
        } catch {
            // Keep whatever part did get through (comment id, issue number), retry the rest later.
            ticket.github.failures += 1
            let backoff = min(600, 5 * pow(2, Double(min(ticket.github.failures, 7))))
            var retryAt = now.addingTimeInterval(backoff)
            if let githubError = error as? GitHubError {
                if let at = githubError.retryAt { retryAt = max(at, now.addingTimeInterval(1)) }
                if !githubError.isRetryable { retryAt = now.addingTimeInterval(max(backoff, 300)) }
            }
            ticket.github.retryAt = retryAt
            ticket.github.lastError = Redactor.redact("\(error)")
            logger.warning("publishing failed; will retry", metadata: [
                "ticket": "\(ticket.id)", "retry_at": "\(WireDate.format(retryAt))", "error": "\(Redactor.redact("\(error)"))"])
            return Outcome(ticket: ticket, audit: nil)
        }
    }
}
