import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Shared

/// Stored alerts → tickets. The HTTP handlers only store (`receive`) and answer; this service
/// then turns each stored alert, in order, into a ticket change through `TicketEngine`:
/// a new ticket (one per host × alert), a repeat or resolution on the ticket that answers it,
/// or an addition to the ticket that already owns its fault. A coordinator restarted with
/// alerts still pending picks them up on start.
struct IngestService: Service {
    let engine: TicketEngine
    let store: any IngestingStore
    let mapping: AlertMapping
    let logger: Logger
    /// `TestFailpoints.Point.ingestHoldAfterStore`: store and answer, never process (tests).
    let holdAfterStore: Bool

    static let wakeKey = "ingest"
    /// Attempts at one stored alert before it is marked failed (and reported), so that one
    /// bad row cannot hold up every alert behind it.
    static let maxAttempts = 3
    static let alertsPerTurn = 25
    private let attempts = LockedValue([Int64: Int]())
    /// Failures reported recently, by text: when, and how many were folded since.
    private let reported = LockedValue([String: (at: Date, suppressed: Int)]())
    static let foldWindow: TimeInterval = 60

    init(engine: TicketEngine, store: any IngestingStore, config: IngestConfig, logger: Logger, failpoints: TestFailpoints = TestFailpoints()) {
        self.engine = engine
        self.store = store
        self.mapping = AlertMapping(config: config)
        self.logger = logger
        self.holdAfterStore = failpoints.has(.ingestHoldAfterStore)
    }

    var clock: any WallClock { engine.clock }

