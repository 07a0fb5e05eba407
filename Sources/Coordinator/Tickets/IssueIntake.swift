import Foundation
import Logging
import Shared

/// GitHub issues and comments → tickets, by polling (ETag, no public endpoint needed) and by
/// webhook. Both paths end here; tickets are unique per issue and comments are handled once,
/// so the two together never double anything.
struct IssueIntake: Sendable {
    let api: any GitHubAPI
    let config: GitHubConfig
    let engine: TicketEngine
    let store: any FullStore
    let clock: any WallClock
    let logger: Logger

    static let etagKey = "github.etag"
    static let sinceKey = "github.since"
    static let polledKey = "github.polled_at"

    // MARK: Polling

    /// One poll when the interval has passed. Errors are logged and retried next time:
    /// GitHub being down delays intake, it never loses an issue (the `since` cursor only
    /// moves after the issues were stored).
    func pollIfDue() async {
        guard config.pollInterval > 0 else { return }
        let now = clock.now()
        do {
            if let last = try await store.control(Self.polledKey).flatMap(WireDate.parse),
               now.timeIntervalSince(last) < config.pollInterval { return }
            try await store.setControl(Self.polledKey, value: WireDate.format(now), at: now, audit: nil)
            try await poll()
        } catch {
            logger.warning("polling GitHub failed; will try again", metadata: ["error": "\(Redactor.redact("\(error)"))"])
        }
    }

    func poll() async throws {
        let since = try await store.control(Self.sinceKey).flatMap(WireDate.parse)
        let etag = try await store.control(Self.etagKey)
        let api = self.api, label = config.label
        let answer = try await Blocking.run { try api.pollIssues(since: since, label: label, etag: etag) }
        guard case .issues(let issues, let newTag) = answer else { return }
        var newest = since
        for issue in issues {
            try await engine.mutex.run { try await ingest(issue, via: "github-poll") }
            if issue.number > 0, let ticket = try await store.ticket(issue: issue.number), issue.updatedAt > (ticket.github.commentsSeenAt ?? .distantPast) {
                // Read from GitHub outside the ticket mutex; only handling them takes it.
                let number = issue.number, seen = ticket.github.commentsSeenAt
                let comments = try await Blocking.run { try api.comments(issue: number, since: seen) }
                let levels = await engine.permissionLevels(for: comments)
                try await engine.mutex.run { try await handleComments(comments, ticketID: ticket.id, issue: issue, levels: levels) }
            }
            newest = max(newest ?? issue.updatedAt, issue.updatedAt)
        }
        let now = clock.now()
        // GitHub's `since` is inclusive; the same issue seen again is harmless (idempotent).
        if let newest { try await store.setControl(Self.sinceKey, value: WireDate.format(newest), at: now, audit: nil) }
        if let newTag { try await store.setControl(Self.etagKey, value: newTag, at: now, audit: nil) }
    }

    private func handleComments(_ comments: [GitHubComment], ticketID: Int64, issue: GitHubIssue, levels: [String: String]) async throws {
        for comment in comments {
            try await ingestComment(comment, on: issue, via: "github-poll", edited: comment.updatedAt.timeIntervalSince(comment.createdAt) > 1, levels: levels)
        }
        try await engine.commentsSeen(ticketID: ticketID, upTo: comments.map(\.updatedAt).max() ?? issue.updatedAt)
    }

    // MARK: Webhook

    /// Handles a verified delivery. Returns a short text for the HTTP answer.
    func handle(_ event: WebhookEvent) async throws -> String {
        // GitHub is asked (permission levels) before the ticket mutex is taken.
        var levels: [String: String] = [:]
        if case .comment(_, _, let comment, _) = event { levels = await engine.permissionLevels(for: [comment]) }
        return try await engine.mutex.run { try await handleLocked(event, levels: levels) }
    }

    private func handleLocked(_ event: WebhookEvent, levels: [String: String]) async throws -> String {
        switch event {
        case .ping:
            return "pong"
        case .ignored(let name):
            return "ignored event \(name)"
        case .issue(let action, let issue, _):
            guard ["opened", "reopened", "edited", "labeled", "unlabeled"].contains(action) else { return "ignored issues.\(action)" }
            try await ingest(issue, via: "github-webhook")
            return "ok"
        case .comment(let action, let issue, let comment, _):
            guard action == "created" else { return "ignored issue_comment.\(action) (edited comments never count)" }
            try await ingestComment(comment, on: issue, via: "github-webhook", edited: false, levels: levels)
            return "ok"
        }
    }

    // MARK: Issues and comments

    func ingest(_ issue: GitHubIssue, via: String) async throws {
        guard !issue.isPullRequest else { return }
        let now = clock.now()
        if let ticket = try await store.ticket(issue: issue.number) {
            let title = Redactor.redact(issue.title), body = Redactor.redact(issue.body ?? "")
            if issue.state == "open" && ticket.github.closed {
                // Reopened after we closed it: counts against the false-closure rate.
                var edited = ticket
                edited.labels = issue.labels
                edited.body = body
                edited.title = title
                try await engine.issueReopened(edited, via: via)
                return
            }
            if ticket.labels != issue.labels || ticket.body != body || ticket.title != title {
                try await engine.issueEdited(ticket, title: title, body: body, labels: issue.labels)
            }
            return
        }
        guard issue.state == "open" else { return }
        if let label = config.label, !issue.labels.contains(label) { return }
        // Our own proactive issues come back through the poll before their number is saved.
        if issue.labels.contains("fieldmedic:proactive") { return }
        var ticket = Ticket(source: .github, title: issue.title, body: issue.body ?? "", author: issue.author, labels: issue.labels, now: now)
        ticket.issueNumber = issue.number
        ticket.issueURL = issue.htmlURL
        ticket.github.labels = issue.labels
        try await engine.open(ticket, via: via)
    }

    func ingestComment(_ comment: GitHubComment, on issue: GitHubIssue, via: String, edited: Bool, levels: [String: String] = [:]) async throws {
        if comment.body.contains(TicketReport.markerPrefix) || comment.body.contains(GitHubSink.replyMarker) { return }
        guard let parsed = ChatCommand.parse(comment.body) else { return }
        guard var ticket = try await store.ticket(issue: issue.number) else { return }
        let now = clock.now()
        guard try await store.markComment(id: comment.id, ticket: ticket.id, at: now) else { return }
        if edited {
            try await store.appendAudit(AuditEntry(at: now, actor: "github:\(comment.author)", action: "ticket.command_ignored", subject: ticket.subjectName,
                                                   details: ["comment": String(comment.id), "reason": "edited comment"]))
            return
        }
        let reply: String?
        switch parsed {
        case .failure(let error):
            reply = "@\(comment.author): I do not know `\(error.text.prefix(80))`. Commands: " +
                ChatCommand.Verb.allCases.map { "`/fieldmedic \($0.rawValue)`" }.joined(separator: ", ") + "."
        case .success(let command):
            reply = try await engine.handle(command, on: &ticket, author: comment.author, levels: levels)
        }
        if let reply { try await engine.reply(ticketID: ticket.id, reply) }
    }
}
