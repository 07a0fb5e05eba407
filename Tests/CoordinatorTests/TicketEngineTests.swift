import Foundation
import Logging
import Testing
@testable import Coordinator
@testable import Shared

@Suite struct TicketLoopTests {
    @Test func aHealthyStatusRequestIsClosedWithItsReport() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "Please check qfield status")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .healthy)
        #expect(t.intent == .status)
        #expect(f.github.issues[issue.number]?.state == "closed")
        #expect(f.github.issues[issue.number]?.stateReason == "completed")
        #expect(f.github.issues[issue.number]?.labels.contains("fieldmedic:healthy") == true)
        let report = try #require(f.github.reportBody(issue.number))
        #expect(report.contains("Healthy"))
        #expect(f.github.comments[issue.number]?.count == 1, "one report comment, edited in place")
        #expect(f.host.executed == ["diagnose"])
    }

    @Test func aProblemReportWithNothingWrongStaysOpenForAPerson() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "Sync not working since this morning")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        #expect(f.github.issues[issue.number]?.state == "open")
        #expect(f.github.issues[issue.number]?.labels.contains("fieldmedic:escalated") == true)
        let report = try #require(f.github.reportBody(issue.number))
        #expect(report.contains("no finding on the host explains it"))
        #expect(report.contains("@oncall"))
    }

    @Test func aKilledWorkerIsRestartedVerifiedAndClosed() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "Jobs stuck, nothing processes")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .resolved)
        #expect(f.host.executed == ["diagnose", "start_service(worker_wrapper)", "diagnose"])
        #expect(f.github.issues[issue.number]?.state == "closed")
        #expect(f.github.issues[issue.number]?.labels.contains("fieldmedic:resolved") == true)
        let report = try #require(f.github.reportBody(issue.number))
        #expect(report.contains("start_service(service=worker_wrapper)"))
        #expect(report.contains("Before / after"))
        #expect(report.contains("Timeline"))
        #expect(t.resolvedAt != nil)
        let audit = try await f.fleet.store.auditRows(since: nil).map(\.action)
        for action in ["ticket.received", "ticket.diagnosing", "ticket.planned", "ticket.fixing", "ticket.verifying", "ticket.resolved", "ticket.published"] {
            #expect(audit.contains(action), "audit has \(action)")
        }
        guard case .intact = try await f.fleet.store.verifyAudit() else { Issue.record("audit chain broken"); return }
    }

    @Test func aGuardedSecondStepWaitsForAnApproverBoundToThePlan() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("app")]
        f.host.effects["start_service"] = { _, _ in }  // restarting does not help
        let issue = f.github.open(title: "app down")
        try await f.intake.poll()
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .awaitingApproval)
        #expect(f.github.issues[issue.number]?.labels.contains("fieldmedic:awaiting-approval") == true)
        let plan = try #require(t.plan)
        #expect(try #require(f.github.reportBody(issue.number)).contains("/fieldmedic approve \(plan.shortHash)"))

        let now = f.fleet.clock.now()
        f.github.comment(on: issue.number, "/fieldmedic approve \(plan.shortHash)", by: "mallory", at: now)   // not an approver
        f.github.comment(on: issue.number, "/fieldmedic approve deadbeef00", by: "alice", at: now)          // another plan
        f.github.comment(on: issue.number, "/fieldmedic approve", by: "alice", at: now)                     // which plan?
        f.github.comment(on: issue.number, "/fieldmedic approve \(plan.shortHash)", by: "alice", at: now, editedAt: now + 30)  // edited
        f.fleet.clock.advance(60)
        try await f.intake.poll()
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .awaitingApproval, "refused approvals change nothing")
        let replies = f.github.replies(issue.number)
        #expect(replies.contains { $0.contains("@mallory") && $0.contains("only the configured approvers") })
        #expect(replies.contains { $0.contains("is not the current plan") })
        #expect(replies.contains { $0.contains("must name the plan") })
        #expect(try await f.fleet.store.auditRows(since: nil).contains { $0.action == "ticket.command_ignored" && $0.details.contains("edited comment") })

        f.github.comment(on: issue.number, "Looks right.\n/fieldmedic approve \(plan.shortHash)", by: "alice", at: f.fleet.clock.now())
        f.host.effects["recreate_service"] = nil
        f.fleet.clock.advance(60)
        try await f.intake.poll()
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .resolved)
        #expect(t.approval?.approvedBy == "alice")
        #expect(f.host.executed == ["diagnose", "start_service(app)", "diagnose", "recreate_service(app)", "diagnose"])
        #expect(f.github.issues[issue.number]?.labels.contains("fieldmedic:awaiting-approval") == false)
        #expect(try await f.fleet.store.auditRows(since: nil).contains { $0.action == "ticket.approved" && $0.actor == "github:alice" })
    }

    @Test func aDenialEscalates() async throws {
        let f = try await TicketFixture(mode: .propose)
        f.host.findings = [TicketFixture.down("nginx")]
        let issue = f.github.open(title: "site down")
        try await f.intake.poll()
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .awaitingApproval, "propose mode asks even for an auto step")
        let comment = f.github.comment(on: issue.number, "/fieldmedic deny", by: "alice", at: f.fleet.clock.now())
        _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: comment, sender: "alice"))
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        #expect(t.reason?.contains("@alice denied") == true)
        #expect(f.host.executed == ["diagnose"], "nothing ran")
    }

    @Test func anUnansweredApprovalTimesOut() async throws {
        let f = try await TicketFixture(mode: .propose) { $0.guardrails.approvalTimeout = 3600 }
        f.host.findings = [TicketFixture.down("nginx")]
        let issue = f.github.open(title: "site down")
        try await f.intake.poll()
        try await f.settle()
        #expect(try await f.ticket(issue: issue.number).state == .awaitingApproval)
        f.fleet.clock.advance(3601)
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        #expect(t.reason == "Approval timed out.")
    }

    @Test func aGateWithoutApproversRefusesEveryone() async throws {
        let f = try await TicketFixture(mode: .propose, approvers: [])
        f.host.findings = [TicketFixture.down("nginx")]
        let issue = f.github.open(title: "site down")
        try await f.intake.poll()
        try await f.settle()
        let plan = try #require(try await f.ticket(issue: issue.number).plan)
        let comment = f.github.comment(on: issue.number, "/fieldmedic approve \(plan.shortHash)", by: "alice", at: f.fleet.clock.now())
        _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: comment, sender: "alice"))
        try await f.settle()
        #expect(try await f.ticket(issue: issue.number).state == .awaitingApproval)
        #expect(f.github.replies(issue.number).contains { $0.contains("no approvers are configured") })
    }

    @Test func observeModeDiagnosesAndReportsButNeverFixes() async throws {
        let f = try await TicketFixture(mode: .observe)
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "jobs stuck")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        #expect(f.host.executed == ["diagnose"])
        #expect(try #require(f.github.reportBody(issue.number)).contains("observe mode"))
    }

    @Test func aRestartedCoordinatorResumesAndNeverSendsAFixTwice() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "worker down")
        try await f.intake.poll()
        // Advance until the fix is queued, but do not let the host run it yet.
        for _ in 0..<4 {
            await f.runner.tick()
            if try await f.ticket(issue: issue.number).state == .fixing { break }
            _ = try await f.host.serve(f.fleet)
        }
        let fixing = try await f.ticket(issue: issue.number)
        #expect(fixing.state == .fixing)
        // A crash between queueing the fix and saving the ticket: the saved ticket is still
        // "planned". A new coordinator (new engine) decides again and gets the same command.
        var stale = fixing
        stale.state = .planned
        stale.pending = nil
        try await f.fleet.store.saveTicket(stale, audit: nil)
        let fresh = f.engine
        _ = try await fresh.advance(try await f.ticket(issue: issue.number))
        try await f.settle()
        let fixes = try await f.commands().filter { $0.kind == "start_service" }
        #expect(fixes.count == 1)
        #expect(f.host.executed.filter { $0.hasPrefix("start_service") }.count == 1)
        #expect(try await f.ticket(issue: issue.number).state == .resolved)
    }

    @Test func aPauseStopsFixesButNotDiagnosis() async throws {
        let f = try await TicketFixture()
        try await f.fleet.store.setControl("pause", value: "by test", at: f.fleet.clock.now(), audit: nil)
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "worker down")
        try await f.intake.poll()
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .planned)
        #expect(t.waitNote?.contains("Paused fleet-wide") == true)
        #expect(f.host.executed == ["diagnose"])
        try await f.fleet.store.setControl("pause", value: nil, at: f.fleet.clock.now(), audit: nil)
        f.fleet.clock.advance(20)
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .resolved)
    }

    @Test func aSpentBudgetEscalatesInsteadOfFixingAgain() async throws {
        let f = try await TicketFixture { $0.guardrails.budgetPerHour = 2 }
        for n in 0..<3 {
            f.host.findings = [TicketFixture.down("worker_wrapper")]
            let issue = f.github.open(title: "worker down again \(n)")
            try await f.intake.poll()
            try await f.settle()
            let t = try await f.ticket(issue: issue.number)
            if n < 2 {
                #expect(t.state == .resolved)
            } else {
                #expect(t.state == .escalated)
                #expect(t.reason?.contains("Budget spent") == true)
            }
            f.fleet.clock.advance(60)
        }
        #expect(f.host.executed.filter { $0.hasPrefix("start_service") }.count == 2)
    }

    @Test func failedFixesOpenTheFleetCircuitBreaker() async throws {
        let f = try await TicketFixture { $0.guardrails.breakerFailures = 2 }
        f.host.failFixes = true
        var last = 0
        for n in 0..<3 {
            f.host.findings = [TicketFixture.down("svc\(n)")]
            last = f.github.open(title: "svc\(n) down").number
            try await f.intake.poll()
            try await f.settle()
            f.fleet.clock.advance(60)
        }
        #expect(try await f.fleet.store.control("breaker") != nil)
        let t = try await f.ticket(issue: last)
        #expect(t.state == .planned)
        #expect(t.waitNote?.contains("circuit breaker") == true)
        #expect(try await f.fleet.store.auditRows(since: nil).contains { $0.action == "breaker.opened" })
    }

    @Test func webhookAndPollingTogetherNeverDoubleATicket() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "please check status")
        _ = try await f.intake.handle(.issue(action: "opened", issue: issue, sender: "fieldcrew"))
        try await f.intake.poll()
        _ = try await f.intake.handle(.issue(action: "opened", issue: issue, sender: "fieldcrew"))
        #expect(try await f.fleet.store.allTickets().count == 1)
    }

    @Test func aReopenedIssueStartsANewRunAndCountsAsAFalseClosure() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "please check status")
        try await f.intake.poll()
        try await f.settle()
        #expect(f.github.issues[issue.number]?.state == "closed")
        f.github.with { f.github.issues[issue.number]?.state = "open" }
        _ = try await f.intake.handle(.issue(action: "reopened", issue: f.github.issues[issue.number]!, sender: "fieldcrew"))
        var t = try await f.ticket(issue: issue.number)
        #expect(t.run == 2)
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.state == .healthy)
        let stats = TicketStats.compute(try await f.fleet.store.allTickets())
        #expect(stats.reopenedWithin7Days == 1)
        #expect(stats.falseClosureRate == 1)
    }

    @Test func githubOutagesDelayReportsAndLoseNothing() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "worker down")
        try await f.intake.poll()
        f.github.failNext = 1000
        f.github.failure = GitHubError(kind: .rateLimited, status: 429, message: "slow down", retryAt: f.fleet.clock.now() + 30)
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .resolved, "the fix does not wait for GitHub")
        #expect(t.github.dirty)
        #expect(f.github.issues[issue.number]?.state == "open")
        f.github.failNext = 0
        f.fleet.clock.advance(31)
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(!t.github.dirty)
        #expect(f.github.issues[issue.number]?.state == "closed")
        #expect(f.github.comments[issue.number]?.count == 1)
    }

    @Test func aLostCommentIDIsFoundByItsMarkerNotPostedTwice() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "sync not working")
        try await f.intake.poll()
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        t.github.reportCommentID = nil
        t.github.dirty = true
        t.github.publishedDigest = nil
        try await f.fleet.store.saveTicket(t, audit: nil)
        try await f.settle()
        #expect(f.github.comments[issue.number]?.filter { $0.body.contains(TicketReport.markerPrefix) }.count == 1)
    }

    @Test func aProactiveIssueOrReplyWhoseAnswerWasLostIsFoundNotPostedTwice() async throws {
        let github = MemoryGitHub()
        let sink = GitHubSink(api: github, logger: Logger(label: "test"))
        var ticket = Ticket(id: 7, source: .finding, title: "worker_wrapper is down on vps-1", body: "found by the agent", author: "fieldmedic", now: Date())
        ticket.host = "vps-1"
        ticket.github.replies = ["which host?", "approval refused: bob is not an approver"]
        let report = "the report\n" + TicketReport.marker(ticket)
        // GitHub opens the issue, then the answer is lost: the next attempt finds it.
        github.loseAnswers = 1
        await #expect(throws: GitHubError.self) { try await sink.publish(&ticket, report: report, labels: [], close: false) }
        #expect(ticket.issueNumber == nil)
        // Then the report comment and the first reply are stored, and their answers lost.
        github.loseAnswers = 2
        await #expect(throws: GitHubError.self) { try await sink.publish(&ticket, report: report, labels: [], close: false) }
        await #expect(throws: GitHubError.self) { try await sink.publish(&ticket, report: report, labels: [], close: false) }
        try await sink.publish(&ticket, report: report, labels: [], close: false)
        #expect(github.issues.count == 1)
        #expect(ticket.issueNumber == github.issues.keys.first)
        #expect(github.issues.values.first?.labels == ["fieldmedic:proactive", "host:vps-1"])
        let number = try #require(ticket.issueNumber)
        #expect(github.replies(number).count == 2, "\(github.replies(number))")
        #expect(github.comments[number]?.filter { $0.body.contains(TicketReport.markerPrefix) }.count == 1)
        #expect(ticket.github.replies.isEmpty && ticket.github.repliesPosted == 2)
        // A later reply gets the next number, even with the same words.
        ticket.github.replies = ["which host?"]
        try await sink.publish(&ticket, report: report, labels: [], close: false)
        #expect(github.replies(number).count == 3)
    }

    @Test func anAmbiguousHostIsAskedForThenUsed() async throws {
        let f = try await TicketFixture()
        _ = try await f.fleet.enroll("vps-2")
        let issue = f.github.open(title: "please check status")
        try await f.intake.poll()
        try await f.settle()
        #expect(try await f.ticket(issue: issue.number).state == .received)
        #expect(f.github.replies(issue.number).first?.contains("Which host") == true)
        f.github.with { f.github.issues[issue.number]?.labels = ["host:vps-1"]; f.github.issues[issue.number]?.updatedAt = Date() }
        _ = try await f.intake.handle(.issue(action: "labeled", issue: f.github.issues[issue.number]!, sender: "x"))
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.host == "vps-1")
        #expect(t.state == .healthy)
        #expect(f.github.replies(issue.number).count == 1, "asked once")
    }

    @Test func dryRunAndRetryOnRequest() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        f.host.failFixes = true
        let issue = f.github.open(title: "worker down")
        try await f.intake.poll()
        try await f.settle()
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .escalated)
        let dry = f.github.comment(on: issue.number, "/fieldmedic dry-run", by: "alice", at: f.fleet.clock.now())
        _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: dry, sender: "alice"))
        try await f.settle()
        #expect(f.host.executed.contains("dry:start_service"))
        f.host.failFixes = false
        let retry = f.github.comment(on: issue.number, "/fieldmedic retry", by: "alice", at: f.fleet.clock.now())
        _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: retry, sender: "alice"))
        try await f.settle()
        t = try await f.ticket(issue: issue.number)
        #expect(t.run == 2)
        #expect(t.state == .resolved)
    }

    @Test func twoTicketsForTheSameFindingNeverRaceOneWaitsForTheLock() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let a = f.github.open(title: "worker down")
        let b = f.github.open(title: "jobs not processing")
        try await f.intake.poll()
        // Both diagnose and plan; the first takes the lock, the second waits for it.
        await f.runner.tick()
        try await f.host.serve(f.fleet)
        await f.runner.tick()
        let first = try await f.ticket(issue: a.number), second = try await f.ticket(issue: b.number)
        #expect(first.state == .fixing)
        #expect(second.state == .planned)
        #expect(second.waitNote?.contains("is fixing service.down") == true)
        try await f.settle()
        #expect(f.host.executed.filter { $0.hasPrefix("start_service") }.count == 1, "one fix for one fault")
        #expect(try await f.ticket(issue: a.number).state == .resolved)
        let second2 = try await f.ticket(issue: b.number)
        #expect(second2.state == .resolved, "re-checked after the lock: the other ticket fixed it")
        #expect(second2.verdict?.contains("Resolved by #\(a.number)") == true, "\(second2.verdict ?? "")")
        // After the lock it asked the agent again (a new command), never replayed the old answer.
        let diagnoses = try await f.commands().filter { $0.kind == "diagnose" && $0.requestedBy == second2.subjectName }
        #expect(diagnoses.count == 2, "the first diagnosis and one fresh one after the lock: \(diagnoses.map(\.id))")
        #expect(Set(diagnoses.map(\.id)).count == 2)
    }

    @Test func writePermissionCanBeEnoughToApprove() async throws {
        let f = try await TicketFixture(mode: .propose, approvers: []) { $0.github?.approveWithWritePermission = true }
        f.github.permissions = ["bob": "write", "eve": "read"]
        f.host.findings = [TicketFixture.down("nginx")]
        let issue = f.github.open(title: "site down")
        try await f.intake.poll()
        try await f.settle()
        let plan = try #require(try await f.ticket(issue: issue.number).plan)
        for who in ["eve", "bob"] {
            let c = f.github.comment(on: issue.number, "/fieldmedic approve \(plan.shortHash)", by: who, at: f.fleet.clock.now())
            _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: c, sender: who))
        }
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.approval?.approvedBy == "bob")
        #expect(t.state == .resolved)
        #expect(f.github.replies(issue.number).contains { $0.contains("@eve") })
    }

    @Test func secretsInEvidenceNeverReachTheReport() async throws {
        let f = try await TicketFixture()
        f.host.findings = [Finding(code: "app.status_error", severity: .critical, subject: "app",
                                   message: "storage error: AWS_SECRET_ACCESS_KEY=hunter2hunter2 rejected",
                                   evidence: ["log": "Authorization: Bearer abcdef0123456789abcdef", "PASSWORD": "s3cr3t-value"])]
        let issue = f.github.open(title: "sync broken", body: "our token is ghp_abcdefghijklmnopqrstuvwxyz0123456789 if that helps")
        try await f.intake.poll()
        try await f.settle()
        #expect(!(try await f.ticket(issue: issue.number).body.contains("ghp_abcdefghijklmnopqrstuvwxyz0123456789")), "not stored")
        let report = try #require(f.github.reportBody(issue.number))
        #expect(!report.contains("hunter2hunter2"))
        #expect(!report.contains("abcdef0123456789abcdef"))
        #expect(!report.contains("s3cr3t-value"))
        #expect(try await f.ticket(issue: issue.number).state == .escalated)
    }

    @Test func diagnoseOnRequestAddsAFreshDiagnosis() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "sync not working")
        try await f.intake.poll()
        try await f.settle()
        f.host.findings = [TicketFixture.down("app")]
        let c = f.github.comment(on: issue.number, "/fieldmedic diagnose", by: "alice", at: f.fleet.clock.now())
        _ = try await f.intake.handle(.comment(action: "created", issue: f.github.issues[issue.number]!, comment: c, sender: "alice"))
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.timeline.contains { $0.text.hasPrefix("Diagnosis on request: service.down on app") })
        #expect(f.host.executed == ["diagnose", "diagnose"])
        #expect(t.state == .escalated, "a diagnosis on request fixes nothing by itself")
    }

    @Test func aFixedFindingIsNotFixedAgainForAnotherThatHasNoFix() async throws {
        let f = try await TicketFixture()
        let backlog = Finding(code: "queue.backlog", severity: .warning, subject: "core_job", message: "60 pending")
        f.host.findings = [TicketFixture.down("worker_wrapper"), backlog]
        f.host.effects["start_service"] = { findings, _ in findings.removeAll { $0.code == "service.down" } }
        let issue = f.github.open(title: "jobs not processing")
        try await f.intake.poll()
        try await f.settle()
        let t = try await f.ticket(issue: issue.number)
        #expect(f.host.executed == ["diagnose", "start_service(worker_wrapper)", "diagnose"], "no recreate for a service that is up")
        #expect(t.state == .escalated)
        #expect(t.reason?.contains("queue.backlog on core_job remains") == true, "\(t.reason ?? "")")
        #expect(t.reason?.contains("Fixed what could be fixed (start_service(service=worker_wrapper))") == true)
    }
}

