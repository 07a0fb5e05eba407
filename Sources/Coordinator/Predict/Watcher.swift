import Foundation
import Logging
import ServiceLifecycle
import Shared

/// Acts on the minute reports before anyone files an issue: predictions from the trends,
/// findings that persist, agents that went quiet. Each becomes a proactive ticket through the
/// same machinery as a GitHub issue (playbook, guardrails, report), one per host × finding.
struct Watcher: Service {
    let engine: TicketEngine
    let config: PredictConfig
    let offlineAfter: TimeInterval
    let logger: Logger

    var store: any FullStore { engine.store }
    var clock: any WallClock { engine.clock }

    func run() async throws {
        guard config.enabled else {
            // Disabled: stay until shutdown (a service that returns early stops the coordinator).
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            var lastRetention = Date.distantPast
            while !Task.isCancelled {
                let now = clock.now()
                if now.timeIntervalSince(lastRetention) >= 3600 {
                    lastRetention = now
                    await enforceRetention(now: now)
                }
                await evaluate()
                try? await Task.sleep(for: .seconds(config.evaluateEvery))
            }
        }
    }

    func enforceRetention(now: Date) async {
        do {
            let (rolled, dropped) = try await store.enforceRetention(
                rawBefore: now.addingTimeInterval(-config.rawRetention), hourlyBefore: now.addingTimeInterval(-config.hourlyRetention))
            if rolled + dropped > 0 { logger.info("sample retention", metadata: ["rolled_up": "\(rolled)", "hourly_deleted": "\(dropped)"]) }
        } catch {
            logger.error("sample retention failed", metadata: ["error": "\(error)"])
        }
    }

    /// One pass over every active agent.
    func evaluate() async {
        do {
            let now = clock.now()
            let silences = try await store.silences(activeAt: now)
            for agent in try await store.agents() where agent.state == .active {
                do { try await engine.mutex.run { try await evaluate(agent, silences: silences, now: now) } } catch {
                    if Task.isCancelled || error is CancellationError { return }
                    logger.error("watching an agent failed", metadata: ["agent": "\(agent.name)", "error": "\(Redactor.redact("\(error)"))"])
                }
            }
        } catch {
            if Task.isCancelled || error is CancellationError { return }
            logger.error("watching failed", metadata: ["error": "\(error)"])
        }
    }

    func evaluate(_ agent: AgentRecord, silences: [SilenceRecord], now: Date) async throws {
        let name = agent.name
        // Offline: no report for `offline_after` (three intervals by default).
        let offlineKey = "\(name)|agent.offline|\(name)"
        if let last = agent.lastReportAt ?? agent.enrolledAt, now.timeIntervalSince(last) >= offlineAfter {
            let finding = Finding(.agentOffline, severity: .critical, subject: name,
                                  message: "no report from \(name) since \(WireDate.format(last)) (\(DurationText.human(now.timeIntervalSince(last))))",
                                  evidence: ["last_report": WireDate.format(last), "offline_after": DurationText.human(offlineAfter)])
            if !isSilenced(finding, agent: name, silences: silences, now: now) { try await openOffline(finding, key: offlineKey, agent: name, now: now) }
            return
        }
        if let open = try await store.latestTicket(findingKey: offlineKey), open.state == .escalated, open.closedAt == nil {
            // Reports resumed: close with the gap noted (the spool replay fills it in the samples).
            try await engine.reportsResumed(open, agent: name, lastReportAt: agent.lastReportAt)
        }

        // Predictions from the trends, through the hold.
        let predictor = Predictor(config: config)
        let series = try await store.series(agent: name, since: predictor.inputs.mapValues { now.addingTimeInterval(-$0) })
        var tracker = HoldTracker(since: try await store.holds(agent: name))
        let before = tracker.since
        let firing = tracker.update(predictor.evaluate(series: series, now: now), now: now, hold: predictor.hold(for:))
        if tracker.since != before { try await store.setHolds(agent: name, tracker.since) }
        for prediction in firing {
            let key = prediction.finding.code + "|" + prediction.finding.subject
            if isSilenced(prediction.finding, agent: name, silences: silences, now: now) { continue }
            let since = tracker.since[key] ?? now
            if try await !openProactive(prediction.finding, source: .prediction, agent: name, observedSince: since, now: now) {
                // Evidence from before the last fix: the condition must hold again from now.
                tracker.restart(key, at: now)
                try await store.setHolds(agent: name, tracker.since)
            }
        }

        // Current findings that persist for `persist_reports` reports.
        let recent = try await store.recentReports(agent: name, limit: config.persistReports)
        if recent.count >= config.persistReports {
            let sets = recent.map { Set(TicketEngine.actionable($0.findings).map { "\($0.code)|\($0.subject)" }) }
            let persistent = sets.dropFirst().reduce(sets[0]) { $0.intersection($1) }
            let oldest = recent.map(\.createdAt).min() ?? now
            for finding in TicketEngine.actionable(recent[0].findings) where persistent.contains("\(finding.code)|\(finding.subject)") {
                if isSilenced(finding, agent: name, silences: silences, now: now) { continue }
                try await openProactive(finding, source: .finding, agent: name, observedSince: oldest, now: now)
            }
        }
    }

