import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct FailingJobsTests {
    func group(_ type: String, _ error: String, _ count: Int, origin: String = "container", sample: String = "") -> JobFailureGroup {
        JobFailureGroup(
            jobType: type, errorType: error, origin: origin, count: count,
            jobIDs: (0..<min(count, 5)).map { "\(type)-\(error)-job-\($0)" }, projectIDs: ["project-\(type)"], sampleError: sample)
    }

    @Test func theQueryRowsBecomeGroupsLargestFirst() throws {
        let stats = QueueProbe.parse([
            ["count", "failed", "package", "5", ""],
            ["ended", "package", "1", "4", ""],
            ["ended", "delta_apply", "0", "2", ""],
            ["failed", "package|TIMEOUT|container", "3", "j1,j2,j3|p1,p2", "Worker timeout error."],
            ["failed", "delta_apply|API_INTERNAL_SERVER_ERROR|container", "2", "j4,j5|p3", "Internal Server Error for url: http://app:8000/api/v1/"],
            ["failed", "package|QGIS_IMAGE_MISSING|worker_wrapper", "1", "j6|p1", "404 Client Error: pull access denied for qfieldcloud-qgis3"],
        ], window: 1800)
        let failures = try #require(stats.recentFailures)
        #expect(failures.windowSeconds == 1800)
        #expect(failures.finished == ["package": 1] && failures.failed == ["package": 4, "delta_apply": 2])
        #expect(failures.groups.map(\.errorType) == ["TIMEOUT", "API_INTERNAL_SERVER_ERROR", "QGIS_IMAGE_MISSING"])
        let timeout = failures.groups[0]
        #expect(timeout.jobType == "package" && timeout.origin == "container" && timeout.count == 3)
        #expect(timeout.jobIDs == ["j1", "j2", "j3"] && timeout.projectIDs == ["p1", "p2"])
        #expect(failures.groups[2].sampleError.contains("pull access denied"))
        #expect(Int(failures.failedPercent.rounded()) == 86)
    }

    @Test func anEmptyWindowIsNoFailure() {
        let failures = QueueProbe.parse([["count", "pending", "package", "1", ""]]).recentFailures
        #expect(failures?.failedCount == 0 && failures?.failedPercent == 0)
        #expect(failures.flatMap { FailingJobsRule().finding($0) } == nil)
    }

    @Test func bothTheCountAndTheShareMustBeReached() {
        let rule = FailingJobsRule(window: 1800, minimumFailed: 3, minimumPercent: 50)
        // Two failures, all of what ended: under the count.
        #expect(rule.finding(JobFailureStats(windowSeconds: 1800, finished: [:], failed: ["package": 2], groups: [group("package", "TIMEOUT", 2)])) == nil)
        // Ten failures among a hundred good jobs: under the share.
        #expect(rule.finding(JobFailureStats(windowSeconds: 1800, finished: ["package": 90], failed: ["package": 10], groups: [group("package", "TIMEOUT", 10)])) == nil)
        // Three of six: exactly at both.
        let atBoth = rule.finding(JobFailureStats(windowSeconds: 1800, finished: ["package": 3], failed: ["package": 3], groups: [group("package", "TIMEOUT", 3)]))
        #expect(atBoth?.code == "jobs.failing")
        #expect(atBoth?.evidence["failed_percent"] == "50" && atBoth?.evidence["threshold_failed"] == "3")
    }

    @Test func theMessageNamesEachErrorTypesNextStepWithSampleJobsAndProjects() throws {
        let stats = JobFailureStats(
            windowSeconds: 1800, finished: ["package": 1], failed: ["package": 4, "delta_apply": 3],
            groups: [
                group("package", "DOCKER_ENGINE_SIGKILL", 4, sample: "Docker engine sigkill."),
                group("delta_apply", "API_INTERNAL_SERVER_ERROR", 2),
                group("delta_apply", "TIMEOUT", 1),
            ])
        let finding = try #require(FailingJobsRule().finding(stats))
        #expect(finding.kind == .jobsFailing && finding.severity == .critical && finding.subject == "core_job")
        #expect(finding.message.hasPrefix("7 of 8 jobs failed in the last 30m (88 %): DOCKER_ENGINE_SIGKILL ×4 (package), API_INTERNAL_SERVER_ERROR ×2 (delta_apply), TIMEOUT ×1 (delta_apply)"), "\(finding.message)")
        #expect(finding.message.contains("WORKER_QGIS_MEMORY_LIMIT"), "SIGKILL names the memory limit")
        #expect(finding.message.contains("docker compose logs --since 1h app"), "a 500 names the app's log")
        #expect(finding.message.contains("QFIELDCLOUD_WORKER_TIMEOUT_S"), "a timeout names the limit")
        #expect(finding.evidence["error_types"] == "DOCKER_ENGINE_SIGKILL=4,API_INTERNAL_SERVER_ERROR=2,TIMEOUT=1")
        #expect(finding.evidence["groups"] == "package/DOCKER_ENGINE_SIGKILL/container=4,delta_apply/API_INTERNAL_SERVER_ERROR/container=2,delta_apply/TIMEOUT/container=1")
        #expect(finding.evidence["job_ids"]?.split(separator: ",").count == 7)
        #expect(finding.evidence["project_ids"] == "project-package,project-delta_apply")
        #expect(finding.evidence["sample_error.1"] == "package/DOCKER_ENGINE_SIGKILL: Docker engine sigkill.")
    }

    @Test func failuresThatAllPointAtProjectsAreAWarningThatSaysSo() throws {
        let stats = JobFailureStats(
            windowSeconds: 3600, finished: [:], failed: ["process_projectfile": 5],
            groups: [group("process_projectfile", "INVALID_PROJECT_FILE", 3), group("process_projectfile", "API_PAYMENT_REQUIRED", 2)])
        let finding = try #require(FailingJobsRule().finding(stats))
        #expect(finding.severity == .warning)
        #expect(finding.message.contains("None of these point at the server itself"), "\(finding.message)")
    }

    @Test func anErrorTypeTheAgentDoesNotKnowStillGetsANextStep() throws {
        let stats = JobFailureStats(windowSeconds: 1800, finished: [:], failed: ["package": 3], groups: [group("package", "SOMETHING_NEW", 3)])
        let finding = try #require(FailingJobsRule().finding(stats))
        #expect(finding.message.contains("SOMETHING_NEW: read the job's feedback.error and output"), "\(finding.message)")
    }

    @Test func everyErrorTypeHasANextStepAndTheSQLNamesTheOnesTheAgentRecognises() {
        for type in JobErrorType.allCases { #expect(!type.nextStep.isEmpty) }
        for recognised in [JobErrorType.timeout, .dockerEngineSigkill, .qgisImageMissing, .jobNetworkMissing, .unexpectedlyTerminated, .noFeedback, .other] {
            #expect(JobErrorType.sqlExpression.contains("'\(recognised.rawValue)'"))
        }
        #expect(QueueProbe.sql.contains(":window") && !QueueProbe.sql.contains("1800"), "the window is a psql variable")
    }

    @Test func theThresholdsComeFromAgentToml() throws {
        let path = NSTemporaryDirectory() + "fm-agent-\(UUID().uuidString).toml"
        defer { unlink(path) }
        try "[state]\ndir = \"/nonexistent\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let defaults = try AgentConfig.load(path: path).thresholds.failingJobs
        #expect(defaults == FailingJobsRule(window: 1800, minimumFailed: 3, minimumPercent: 50))
        try "[state]\ndir = \"/nonexistent\"\n[thresholds]\njobs_window = \"1h\"\njobs_failed = 5\njobs_failed_percent = 25\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try AgentConfig.load(path: path).thresholds.failingJobs == FailingJobsRule(window: 3600, minimumFailed: 5, minimumPercent: 25))
        try "[state]\ndir = \"/nonexistent\"\n[thresholds]\njobs_failed_percent = 150\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try AgentConfig.load(path: path) }
    }
}
