import Foundation

/// Wakes long-polls: a handler waits on a key (an agent's command queue, a command's result)
/// until someone notifies it, its timeout passes, or the server shuts down.
///
/// Waiting is only an optimisation: callers re-check the store after every wake-up, so a
/// missed notification (another coordinator behind the load balancer) costs latency, never
/// correctness.
actor Notifier {
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
    private var closed = false

    /// Returns false once the notifier is closed (the server is shutting down).
    @discardableResult
    func wait(_ key: String, timeout: TimeInterval) async -> Bool {
        guard !closed else { return false }
        guard timeout > 0 else { return true }
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
