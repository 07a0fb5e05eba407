import Foundation
import GRDB
import Shared

/// Guardrails on this host: a budget per action × subject (default 3 an hour, 7 a day) and a
/// backoff between runs that doubles with each run in the last hour and re-arms by itself as
/// runs age out of the window (unlike Monit's one-way `unmonitor`).
final class ActionBudget: Sendable {
    private let pool: DatabasePool
    private let backoffBase: TimeInterval

    init(pool: DatabasePool, backoffBase: TimeInterval) {
        self.pool = pool
        self.backoffBase = backoffBase
    }

    enum Decision: Equatable {
        case allowed
        case refused(String)
    }

    /// Checks and, when allowed, records the run in one transaction.
    func claim(action: String, subject: String, limits: ActionPolicy.Limits, commandID: String, now: Date = Date()) throws -> Decision {
        try pool.write { db in
            let hourAgo = WireDate.format(now.addingTimeInterval(-3600))
            let dayAgo = WireDate.format(now.addingTimeInterval(-86_400))
            let lastHour = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM action_runs WHERE action = ? AND subject = ? AND at >= ?", arguments: [action, subject, hourAgo]) ?? 0
            let lastDay = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM action_runs WHERE action = ? AND subject = ? AND at >= ?", arguments: [action, subject, dayAgo]) ?? 0
            if lastHour >= limits.budgetPerHour {
                let oldest = try String.fetchOne(
                    db, sql: "SELECT MIN(at) FROM action_runs WHERE action = ? AND subject = ? AND at >= ?", arguments: [action, subject, hourAgo])
                let next = oldest.flatMap(WireDate.parse).map { WireDate.format($0.addingTimeInterval(3600)) } ?? "in an hour"
                return .refused("budget spent: \(lastHour) \(action) of \(subject) in the last hour (limit \(limits.budgetPerHour)); next allowed at \(next). Escalate to a human.")
            }
            if lastDay >= limits.budgetPerDay {
                return .refused("budget spent: \(lastDay) \(action) of \(subject) in the last 24 hours (limit \(limits.budgetPerDay)). Escalate to a human.")
            }
            if lastHour > 0, backoffBase > 0,
               let last = try String.fetchOne(db, sql: "SELECT MAX(at) FROM action_runs WHERE action = ? AND subject = ?", arguments: [action, subject]).flatMap(WireDate.parse) {
                let wait = backoffBase * pow(2, Double(lastHour - 1))
                if now.timeIntervalSince(last) < wait {
                    return .refused("backing off: \(action) of \(subject) ran \(Int(now.timeIntervalSince(last)))s ago; the next run is allowed \(DurationText.format(wait)) after the last")
                }
            }
            try db.execute(
                sql: "INSERT INTO action_runs (action, subject, at, command_id) VALUES (?, ?, ?, ?)",
                arguments: [action, subject, WireDate.format(now), commandID])
            return .allowed
        }
    }
}
