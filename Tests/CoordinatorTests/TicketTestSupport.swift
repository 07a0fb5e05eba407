import Foundation
import Logging
@testable import Coordinator
@testable import Shared

/// GitHub in memory, behind the same protocol as the real client: records every write.
final class MemoryGitHub: GitHubAPI, @unchecked Sendable {
    private let lock = NSLock()
    var issues: [Int: GitHubIssue] = [:]
    var comments: [Int: [GitHubComment]] = [:]
    var permissions: [String: String] = [:]
    var writes: [String] = []
    /// While > 0, every call fails with this error and decrements.
    var failNext = 0
    /// While > 0, a new issue or comment is stored and then the call fails as if its answer
    /// was lost (a 5xx after the write, a dropped connection), and decrements.
    var loseAnswers = 0
    var failure = GitHubError(kind: .transient, status: 500, message: "boom")
    private var nextComment: Int64 = 1000
    /// The test's clock, so issue and comment times line up with the engine's.
    var now: @Sendable () -> Date = { Date() }
    private var nextIssue = 1

    func with<T>(_ body: () throws -> T) rethrows -> T { lock.lock(); defer { lock.unlock() }; return try body() }

    private func loseAnswer() throws(GitHubError) {
        let lose: Bool = with { if loseAnswers > 0 { loseAnswers -= 1; return true }; return false }
        if lose { throw GitHubError(kind: .transient, status: 502, message: "Bad Gateway") }
    }

    private func check() throws(GitHubError) {
        let shouldFail: Bool = with { if failNext > 0 { failNext -= 1; return true }; return false }
        if shouldFail { throw failure }
    }

    @discardableResult
    func open(title: String, body: String = "", labels: [String] = [], author: String = "fieldcrew") -> GitHubIssue {
        with {
            let now = self.now()
            let issue = GitHubIssue(number: nextIssue, title: title, body: body, state: "open", stateReason: nil, labels: labels, author: author,
                                    htmlURL: "https://github.com/acme/ops/issues/\(nextIssue)", createdAt: now, updatedAt: now, isPullRequest: false)
            issues[nextIssue] = issue
            nextIssue += 1
            return issue
        }
    }

    @discardableResult
    func comment(on issue: Int, _ body: String, by author: String, at: Date = Date(), editedAt: Date? = nil) -> GitHubComment {
        with {
            nextComment += 1
            let c = GitHubComment(id: nextComment, body: body, author: author, authorAssociation: "MEMBER", createdAt: at, updatedAt: editedAt ?? at,
                                  htmlURL: "https://github.com/acme/ops/issues/\(issue)#issuecomment-\(nextComment)")
            comments[issue, default: []].append(c)
            let stamp = max(issues[issue]?.updatedAt ?? at, editedAt ?? at)
            issues[issue]?.updatedAt = stamp
            return c
        }
    }

    func pollIssues(since: Date?, label: String?, etag: String?) throws(GitHubError) -> GitHubPoll {
        try check()
        return with { .issues(issues.values.sorted { $0.number < $1.number }, etag: nil) }
    }
    func issue(_ number: Int) throws(GitHubError) -> GitHubIssue {
        try check()
        guard let issue = with({ issues[number] }) else { throw GitHubError(kind: .notFound, status: 404, message: "Not Found") }
        return issue
    }
    func comments(issue: Int, since: Date?) throws(GitHubError) -> [GitHubComment] {
        try check()
        return with { comments[issue] ?? [] }
    }
    func createComment(issue: Int, body: String) throws(GitHubError) -> GitHubComment {
        try check()
        let c = with {
            nextComment += 1
            let c = GitHubComment(id: nextComment, body: body, author: "fieldmedic-bot", authorAssociation: "NONE", createdAt: now(), updatedAt: now(), htmlURL: "")
            comments[issue, default: []].append(c)
            writes.append("comment #\(issue)")
            return c
        }
        try loseAnswer()
        return c
    }
    func updateComment(id: Int64, body: String) throws(GitHubError) -> GitHubComment {
        try check()
        return with {
            for (issue, list) in comments {
                if let index = list.firstIndex(where: { $0.id == id }) {
                    comments[issue]![index].body = body
                    writes.append("edit #\(issue)")
                    return comments[issue]![index]
                }
            }
            return GitHubComment(id: id, body: body, author: "?", authorAssociation: nil, createdAt: Date(), updatedAt: Date(), htmlURL: "")
        }
    }
    func addLabels(issue: Int, labels: [String]) throws(GitHubError) {
        try check()
        with { let have = issues[issue]?.labels ?? []; issues[issue]?.labels = have + labels.filter { !have.contains($0) }; writes.append("label #\(issue) +\(labels.joined(separator: ","))") }
    }
    func removeLabel(issue: Int, label: String) throws(GitHubError) {
        try check()
        with { issues[issue]?.labels.removeAll { $0 == label }; writes.append("label #\(issue) -\(label)") }
    }
    func close(issue: Int, reason: String) throws(GitHubError) {
        try check()
        with { issues[issue]?.state = "closed"; issues[issue]?.stateReason = reason; writes.append("close #\(issue) \(reason)") }
    }
    func reopen(issue: Int) throws(GitHubError) {
        try check()
        with { issues[issue]?.state = "open"; issues[issue]?.stateReason = "reopened"; writes.append("reopen #\(issue)") }
    }
    func createIssue(title: String, body: String, labels: [String]) throws(GitHubError) -> GitHubIssue {
        try check()
        let issue = open(title: title, body: body, labels: labels, author: "fieldmedic-bot")
        with { writes.append("open #\(issue.number)") }
        try loseAnswer()
        return issue
    }
    func permission(of login: String) throws(GitHubError) -> String {
        try check()
        return with { permissions[login] ?? "none" }
    }