@Suite struct TicketLogicTests {
    @Test func intentReadsTheWords() {
        #expect(IntentClassifier.classify(title: "Please check qfield status", body: "") == .status)
        #expect(IntentClassifier.classify(title: "health check", body: "is everything ok?") == .status)
        #expect(IntentClassifier.classify(title: "Sync not working", body: "") == .problem)
        #expect(IntentClassifier.classify(title: "status: jobs stuck", body: "") == .problem)
        #expect(IntentClassifier.classify(title: "QField", body: "") == .problem, "when in doubt: a problem, never auto-closed")
    }

    @Test func hostComesFromALabelABodyLineOrTheOnlyHost() {
        #expect(HostResolver.resolve(labels: ["bug", "host:vps-2"], body: "", hosts: ["vps-1", "vps-2"]) == .host("vps-2"))
        #expect(HostResolver.resolve(labels: [], body: "Hello\nhost: vps-1\nthanks", hosts: ["vps-1", "vps-2"]) == .host("vps-1"))
        #expect(HostResolver.resolve(labels: [], body: "", hosts: ["vps-1"]) == .host("vps-1"))
        #expect(HostResolver.resolve(labels: [], body: "", hosts: ["a", "b"]) == .ambiguous(["a", "b"]))
        #expect(HostResolver.resolve(labels: ["host:zz"], body: "", hosts: ["a"]) == .unknown("zz", known: ["a"]))
        #expect(HostResolver.resolve(labels: [], body: "", hosts: []) == .noHosts)
    }

