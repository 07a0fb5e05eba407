import Foundation
import Shared

/// `fail_stuck_jobs(older_than)`: marks stale `queued`/`started` rows of `core_job` as
/// `failed`, with `finished_at` and a `feedback` note saying who and why. Never deletes; at
/// most `actions.max_stuck_jobs` rows per run.
struct FailStuckJobsAction: Action {
    static let name = ActionKind.failStuckJobs.rawValue
    static let risk = ActionRisk.guarded

    static let updateSQL = """
        UPDATE core_job
           SET status = 'failed', finished_at = now(), updated_at = now(),
               feedback = COALESCE(feedback, '{}'::jsonb) || jsonb_build_object('fieldmedic', jsonb_build_object(
                   'marked_failed_by', :'by', 'reason', :'reason', 'command', :'command', 'at', now()))
         WHERE id = ANY(string_to_array(:'ids', ',')::uuid[]) AND status IN ('queued', 'started')
        RETURNING id::text;
        """

    func plan(_ parameters: ActionParameters, _ context: ActionContext) async throws(ActionError) -> Planned<[StuckJob]> {
        try parameters.onlyKnown(["older_than"])
        let olderThan = try parameters.duration("older_than", default: context.stuckJobAfter, minimum: 60)
        guard let database = context.queue else {
            throw .invalidParameter("fail_stuck_jobs needs the queue probe: set [queue] mode in agent.toml")
        }
        let probe = QueueProbe(database: database, stuckAfter: olderThan, backlogThreshold: .max, oldestPendingThreshold: .infinity)
        let stats: QueueStats
        do { stats = try await probe.stats() } catch { throw .unavailable(error.description) }
        let jobs = Array(stats.stuckJobs.filter { Self.isUUID($0.id) }.prefix(context.policy.maxStuckJobs))
        var steps = jobs.map { job in
            "mark job \(job.id) (\(job.type), project \(job.projectID), \(job.status) for \(DurationText.human(job.ageSeconds))) as failed"
        }
        if jobs.isEmpty { steps = ["nothing to do: no job queued or started for over \(DurationText.human(olderThan))"] }
        if stats.stuckJobs.count > jobs.count { steps.append("leave \(stats.stuckJobs.count - jobs.count) more for the next run (cap \(context.policy.maxStuckJobs))") }
        return Planned(
            outcome: ActionOutcome(action: Self.name, subject: "core_job", dryRun: true, plan: steps, before: Self.snapshot(stats)),
            payload: jobs)
    }

    func execute(_ planned: Planned<[StuckJob]>, _ context: ActionContext) async throws(ActionError) -> ActionOutcome {
        guard let database = context.queue else { throw .unavailable("no queue database") }
        var outcome = planned.outcome
        let ids = planned.payload.map(\.id)
        if !ids.isEmpty {
            let rows: [[String]]
            do {
                rows = try await database.query(Self.updateSQL, variables: [
                    "ids": ids.joined(separator: ","), "by": "fieldmedic-agent \(context.agent)", "command": context.commandID,
                    "reason": "stuck in queued/started; blocks later jobs of the project (one active job per project)",
                ])
            } catch {
                throw .failed(error.description)
            }
            outcome.plan.append("marked \(rows.count) of \(ids.count) job(s) failed (the others had moved on by themselves)")
        }
        let probe = QueueProbe(database: database, stuckAfter: context.stuckJobAfter, backlogThreshold: .max, oldestPendingThreshold: .infinity)
        let after: QueueStats
        do { after = try await probe.stats() } catch { throw .unavailable(error.description) }
        outcome.after = Self.snapshot(after)
        let stillStuck = Set(after.stuckJobs.map(\.id)).intersection(ids)
        outcome.verified = stillStuck.isEmpty
        return outcome
    }

    static func snapshot(_ stats: QueueStats) -> [String: String] {
        [
            "pending": String(stats.count("pending")), "queued": String(stats.count("queued")), "started": String(stats.count("started")),
            "failed": String(stats.count("failed")), "stuck": String(stats.stuckJobs.count), "blocked projects": String(stats.blockedProjects),
        ]
    }

    static func isUUID(_ text: String) -> Bool { UUID(uuidString: text) != nil }
}
