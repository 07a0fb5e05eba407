import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// The runner's passes between full ones skip the tickets that are only waiting (an approval,
/// an agent's answer). Skipping must be exactly safe: a skipped ticket is one `advance` would
/// not change, and anything it waits for (an approval, an answer, a request, its deadline)
/// brings it back.
@Suite struct TicketRunnerSkipTests {
    func needingWork(_ f: TicketFixture) async throws -> Set<Int64> {
        Set(try await f.fleet.store.openTicketIDs(needingWorkAt: f.fleet.clock.now()))
    }

    @Test func aTicketWaitingForAnApprovalIsSkippedUntilItIsApprovedOrTimesOut() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("app")]
        f.host.effects["start_service"] = { _, _ in }  // starting does not help: recreate needs an approver
        let first = f.github.open(title: "app down")
        try await f.intake.poll()
        try await f.settle()
        let waiting = try await f.ticket(issue: first.number)
        #expect(waiting.state == .awaitingApproval && !waiting.github.dirty)
        #expect(!(try await needingWork(f)).contains(waiting.id), "only waiting")
        #expect(try await f.engine.advance(waiting) == waiting, "skipping it loses nothing: advancing changes nothing")
        #expect(try await f.fleet.store.openTicketIDs().contains(waiting.id), "a full pass still sees it")

        // Approved: looked at again, and the quick passes alone carry it to the end.
        f.fleet.clock.advance(60)
        f.github.comment(on: first.number, "/fieldmedic approve \(try #require(waiting.plan).shortHash)", by: "alice", at: f.fleet.clock.now())
        f.host.effects["recreate_service"] = nil
        f.fleet.clock.advance(60)
        try await f.intake.poll()
        let approved = try await f.ticket(issue: first.number)
        #expect(approved.approval?.approvedBy == "alice", "\(approved.timeline.map(\.text)) \(f.github.replies(first.number))")
        #expect(try await needingWork(f).contains(waiting.id))
        for _ in 0..<12 {
            await f.runner.tick(full: false)
            if try await f.host.serve(f.fleet) == 0 { await f.runner.tick(full: false); break }
        }
        #expect(try await f.ticket(issue: first.number).state == .resolved)

        // Another one left waiting: past the approval timeout it is looked at, and escalates.
        f.host.findings = [TicketFixture.down("app")]
        f.host.effects["start_service"] = { _, _ in }
        f.host.effects["recreate_service"] = { _, _ in }
        let second = f.github.open(title: "app down again")
        try await f.intake.poll()
        try await f.settle()
        let late = try await f.ticket(issue: second.number)
        #expect(late.state == .awaitingApproval)
        #expect(!(try await needingWork(f)).contains(late.id))
        f.fleet.clock.advance(f.config.guardrails.approvalTimeout + 1)
        #expect(try await needingWork(f).contains(late.id), "its deadline passed")
        await f.runner.tick(full: false)
        #expect(try await f.ticket(issue: second.number).state == .escalated)
    }

    @Test func aTicketWaitingForItsAgentIsSkippedUntilTheAnswerComesOrARequestArrives() async throws {
        let f = try await TicketFixture()
        f.host.findings = [TicketFixture.down("worker_wrapper")]
        let issue = f.github.open(title: "Jobs stuck")
        try await f.intake.poll()
        await f.runner.tick()
        await f.runner.tick()  // publishes what the first pass changed
        var t = try await f.ticket(issue: issue.number)
        #expect(t.state == .diagnosing && t.pending != nil)
        if t.github.dirty { await f.runner.tick(); t = try await f.ticket(issue: issue.number) }
        #expect(!t.github.dirty)
        #expect(!(try await needingWork(f)).contains(t.id), "waiting for the diagnosis")
        #expect(try await f.engine.advance(t) == t)

        // A /fieldmedic request is work even while it waits.
        var withRequest = t
        withRequest.requests = [AdhocRequest(kind: .diagnose, requestedBy: "alice", at: f.fleet.clock.now(), commandIDs: [])]
        try await f.fleet.store.saveTicket(withRequest, audit: nil)
        #expect(try await needingWork(f).contains(t.id))
        try await f.fleet.store.saveTicket(t, audit: nil)
        #expect(!(try await needingWork(f)).contains(t.id))

        // Something to publish is work.
        var dirty = t
        dirty.github.dirty = true
        try await f.fleet.store.saveTicket(dirty, audit: nil)
        #expect(try await needingWork(f).contains(t.id))
        try await f.fleet.store.saveTicket(t, audit: nil)

        // The agent answers: looked at again, and the quick passes finish it.
        #expect(try await f.host.serve(f.fleet) == 1)
        #expect(try await needingWork(f).contains(t.id))
        for _ in 0..<12 {
            await f.runner.tick(full: false)
            if try await f.host.serve(f.fleet) == 0 { await f.runner.tick(full: false); break }
        }
        #expect(try await f.ticket(issue: issue.number).state == .resolved)
        #expect(f.host.executed == ["diagnose", "start_service(worker_wrapper)", "diagnose"])
    }

    @Test func anAgentThatNeverAnswersIsNoticedAtTheDeadline() async throws {
        let f = try await TicketFixture()
        let issue = f.github.open(title: "Sync broken")
        try await f.intake.poll()
        await f.runner.tick()
        await f.runner.tick()
        let t = try await f.ticket(issue: issue.number)
        #expect(t.state == .diagnosing)
        #expect(!(try await needingWork(f)).contains(t.id))
        f.fleet.clock.advance(f.config.guardrails.commandTimeout + 1)
        #expect(try await needingWork(f).contains(t.id))
        await f.runner.tick(full: false)
        let escalated = try await f.ticket(issue: issue.number)
        #expect(escalated.state == .escalated)
        #expect(escalated.verdict?.contains("did not answer") == true || escalated.timeline.contains { $0.text.contains("did not answer") })
    }
}
