import Foundation

/// `fieldmedic-coordinator stats`: how well the loop does.
struct TicketStats: Codable, Sendable, Equatable {
    var total: Int
    var open: Int
    var byOutcome: [String: Int]
    /// Resolved without a person (no approval, no escalation) / finished tickets that were
    /// not healthy status checks.
    var autoResolutionRate: Double?
    var escalationRate: Double?
    /// Closed by FieldMedic and reopened within 7 days / closed by FieldMedic.
    var falseClosureRate: Double?
    var reopenedWithin7Days: Int
    /// Seconds from intake to the verified fix.
    var medianTimeToFix: Double?
    var p90TimeToFix: Double?

    static func compute(_ tickets: [Ticket]) -> TicketStats {
        var byOutcome: [String: Int] = [:]
        for t in tickets { byOutcome[t.state.rawValue, default: 0] += 1 }
        let finished = tickets.filter { $0.state.isTerminal }
        let auto = finished.filter { $0.state == .resolved && $0.approval?.approvedBy == nil }
        let escalated = finished.filter { $0.state == .escalated }
        let closed = tickets.filter { !($0.closes ?? []).isEmpty }
        // A reopen within 7 days of one of FieldMedic's closes.
        let reopened = closed.filter { t in
            t.reopens.contains { reopen in (t.closes ?? []).contains { $0 <= reopen && reopen.timeIntervalSince($0) <= 7 * 86_400 } }
        }
        let fixTimes = tickets.compactMap { t in t.resolvedAt.map { $0.timeIntervalSince(t.createdAt) } }.sorted()
        func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
        func percentile(_ p: Double) -> Double? {
            guard !fixTimes.isEmpty else { return nil }
            let rank = Int((p * Double(fixTimes.count - 1)).rounded())
            return fixTimes[min(max(rank, 0), fixTimes.count - 1)]
        }
        return TicketStats(
            total: tickets.count, open: tickets.filter { !$0.state.isTerminal }.count, byOutcome: byOutcome,
            autoResolutionRate: ratio(auto.count, finished.filter { $0.state != .healthy }.count), escalationRate: ratio(escalated.count, finished.count),
            falseClosureRate: ratio(reopened.count, closed.count), reopenedWithin7Days: reopened.count,
            medianTimeToFix: percentile(0.5), p90TimeToFix: percentile(0.9))
    }
}
