import Foundation
import Shared

/// Remembers, for a few seconds, who a client certificate is and that it may call: the
/// certificate parse and the store lookup are most of the cost of a small request. A
/// revocation through this coordinator clears it at once; one through another coordinator
/// sharing the store takes effect within `lifetime`.
final class AuthorizationCache: Sendable {
    struct Entry: Sendable {
        var principal: AgentPrincipal
        var notAfter: Date
        var checkedAt: Date
    }

    private let entries = LockedValue<[Data: Entry]>([:])
    let lifetime: TimeInterval

    init(lifetime: TimeInterval = 5) {
        self.lifetime = lifetime
    }

    func lookup(_ certificateDER: Data, now: Date) -> Entry? {
        guard let entry = entries.value[certificateDER], now.timeIntervalSince(entry.checkedAt) < lifetime, entry.notAfter > now else {
            return nil
        }
        return entry
    }

    func remember(_ certificateDER: Data, _ entry: Entry) {
        entries.withLock { cache in
            // Bounded: a fleet fits; a flood of distinct certificates only costs re-checks.
            if cache.count >= 100_000 { cache.removeAll() }
            cache[certificateDER] = entry
        }
    }

    func clear() {
        entries.withLock { $0.removeAll() }
    }
}
