import Foundation
import Logging
import ServiceLifecycle
import Shared

/// Takes stored events through routing to messages and delivers them, per channel, grouped,
/// with retries and backoff. It holds no lock while it sends: the ticket mutex is never
/// involved (events are already in the store), so a slow Telegram holds up nothing else.
struct NotificationService: Service {
    let outbox: any NotificationOutbox
    let tickets: any TicketStore
    let wake: Notifier
    let config: NotifyConfig
    let playbook: Playbook
    let channels: [String: any NotificationChannel]
    let clock: any WallClock
    let logger: Logger

    /// How long finished messages are kept for `notify status` and dedupe.
    static let retention: TimeInterval = 30 * 86_400

    func run() async throws {
        let wake = self.wake
        await withGracefulShutdownHandler {
            var lastPrune = Date.distantPast
            while true {
                let generation = await wake.generation(SQLiteCoordinatorStore.notifyWakeKey)
                var sleep: TimeInterval = 30
                do {
                    sleep = try await pass()
                    let now = clock.now()
                    if now.timeIntervalSince(lastPrune) > 3600 {
                        lastPrune = now
                        try await outbox.pruneOutbox(before: now.addingTimeInterval(-Self.retention))
                    }
                } catch {
                    logger.error("notification delivery failed; trying again", metadata: ["error": "\(Redactor.redact("\(error)"))"])
                    sleep = 5
                }
                // False once shutdown has begun: what is pending stays in the outbox for the next start.
                guard await wake.wait(SQLiteCoordinatorStore.notifyWakeKey, since: generation, timeout: max(0.05, sleep)) else { return }
            }
        } onGracefulShutdown: {
            Task { await wake.close() }
        }
    }

    /// Routes what is new, sends what is due; returns seconds until the next thing is due.
    @discardableResult
    func pass() async throws -> TimeInterval {
        try await routeNew()
        return try await deliverDue()
    }

    func routeNew() async throws {
        while true {
            let batch = try await outbox.unroutedEvents(limit: 500)
            if batch.isEmpty { return }
            for (id, event) in batch {
                var priority = NotificationEvent.fleetPriority
                var told: Set<String> = []
                if let ticketID = event.ticketID {
                    if let ticket = try await tickets.ticket(id: ticketID) { priority = ticket.priority(playbook) }
                    if event.kind == .resolved || event.kind == .agentBack { told = try await outbox.toldChannels(ticketID: ticketID) }
                }
                let names = NotificationRouter.channels(for: event, priority: priority, toldBefore: told, in: config.channels)
                try await outbox.route(eventID: id, event: event, channels: names, at: clock.now())
            }
            if batch.count < 500 { return }
        }
    }

    func deliverDue() async throws -> TimeInterval {
        let now = clock.now()
        let (ready, next) = try await schedule(now: now)
        guard !ready.isEmpty else { return next }
        // Channels deliver side by side: one slow service does not delay the others.
        let more = await withTaskGroup(of: Bool.self) { group in
            for name in ready { group.addTask { await deliver(channel: name, now: now) } }
            var more = false
            for await again in group { more = more || again }
            return more
        }
        return more ? 0 : try await schedule(now: clock.now()).next
    }

    /// The channels whose messages are due now (backoff passed, grouping window closed), and
    /// the seconds until the next one is.
    func schedule(now: Date) async throws -> (ready: [String], next: TimeInterval) {
        var next: TimeInterval = 30
        var ready: [String] = []
        for pending in try await outbox.pendingChannels() {
            let window = config.channels.first { $0.name == pending.channel }?.groupWindow ?? 0
            let at = max(pending.due, pending.oldest.addingTimeInterval(window))
            if at <= now { ready.append(pending.channel) } else { next = min(next, at.timeIntervalSince(now)) }
        }
        return (ready, ready.isEmpty ? next : 0)
    }

    /// One message for the channel's due events; true when more are waiting right away.
    func deliver(channel name: String, now: Date) async -> Bool {
        do {
            let messages = try await outbox.dueMessages(channel: name, now: now, limit: NotificationRouter.maxEventsPerMessage)
            guard !messages.isEmpty else { return false }
            let ids = messages.map(\.id)
            guard let channel = channels[name] else {
                // The block was removed from the config: nothing can send these.
                try await outbox.markFailed(ids, error: "no [[notify]] block named \"\(name)\" any more", at: now)
                return false
            }
            let message = NotificationMessage(events: messages.map(\.event), ids: ids)
            let started = clock.now()
            let result: Result<Void, DeliveryError> = await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    do throws(DeliveryError) {
                        try channel.send(message)
                        continuation.resume(returning: .success(()))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }
            }
            let done = clock.now()
            switch result {
            case .success:
                try await outbox.markSent(ids, at: done)
                CoordinatorMetrics.shared.notification(channel: name, result: "sent")
                logger.info("notification sent", metadata: [
                    "channel": "\(name)", "events": "\(messages.count)", "kinds": "\(NotificationMessage.counts(message.events))",
                    "ms": "\(Int(done.timeIntervalSince(started) * 1000))"])
                return messages.count == NotificationRouter.maxEventsPerMessage
            case .failure(let error):
                let attempts = (messages.map(\.attempts).max() ?? 0) + 1
                let oldest = messages.map(\.createdAt).min() ?? now
                if NotificationRouter.givesUp(attempts: attempts, createdAt: oldest, now: done, permanent: error.permanent, config: config) {
                    try await outbox.markFailed(ids, error: error.message, at: done)
                    CoordinatorMetrics.shared.notification(channel: name, result: "failed")
                    logger.error("notification failed for good", metadata: [
                        "channel": "\(name)", "events": "\(messages.count)", "attempts": "\(attempts)", "error": "\(error.message)"])
                    // Tell the other channels (never about a failure report: no loops).
                    if !messages.allSatisfy({ $0.event.kind == .notifyFailed }) {
                        try await outbox.recordNotification(.notifyFailed(channel: name, error: error.message, count: messages.count, at: done))
                    }
                } else {
                    let delay = NotificationRouter.backoff(attempts: attempts, base: config.backoffBase, cap: config.backoffCap, retryAfter: error.retryAfter)
                    try await outbox.markRetry(ids, nextAttempt: done.addingTimeInterval(delay), error: error.message)
                    CoordinatorMetrics.shared.notification(channel: name, result: "retry")
                    logger.warning("notification not sent; will retry", metadata: [
                        "channel": "\(name)", "events": "\(messages.count)", "attempt": "\(attempts)",
                        "retry_in_s": "\(Int(delay.rounded(.up)))", "error": "\(error.message)"])
                }
                return false
            }
        } catch {
            logger.error("notification outbox error", metadata: ["channel": "\(name)", "error": "\(Redactor.redact("\(error)"))"])
            return false
        }
    }
}
