import Foundation
import Shared

/// The host's own limits on actions (`[actions]` in agent.toml). It can only narrow what the
/// coordinator asks for, never widen it.
struct ActionPolicy: Sendable {
    struct Limits: Sendable, Equatable {
        var enabled: Bool = true
        var budgetPerHour: Int = 3
        var budgetPerDay: Int = 7
    }

    var enabled: Bool = true
    var settle: TimeInterval = 5
    /// Minimum spacing after the first run of an action × subject in an hour; doubles each run.
    var backoff: TimeInterval = 30
    var maxStuckJobs: Int = 50
    var limits: [String: Limits] = [:]

    func limits(for action: String) -> Limits { limits[action] ?? Limits() }

    static func load(_ reader: ConfigReader) throws(ConfigError) -> ActionPolicy {
        var policy = ActionPolicy()
        policy.enabled = try reader.bool("actions.enabled", default: true)
        policy.settle = try reader.duration("actions.settle", default: 5, minimum: 0)
        policy.backoff = try reader.duration("actions.backoff", default: 30, minimum: 0)
        policy.maxStuckJobs = try reader.int("actions.max_stuck_jobs", default: 50, range: 1...10_000)
        for name in reader.subtableNames("actions") {
            guard ActionCatalog.names.contains(name) else {
                throw reader.fail("actions.\(name)", "[actions.\(name)] is not an action; actions are: \(ActionCatalog.names.sorted().joined(separator: ", "))")
            }
            var limits = Limits()
            limits.enabled = try reader.bool("actions.\(name).enabled", default: true)
            limits.budgetPerHour = try reader.int("actions.\(name).budget_per_hour", default: 3, range: 0...1000)
            limits.budgetPerDay = try reader.int("actions.\(name).budget_per_day", default: 7, range: 0...10_000)
            policy.limits[name] = limits
        }
        return policy
    }
}
