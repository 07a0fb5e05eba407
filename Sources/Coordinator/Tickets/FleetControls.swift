import Foundation
import Shared

/// Pause, resume and silences: the one implementation behind the operator API (CLI) and the
/// dashboard, so both write the same audit rows (only the actor differs).
struct FleetControls: Sendable {
    let engine: TicketEngine

    var store: any FullStore { engine.store }

    /// `pause` or `pause:HOST`; an unknown host is refused.
    func pauseKey(_ host: String?) async throws -> String {
        guard let host else { return "pause" }
        guard try await store.agent(named: host) != nil else { throw FleetError.unknownAgent(host) }
        return "pause:\(host)"
    }

    func pause(host: String?, reason: String?, actor: String) async throws {
        let key = try await pauseKey(host)
        let now = engine.clock.now()
        let why = "by \(actor) at \(WireDate.format(now))" + (reason.map { ": \(Redactor.redact($0))" } ?? "")
        try await store.setControl(key, value: why, at: now, audit: AuditEntry(
            at: now, actor: actor, action: "fixes.paused", subject: host ?? "fleet", details: ["reason": reason.map(Redactor.redact) ?? ""]))
        await engine.wake()
    }

    func resume(host: String?, actor: String) async throws {
        let key = try await pauseKey(host)
        let now = engine.clock.now()
        try await store.setControl(key, value: nil, at: now, audit: AuditEntry(at: now, actor: actor, action: "fixes.resumed", subject: host ?? "fleet"))
        if host == nil, try await store.control("breaker") != nil {
            try await store.setControl("breaker", value: nil, at: now, audit: AuditEntry(at: now, actor: actor, action: "breaker.closed", subject: "fleet"))
        }
        await engine.wake()
    }

    func controls() async throws -> [String: String] {
        var all = try await store.controls(prefix: "pause")
        if let breaker = try await store.control("breaker") { all["breaker"] = breaker }
        return all
    }

    static let longestSilence: TimeInterval = 366 * 86_400

    func silence(host: String, finding: String?, seconds: Double, reason: String?, actor: String) async throws -> SilenceRecord {
        guard try await store.agent(named: host) != nil else { throw FleetError.unknownAgent(host) }
        guard seconds > 0, seconds <= Self.longestSilence else { throw FleetError.badRequest("a silence lasts between 1s and 366d") }
        let now = engine.clock.now()
        let reason = Redactor.redact(reason ?? "")
        return try await store.addSilence(
            SilenceRecord(id: 0, agent: host, finding: finding, until: now.addingTimeInterval(seconds), reason: reason, createdBy: actor, createdAt: now),
            audit: AuditEntry(at: now, actor: actor, action: "silence.created", subject: host,
                              details: ["finding": finding ?? "*", "until": WireDate.format(now.addingTimeInterval(seconds)), "reason": reason]))
    }

    /// False when there is no active silence `id`.
    func endSilence(id: Int64, actor: String) async throws -> Bool {
        let now = engine.clock.now()
        return try await store.endSilence(id: id, at: now, audit: AuditEntry(at: now, actor: actor, action: "silence.ended", subject: "silence:\(id)"))
    }

    /// Approve or deny through `TicketEngine.handle`, exactly as a trusted `/fieldmedic` command.
    /// Returns the refusal text, or nil when it was recorded.
    func decide(ticket id: Int64, approve: Bool, planHash: String?, actor: String) async throws -> String? {
        try await engine.mutex.run {
            guard var ticket = try await store.ticket(id: id) else { throw FleetError.notFound("ticket \(id)") }
            let command = ChatCommand(verb: approve ? .approve : .deny, argument: planHash)
            return try await engine.handle(command, on: &ticket, author: actor, trusted: true)
        }
    }
}
