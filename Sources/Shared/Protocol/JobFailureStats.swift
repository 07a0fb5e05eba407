import Foundation

/// How QFieldCloud's jobs ended over a recent window: finished and failed counts, and the
/// failures grouped by job type and error type. Jobs that fail within seconds never look
/// stuck, so this is the queue's other half.
public struct JobFailureStats: Codable, Sendable, Equatable {
    public var windowSeconds: Double
    /// Job type → jobs that ended `finished` in the window.
    public var finished: [String: Int]
    /// Job type → jobs that ended `failed` in the window.
    public var failed: [String: Int]
    /// Largest group first.
    public var groups: [JobFailureGroup]

    public init(windowSeconds: Double, finished: [String: Int], failed: [String: Int], groups: [JobFailureGroup]) {
        self.windowSeconds = windowSeconds
        self.finished = finished
        self.failed = failed
        self.groups = groups
    }

    public var finishedCount: Int { finished.values.reduce(0, +) }
    public var failedCount: Int { failed.values.reduce(0, +) }

    /// Failed share of the jobs that ended in the window, 0…100.
    public var failedPercent: Double {
        let ended = finishedCount + failedCount
        return ended == 0 ? 0 : Double(failedCount) * 100 / Double(ended)
    }
}

/// Failed jobs of one type with one error type (QFieldCloud's `feedback.error_type`, or what
/// the agent recognised in the job's output or error) and one `feedback.error_origin`.
public struct JobFailureGroup: Codable, Sendable, Equatable {
    public var jobType: String
    public var errorType: String
    /// `container` (the QGIS job) or `worker_wrapper`; empty when the feedback does not say.
    public var origin: String
    public var count: Int
    /// The newest few, newest first.
    public var jobIDs: [String]
    public var projectIDs: [String]
    /// `feedback.error` of the newest one, on one line and cut short.
    public var sampleError: String

    public init(jobType: String, errorType: String, origin: String, count: Int, jobIDs: [String], projectIDs: [String], sampleError: String) {
        self.jobType = jobType
        self.errorType = errorType
        self.origin = origin
        self.count = count
        self.jobIDs = jobIDs
        self.projectIDs = projectIDs
        self.sampleError = sampleError
    }
}
