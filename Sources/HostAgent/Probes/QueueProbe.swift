import Foundation
import Shared

/// QFieldCloud's job queue (`core_job`): counts by status and type, the oldest pending job,
/// jobs stuck in `queued`/`started`, the projects they block (one active job per project),
/// and how the jobs of the recent window ended (failures by job type and error type). One
/// psql run per cycle.
struct QueueProbe: Probe {
    let name = "queue"
    var database: QueueDatabase
    var stuckAfter: TimeInterval
    var backlogThreshold: Int
    var oldestPendingThreshold: TimeInterval
    var failing = FailingJobsRule()

    /// A job's end: QFieldCloud sets `finished_at` only on success and on the wrapper's own
    /// errors; a failure the QGIS container reports leaves `docker_finished_at`, a SIGKILL
    /// only `started_at` (and `updated_at` moves only with full saves). The latest of them.
    /// The `created_at` bound lets the index cut the scan: a job that waited over a week
    /// before it ended is left out.
    static let sql = """
        WITH recent AS (
          SELECT id, project_id, type, status, feedback->>'error' AS error, COALESCE(feedback->>'error_origin', '') AS origin,
                 GREATEST(finished_at, docker_finished_at, started_at, updated_at, created_at) AS ended,
                 \(JobErrorType.sqlExpression) AS error_type
            FROM core_job
           WHERE status IN ('finished', 'failed')
             AND created_at > now() - make_interval(secs => :window) - interval '7 days'
             AND GREATEST(finished_at, docker_finished_at, started_at, updated_at, created_at) >= now() - make_interval(secs => :window))
        SELECT 'count', status, type, count(*)::text, '' FROM core_job GROUP BY status, type
        UNION ALL
        SELECT 'oldest_pending', '', '', COALESCE(floor(EXTRACT(EPOCH FROM now() - min(created_at)))::text, ''), ''
          FROM core_job WHERE status = 'pending'
        UNION ALL
        (SELECT 'stuck', id::text, project_id::text, status || '|' || type,
                floor(EXTRACT(EPOCH FROM now() - COALESCE(started_at, updated_at, created_at)))::text || '|' || (started_at IS NULL)::text
           FROM core_job
          WHERE status IN ('queued', 'started') AND COALESCE(started_at, updated_at, created_at) < now() - make_interval(secs => :stuck)
          ORDER BY COALESCE(started_at, updated_at, created_at) LIMIT 100)
        UNION ALL
        SELECT 'blocked', count(DISTINCT p.project_id)::text, count(*)::text, '', ''
          FROM core_job p
         WHERE p.status = 'pending' AND EXISTS (
               SELECT 1 FROM core_job s WHERE s.project_id = p.project_id AND s.status IN ('queued', 'started')
                  AND COALESCE(s.started_at, s.updated_at, s.created_at) < now() - make_interval(secs => :stuck))
        UNION ALL
        SELECT 'ended', type, count(*) FILTER (WHERE status = 'finished')::text, count(*) FILTER (WHERE status = 'failed')::text, ''
          FROM recent GROUP BY type
        UNION ALL
        (SELECT 'failed', type || '|' || error_type || '|' || origin, count(*)::text,
                array_to_string((array_agg(id::text ORDER BY ended DESC))[1:5], ',') || '|'
                  || array_to_string((array_agg(DISTINCT project_id::text))[1:5], ','),
                regexp_replace(left((array_agg(COALESCE(error, '') ORDER BY ended DESC))[1], 300), '[[:cntrl:]|]+', ' ', 'g')
           FROM recent WHERE status = 'failed'
          GROUP BY type, error_type, origin ORDER BY count(*) DESC LIMIT 20);
        """

    func collect() async -> ProbeResult {
        do {
            let stats = try await stats()
            return ProbeResult(section: .queue(stats), findings: findings(stats))
        } catch {
            switch error {
            case .couldNotLook:
                // Not a finding about the database: the report says the queue was not checked.
                return ProbeResult(error: error.description, fix: error.fix)
            case .unreachable(let psqlError):
                return ProbeResult(
                    findings: [Finding(.dbUnreachable, severity: .critical, subject: "db", message: error.description,
                                       evidence: ["error": error.description, "psql_error": psqlError])],
                    error: error.description)
            case .failed:
                return ProbeResult(
                    findings: [Finding(.queueQueryFailed, severity: .critical, subject: "db", message: error.description, evidence: ["error": error.description])],
                    error: error.description)
            }
        }
    }

    func stats() async throws(QueueError) -> QueueStats {
        let rows = try await database.query(Self.sql, variables: ["stuck": String(Int(stuckAfter)), "window": String(Int(failing.window))])
        return Self.parse(rows, window: failing.window)
    }

