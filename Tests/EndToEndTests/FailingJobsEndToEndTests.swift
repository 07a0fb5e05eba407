import Foundation
import Testing
@testable import HostAgent
@testable import Shared

extension SharedTestbed {
/// `jobs.failing` against the real `core_job` in the private PostgreSQL, with rows shaped as
/// QFieldCloud writes them (worker_wrapper/wrapper.py, docker-qgis/qfc_worker/workflow.py,
/// core/cron.py at opengisch/QFieldCloud ccae91d5): which timestamps each failure path
/// sets, the feedback keys, the output lines.
@Suite(.serialized) struct FailingJobsEndToEndTests {
    let env: TestEnvironment

    init() throws {
        env = try TestEnvironment.require()
        try env.restore()
    }

    /// Six failures and two finished jobs in the window, and older rows outside it.
    func seedFailures() throws -> [String: String] {
        var ids: [String: String] = [:]
        for name in ["timeout", "timeoutOld", "sigkill", "api1", "api2", "image", "done", "oldFailed", "oldDone"] {
            ids[name] = UUID().uuidString.lowercased()
        }
        let projectA = UUID().uuidString.lowercased()
        let projectB = UUID().uuidString.lowercased()
        let timeoutFeedback = #"{"error": "Worker timeout error.", "error_type": "TIMEOUT", "error_class": "", "error_origin": "container", "error_stack": "", "container_exit_code": -1}"#
        let sigkillFeedback = #"{"error": "Docker engine sigkill.", "error_type": "DOCKER_ENGINE_SIGKILL", "error_class": "", "error_origin": "container", "error_stack": "", "container_exit_code": 137}"#
        // The QGIS container's workflow feedback when the SDK got a 500 from the app.
        let apiFeedback = """
            {"feedback_version": "2.0", "workflow_version": "1.0", "workflow_id": "apply_deltas", "workflow_name": "Apply deltas",
             "error": "500 Server Error: Internal Server Error for url: http://app:8000/api/v1/files/\\tdeltas\\nline two",
             "error_type": "API_INTERNAL_SERVER_ERROR", "error_class": "QfcRequestException",
             "error_stack": "Traceback (most recent call last):\\n  File \\"/usr/src/app/qfc_worker/workflow.py\\"", "steps": [], "outputs": {},
             "error_origin": "container", "container_exit_code": 1}
            """
        // docker-py's ImageNotFound when the QGIS image is gone (QFieldCloud #671), caught by the wrapper.
        let imageFeedback = """
            {"error": "404 Client Error for http+docker://localhost/v1.47/containers/create: Not Found (\\"pull access denied for qfieldcloud-qgis3, repository does not exist or may require ''docker login''\\")",
             "error_origin": "worker_wrapper", "error_class": "ImageNotFound", "error_stack": "Traceback (most recent call last):\\n"}
            """
        _ = try env.psql("""
            DELETE FROM core_job;
            INSERT INTO core_job (id, project_id, type, status, output, feedback, created_by_id, triggered_by_id,
                                  created_at, updated_at, started_at, finished_at, docker_started_at, docker_finished_at) VALUES
              -- The wrapper's timeout: feedback and the line it appends to the output; finished_at stays NULL.
              ('\(ids["timeout"]!)', '\(projectA)', 'package', 'failed',
               E'Starting QGIS...\\nTimeout error! The job failed to finish within 600 seconds!\\n', '\(timeoutFeedback)', 1, 1,
               now() - interval '25 minutes', now() - interval '25 minutes', now() - interval '24 minutes', NULL, now() - interval '24 minutes', now() - interval '14 minutes'),
              -- An older wrapper without error_type: only the output says it.
              ('\(ids["timeoutOld"]!)', '\(projectA)', 'package', 'failed',
               E'Timeout error! The job failed to finish within 60 seconds!\\n', '{"container_exit_code": -1}', 1, 1,
               now() - interval '12 minutes', now() - interval '12 minutes', now() - interval '11 minutes', NULL, now() - interval '11 minutes', now() - interval '10 minutes'),
              -- SIGKILL: the wrapper returns before docker_finished_at; only started_at moves.
              ('\(ids["sigkill"]!)', '\(projectB)', 'package', 'failed', 'Job has been cancelled by parent process!', '\(sigkillFeedback)', 1, 1,
               now() - interval '3 hours', now() - interval '3 hours', now() - interval '5 minutes', NULL, now() - interval '5 minutes', NULL),
              ('\(ids["api1"]!)', '\(projectB)', 'delta_apply', 'failed', 'Applying deltas...', '\(apiFeedback)', 1, 1,
               now() - interval '8 minutes', now() - interval '8 minutes', now() - interval '7 minutes', NULL, now() - interval '7 minutes', now() - interval '6 minutes'),
              ('\(ids["api2"]!)', '\(projectB)', 'delta_apply', 'failed', 'Applying deltas...', '\(apiFeedback)', 1, 1,
               now() - interval '4 minutes', now() - interval '4 minutes', now() - interval '3 minutes', NULL, now() - interval '3 minutes', now() - interval '2 minutes'),
              -- The wrapper's own exception sets finished_at.
              ('\(ids["image"]!)', '\(projectA)', 'process_projectfile', 'failed', NULL, '\(imageFeedback)', 1, 1,
               now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '2 minutes', NULL),
              ('\(ids["done"]!)', '\(projectA)', 'package', 'finished', 'ok', '{"feedback_version": "2.0", "steps": []}', 1, 1,
               now() - interval '20 minutes', now() - interval '20 minutes', now() - interval '19 minutes', now() - interval '15 minutes', now() - interval '19 minutes', now() - interval '15 minutes'),
              -- Outside the 30 minute window.
              ('\(ids["oldFailed"]!)', '\(projectA)', 'package', 'failed', NULL, '\(sigkillFeedback)', 1, 1,
               now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours', NULL, now() - interval '2 hours', NULL),
              ('\(ids["oldDone"]!)', '\(projectA)', 'package', 'finished', 'ok', NULL, 1, 1,
               now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', now() - interval '2 days', NULL, NULL);
            """)
        return ids
    }

