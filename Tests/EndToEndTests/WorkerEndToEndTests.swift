import Foundation
import Testing
@testable import HostAgent
@testable import Shared

extension SharedTestbed {
/// `worker.cannot_start` on the real private engine: the QGIS image renamed away, the job
/// network named wrong in `.env` and the worker recreated with it, a worker image rebuilt
/// under the running worker, and a second compose stack with the same ENVIRONMENT.
/// Each test puts back what it broke.
@Suite(.serialized) struct WorkerEndToEndTests {
    let env: TestEnvironment
    let engine: DockerEngineClient

    init() throws {
        env = try TestEnvironment.require()
        engine = DockerEngineClient(socketPath: env.dockerSocket)
        try env.restore()
    }

    func probe() -> WorkerProbe {
        let compose = ComposeProject(project: env.project, directory: env.testbedDir, dockerSocket: env.dockerSocket, runner: SubprocessRunner())
        return WorkerProbe(engine: engine, project: env.project, environmentFile: { compose.environmentFile() })
    }

    @Test func theTestbedsWorkerHasItsImagesAndNetwork() async throws {
        let observed = try #require(try probe().observe())
        #expect(observed.qgisImages == ["\(env.project)-qgis3", "\(env.project)-qgis4"], "\(observed)")
        #expect(observed.network == "\(env.project)_default" && !observed.networkMissing)
        #expect(observed.environment == "test")
        let result = await probe().collect()
        #expect(result.error == nil && result.findings.isEmpty, "\(result)")
    }

    @Test func aRenamedQGISImageIsMissingForTheWorker() async throws {
        let image = "\(env.project)-qgis3"
        try env.docker(["image", "tag", image, image + "-renamed"])
        try env.docker(["rmi", image])
        defer {
            _ = try? env.docker(["image", "tag", image + "-renamed", image])
            _ = try? env.docker(["rmi", image + "-renamed"])
        }
        let finding = try #require(await probe().collect().findings.first, "a missing \(image) must be found")
        #expect(finding.kind == .workerCannotStart && finding.subject == "worker_wrapper")
        #expect(finding.evidence["missing_images"] == image, "\(finding.evidence)")
        #expect(finding.message.contains("docker compose build qgis3 qgis4"), "\(finding.message)")

        try env.docker(["image", "tag", image + "-renamed", image])
        #expect(await probe().collect().findings.isEmpty, "with the image back the worker can start jobs")
    }

    @Test func aJobNetworkNamedWrongInDotEnvIsMissing() async throws {
        let path = env.testbedDir + "/.env"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        let wrong = original.replacingOccurrences(
            of: "QFIELDCLOUD_DEFAULT_NETWORK=\(env.project)_default", with: "QFIELDCLOUD_DEFAULT_NETWORK=\(env.project)_jobs_gone")
        #expect(wrong != original, "the testbed's .env names the job network")
        try wrong.write(toFile: path, atomically: true, encoding: .utf8)
        defer {
            try? original.write(toFile: path, atomically: true, encoding: .utf8)
            _ = try? env.run("docker-compose", ["up", "-d", "worker_wrapper"])
        }
        // As an operator would: compose recreates the worker with the new environment.
        try env.run("docker-compose", ["up", "-d", "worker_wrapper"])
        let finding = try #require(await probe().collect().findings.first, "the worker names a network the engine does not have")
        #expect(finding.evidence["network"] == "\(env.project)_jobs_gone" && finding.evidence["network_missing"] == "true", "\(finding.evidence)")

        try original.write(toFile: path, atomically: true, encoding: .utf8)
        try env.run("docker-compose", ["up", "-d", "worker_wrapper"])
        #expect(await probe().collect().findings.isEmpty)
    }

    @Test func aWorkerImageRebuiltUnderTheRunningWorkerIsAVersionSkew() async throws {
        let original = try env.docker(["image", "inspect", "-f", "{{.Id}}", env.image]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try env.run("docker", ["build", "-q", "-t", env.image, "-"], input: "FROM \(env.image)\nLABEL org.opencontainers.image.version=fieldmedic-rebuilt\n")
        defer {
            _ = try? env.docker(["image", "tag", original, env.image])
            _ = try? env.docker(["image", "prune", "-f", "--filter", "label=org.opencontainers.image.version=fieldmedic-rebuilt"])
        }
        let finding = try #require(await probe().collect().findings.first, "the worker runs an image its name no longer points at")
        #expect(finding.evidence["version_skew"]?.contains("runs an older image than \(env.image)") == true, "\(finding.evidence)")

        try env.docker(["image", "tag", original, env.image])
        #expect(await probe().collect().findings.isEmpty)
    }

    @Test func aSecondStackWithTheSameEnvironmentSharesTheJobLabel() async throws {
        let other = "otherstack\(UInt32.random(in: 0...UInt32.max) % 1_000_000)"
        let directory = env.testbedDir + "/../" + other
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            version: "2.4"
            services:
              worker_wrapper:
                image: \(env.image)
                restart: unless-stopped
                command: ["sleep", "100000"]
                environment:
                  ENVIRONMENT: ${ENVIRONMENT}
            """.write(toFile: directory + "/docker-compose.yml", atomically: true, encoding: .utf8)
        // A copy of the same .env, as when a second install is cloned from the first.
        try "COMPOSE_PROJECT_NAME=\(other)\nENVIRONMENT=test\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        func compose(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["docker-compose"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["DOCKER_HOST": "unix://\(env.dockerSocket)"]) { $1 }
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 { throw HarnessError("docker-compose \(arguments.joined(separator: " ")) in \(directory) exited \(process.terminationStatus)") }
        }
        defer {
            _ = try? compose(["down", "-t", "1"])
            try? FileManager.default.removeItem(atPath: directory)
        }
        try compose(["up", "-d"])
        // One of this stack's jobs SIGKILLed (as the other stack's cleanup would), left exited 137 as the wrapper leaves it.
        let job = UUID().uuidString.lowercased()
        let jobName = "fm-job-\(job.prefix(8))"
        try env.docker(["run", "-d", "--name", jobName, "--label", "app=test_worker", "--label", "type=package", "--label", "job_id=\(job)",
                        "--label", "project_id=\(UUID().uuidString.lowercased())", env.image, "sleep", "600"])
        defer { _ = try? env.docker(["rm", "-f", jobName]) }
        try env.docker(["kill", jobName])
        try env.waitUntil("the job container exited 137", timeout: 30) { try env.inspect(jobName, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137" }
        let finding = try #require(await probe().collect().findings.first { $0.kind == .workerCannotStart }, "two stacks label their jobs app=test_worker")
        #expect(finding.evidence["shared_label_projects"] == other && finding.evidence["job_label"] == "app=test_worker", "\(finding.evidence)")
        #expect(finding.evidence["sigkilled_jobs"] == job, "\(finding.evidence)")

        try compose(["down", "-t", "1"])
        #expect(!(await probe().collect().findings.contains { $0.kind == .workerCannotStart }))
    }
}
}
