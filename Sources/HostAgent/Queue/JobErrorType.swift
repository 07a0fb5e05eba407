import Foundation

/// Why a QFieldCloud job failed, as its `feedback.error_type` says (set by the worker
/// wrapper for TIMEOUT and DOCKER_ENGINE_SIGKILL, by the QGIS container's workflow for the
/// API_* and project errors), or as the agent recognises it where QFieldCloud sets none:
/// the timeout line in `output`, exit 137, the Docker errors of a missing QGIS image or job
/// network, the reaper's "Job unexpectedly terminated.". Each knows the next step.
enum JobErrorType: String, CaseIterable, Sendable {
    case timeout = "TIMEOUT"
    case dockerEngineSigkill = "DOCKER_ENGINE_SIGKILL"
    case apiInternalServerError = "API_INTERNAL_SERVER_ERROR"
    case apiTokenExpired = "API_TOKEN_EXPIRED"
    case apiPaymentRequired = "API_PAYMENT_REQUIRED"
    case apiForbidden = "API_FORBIDDEN"
    case apiNotFound = "API_NOT_FOUND"
    case apiOther = "API_OTHER"
    case fileNotFound = "FILE_NOT_FOUND"
    case invalidProjectFile = "INVALID_PROJECT_FILE"
    case unableToContinue = "UNABLE_TO_CONTINUE"
    case unknown = "UNKNOWN"
    // Recognised by the agent (QFieldCloud sets no error_type for these).
    case qgisImageMissing = "QGIS_IMAGE_MISSING"
    case jobNetworkMissing = "JOB_NETWORK_MISSING"
    case unexpectedlyTerminated = "UNEXPECTEDLY_TERMINATED"
    case noFeedback = "NO_FEEDBACK"
    case other = "OTHER"

    /// The SQL that names a failed `core_job` row's error type (a column expression; the
    /// texts are QFieldCloud's own: worker_wrapper/wrapper.py, core/cron.py, and the Docker
    /// SDK's errors for a missing image or network).
    static let sqlExpression = """
        CASE
          WHEN COALESCE(feedback->>'error_type', '') <> '' THEN upper(feedback->>'error_type')
          WHEN output LIKE '%Timeout error! The job failed to finish within%' THEN 'TIMEOUT'
          WHEN feedback->>'container_exit_code' = '137' THEN 'DOCKER_ENGINE_SIGKILL'
          WHEN feedback->>'error' ~* '(pull access denied|no such image|ImageNotFound|image .* not found)' THEN 'QGIS_IMAGE_MISSING'
          WHEN feedback->>'error' ~* 'network .*not found' THEN 'JOB_NETWORK_MISSING'
          WHEN feedback->>'error' = 'Job unexpectedly terminated.' OR output = 'Job unexpectedly terminated.' THEN 'UNEXPECTEDLY_TERMINATED'
          WHEN feedback IS NULL THEN 'NO_FEEDBACK'
          ELSE 'OTHER'
        END
        """

    /// Whether the server (not one project's data or account) is the likely cause.
    var isHostSide: Bool {
        switch self {
        case .timeout, .dockerEngineSigkill, .apiInternalServerError, .apiTokenExpired, .apiOther, .qgisImageMissing,
             .jobNetworkMissing, .unexpectedlyTerminated, .noFeedback:
            true
        case .apiPaymentRequired, .apiForbidden, .apiNotFound, .fileNotFound, .invalidProjectFile, .unableToContinue, .unknown, .other:
            false
        }
    }

    /// What a person does next, in one sentence with the commands.
    var nextStep: String {
        switch self {
        case .timeout:
            "jobs ran past the worker timeout (QFIELDCLOUD_WORKER_TIMEOUT_S, default 600 s; Django admin → Constance → WORKER_TIMEOUT_S): raising it or splitting big projects is the operator's decision; the job's output shows how far it got"
        case .dockerEngineSigkill:
            "QGIS job containers were SIGKILLed (exit 137): `docker ps -a --filter label=app=${ENVIRONMENT}_worker --filter exited=137` and `docker inspect -f '{{.State.OOMKilled}}' ID` tell a memory kill (raise WORKER_QGIS_MEMORY_LIMIT, default 1000m, in the Django admin) from another stack with the same ENVIRONMENT cleaning up (QFieldCloud #1822)"
        case .apiInternalServerError:
            "the QGIS container got HTTP 500 from the app: read `docker compose logs --since 1h app`; with DEBUG=0 the worker must reach the app through nginx, not http://app:8000 (QFIELDCLOUD_WORKER_QFIELDCLOUD_URL, QFieldCloud #1061)"
        case .apiTokenExpired:
            "the job's API token expired before it finished (it lives as long as the worker timeout): look for slow jobs and the worker timeout"
        case .apiOther:
            "the QGIS container got an unexpected HTTP answer from the app: read `docker compose logs --since 1h app nginx`"
        case .apiPaymentRequired:
            "the project's owner is over quota or without a plan (HTTP 402): an account matter, not the server"
        case .apiForbidden, .apiNotFound:
            "the job was refused or could not find its project or files (HTTP 403/404): usually a deleted project or changed permissions; open the job in the QFieldCloud admin"
        case .fileNotFound, .invalidProjectFile, .unableToContinue:
            "a problem in the project's files, not the server: open the job in the QFieldCloud admin (Jobs) and read its output, then tell the project's owner"
        case .unknown:
            "the QGIS job raised an unexpected error: read the job's output and feedback.error_stack"
        case .qgisImageMissing:
            "the worker cannot find its QGIS image: `docker image ls | grep qgis`, rebuild with `docker compose build qgis3 qgis4` (never prune it away, QFieldCloud #671), then `docker compose up -d worker_wrapper`"
        case .jobNetworkMissing:
            "the job network is missing: `docker network ls`; QFIELDCLOUD_DEFAULT_NETWORK (default <project>_default) must exist; `docker compose up -d` recreates the project's network"
        case .unexpectedlyTerminated:
            "QFieldCloud's reaper failed jobs whose worker container vanished (worker restart, OOM kill, host reboot): read `docker compose logs --since 1h worker_wrapper`"
        case .noFeedback:
            "jobs failed without any feedback (the worker died mid-job?): read `docker compose logs --since 1h worker_wrapper`"
        case .other:
            "read the job's feedback.error and output (`SELECT output, feedback FROM core_job WHERE id = …`)"
        }
    }
}