    func reportBody(_ issue: Int) -> String? {
        with { comments[issue]?.first { $0.body.contains(TicketReport.markerPrefix) }?.body }
    }
    func replies(_ issue: Int) -> [String] {
        with { comments[issue]?.filter { $0.body.contains(GitHubSink.replyMarker) }.map(\.body) ?? [] }
    }
}

/// A host that answers commands the way an agent would, from a world the test controls.
final class FakeHost: @unchecked Sendable {
    private let lock = NSLock()
    var findings: [Finding] = []
    /// The probes of each diagnosis (those with an error could not look).
    var probes: [ProbeSummary] = [ProbeSummary(name: "docker", durationMs: 1), ProbeSummary(name: "queue", durationMs: 1)]
    /// What each fix does to the findings (default: clears those of its subject).
    var effects: [String: (inout [Finding], [String: String]) -> Void] = [:]
    var verified = true
    var failFixes = false
    var executed: [String] = []
    private var sequence: Int64 = 0

    func with<T>(_ body: () throws -> T) rethrows -> T { lock.lock(); defer { lock.unlock() }; return try body() }

    /// Answers every queued command; returns how many.
    @discardableResult
    func serve(_ f: FleetFixture, agent: String = "vps-1") async throws -> Int {
        var count = 0
        while let record = try await f.store.claimNextCommand(agent: agent, now: f.clock.now()) {
            count += 1
            let result: CommandResult = with {
                sequence += 1
                executed.append(record.dryRun ? "dry:\(record.kind)" : record.kind + (record.params["service"].map { "(\($0))" } ?? ""))
                if record.kind == "diagnose" {
                    let report = HealthReport(id: "r\(sequence)", sequence: sequence, agent: agent, createdAt: f.clock.now(), probes: probes, findings: findings)
                    return CommandResult(commandId: record.id, status: .succeeded, message: "diagnosed", startedAt: f.clock.now(), finishedAt: f.clock.now(), diagnosis: report)
                }
                if failFixes {
                    return CommandResult(commandId: record.id, status: .failed, message: "docker said no", startedAt: f.clock.now(), finishedAt: f.clock.now())
                }
                if !record.dryRun {
                    if let effect = effects[record.kind] { effect(&findings, record.params) } else if let service = record.params["service"] {
                        findings.removeAll { $0.subject == service }
                    } else {
                        findings.removeAll()
                    }
                }
                let outcome = ActionOutcome(action: record.kind, subject: record.params["service"] ?? "host", dryRun: record.dryRun, plan: ["would \(record.kind)"],
                                            before: ["state": "exited"], after: record.dryRun ? [:] : ["state": "running"], verified: record.dryRun ? nil : verified,
                                            durationSeconds: 1.5)
                return CommandResult(commandId: record.id, status: .succeeded, message: "done", startedAt: f.clock.now(), finishedAt: f.clock.now(), action: outcome)
            }
            _ = try await f.fleet.complete(agent: agent, commandID: record.id, result: result)
        }
        return count
    }
}

/// Engine, publisher and intake over a real SQLite store, a manual clock and memory GitHub.
final class TicketFixture {
    let fleet: FleetFixture
    let github = MemoryGitHub()
    let host = FakeHost()
    var config: TicketConfig
    let logger = Logger(label: "test")

    init(mode: RolloutMode = .fix, approvers: [String] = ["alice"], configure: (inout TicketConfig) -> Void = { _ in }) async throws {
        fleet = try FleetFixture()
        let clock = fleet.clock
        github.now = { clock.now() }
        config = TicketConfig()
        config.mode = mode
        config.github = GitHubConfig(repository: "acme/ops", apiURL: "http://fake", tokenFile: nil, webhookSecretFile: nil, pollInterval: 60,
                                     label: nil, approvers: approvers, approveWithWritePermission: false, mentions: ["oncall"])
        configure(&config)
        _ = try await fleet.enroll("vps-1")
    }

    var engine: TicketEngine {
        let github = self.github
        return TicketEngine(store: fleet.store, fleet: fleet.fleet, config: config, clock: fleet.clock, logger: logger,
                            permission: { login in try github.permission(of: login) })
    }
    var publisher: TicketPublisher {
        TicketPublisher(sink: GitHubSink(api: github, logger: logger), engine: engine, mode: config.mode, mentions: config.github?.mentions ?? [],
                        clock: fleet.clock, logger: logger)
    }
    var intake: IssueIntake { IssueIntake(api: github, config: config.github!, engine: engine, store: fleet.store, clock: fleet.clock, logger: logger) }
    var runner: TicketRunner { TicketRunner(engine: engine, publisher: publisher, intake: intake, logger: logger) }

    /// Runner passes and host answers until nothing moves (or `rounds` run out).
    func settle(rounds: Int = 12) async throws {
        for _ in 0..<rounds {
            await runner.tick()
            let served = try await host.serve(fleet)
            if served == 0 {
                await runner.tick()
                if try await host.serve(fleet) == 0 { return }
            }
        }
    }

    func ticket(issue: Int) async throws -> Ticket {
        guard let t = try await fleet.store.ticket(issue: issue) else { throw OperationalError("no ticket for #\(issue)") }
        return t
    }

    func commands() async throws -> [CommandRecord] {
        try await fleet.store.commands(requestedByPrefix: "ticket:", since: .distantPast)
    }

    static func down(_ service: String) -> Finding {
        Finding(code: "service.down", severity: .critical, subject: service, message: "\(service) is exited (137)", evidence: ["exit_code": "137"])
    }
}
