import Foundation
import Testing
@testable import HostAgent
@testable import Shared

extension SharedTestbed {
/// Kernel OOM kills the container survives, on the real private engine: a child of the
/// running worker allocates past the worker's 64 MiB limit and is killed while the worker
/// runs on; a QGIS job container (labelled as the wrapper labels them, outside compose) is
/// killed for memory and left exited 137, as the wrapper leaves it.
@Suite(.serialized) struct ProcessOOMEndToEndTests {
    let env: TestEnvironment
    let engine: DockerEngineClient

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
        try env.restore()
    }

    @Test func aProcessKilledForMemoryInsideTheRunningWorkerIsFoundWhileTheWorkerRunsOn() async throws {
        // A fresh worker: no OOM flag or exit left by earlier tests.
        try env.run("docker-compose", ["up", "-d", "--force-recreate", "worker_wrapper"])
        let id = try #require(try env.containerIDs("worker_wrapper", all: false).first)
        let startedAt = try env.inspect(id, "{{.State.StartedAt}}")
        try env.workerMode(.oomChild)
        defer {
            try? env.workerMode(.ok)
            // The engine keeps this run's OOMKilled flag: later tests get a fresh worker.
            _ = try? env.run("docker-compose", ["up", "-d", "--force-recreate", "worker_wrapper"])
        }
        let probe = DockerProbe(engine: engine, project: env.project, requiredServices: ["app", "nginx", "worker_wrapper"])
        var found: [Finding] = []
        try await env.waitUntilAsync("the probe reports the process killed inside worker_wrapper", timeout: 60) {
            found = await probe.collect().findings
            return found.contains { $0.kind == .processOOMKilled && $0.subject == "worker_wrapper" }
        }
        let finding = try #require(found.first { $0.kind == .processOOMKilled })
        #expect(Int(finding.evidence["oom_kills"] ?? "") ?? 0 >= 1, "\(finding.evidence)")
        #expect(finding.evidence["memory_limit_bytes"] == String(64 << 20))
        #expect(finding.evidence["state"] == "running")
        #expect(!found.contains { $0.kind == .serviceOOMKilled || $0.kind == .serviceDown }, "the container itself was not killed: \(found)")
        // The same run: not restarted, not exited.
        #expect(try env.inspect(id, "{{.State.Status}} {{.State.StartedAt}}") == "running \(startedAt)")
        try env.waitUntil("the worker logs that it runs on", timeout: 30) {
            try env.docker(["logs", id]).stderr.contains("the worker runs on")
        }
    }

    @Test func aQGISJobContainerKilledForMemoryIsReportedWithItsJob() async throws {
        let oomJob = UUID().uuidString.lowercased()
        let killedJob = UUID().uuidString.lowercased()
        let project = UUID().uuidString.lowercased()
        var names: [String] = []
        defer { if !names.isEmpty { _ = try? env.docker(["rm", "-f"] + names) } }
        func job(_ jobID: String, command: [String]) throws -> String {
            let name = "fm-job-\(jobID.prefix(8))"
            names.append(name)
            // As the wrapper starts them: labels, a memory limit (WORKER_QGIS_MEMORY_LIMIT), no compose.
            try env.docker(["run", "-d", "--name", name, "--label", "app=test_worker", "--label", "type=package",
                            "--label", "job_id=\(jobID)", "--label", "project_id=\(project)",
                            "--memory", "32m", "--memory-swap", "32m", env.image] + command)
            return name
        }
        let oom = try job(oomJob, command: ["tail", "/dev/zero"])
        let killed = try job(killedJob, command: ["sleep", "600"])
        try env.docker(["kill", killed])
        try env.waitUntil("both job containers exited 137", timeout: 60) {
            try env.inspect(oom, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
                && env.inspect(killed, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
        }
        let compose = ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: SubprocessRunner())
        let findings = await WorkerProbe(engine: engine, project: env.project, environmentFile: { compose.environmentFile() }).collect().findings
        let finding = try #require(findings.first { $0.kind == .processOOMKilled }, "\(findings)")
        #expect(finding.subject == "qgis_jobs")
        #expect(finding.evidence["job_ids"] == oomJob, "only the one the kernel killed, not the docker kill: \(finding.evidence)")
        #expect(finding.evidence["project_ids"] == project && finding.evidence["memory_limit_bytes"] == String(32 << 20))
        #expect(!findings.contains { $0.kind == .workerCannotStart }, "\(findings)")
    }
}
}
