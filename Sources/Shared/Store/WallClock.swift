import Foundation

/// Where "now" comes from, so that expiry, lifetimes and trends are tested with a clock the
/// test controls.
///
/// ```swift
/// struct FixedClock: WallClock { var date: Date; func now() -> Date { date } }
/// ```
public protocol WallClock: Sendable {
    func now() -> Date
}

public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock tests move by hand.
public final class ManualClock: WallClock {
    private let current: LockedValue<Date>
    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) { current = LockedValue(start) }
    public func now() -> Date { current.value }
    public func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
