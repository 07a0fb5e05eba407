import Foundation

/// Exponential backoff with full jitter: 1 s, 2 s, 4 s … up to `maximum`, each delay drawn
/// uniformly from [base/2, base] so a fleet that lost its coordinator does not return in step.
struct Backoff: Sendable {
    var initial: TimeInterval = 1
    var maximum: TimeInterval = 60
    private(set) var failures = 0

    init(initial: TimeInterval = 1, maximum: TimeInterval = 60) {
        self.initial = initial
        self.maximum = maximum
    }

    mutating func nextDelay() -> TimeInterval {
        let base = min(maximum, initial * pow(2, Double(min(failures, 30))))
        failures += 1
        return Double.random(in: (base / 2)...base)
    }

    mutating func reset() { failures = 0 }
}

/// A sleep another thread can cut short (new work, or shutdown).
final class Wakeup: Sendable {
    private let condition = ConditionBox()

    /// Sleeps until `deadline` or a `signal()`; returns true when signalled.
    @discardableResult
    func wait(until deadline: Date) -> Bool {
        condition.wait(until: deadline)
    }

    func signal() { condition.signal() }
}

private final class ConditionBox: @unchecked Sendable {
    // @unchecked: `pending` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var pending = false

    func wait(until deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !pending {
            if !condition.wait(until: deadline) { return false }
        }
        pending = false
        return true
    }

    func signal() {
        condition.lock()
        pending = true
        condition.broadcast()
        condition.unlock()
    }
}
