import Foundation
import Shared

/// One writer of tickets at a time, across the runner, the watcher, webhook deliveries and
/// operator commands: each reads a ticket, changes it and saves it whole, so two of them at
/// once would lose one's change (an approval arriving while the runner saves the same ticket).
/// Only entry points take it; nothing that runs inside it takes it again.
final class TicketMutex: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = LockedValue(State())

    init() {}

    /// Whether someone holds it now (for checks that no network call runs inside it).
    var isHeld: Bool { state.withLock { $0.locked } }

    func run<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted: Bool = state.withLock { s in
                if s.locked { s.waiters.append(continuation); return false }
                s.locked = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { s in
            if s.waiters.isEmpty { s.locked = false; return nil }
            return s.waiters.removeFirst()  // handed over: stays locked
        }
        next?.resume()
    }
}
