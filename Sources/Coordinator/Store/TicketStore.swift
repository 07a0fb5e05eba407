import Foundation
import Shared

/// The tickets' share of the store (same database, same audit chain as the fleet's).
protocol TicketStore: Sendable {
    /// Inserts the ticket, or returns the one that already mirrors the same issue (`created`
    /// false): a webhook and a poll that see the same issue never make two tickets.
    func insertTicket(_ ticket: Ticket, audit: AuditEntry) async throws -> (ticket: Ticket, created: Bool)
    func saveTicket(_ ticket: Ticket, audit: AuditEntry?) async throws
    func ticket(id: Int64) async throws -> Ticket?
    func ticket(issue: Int) async throws -> Ticket?
    func openTicket(findingKey: String) async throws -> Ticket?
    func openTickets() async throws -> [Ticket]
    /// The host's tickets not closed: running, or escalated and still open for a person.
    func unclosedTickets(host: String) async throws -> [Ticket]
    func openTicketIDs() async throws -> [Int64]
    /// The open tickets a runner pass must look at `now`: all but those only waiting — for an
    /// approval not yet given, refused or timed out, or for an agent's answer to a command
    /// still queued or sent, within its deadline — with nothing else to do (no `/fieldmedic`
    /// request, nothing to publish, no reason recorded). For those `advance` changes nothing.
    func openTicketIDs(needingWorkAt now: Date) async throws -> [Int64]
    func allTickets() async throws -> [Ticket]

    /// False when this delivery (webhook) or comment was handled before.
    func markDelivery(id: String, event: String, at: Date) async throws -> Bool
    func deliverySeen(_ id: String) async throws -> Bool
    func markComment(id: Int64, ticket: Int64, at: Date) async throws -> Bool

    func control(_ key: String) async throws -> String?
    func controls(prefix: String) async throws -> [String: String]
    func setControl(_ key: String, value: String?, at: Date, audit: AuditEntry?) async throws

    /// The ticket that holds `key` after the call (the caller's own id when it got it).
    func acquireLock(_ key: String, ticket: Int64, at: Date) async throws -> Int64
    func releaseLocks(ticket: Int64) async throws

    /// Queues the command unless one with its id exists; returns what is stored.
    func enqueueCommandOnce(_ command: CommandRecord, audit: AuditEntry) async throws -> (record: CommandRecord, created: Bool)
    func commands(requestedByPrefix prefix: String, since: Date) async throws -> [CommandRecord]
}
