import Foundation

/// Wakes long-polls: a handler waits on a key (an agent's command queue, a command's result)
/// until someone notifies it, its timeout passes, or the server shuts down.
///
/// Waiting is only an optimisation: callers re-check the store after every wake-up, so a
/// missed notification (another coordinator behind the load balancer) costs latency, never
/// correctness.
actor Notifier {
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
    /// Bumped by every notify, so a waiter that read it before checking the store cannot miss
    /// a notify that came in between.
    private var generations: [String: UInt64] = [:]
    private var closed = false

    func generation(_ key: String) -> UInt64 { generations[key] ?? 0 }

    func waiting(_ key: String) -> Int { waiters[key]?.count ?? 0 }

    /// Waits for a notify of `key` after generation `since`, at most `timeout` seconds.
    /// Returns false once the notifier is closed (the server is shutting down).
    @discardableResult
    func wait(_ key: String, since: UInt64, timeout: TimeInterval) async -> Bool {
        guard !closed else { return false }
        guard timeout > 0, generation(key) == since else { return true }
        let id = UUID()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters[key, default: [:]][id] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                await self?.resume(key, id)
            }
        }
        return !closed
    }

    func notify(_ key: String) {
        // Bounded: past this many keys start over; a lost generation only costs a re-check.
        if generations.count > 100_000 { generations.removeAll() }
        generations[key, default: 0] &+= 1
        guard let entries = waiters.removeValue(forKey: key) else { return }
        for continuation in entries.values { continuation.resume() }
    }

    /// Releases every waiter; later waits return at once.
    func close() {
        closed = true
        let all = waiters
        waiters.removeAll()
        for entries in all.values { for continuation in entries.values { continuation.resume() } }
    }

    private func resume(_ key: String, _ id: UUID) {
        guard let continuation = waiters[key]?.removeValue(forKey: id) else { return }
        if waiters[key]?.isEmpty == true { waiters.removeValue(forKey: key) }
        continuation.resume()
    }
}

/// The newest command long-poll of each agent. An agent runs one poller; a newer poll means
/// the older one belongs to a connection that is gone (an agent restart), whose handler must
/// not take a command it can no longer deliver.
actor PollRegistry {
    private var current: [String: UInt64] = [:]
    private var counter: UInt64 = 0

    func begin(_ agent: String) -> UInt64 {
        counter += 1
        current[agent] = counter
        return counter
    }

    func isCurrent(_ agent: String, _ poll: UInt64) -> Bool { current[agent] == poll }

    func latest(_ agent: String) -> UInt64? { current[agent] }
}
