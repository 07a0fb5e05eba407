import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct WorkerProbeTests {
    static let built = Date(timeIntervalSince1970: 1_790_000_000)

    /// A healthy install: a worker named with both QGIS images and the job network, all present.
    func healthy(environment: [String]? = nil) -> FakeDockerEngine {
        let engine = FakeDockerEngine()
        engine.add("worker_wrapper")
        engine.add("qgis3", state: "exited")
        let worker = "worker_wrapper-id-0"
        engine.updateState(worker) {
            $0.image = "qfieldcloud-worker_wrapper"
            $0.imageID = "sha256:worker"
            $0.environment = environment ?? [
                "ENVIRONMENT=production", "QFIELDCLOUD_QGIS3_IMAGE_NAME=qfieldcloud-qgis3", "QFIELDCLOUD_QGIS4_IMAGE_NAME=qfieldcloud-qgis4",
                "QFIELDCLOUD_DEFAULT_NETWORK=qfieldcloud_default", "PATH=/usr/bin",
            ]
        }
        engine.addImage("qfieldcloud-worker_wrapper", id: "sha256:worker", created: Self.built)
        engine.addImage("sha256:worker", id: "sha256:worker", created: Self.built)
        engine.addImage("qfieldcloud-qgis3", created: Self.built - 30 * 86_400)
        engine.addImage("qfieldcloud-qgis4", created: Self.built + 600)
        engine.addNetwork("qfieldcloud_default")
        return engine
    }

    func probe(_ engine: FakeDockerEngine, dotenv: [String: String] = [:]) -> WorkerProbe {
        WorkerProbe(engine: engine, project: "qfieldcloud", environmentFile: { dotenv })
    }

    @Test func aWorkerWithItsImagesAndNetworkHasNoFinding() async throws {
        let engine = healthy()
        let observed = try #require(try probe(engine).observe())
        #expect(observed.qgisImages == ["qfieldcloud-qgis3", "qfieldcloud-qgis4"] && observed.network == "qfieldcloud_default")
        // A QGIS image older than the worker's is a cached build of an unchanged docker-qgis, not a skew.
        #expect(observed.skew.isEmpty, "\(observed.skew)")
        let result = await probe(engine).collect()
        #expect(result.error == nil && result.findings.isEmpty, "\(result)")
    }

    @Test func aMissingQGISImageNamesTheImageAndTheRebuild() async throws {
        let engine = FakeDockerEngine()
        engine.add("worker_wrapper")
        engine.updateState("worker_wrapper-id-0") { $0.environment = ["QFIELDCLOUD_QGIS3_IMAGE_NAME=qfieldcloud-qgis3"] }
        let finding = try #require(await probe(engine).collect().findings.first)
        #expect(finding.kind == .workerCannotStart && finding.severity == .critical && finding.subject == "worker_wrapper")
        #expect(finding.evidence["missing_images"] == "qfieldcloud-qgis3")
        #expect(finding.message.contains("docker compose build qgis3 qgis4"), "\(finding.message)")
        #expect(finding.evidence["network"] == nil, "no network setting: the jobs use the default bridge, nothing to check")
    }

    @Test func theWorkersOwnEnvironmentWinsOverDotEnvWhichFillsTheGaps() throws {
        let engine = healthy(environment: ["QFIELDCLOUD_QGIS3_IMAGE_NAME=qfieldcloud-qgis3"])
        let observed = try #require(try probe(engine, dotenv: [
            "QFIELDCLOUD_QGIS3_IMAGE_NAME=ignored": "", "QFIELDCLOUD_QGIS3_IMAGE_NAME": "from-dotenv", "QFIELDCLOUD_DEFAULT_NETWORK": "jobs_net",
        ]).observe())
        #expect(observed.qgisImages == ["qfieldcloud-qgis3"])
        #expect(observed.network == "jobs_net" && observed.networkMissing)
    }

    @Test func withoutImageNamesTheQGISServicesImagesAreChecked() throws {
        let engine = healthy(environment: [])
        let observed = try #require(try probe(engine).observe())
        #expect(observed.qgisImages == ["img"], "the qgis3 one-shot's image: \(observed.qgisImages)")
        #expect(observed.missingImages == ["img"])
    }

    @Test func aMissingJobNetworkIsNamed() async throws {
        let engine = healthy()
        // The worker points at a network the engine does not have (a renamed project, QFieldCloud #804).
        engine.updateState("worker_wrapper-id-0") {
            $0.environment = $0.environment.map { $0.hasPrefix("QFIELDCLOUD_DEFAULT_NETWORK=") ? "QFIELDCLOUD_DEFAULT_NETWORK=old_default" : $0 }
        }
        let finding = try #require(await probe(engine).collect().findings.first)
        #expect(finding.evidence["network"] == "old_default" && finding.evidence["network_missing"] == "true", "\(finding.evidence)")
        #expect(finding.message.contains("job network old_default missing"), "\(finding.message)")
    }

    /// A pulled worker image beside QGIS images built on the host weeks later is a healthy
    /// install: build dates alone say nothing about versions.
    @Test func aQGISImageBuiltLaterThanAPulledWorkerImageIsNoSkew() async throws {
        let engine = healthy()
        engine.addImage("qfieldcloud-qgis4", created: Self.built + 28 * 86_400)
        #expect(await probe(engine).collect().findings.isEmpty)
    }

    @Test func differentVersionLabelsAreASkewAndSoIsAWorkerNotRecreatedAfterARebuild() throws {
        let engine = healthy()
        engine.addImage("sha256:worker", id: "sha256:worker", created: Self.built, labels: ["org.opencontainers.image.version": "26.3"])
        engine.addImage("qfieldcloud-qgis3", created: Self.built, labels: ["org.opencontainers.image.version": "26.5"])
        engine.addImage("qfieldcloud-worker_wrapper", id: "sha256:rebuilt", created: Self.built + 60)
        let skew = try #require(try probe(engine).observe()).skew
        #expect(skew.contains { $0.contains("qfieldcloud-qgis3 is version 26.5, the worker's image 26.3") }, "\(skew)")
        #expect(skew.contains { $0.contains("runs an older image than qfieldcloud-worker_wrapper") }, "\(skew)")
    }

    @Test func anotherStacksRunningWorkerWithTheSameEnvironmentSharesTheJobLabel() async throws {
        let engine = healthy()
        func otherWorker(_ project: String, environment: String, state: String = "running") {
            let id = "\(project)-worker"
            engine.addContainer(
                DockerContainer(id: id, name: "\(project)_worker_wrapper_1", image: "img", imageID: "sha256:x", state: state,
                                labels: ["com.docker.compose.project": project, "com.docker.compose.service": "worker_wrapper"]),
                state: DockerContainerState(id: id, name: "\(project)_worker_wrapper_1", status: state, health: nil, restartCount: 0, exitCode: 0,
                                            oomKilled: false, startedAt: nil, finishedAt: nil, image: "img", tty: false, environment: ["ENVIRONMENT=\(environment)"]))
        }
        otherWorker("staging", environment: "staging")
        otherWorker("old", environment: "production", state: "exited")
        #expect(await probe(engine).collect().findings.isEmpty, "another ENVIRONMENT, or a stopped stack, shares nothing")
        otherWorker("copy", environment: "production")
        let finding = try #require(await probe(engine).collect().findings.first)
        #expect(finding.evidence["shared_label_projects"] == "copy" && finding.evidence["job_label"] == "app=production_worker", "\(finding.evidence)")
        #expect(finding.message.contains("own ENVIRONMENT"), "\(finding.message)")
    }

    @Test func withoutAWorkerContainerTheProbeCouldNotLook() async {
        let engine = FakeDockerEngine()
        engine.add("app")
        let result = await probe(engine).collect()
        #expect(result.findings.isEmpty && result.error?.contains("no worker_wrapper container") == true, "\(result)")
    }
}