    func probe(_ database: QueueDatabase) -> QueueProbe {
        QueueProbe(database: database, stuckAfter: 20 * 60, backlogThreshold: 50, oldestPendingThreshold: 3600)
    }

    func expectTheRealShapes(_ result: ProbeResult, _ ids: [String: String]) throws {
        #expect(result.error == nil, "\(result.error ?? "")")
        guard case .queue(let stats) = result.section else { Issue.record("no queue section: \(result)"); return }
        let failures = try #require(stats.recentFailures)
        #expect(failures.failed == ["package": 3, "delta_apply": 2, "process_projectfile": 1], "\(failures)")
        #expect(failures.finished == ["package": 1], "\(failures)")
        let groups = Dictionary(uniqueKeysWithValues: failures.groups.map { ("\($0.jobType)/\($0.errorType)/\($0.origin)", $0) })
        #expect(Set(groups.keys) == [
            "package/TIMEOUT/container", "package/TIMEOUT/", "package/DOCKER_ENGINE_SIGKILL/container",
            "delta_apply/API_INTERNAL_SERVER_ERROR/container", "process_projectfile/QGIS_IMAGE_MISSING/worker_wrapper",
        ], "\(failures.groups)")
        let api = try #require(groups["delta_apply/API_INTERNAL_SERVER_ERROR/container"])
        #expect(api.count == 2 && api.jobIDs == [ids["api2"]!, ids["api1"]!], "newest first: \(api.jobIDs)")
        #expect(api.sampleError == "500 Server Error: Internal Server Error for url: http://app:8000/api/v1/files/ deltas line two", "one line: \(api.sampleError)")
        #expect(groups["package/DOCKER_ENGINE_SIGKILL/container"]?.jobIDs == [ids["sigkill"]!], "SIGKILL ends at started_at, not at its old created_at")

