import Foundation

/// Which channels hear an event, and when a failed send is tried again. Pure: the delivery
/// service feeds it what the store knows.
enum NotificationRouter {
    /// The channels `event` goes to. `priority` is the ticket's (fleet events: P1);
    /// `toldBefore` the channels that already carry a message about the same ticket (a
    /// "resolved" goes only to those: nobody is told a fault they never heard of is fixed).
    static func channels(for event: NotificationEvent, priority: TicketPriority, toldBefore: Set<String>,
                         in channels: [NotifyChannelConfig]) -> [String] {
        channels.filter { channel in
            guard event.kind != .test, channel.events.contains(event.kind) else { return false }
            // "at least P1" lets P0 and P1 through.
            guard priority <= channel.minPriority else { return false }
            // A channel's own failure report goes to the others.
            if event.kind == .notifyFailed && event.dedupeKey.hasPrefix("notify_failed:\(channel.name):") { return false }
            if let host = event.host, !channel.hosts.isEmpty, !channel.hosts.contains(host) { return false }
            if event.kind == .resolved || event.kind == .agentBack { return toldBefore.contains(channel.name) }
            return true
        }.map(\.name)
    }

    /// Seconds before attempt `attempts + 1`: base · 2^(attempts−1), at most `cap`; a service's
    /// own `retry_after` wins when longer.
    static func backoff(attempts: Int, base: TimeInterval, cap: TimeInterval, retryAfter: TimeInterval? = nil) -> TimeInterval {
        let exponent = Double(min(max(attempts - 1, 0), 30))
        let delay = min(cap, base * pow(2, exponent))
        return max(delay, min(retryAfter ?? 0, 86_400))
    }

    /// Whether a message that just failed should stop trying.
    static func givesUp(attempts: Int, createdAt: Date, now: Date, permanent: Bool, config: NotifyConfig) -> Bool {
        if permanent && attempts >= min(3, config.maxAttempts) { return true }
        return attempts >= config.maxAttempts || now.timeIntervalSince(createdAt) >= config.maxAge
    }

    /// Whether a channel's pending messages are ready to go: the oldest has waited the
    /// grouping window (so a burst that starts now leaves as one message).
    static func groupReady(oldest: Date, window: TimeInterval, now: Date) -> Bool {
        now.timeIntervalSince(oldest) >= window
    }

    /// At most this many events in one message; a larger burst leaves in several.
    static let maxEventsPerMessage = 50
}
