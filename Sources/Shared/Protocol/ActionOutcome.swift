import Foundation

/// What a typed action did (or, in a dry run, would do), with evidence before and after.
public struct ActionOutcome: Codable, Sendable, Equatable {
    public var action: String
    public var subject: String
    public var dryRun: Bool
    /// Each concrete step, in words: "restart container qfieldcloud_worker_wrapper_1 (abc123)".
    public var plan: [String]
    /// Key facts before and after, for the before/after table (same keys in both).
    public var before: [String: String]
    public var after: [String: String]
    /// nil for dry runs and read-only actions.
    public var verified: Bool?
    public var durationSeconds: Double
    /// collect_logs: the (redacted) log lines.
    public var output: String?

    public init(
        action: String, subject: String, dryRun: Bool, plan: [String], before: [String: String] = [:], after: [String: String] = [:],
        verified: Bool? = nil, durationSeconds: Double = 0, output: String? = nil
    ) {
        self.action = action
        self.subject = subject
        self.dryRun = dryRun
        self.plan = plan
        self.before = before
        self.after = after
        self.verified = verified
        self.durationSeconds = durationSeconds
        self.output = output
    }
}