    func run() async throws {
        let pending = try await store.ingestCounts()[IngestState.pending.rawValue] ?? 0
        if holdAfterStore {
            logger.warning("test failpoint \(TestFailpoints.Point.ingestHoldAfterStore.rawValue) is set (\(TestFailpoints.variable)): alerts are stored and answered but not processed until a restart without it",
                           metadata: ["pending": "\(pending)"])
            try? await gracefulShutdown()
            return
        }
        if pending > 0 { logger.info("resuming stored alerts", metadata: ["pending": "\(pending)"]) }
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let seen = await engine.fleet.notifier.generation(Self.wakeKey)
                await drain()
                _ = await engine.fleet.notifier.wait(Self.wakeKey, since: seen, timeout: 2)
            }
        }
    }

    // MARK: Receiving

    /// Stores one delivery's alerts (all or none) and wakes the processor. The sender's
    /// answer waits for this and nothing else.
    @discardableResult
    func receive(_ alerts: [IngestedAlert], source: IngestedAlert.Source, details: [String: String] = [:]) async throws -> [Int64] {
        let now = clock.now()
        let firing = alerts.filter { $0.status == .firing }.count
        let ids: [Int64]
        do {
            ids = try await store.storeAlerts(alerts, receivedAt: now, audit: AuditEntry(
                at: now, actor: source.rawValue, action: "ingest.received", subject: "ingest",
                details: details.merging(["alerts": String(alerts.count), "firing": String(firing), "resolved": String(alerts.count - firing)]) { a, _ in a }))
        } catch {
            await reportFailure(.storeFailed(source: source, reason: Redactor.redact("\(error)")))
            throw error
        }
        await engine.fleet.notifier.notify(Self.wakeKey)
        return ids
    }

    // MARK: Processing

    /// Processes every pending alert (in batches); returns how many were handled.
    @discardableResult
    func drain() async -> Int {
        var handled = 0
        while !Task.isCancelled {
            let batch: [StoredAlert]
            let hosts: Set<String>
            let silences: [SilenceRecord]
            do {
                batch = try await store.pendingAlerts(limit: 200)
                if batch.isEmpty { return handled }
                hosts = Set(try await store.agents().filter { $0.state == .active }.map(\.name))
                silences = try await store.silences(activeAt: clock.now())
            } catch {
                if !(Task.isCancelled || error is CancellationError) {
                    logger.error("reading stored alerts failed; will retry", metadata: ["error": "\(error)"])
                }
                return handled
            }
            // A few alerts per turn of the ticket mutex: the runner takes it once per open
            // ticket, so one alert per turn would let a burst crawl behind a busy runner; a
            // few keep the turns short (milliseconds each) for everyone else.
            var progressed = false
            var blocked = false
            for start in stride(from: 0, to: batch.count, by: Self.alertsPerTurn) where !blocked {
                let chunk = batch[start..<min(start + Self.alertsPerTurn, batch.count)]
                let (done, failure): (Int, (StoredAlert, String)?) = await engine.mutex.run {
                    var done = 0
                    for stored in chunk {
                        if Task.isCancelled { break }
                        do {
                            try await process(stored, hosts: hosts, silences: silences)
                            done += 1
                        } catch {
                            // Later alerts may be about the same ticket: keep the order, stop here.
                            return (done, (stored, Redactor.redact("\(error)")))
                        }
                    }
                    return (done, nil)
                }
                if Task.isCancelled { return handled }
                handled += done
                progressed = progressed || done > 0
                guard let (stored, reason) = failure else { continue }
                let count = attempts.withLock { $0[stored.id, default: 0] += 1; return $0[stored.id]! }
                logger.error("turning a stored alert into a ticket failed", metadata: ["row": "\(stored.id)", "attempt": "\(count)", "error": "\(reason)"])
                guard count >= Self.maxAttempts else { return handled }
                attempts.withLock { $0[stored.id] = nil }
                try? await store.finishAlert(id: stored.id, state: .failed, host: nil, ticket: nil, outcome: reason, at: clock.now(), audit: nil)
                await reportFailure(.processingFailed(alert: stored.alert.name, row: stored.id, reason: reason))
                progressed = true
                blocked = true
            }
            if !progressed { return handled }
        }
        return handled
    }

    /// One stored alert → one ticket change (under the ticket mutex).
    func process(_ stored: StoredAlert, hosts: Set<String>, silences: [SilenceRecord]) async throws {
        let alert = stored.alert
        let now = clock.now()
        func finish(_ state: IngestState, host: String?, ticket: Int64?, _ outcome: String) async throws {
            try await store.finishAlert(id: stored.id, state: state, host: host, ticket: ticket, outcome: outcome, at: now, audit: nil)
            logger.debug("alert handled", metadata: ["row": "\(stored.id)", "alert": "\(alert.name)", "state": "\(state.rawValue)", "outcome": "\(outcome)"])
        }
        let match = mapping.host(of: alert, hosts: hosts)
        guard case .host(let host) = match else {
            var candidates: [String] = []
            if case .unknown(let tried) = match { candidates = tried }
            try await finish(.unknownHost, host: nil, ticket: nil, "no enrolled host among: " + (candidates.isEmpty ? "(no host label)" : candidates.joined(separator: ", ")))
            await reportFailure(.unknownHost(alert: alert.name, source: alert.source, candidates: candidates))
            return
        }
        let finding = mapping.finding(of: alert, host: host)

        // The ticket that answers this alert already (same host and key).
        if let id = try await store.alertTicketID(source: alert.source, key: alert.key, host: host), let ticket = try await store.ticket(id: id) {
            let link = ticket.alerts?.first { $0.source == alert.source && $0.key == alert.key }
            // Alertmanager dates each occurrence; GlitchTip does not, so there a firing alert
            // after its resolution is a new occurrence.
            let sameOccurrence: Bool
            if let known = link?.startsAt, let start = alert.startsAt { sameOccurrence = known == start } else { sameOccurrence = link?.firing == true }
            if ticket.closedAt == nil || alert.status == .resolved || sameOccurrence {
                let outcome = try await engine.alertArrived(ticket, alert: alert, finding: finding, rowID: stored.id)
                try await finish(.applied, host: host, ticket: ticket.id, outcome)
                return
            }
            // A new occurrence soon after the ticket closed: the fix did not hold, so the same
            // ticket reopens (as the watcher's do for findings) and its history stays in one
            // place; later than `[predict] reopen_within`, a ticket of its own (below). A
            // silence on it wins, as it would over a new ticket (below).
            if let closed = ticket.closedAt, now.timeIntervalSince(closed) < engine.config.predict.reopenWithin,
               !silences.contains(where: { $0.covers(agent: host, code: finding.code, at: now) }) {
                let outcome = try await engine.alertArrived(ticket, alert: alert, finding: finding, rowID: stored.id)
                let noted = try await store.ticket(id: ticket.id) ?? ticket
                try await engine.reopen(noted, finding: finding, closedAt: closed)
                try await finish(.applied, host: host, ticket: ticket.id, outcome + "; reopened \(ticket.subjectName), closed \(DurationText.human(now.timeIntervalSince(closed))) before")
                return
            }
        }
        if alert.status == .resolved {
            try await finish(.ignored, host: host, ticket: nil, "resolved, and no ticket answers it")
            return
        }
        if let silence = silences.first(where: { $0.covers(agent: host, code: finding.code, at: now) }) {
            try await finish(.silenced, host: host, ticket: nil, "silence \(silence.id) covers \(finding.code) on \(host)")
            return
        }
        // One ticket per fault: one that already owns this finding on this host takes the alert.
        if let owner = try await engine.alertOwner(of: finding, host: host) {
            let outcome = try await engine.alertArrived(owner, alert: alert, finding: finding, rowID: stored.id)
            try await finish(.applied, host: host, ticket: owner.id, outcome)
            return
        }
        let ticket = try await engine.openAlertTicket(alert, finding: finding, host: host, rowID: stored.id)
        try await finish(.applied, host: host, ticket: ticket.id, "opened \(ticket.subjectName)")
    }

    // MARK: Failures

    /// Ingest itself failed: an error line in the journal and a row in the audit log. This is
    /// the one place to tell people as well (the notifications' "failures of ingest" event
    /// belongs here once notifications exist).
    /// The same failure again within a minute is folded into the next report (a burst of
    /// alerts for an unknown host is one line, one audit row and one message, not a thousand).
    func reportFailure(_ failure: IngestFailure) async {
        let text = Redactor.redact(failure.description)
        let now = clock.now()
        let folded: Int? = reported.withLock { seen in
            if let last = seen[text], now.timeIntervalSince(last.at) < Self.foldWindow {
                seen[text]!.suppressed += 1
                return nil
            }
            if seen.count > 1000 { seen = seen.filter { now.timeIntervalSince($0.value.at) < Self.foldWindow } }
            let suppressed = seen[text]?.suppressed ?? 0
            seen[text] = (now, 0)
            return suppressed
        }
        guard let folded else {
            logger.debug("ingest: \(text) (again; folded into the next report)")
            return
        }
        let more = folded > 0 ? " (and \(folded) more like it since the last report)" : ""
        logger.error("ingest: \(text)\(more)", metadata: ["failure": "\(failure.kind)"])
        do {
            try await store.appendAudit(AuditEntry(at: now, actor: "ingest", action: "ingest.failed", subject: "ingest",
                                                   details: ["failure": failure.kind, "text": text, "folded": String(folded)]))
        } catch {
            logger.error("ingest: the failure could not be audited either", metadata: ["error": "\(error)"])
        }
        // People are told through the notification outbox: one message per failure kind and
        // text an hour (the dedupe key), whatever the sender's retries.
        if let outbox = store as? any NotificationOutbox {
            let hour = Int(now.timeIntervalSince1970 / 3600)
            let key = "\(failure.kind):\(SHA256.hash(data: Data(text.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()):\(hour)"
            do {
                try await outbox.recordNotification(.ingestFailed(source: failure.sourceName, error: text + more, key: key, at: now))
            } catch {
                logger.error("ingest: the failure could not be queued for notification", metadata: ["error": "\(error)"])
            }
        }
    }
}