    static func parse(_ rows: [[String]], window: TimeInterval = FailingJobsRule.defaultWindow) -> QueueStats {
        // What psql prints is bounded before any arithmetic: a count above a billion jobs or a
        // time that is not a finite number of seconds within 300 years is not a queue's state,
        // and must not trap a sum or an Int(…) further on (found by fuzzing the psql parser).
        func count(_ text: String) -> Int { min(max(Int(text) ?? 0, 0), 1_000_000_000) }
        func seconds(_ text: String) -> Double? {
            guard let value = Double(text), value.isFinite else { return nil }
            return min(max(value, 0), 1e10)
        }
        var counts: [String: [String: Int]] = [:]
        var oldest: Double?
        var stuck: [StuckJob] = []
        var blockedProjects = 0
        var blockedJobs = 0
        var failures = JobFailureStats(windowSeconds: window, finished: [:], failed: [:], groups: [])
        for row in rows where row.count >= 5 {
            switch row[0] {
            case "ended":
                if case let finished = count(row[2]), finished > 0 { failures.finished[row[1]] = finished }
                if case let failed = count(row[3]), failed > 0 { failures.failed[row[1]] = failed }
            case "failed":
                let key = row[1].split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                let ids = row[3].split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                func list(_ text: String?) -> [String] { (text ?? "").split(separator: ",").map(String.init) }
                failures.groups.append(JobFailureGroup(
                    jobType: key.first ?? "", errorType: key.count > 1 ? key[1] : "", origin: key.count > 2 ? key[2] : "",
                    count: count(row[2]), jobIDs: list(ids.first), projectIDs: list(ids.count > 1 ? ids[1] : nil),
                    sampleError: row[4].trimmingCharacters(in: .whitespaces)))
            case "count": counts[row[1], default: [:]][row[2]] = count(row[3])
            case "oldest_pending": oldest = seconds(row[3])
            case "stuck":
                let statusType = row[3].split(separator: "|", maxSplits: 1).map(String.init)
                let ageNever = row[4].split(separator: "|").map(String.init)
                stuck.append(StuckJob(
                    id: row[1], projectID: row[2], status: statusType.first ?? "", type: statusType.count > 1 ? statusType[1] : "",
                    ageSeconds: seconds(ageNever.first ?? "") ?? 0, neverStarted: ageNever.count > 1 && ageNever[1] == "true"))
            case "blocked":
                blockedProjects = count(row[1])
                blockedJobs = count(row[2])
            default: continue
            }
        }
        failures.groups.sort { ($0.count, $1.jobType, $1.errorType) > ($1.count, $0.jobType, $0.errorType) }
        return QueueStats(
            counts: counts, oldestPendingSeconds: oldest, stuckJobs: stuck, blockedProjects: blockedProjects, blockedPendingJobs: blockedJobs,
            recentFailures: failures)
    }

    func findings(_ stats: QueueStats) -> [Finding] {
        var findings: [Finding] = []
        if !stats.stuckJobs.isEmpty {
            let never = stats.stuckJobs.filter(\.neverStarted).count
            findings.append(Finding(.queueStuck, severity: .critical, subject: "core_job",
                message: "\(stats.stuckJobs.count) job(s) stuck in queued/started for over \(DurationText.human(stuckAfter))"
                    + (never > 0 ? " (\(never) queued and never started: QFieldCloud's reaper never fails these)" : "")
                    + ", blocking \(stats.blockedPendingJobs) pending job(s) in \(stats.blockedProjects) project(s)",
                evidence: [
                    "stuck_jobs": String(stats.stuckJobs.count), "never_started": String(never),
                    "oldest_stuck_seconds": String(Int(stats.stuckJobs.map(\.ageSeconds).max() ?? 0)),
                    "job_ids": stats.stuckJobs.prefix(10).map(\.id).joined(separator: ","),
                    "blocked_projects": String(stats.blockedProjects), "blocked_pending_jobs": String(stats.blockedPendingJobs),
                ]))
        }
        let pending = stats.count("pending")
        if pending >= backlogThreshold || (stats.oldestPendingSeconds ?? 0) >= oldestPendingThreshold {
            findings.append(Finding(.queueBacklog, severity: .warning, subject: "core_job",
                message: "\(pending) pending job(s), the oldest waiting \(DurationText.human(stats.oldestPendingSeconds ?? 0))",
                evidence: ["pending": String(pending), "oldest_pending_seconds": String(Int(stats.oldestPendingSeconds ?? 0)),
                           "threshold_pending": String(backlogThreshold)]))
        }
        if let failures = stats.recentFailures, let finding = failing.finding(failures) { findings.append(finding) }
        return findings
    }
}
