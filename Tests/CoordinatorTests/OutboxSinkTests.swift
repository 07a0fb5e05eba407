import Foundation
import Logging
import Testing
@testable import Coordinator
@testable import Shared

@Suite struct OutboxSinkTests {
    @Test func reportsAndRepliesGoToFilesAndAFailedWriteLosesNothing() async throws {
        let f = try await TicketFixture()
        let dir = f.fleet.directory + "/outbox"
        let publisher = TicketPublisher(sink: OutboxSink(directory: dir, logger: f.logger), engine: f.engine, mode: .fix, mentions: [],
                                        clock: f.fleet.clock, logger: f.logger)
        var ticket = Ticket(source: .operator, title: "Please check qfield status", body: "", author: "operator:test", now: f.fleet.clock.now())
        ticket = try await f.fleet.store.insertTicket(ticket, audit: AuditEntry(actor: "test", action: "ticket.received", subject: "ticket")).ticket
        ticket.state = .healthy
        ticket.github.replies = ["first reply, password=hunter2hunter2"]
        try await f.fleet.store.saveTicket(ticket, audit: nil)
        ticket = try await publisher.publishIfNeeded(ticket)
        ticket.github.replies = ["second reply"]
        ticket.github.dirty = true
        try await f.fleet.store.saveTicket(ticket, audit: nil)
        ticket = try await publisher.publishIfNeeded(ticket)
        let report = try String(contentsOfFile: dir + "/ticket-\(ticket.id).md", encoding: .utf8)
        #expect(report.contains("closed (completed)"))
        #expect(report.contains(TicketReport.marker(ticket)))
        let replies = try String(contentsOfFile: dir + "/ticket-\(ticket.id).replies.md", encoding: .utf8)
        #expect(replies.contains("first reply") && replies.contains("second reply"))
        #expect(!replies.contains("hunter2hunter2"))
        #expect(!ticket.github.dirty && ticket.github.replies.isEmpty)

        // The outbox cannot be written (its path is a file): the reply waits for a retry.
        let blocked = f.fleet.directory + "/not-a-directory"
        FileManager.default.createFile(atPath: blocked, contents: Data())
        let failing = TicketPublisher(sink: OutboxSink(directory: blocked + "/outbox", logger: f.logger), engine: f.engine, mode: .fix,
                                      mentions: [], clock: f.fleet.clock, logger: f.logger)
        ticket.github.replies = ["third reply"]
        ticket.github.dirty = true
        try await f.fleet.store.saveTicket(ticket, audit: nil)
        ticket = try await failing.publishIfNeeded(ticket)
        #expect(ticket.github.replies == ["third reply"])
        #expect(ticket.github.dirty)
        #expect(ticket.github.retryAt != nil && ticket.github.lastError != nil)
    }
}
