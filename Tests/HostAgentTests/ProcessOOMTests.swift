import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct ProcessOOMTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    func dockerProbe(_ engine: FakeDockerEngine) -> DockerProbe {
        DockerProbe(engine: engine, project: "qfieldcloud", requiredServices: ["app"], diskUsage: DiskUsageCache(interval: 900), oomRecent: 3600, now: { Self.now })
    }

    @Test func anOOMEventInTheCurrentRunOfARunningContainerIsAProcessKilledInsideIt() async throws {
        let engine = FakeDockerEngine()
        engine.add("app", memoryLimit: 512 << 20, startedAt: Self.now - 7200)
        engine.recordOOM("app", at: Self.now - 600)
        engine.recordOOM("app", at: Self.now - 120)
        let findings = await dockerProbe(engine).collect().findings
        #expect(findings.map(\.code) == ["process.oom_killed"], "\(findings)")
        let finding = try #require(findings.first)
        #expect(finding.subject == "app" && finding.severity == .critical)
        #expect(finding.evidence["oom_kills"] == "2" && finding.evidence["last_oom_at"] == WireDate.format(Self.now - 120))
        #expect(finding.evidence["memory_limit_bytes"] == String(512 << 20) && finding.evidence["state"] == "running")
        #expect(finding.message.contains("2 time(s) in the last 1h (the last one 2m ago); the container keeps running, its limit is 512"), "\(finding.message)")
    }

    @Test func anOOMKillBeforeTheCurrentRunIsTheContainersOwnNotAProcesss() async {
        let engine = FakeDockerEngine()
        // Killed at -600, restarted by the policy at -590: service.oom_killed's case, not this one.
        engine.add("app", oomKilled: true, startedAt: Self.now - 590, finishedAt: Self.now - 595)
        engine.recordOOM("app", at: Self.now - 600)
        let codes = await dockerProbe(engine).collect().findings.map(\.code)
        #expect(codes == ["service.oom_killed"], "\(codes)")
    }

    @Test func oomEventsOlderThanTheWindowOrOfAnExitedContainerRaiseNoProcessFinding() async {
        let engine = FakeDockerEngine()
        engine.add("app", startedAt: Self.now - 86_400)
        engine.recordOOM("app", at: Self.now - 7200)
        #expect(await dockerProbe(engine).collect().findings.isEmpty)
        let exited = FakeDockerEngine()
        exited.add("app", state: "exited", exitCode: 0, startedAt: Self.now - 600, finishedAt: Self.now - 60)
        exited.recordOOM("app", at: Self.now - 300)
        #expect(await dockerProbe(exited).collect().findings.map(\.code) == ["service.down"])
    }

    func jobContainer(_ engine: FakeDockerEngine, job: String, exitCode: Int, oomKilled: Bool, finished: Date, environment: String = "production") {
        let id = "job-\(job)"
        engine.addContainer(
            DockerContainer(id: id, name: "job_\(job)", image: "qfieldcloud-qgis3", imageID: "sha256:qgis", state: "exited",
                            labels: ["app": "\(environment)_worker", "type": "package", "job_id": job, "project_id": "project-\(job)"]),
            state: DockerContainerState(id: id, name: "job_\(job)", status: "exited", health: nil, restartCount: 0, exitCode: exitCode,
                                        oomKilled: oomKilled, startedAt: finished - 60, finishedAt: finished, image: "qfieldcloud-qgis3", tty: false,
                                        memoryLimit: 1000 << 20))
    }

    @Test func qgisJobContainersKilledForMemoryAreReportedWithTheirJobsAndTheLimit() async throws {
        let engine = WorkerProbeTests().healthy()
        jobContainer(engine, job: "a1", exitCode: 137, oomKilled: true, finished: Self.now - 300)
        jobContainer(engine, job: "b2", exitCode: 137, oomKilled: false, finished: Self.now - 200)  // someone's SIGKILL
        jobContainer(engine, job: "c3", exitCode: 137, oomKilled: true, finished: Self.now - 7200)  // too old
        jobContainer(engine, job: "d4", exitCode: 137, oomKilled: true, finished: Self.now - 100, environment: "staging")  // another stack's
        let probe = WorkerProbe(engine: engine, project: "qfieldcloud", oomRecent: 3600, now: { Self.now })
        let findings = await probe.collect().findings
        #expect(findings.map(\.code) == ["process.oom_killed"], "\(findings)")
        let finding = try #require(findings.first)
        #expect(finding.subject == "qgis_jobs" && finding.evidence["job_ids"] == "a1" && finding.evidence["project_ids"] == "project-a1")
        #expect(finding.evidence["memory_limit_bytes"] == String(1000 << 20) && finding.evidence["killed_jobs"] == "1")
        #expect(finding.message.contains("WORKER_QGIS_MEMORY_LIMIT") && finding.message.contains("DOCKER_ENGINE_SIGKILL"), "\(finding.message)")
    }

    @Test func jobsSIGKILLedWithoutAMemoryKillAreEvidenceOfASharedLabel() async throws {
        let engine = WorkerProbeTests().healthy()
        jobContainer(engine, job: "b2", exitCode: 137, oomKilled: false, finished: Self.now - 200)
        let probe = WorkerProbe(engine: engine, project: "qfieldcloud", oomRecent: 3600, now: { Self.now })
        #expect(await probe.collect().findings.isEmpty, "one SIGKILL alone (a docker kill) is no finding")
        let id = "copy-worker"
        engine.addContainer(
            DockerContainer(id: id, name: "copy_worker_wrapper_1", image: "img", imageID: "sha256:x", state: "running",
                            labels: ["com.docker.compose.project": "copy", "com.docker.compose.service": "worker_wrapper"]),
            state: DockerContainerState(id: id, name: "copy_worker_wrapper_1", status: "running", health: nil, restartCount: 0, exitCode: 0,
                                        oomKilled: false, startedAt: nil, finishedAt: nil, image: "img", tty: false, environment: ["ENVIRONMENT=production"]))
        let finding = try #require(await probe.collect().findings.first)
        #expect(finding.kind == .workerCannotStart && finding.evidence["sigkilled_jobs"] == "b2", "\(finding.evidence)")
    }
}

@Suite struct OOMFlagTests {
    @Test func anOOMFlagLeftByAProcessKilledInsideIsNotTheContainersOwnAfterAGracefulRestart() async {
        let now = ProcessOOMTests.now
        let engine = FakeDockerEngine()
        // A child was killed inside (the engine set OOMKilled), then someone restarted the container: it exited 0.
        engine.add("app", oomKilled: true, startedAt: now - 60, finishedAt: now - 61)
        engine.recordDie("app", at: now - 61, exitCode: 0)
        let probe = DockerProbe(engine: engine, project: "qfieldcloud", requiredServices: ["app"], diskUsage: DiskUsageCache(interval: 900), now: { now })
        #expect(await probe.collect().findings.isEmpty)
        // The same flag after an exit 137 stays an OOM kill of the container.
        let killed = FakeDockerEngine()
        killed.add("app", oomKilled: true, startedAt: now - 60, finishedAt: now - 61)
        killed.recordDie("app", at: now - 61, exitCode: 137)
        let again = DockerProbe(engine: killed, project: "qfieldcloud", requiredServices: ["app"], diskUsage: DiskUsageCache(interval: 900), now: { now })
        #expect(await again.collect().findings.map(\.code) == ["service.oom_killed"])
    }
}