    func isSilenced(_ finding: Finding, agent: String, silences: [SilenceRecord], now: Date) -> Bool {
        guard let silence = silences.first(where: { $0.covers(agent: agent, code: finding.code, at: now) }) else { return false }
        logger.debug("finding silenced", metadata: ["agent": "\(agent)", "finding": "\(finding.code)", "silence": "\(silence.id)"])
        return true
    }

    /// One ticket per fault: a finding that an open ticket already owns (an issue's, an
    /// operator's, an alert's or the watcher's own, running or escalated and not closed) is
    /// added to that ticket; within `reopen_within` after its ticket closed, it reopens it;
    /// otherwise a new one. `observedSince` is when the evidence starts (the hold's start, the
    /// oldest of the consecutive reports): evidence from before the last close does not count,
    /// so a verified fix is not undone by the reports that preceded it.
    /// Returns false when the evidence predates the last close.
    @discardableResult
    func openProactive(_ finding: Finding, source: TicketSource, agent: String, observedSince: Date, now: Date) async throws -> Bool {
        let key = "\(agent)|\(finding.code)|\(finding.subject)"
        if let owner = try await engine.owner(of: finding, host: agent) {
            if owner.state == .escalated { try await engine.seenAgain(owner, finding: finding, source: source == .prediction ? "predicted" : "reported") }
            return true
        }
        if let last = try await store.latestTicket(findingKey: key) {
            guard let closed = last.closedAt else { return true }
            if observedSince < closed { return false }
            if now.timeIntervalSince(closed) < config.reopenWithin {
                try await engine.reopen(last, finding: finding, closedAt: closed)
                return true
            }
        }
        var ticket = Ticket(source: source, title: "\(finding.code) on \(agent): \(finding.subject)",
                            body: "FieldMedic found this itself (\(source == .prediction ? "a prediction from the trends" : "a finding in consecutive reports")):\n\n> \(finding.message)\n\nhost: \(agent)",
                            author: TicketEngine.actor, labels: ["host:\(agent)", "fieldmedic:proactive"], now: now)
        ticket.intent = .problem
        ticket.host = agent
        ticket.findingKey = key
        ticket.seeds = [finding]
        try await engine.open(ticket, via: TicketEngine.actor)
        return true
    }

    /// An offline agent cannot be fixed remotely: an escalation straight away.
    func openOffline(_ finding: Finding, key: String, agent: String, now: Date) async throws {
        if let last = try await store.latestTicket(findingKey: key), last.closedAt == nil { return }
        var ticket = Ticket(source: .finding, title: "agent.offline: \(agent) stopped reporting",
                            body: "FieldMedic found this itself:\n\n> \(finding.message)\n\nhost: \(agent)",
                            author: TicketEngine.actor, labels: ["host:\(agent)", "fieldmedic:proactive"], now: now)
        ticket.intent = .problem
        ticket.host = agent
        ticket.findingKey = key
        ticket.seeds = [finding]
        ticket.targets = [finding]
        ticket.state = .escalated
        ticket.reason = "\(agent) sent no report for \(DurationText.human(offlineAfter)) or more; it cannot be reached to fix anything remotely."
        ticket.verdict = "Escalated: " + ticket.reason!
        ticket.nextSteps = Playbook.entry(for: .agentOffline).manual
        ticket.dueAt = nil
        try await engine.open(ticket, via: TicketEngine.actor)
    }
}
