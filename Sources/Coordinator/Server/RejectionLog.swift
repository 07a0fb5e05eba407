import Foundation
import Logging
import Shared

/// Audits refused peers (no or bad certificate, bad join token, bad operator token) without
/// letting a scanner flood the log or the database:
/// - at most one row per peer, action and reason a minute, carrying the count folded into it;
/// - a peer refused `limit` times within a minute is throttled (`allows` is false) until the
///   minute is over, so it gets a 429 before any work is done (D3);
/// - a row that cannot be written is not counted as written: the next refusal writes it,
///   with the lost ones in its count, and the failure is an error line in the log (D8).
actor RejectionLog {
    private let store: any CoordinatorStore
    private let clock: any WallClock
    private let window: TimeInterval
    private let limit: Int
    private let logger: Logger
    private var lastWritten: [String: Date] = [:]
    private var suppressed: [String: Int] = [:]
    private var refusals: [String: (since: Date, count: Int)] = [:]

    init(store: any CoordinatorStore, clock: any WallClock, window: TimeInterval = 60, limit: Int = 30,
         logger: Logger = Logger(label: "fieldmedic.coordinator")) {
        self.store = store
        self.clock = clock
        self.window = window
        self.limit = limit
        self.logger = logger
    }

    /// False while `peer` has been refused `limit` times in the current window.
    func allows(peer: String) -> Bool {
        guard let entry = refusals[peer] else { return true }
        return clock.now().timeIntervalSince(entry.since) >= window || entry.count < limit
    }

    /// `details` go into the written row only (they do not split the folding).
    func record(peer: String, reason: String, action: String = "auth.rejected", details: [String: String] = [:]) async {
        let now = clock.now()
        count(peer, now)
        let key = "\(action)|\(peer)|\(reason)"
        if let last = lastWritten[key], now.timeIntervalSince(last) < window {
            suppressed[key, default: 0] += 1
            return
        }
        lastWritten[key] = now
        let folded = suppressed.removeValue(forKey: key) ?? 0
        if lastWritten.count > 10_000 { lastWritten = lastWritten.filter { now.timeIntervalSince($0.value) < window } }
        var row = details
        row["reason"] = reason
        row["suppressed_since_last"] = String(folded)
        do {
            try await store.appendAudit(AuditEntry(at: now, actor: "peer:\(peer)", action: action, subject: peer, details: row))
        } catch {
            lastWritten[key] = nil
            suppressed[key, default: 0] += folded + 1
            logger.error("cannot write the audit row for a refused peer; it is kept for the next one", metadata: [
                "peer": "\(peer)", "action": "\(action)", "reason": "\(reason)", "error": "\(error)"])
        }
    }

    private func count(_ peer: String, _ now: Date) {
        if let entry = refusals[peer], now.timeIntervalSince(entry.since) < window {
            refusals[peer] = (entry.since, entry.count + 1)
        } else {
            refusals[peer] = (now, 1)
        }
        if refusals.count > 10_000 { refusals = refusals.filter { now.timeIntervalSince($0.value.since) < window } }
    }
}
