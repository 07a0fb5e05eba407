import Crypto
import Foundation
import Shared

/// One run of diagnose → plan → (approve) → fix → verify → report, whatever started it.
/// Persisted whole after every transition; a restarted coordinator picks up every open one.
struct Ticket: Codable, Sendable, Equatable {
    var id: Int64
    var source: TicketSource
    /// The GitHub issue this ticket mirrors (nil in outbox mode or before the issue exists).
    var issueNumber: Int?
    var issueURL: String?
    var title: String
    var body: String
    var author: String
    var labels: [String]
    var intent: TicketIntent
    var host: String?
    /// `host|code|subject` for tickets the coordinator opened itself for a finding.
    var findingKey: String?
    var state: TicketState
    /// Increments on `/fieldmedic retry` and on a reopened issue; command ids include it.
    var run: Int
    var step: Int
    var plan: Plan?
    var approval: Approval?
    var pending: PendingCommand?
    var requests: [AdhocRequest]
    var baseline: HealthReport?
    var latest: HealthReport?
    var targets: [Finding]
    var actions: [ActionRecord]
    var verdict: String?
    var reason: String?
    var nextSteps: [String]
    var timeline: [TimelineEntry]
    var createdAt: Date
    var updatedAt: Date
    /// When this run closed it (nil while open or escalated); `closes` keeps every close, so a
    /// later reopen can be measured against it.
    var closedAt: Date?
    var resolvedAt: Date?
    var closes: [Date]?
    /// When the runner should look again without an event (a deadline, a retry).
    var dueAt: Date?
    var github: PublishState
    var reopens: [Date]
    var waitNote: String?
    /// For tickets the coordinator opened itself: the finding(s) that opened it.
    var seeds: [Finding]?
    /// The ticket whose lock this one waited for: once it has the lock it diagnoses again,
    /// since the other may have fixed the same fault.
    var waitedFor: Int64?
    /// The ticket that held the lock before this one's fresh diagnosis (credited when that
    /// diagnosis finds the fault gone).
    var lockReleasedBy: Int64?
    /// Fresh diagnoses after a lock wait in this run: a ticket that comes back to the same
    /// place twice without acting escalates instead of going round again.
    var rediagnoses: Int?
    /// The audit log's head (`ROW:HASH`) when the run ended, published in the report: a copy
    /// outside the database that `audit verify --anchor` checks a rewritten chain against.
    var auditAnchor: String?
    /// The alerts (Alertmanager, GlitchTip) this ticket answers; nil for tickets no alert reached.
    var alerts: [AlertLink]?

    init(id: Int64 = 0, source: TicketSource, title: String, body: String, author: String, labels: [String] = [], now: Date) {
        self.id = id
        self.source = source
        // Secrets pasted into an issue are never stored (nor posted back in a report).
        self.title = Redactor.redact(title)
        self.body = Redactor.redact(body)
        self.author = author
        self.labels = labels
        self.intent = IntentClassifier.classify(title: self.title, body: self.body)
        self.state = .received
        self.run = 1
        self.step = 0
        self.requests = []
        self.targets = []
        self.actions = []
        self.nextSteps = []
        self.timeline = []
        self.createdAt = now
        self.updatedAt = now
        self.dueAt = now
        self.github = PublishState()
        self.reopens = []
    }

    /// Still the runner's business: not finished, extra requests pending, or not yet published.
    var isOpen: Bool { !state.isTerminal || !requests.isEmpty || github.dirty }
    var reference: String { issueNumber.map { "#\($0)" } ?? "ticket \(id)" }
    var subjectName: String { "ticket:\(id)" }

    /// Marks the run finished with the issue to be closed (resolved or healthy).
    mutating func close(at now: Date) {
        closedAt = now
        if state == .resolved { resolvedAt = now }
        closes = (closes ?? []) + [now]
    }

    mutating func note(_ text: String, at now: Date) {
        timeline.append(TimelineEntry(at: now, text: text))
        if timeline.count > 200 { timeline.removeFirst(timeline.count - 200) }
    }
}

enum TicketSource: String, Codable, Sendable {
    case github, finding, prediction, `operator`
    /// An alert from Alertmanager or GlitchTip (`IngestService`).
    case alert
}