    @Test func commandsAreParsedFromTheirOwnLine() throws {
        #expect(ChatCommand.parse("LGTM\n/fieldmedic approve abc1234") == .success(ChatCommand(verb: .approve, argument: "abc1234")))
        #expect(ChatCommand.parse("/FieldMedic dry-run") == .success(ChatCommand(verb: .dryRun, argument: nil)))
        #expect(ChatCommand.parse("no command here") == nil)
        #expect(ChatCommand.parse("/fieldmedic launch") == .failure(ChatCommandError(text: "/fieldmedic launch")))
    }

    @Test func everyFindingCodeHasAPlaybookEntryAndTheCoordinatorsOwnAreKnown() throws {
        #expect(Set(Playbook.builtIn.entries.keys) == Set(FindingCode.allCases.map(\.rawValue)))
        #expect(TicketEngine.coordinatorCodes == ["disk.full_predicted", "queue.backlog_growing", "service.crashloop", "agent.offline"])
        // Only fixes can be named in an override, by the names both sides use.
        let reader = try ConfigReader(text: "[playbook.\"disk.high\"]\nactions = [\"diagnose\"]\n", path: "coordinator.toml")
        #expect(throws: ConfigError.self) { _ = try TicketConfig.load(from: reader) }
    }

    @Test func theBuiltInPlaybookFollowsTheDesign() {
        let book = Playbook.builtIn
        let down = book.plan(for: [TicketFixture.down("worker_wrapper")]).plan
        #expect(down.steps.map(\.summary) == ["start_service(service=worker_wrapper)", "recreate_service(service=worker_wrapper)"])
        #expect(down.steps.map(\.policy) == [.auto, .approve])
        let stuck = book.plan(for: [Finding(code: "queue.stuck", severity: .warning, subject: "core_job", message: "3 stuck")]).plan
        #expect(stuck.steps.map(\.action) == ["fail_stuck_jobs", "restart_service"])
        #expect(stuck.steps.map(\.policy) == [.approve, .auto])
        let oom = book.plan(for: [Finding(code: "service.oom_killed", severity: .critical, subject: "app", message: "oom")])
        #expect(oom.escalateAfterFix)
        let tls = book.plan(for: [Finding(code: "tls.expiring", severity: .warning, subject: "example.org", message: "5 days")]).plan
        #expect(tls.steps.isEmpty)
        #expect(!tls.manual.isEmpty)
        let overridden = book.overriding(["service.down": .init(policy: .never, actions: nil)]).plan(for: [TicketFixture.down("app")]).plan
        #expect(overridden.steps.isEmpty)
    }

    @Test func thePlanHashCoversActionsAndParameters() {
        let a = Plan(steps: [PlanStep(action: "restart_service", params: ["service": "app"], policy: .auto, finding: "service.down", subject: "app")], manual: [])
        var b = a
        b.steps[0].params["service"] = "nginx"
        #expect(a.hash != b.hash)
        #expect(a.hash == Plan(steps: a.steps, manual: ["other words"]).hash)
        #expect(a.shortHash.count == 12)
    }

    @Test func commandIDsAreStableUUIDs() {
        let a = CommandID.make("ticket", "1", "1", "step-0")
        #expect(a == CommandID.make("ticket", "1", "1", "step-0"))
        #expect(a != CommandID.make("ticket", "1", "2", "step-0"))
        #expect(UUID(uuidString: a) != nil)
    }
}
