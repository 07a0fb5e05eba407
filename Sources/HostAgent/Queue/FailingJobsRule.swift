import Foundation
import Shared

/// When the jobs that ended recently count as failing (`jobs.failing`): at least
/// `minimumFailed` failed, and at least `minimumPercent` of those that ended (finished or
/// failed) in the window. Both, so that one broken project on a quiet server and a few
/// failures among thousands of good jobs stay quiet.
struct FailingJobsRule: Sendable, Equatable {
    var window: TimeInterval = FailingJobsRule.defaultWindow
    var minimumFailed: Int = 3
    var minimumPercent: Double = 50

    static let defaultWindow: TimeInterval = 30 * 60
    /// Groups named in the message (the evidence keeps every group the query returned).
    static let groupsInMessage = 4

    func finding(_ stats: JobFailureStats) -> Finding? {
        let failed = stats.failedCount
        guard failed >= minimumFailed, stats.failedPercent >= minimumPercent else { return nil }
        let ended = failed + stats.finishedCount
        let kinds = stats.groups.map { JobErrorType(rawValue: $0.errorType) ?? .other }
        let hostSide = zip(stats.groups, kinds).filter { $1.isHostSide }.reduce(0) { $0 + $1.0.count }
        // Byproducts of a project's data or an account, on every job: worth a look, not an alarm.
        let severity: Finding.Severity = hostSide > 0 ? .critical : .warning

        var byType: [String: Int] = [:]
        var order: [String] = []
        for group in stats.groups {
            if byType[group.errorType] == nil { order.append(group.errorType) }
            byType[group.errorType, default: 0] += group.count
        }
        order.sort { (byType[$0]!, $1) > (byType[$1]!, $0) }
        let summary = order.prefix(Self.groupsInMessage).map { type in
            let jobTypes = Array(Set(stats.groups.filter { $0.errorType == type }.map(\.jobType))).sorted()
            return "\(type) ×\(byType[type]!) (\(jobTypes.joined(separator: ", ")))"
        }
        let steps = order.prefix(Self.groupsInMessage).map { type in
            "\(type): \((JobErrorType(rawValue: type) ?? .other).nextStep)"
        }
        let percent = Int(stats.failedPercent.rounded())
        var message = "\(failed) of \(ended) jobs failed in the last \(DurationText.human(stats.windowSeconds)) (\(percent) %): "
            + summary.joined(separator: ", ")
        if order.count > Self.groupsInMessage { message += ", and \(order.count - Self.groupsInMessage) more error type(s)" }
        message += ". Next: " + steps.joined(separator: " — ")
        if hostSide == 0 { message += ". None of these point at the server itself." }

        var evidence: [String: String] = [
            "failed": String(failed), "finished": String(stats.finishedCount), "failed_percent": String(percent),
            "window_seconds": String(Int(stats.windowSeconds)), "threshold_failed": String(minimumFailed),
            "threshold_percent": String(Int(minimumPercent)),
            "error_types": order.map { "\($0)=\(byType[$0]!)" }.joined(separator: ","),
            "groups": stats.groups.map { "\($0.jobType)/\($0.errorType)/\($0.origin.isEmpty ? "-" : $0.origin)=\($0.count)" }.joined(separator: ","),
            "job_ids": Array(stats.groups.flatMap(\.jobIDs).prefix(10)).joined(separator: ","),
            "project_ids": Self.unique(stats.groups.flatMap(\.projectIDs)).prefix(10).joined(separator: ","),
        ]
        for (index, group) in stats.groups.prefix(Self.groupsInMessage).enumerated() where !group.sampleError.isEmpty {
            evidence["sample_error.\(index + 1)"] = "\(group.jobType)/\(group.errorType): \(group.sampleError)"
        }
        return Finding(.jobsFailing, severity: severity, subject: "core_job", message: message, evidence: evidence)
    }

    static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