/// One alert a ticket answers: its repeats are counted here, its resolution noted.
struct AlertLink: Codable, Sendable, Equatable {
    var source: IngestedAlert.Source
    /// Alertmanager's fingerprint or GlitchTip's issue link.
    var key: String
    var name: String
    /// The occurrence this ticket is about (a new start is a new occurrence).
    var startsAt: Date?
    var firing: Bool
    /// Deliveries received for it (Alertmanager repeats a firing alert every repeat_interval).
    var count: Int
    var lastAt: Date
    /// The newest stored alert applied: a row handled again after a crash is not counted twice.
    var lastRowID: Int64
    var link: String?
}

/// What the person asked for: a health check closes after a healthy diagnosis; a problem
/// report with no fault found stays open for a human; a standing checklist ("weekly check")
/// gets the report and stays open.
enum TicketIntent: String, Codable, Sendable {
    case status, problem, checklist
}

enum TicketState: String, Codable, Sendable, CaseIterable {
    case received, diagnosing, planned
    case awaitingApproval = "awaiting_approval"
    case fixing, verifying, resolved, escalated, healthy

    var isTerminal: Bool { [.resolved, .escalated, .healthy].contains(self) }
}

struct TimelineEntry: Codable, Sendable, Equatable {
    var at: Date
    var text: String
}

/// The ordered fixes for the findings of one diagnosis; approvals are bound to `hash`.
struct Plan: Codable, Sendable, Equatable {
    var steps: [PlanStep]
    /// Manual next steps for findings no action can fix.
    var manual: [String]

    var hash: String {
        let canonical = steps.map { step in
            ([step.action] + step.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
        }.joined(separator: "\n")
        return SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    var shortHash: String { String(hash.prefix(12)) }
}

struct PlanStep: Codable, Sendable, Equatable {
    var action: String
    var params: [String: String]
    var policy: PlaybookPolicy
    /// The finding (code and subject) this step is meant to clear.
    var finding: String
    var subject: String

    var summary: String {
        params.isEmpty ? action : "\(action)(" + params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
    }
}

enum PlaybookPolicy: String, Codable, Sendable, CaseIterable {
    case auto, approve, never
}

struct Approval: Codable, Sendable, Equatable {
    var planHash: String
    var requestedAt: Date
    var approvedBy: String?
    var approvedAt: Date?
    var deniedBy: String?
}

/// The command a ticket waits for. Its id is derived from ticket, run and step, so a
/// coordinator restarted between deciding and sending can never send it twice.
struct PendingCommand: Codable, Sendable, Equatable {
    enum Purpose: String, Codable, Sendable { case diagnose, fix, verify }
    var id: String
    var purpose: Purpose
    var kind: String
    var queuedAt: Date
}

/// `/fieldmedic diagnose` and `/fieldmedic dry-run`: extra read-only work on a ticket.
struct AdhocRequest: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable { case diagnose, dryRun = "dry-run" }
    var kind: Kind
    var requestedBy: String
    var at: Date
    var commandIDs: [String]
}

struct ActionRecord: Codable, Sendable, Equatable {
    var step: Int
    var action: String
    var summary: String
    var commandID: String
    var status: String
    var verified: Bool?
    var dryRun: Bool
    var message: String
    var durationSeconds: Double?
    var before: [String: String]
    var after: [String: String]
    var plan: [String]
    var finishedAt: Date
}

/// What has been published for the ticket, so publishing is idempotent and resumable.
struct PublishState: Codable, Sendable, Equatable {
    var reportCommentID: Int64?
    var publishedDigest: String?
    var labels: [String] = []
    var closed: Bool = false
    var replies: [String] = []
    /// Replies posted so far: numbers the next one's marker (nil in tickets stored before it).
    var repliesPosted: Int?
    /// The newest comment time read by polling.
    var commentsSeenAt: Date?
    var retryAt: Date?
    var lastError: String?
    var failures: Int = 0
    /// Changed since it was last published.
    var dirty: Bool = true
}

/// Deterministic command ids: UUID-shaped, derived from what the command is for.
enum CommandID {
    static func make(_ parts: String...) -> String {
        let digest = Array(SHA256.hash(data: Data(parts.joined(separator: "|").utf8)))
        let hex = digest.prefix(16).map { String(format: "%02x", $0) }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}