        let finding = try #require(result.findings.first { $0.kind == .jobsFailing }, "\(result.findings)")
        #expect(finding.severity == .critical)
        #expect(finding.message.hasPrefix("6 of 7 jobs failed in the last 30m (86 %)"), "\(finding.message)")
        #expect(finding.evidence["error_types"] == "API_INTERNAL_SERVER_ERROR=2,TIMEOUT=2,DOCKER_ENGINE_SIGKILL=1,QGIS_IMAGE_MISSING=1", "\(finding.evidence)")
        for name in ["timeout", "timeoutOld", "sigkill", "api1", "api2", "image"] {
            #expect(finding.evidence["job_ids"]?.contains(ids[name]!) == true, "\(name) missing from \(finding.evidence["job_ids"] ?? "")")
        }
        #expect(finding.evidence["job_ids"]?.contains(ids["oldFailed"]!) == false)
        #expect(finding.message.contains("docker compose build qgis3 qgis4"), "\(finding.message)")
    }

    @Test func failedRowsWithQFieldCloudsFeedbackAreGroupedByJobTypeAndErrorType() async throws {
        let ids = try seedFailures()
        defer { _ = try? env.psql("DELETE FROM core_job;") }
        let database = QueueDatabase(target: .dsn(env.pgDSN), runner: SubprocessRunner(), psql: PsqlLocator.locate())
        try expectTheRealShapes(await probe(database).collect(), ids)

        // The same query inside the db container (queue.mode = "docker-exec", a real install's default).
        let runner = SubprocessRunner()
        let compose = ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: runner)
        try expectTheRealShapes(await probe(QueueDatabase(target: .dockerExec(compose), runner: runner)).collect(), ids)

        // Once the failures are older than the window, nothing is failing.
        _ = try env.psql("""
            UPDATE core_job SET created_at = created_at - interval '1 day', updated_at = updated_at - interval '1 day',
                   started_at = started_at - interval '1 day', finished_at = finished_at - interval '1 day',
                   docker_started_at = docker_started_at - interval '1 day', docker_finished_at = docker_finished_at - interval '1 day';
            """)
        let later = await probe(database).collect()
        #expect(later.error == nil && later.findings.isEmpty, "\(later.findings)")
    }

    @Test func aFewFailuresAmongManyGoodJobsAreNotFailing() async throws {
        defer { _ = try? env.psql("DELETE FROM core_job;") }
        _ = try env.psql("""
            DELETE FROM core_job;
            INSERT INTO core_job (id, project_id, type, status, feedback, created_by_id, triggered_by_id, created_at, updated_at, started_at, finished_at)
            SELECT gen_random_uuid(), gen_random_uuid(), 'package', CASE WHEN n <= 4 THEN 'failed' ELSE 'finished' END,
                   CASE WHEN n <= 4 THEN '{"error": "Worker timeout error.", "error_type": "TIMEOUT", "error_origin": "container"}'::jsonb END,
                   1, 1, now() - interval '10 minutes', now() - interval '10 minutes', now() - interval '9 minutes',
                   CASE WHEN n > 4 THEN now() - interval '8 minutes' END
              FROM generate_series(1, 20) AS n;
            """)
        let database = QueueDatabase(target: .dsn(env.pgDSN), runner: SubprocessRunner(), psql: PsqlLocator.locate())
        let result = await probe(database).collect()
        guard case .queue(let stats) = result.section else { Issue.record("no queue section: \(result)"); return }
        #expect(stats.recentFailures?.failedCount == 4 && stats.recentFailures?.finishedCount == 16)
        #expect(!result.findings.contains { $0.kind == .jobsFailing }, "4 of 20 is under 50 %: \(result.findings)")
    }
}
}
