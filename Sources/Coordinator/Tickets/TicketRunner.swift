import Foundation
import Logging
import ServiceLifecycle
import Shared

/// Drives every open ticket: on start it resumes whatever a previous coordinator left open,
/// then wakes on new tickets, command results and comments (or every two seconds).
struct TicketRunner: Service {
    let engine: TicketEngine
    let publisher: TicketPublisher
    let intake: IssueIntake?
    let logger: Logger

    func run() async throws {
        let store = engine.store
        let open = try await store.openTickets()
        if !open.isEmpty {
            logger.info("resuming open tickets", metadata: ["count": "\(open.count)", "ids": "\(open.map(\.id))"])
        }
        try await cancelWhenGracefulShutdown {
            // The first pass and one every `fullPassEvery` look at every open ticket; the others
            // skip the tickets that are only waiting (an approval, an agent's answer), so a
            // thousand of them waiting do not cost a thousand decodes every two seconds.
            var lastFull: ContinuousClock.Instant?
            while !Task.isCancelled {
                let seen = await engine.fleet.notifier.generation(TicketEngine.wakeKey)
                let full = lastFull.map { ContinuousClock.now - $0 >= Self.fullPassEvery } ?? true
                if full { lastFull = ContinuousClock.now }
                await tick(full: full)
                _ = await engine.fleet.notifier.wait(TicketEngine.wakeKey, since: seen, timeout: 2)
            }
        }
    }

    static let fullPassEvery: Duration = .seconds(30)

    /// One pass: intake, then every open ticket as far as it goes (or, unless `full`, every
    /// one with something to do: `openTicketIDs(needingWorkAt:)`), then its report.
    func tick(full: Bool = true) async {
        await intake?.pollIfDue()
        let ids: [Int64]
        do {
            ids = full ? try await engine.store.openTicketIDs() : try await engine.store.openTicketIDs(needingWorkAt: engine.clock.now())
        } catch {
            if Task.isCancelled || error is CancellationError { return }  // shutting down
            logger.error("reading open tickets failed", metadata: ["error": "\(error)"])
            return
        }
        for id in ids {
            do {
                let advanced: Ticket? = try await engine.mutex.run {
                    // Read under the lock: a webhook or an operator may have just changed it.
                    guard let ticket = try await engine.store.ticket(id: id) else { return nil }
                    return try await engine.advance(ticket)
                }
                // GitHub is called outside the lock: a slow GitHub holds up nothing else.
                if let advanced { try await publisher.publishIfNeeded(advanced) }
            } catch {
                if Task.isCancelled || error is CancellationError { return }
                logger.error("ticket step failed; will retry", metadata: ["ticket": "\(id)", "error": "\(Redactor.redact("\(error)"))"])
            }
        }
    }
}
