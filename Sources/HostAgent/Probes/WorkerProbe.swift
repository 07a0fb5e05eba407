import Foundation
import Shared

/// Whether `worker_wrapper` can start QGIS job containers at all. When it cannot, every job
/// fails within seconds and the queue never looks stuck (QFieldCloud #671, #804, #1524,
/// #1822). Read from the Engine API, with the names the worker itself was started with
/// (its Config.Env), falling back to the install's `.env`:
/// - each QGIS image it names (`QFIELDCLOUD_QGIS3_IMAGE_NAME`, `…QGIS4…`; older installs
///   `QFIELDCLOUD_QGIS_IMAGE_NAME`) exists;
/// - the job network (`QFIELDCLOUD_DEFAULT_NETWORK`) exists;
/// - the worker and the QGIS images come from one version: the worker runs the image its
///   name points at now, and no QGIS image is much newer than the worker's (a pulled or
///   rebuilt QGIS image beside an old worker, #1524);
/// - no other compose project's running worker uses the same `ENVIRONMENT`: both stacks'
///   workers label their jobs `app=<ENVIRONMENT>_worker` and clean up each other's (#1822).
/// It also reads the QGIS job containers (`app=<ENVIRONMENT>_worker`, outside compose) that
/// the kernel killed for memory: the wrapper leaves a container that exited 137 in place
/// (`process.oom_killed`, subject `qgis_jobs`). An exit 137 without `OOMKilled` is someone's
/// SIGKILL (a cleanup), not memory.
struct WorkerProbe: Probe {
    let name = "worker"
    var engine: any DockerEngine
    var project: String
    /// The install's `.env` (empty when compose.directory is not set).
    var environmentFile: @Sendable () -> [String: String] = { [:] }
    /// Job containers killed for memory this recently are reported (`thresholds.oom_recent`).
    var oomRecent: TimeInterval = DockerProbe.defaultOOMRecent
    var now: @Sendable () -> Date = { Date() }
    /// Exited job containers inspected per cycle, newest first.
    static let jobContainersInspected = 20

    static let imageVariables = ["QFIELDCLOUD_QGIS3_IMAGE_NAME", "QFIELDCLOUD_QGIS4_IMAGE_NAME", "QFIELDCLOUD_QGIS_IMAGE_NAME"]
    static let qgisServices = ["qgis3", "qgis4", "qgis"]

    /// What the worker would use, and what the engine has.
    struct Observation: Sendable, Equatable {
        var worker: String
        var environment: String?
        var qgisImages: [String] = []
        var missingImages: [String] = []
        var network: String?
        var networkMissing = false
        /// Human sentences, one per skew found.
        var skew: [String] = []
        var workerImageCreated: Date?
        /// Other compose projects whose running worker has the same ENVIRONMENT.
        var sharedLabelProjects: [String] = []
        /// QGIS job containers that exited 137 with OOMKilled within `oomRecent`.
        var oomKilledJobs: [KilledJob] = []
        /// …and those that exited 137 without it: someone's SIGKILL, such as another stack's
        /// cleanup of what it takes for its own orphans (#1822).
        var sigkilledJobs: [KilledJob] = []
    }

    struct KilledJob: Sendable, Equatable {
        var container: String
        var jobID: String
        var projectID: String
        var type: String
        var finishedAt: Date?
        var memoryLimit: Int64
        var oomKilled = true
    }

    func collect() async -> ProbeResult {
        do {
            guard let observation = try observe() else {
                return ProbeResult(error: "compose project \(project) has no worker_wrapper container (the docker probe reports it)")
            }
            return ProbeResult(findings: Self.findings(observation, oomRecent: oomRecent, now: now()))
        } catch {
            return ProbeResult(error: error.description)
        }
    }

    func observe() throws(DockerError) -> Observation? {
        let containers = try engine.containers(project: project).filter { $0.labels["com.docker.compose.oneoff"] != "True" }
        let workers = containers.filter { $0.service == "worker_wrapper" }
        guard let worker = workers.first(where: { $0.state == "running" }) ?? workers.first else { return nil }
        let state = try engine.inspect(worker.id)
        let dotenv = environmentFile()
        func setting(_ name: String) -> String? {
            let value = state.environmentValue(name) ?? dotenv[name]
            return value?.isEmpty == false ? value : nil
        }
        var observation = Observation(worker: worker.name, environment: setting("ENVIRONMENT"))

        // The images the worker names; else the ones compose built for the qgis services.
        var images = Self.imageVariables.compactMap(setting)
        if images.isEmpty {
            images = containers.filter { Self.qgisServices.contains($0.service ?? "") }.map(\.image).filter { !$0.isEmpty && !$0.hasPrefix("sha256:") }
        }
        observation.qgisImages = FailingJobsRule.unique(images)
        var found: [String: DockerImageDetail] = [:]
        for image in observation.qgisImages {
            if let detail = try engine.image(image) { found[image] = detail } else { observation.missingImages.append(image) }
        }

        // Without a network setting the jobs go to Docker's default bridge: nothing to miss.
        if let network = setting("QFIELDCLOUD_DEFAULT_NETWORK") {
            observation.network = network
            observation.networkMissing = try engine.network(network) == nil
        }

        // Version skew.
        let running = try engine.image(state.imageID.isEmpty ? state.image : state.imageID)
        observation.workerImageCreated = running?.created
        if !state.image.isEmpty, !state.imageID.isEmpty, let current = try engine.image(state.image), current.id != state.imageID {
            observation.skew.append("\(worker.name) runs an older image than \(state.image) now names (rebuilt or pulled, not recreated: `docker compose up -d worker_wrapper`)")
        }
        for image in observation.qgisImages {
            guard let qgis = found[image], let running else { continue }
            for key in ["org.opencontainers.image.version", "org.qfield.cloud.version"] {
                if let a = running.labels[key], let b = qgis.labels[key], a != b {
                    observation.skew.append("\(image) is version \(b), the worker's image \(a) (\(key))")
                }
            }
            // Build dates are no version: the QGIS images are always built on the host,
            // while the worker's may be pulled, weeks older, on a healthy install.
        }

        // Another stack with the same ENVIRONMENT.
        if let environment = observation.environment {
            var others: [String: [DockerContainer]] = [:]
            for container in try engine.containers(label: "com.docker.compose.service=worker_wrapper")
            where container.project != project && container.state == "running" && container.labels["com.docker.compose.oneoff"] != "True" {
                others[container.project ?? "?", default: []].append(container)
            }
            for (other, workers) in others.sorted(by: { $0.key < $1.key }) {
                guard let first = workers.first, let theirs = try? engine.inspect(first.id) else { continue }
                if theirs.environmentValue("ENVIRONMENT") == environment { observation.sharedLabelProjects.append(other) }
            }
        }
        if let environment = observation.environment {
            let killed = try killedJobs(label: "app=\(environment)_worker")
            observation.oomKilledJobs = killed.filter(\.oomKilled)
            observation.sigkilledJobs = killed.filter { !$0.oomKilled }
        }
        return observation
    }

    /// Job containers that exited 137 within `oomRecent` (killed for memory, or by someone), newest first.
    func killedJobs(label: String) throws(DockerError) -> [KilledJob] {
        let since = now().addingTimeInterval(-oomRecent)
        var killed: [KilledJob] = []
        // The engine lists newest first; the wrapper removes every job container that did not exit 137.
        for container in try engine.containers(label: label).filter({ $0.state == "exited" }).prefix(Self.jobContainersInspected) {
            guard let state = try? engine.inspect(container.id), state.exitCode == 137,
                  (state.finishedAt ?? .distantPast) >= since else { continue }
            killed.append(KilledJob(
                container: container.name, jobID: container.labels["job_id"] ?? "", projectID: container.labels["project_id"] ?? "",
                type: container.labels["type"] ?? "", finishedAt: state.finishedAt, memoryLimit: state.memoryLimit, oomKilled: state.oomKilled))
        }
        return killed
    }

    static func findings(_ observation: Observation, oomRecent: TimeInterval = DockerProbe.defaultOOMRecent, now: Date = Date()) -> [Finding] {
        var findings: [Finding] = []
        let jobs = observation.oomKilledJobs
        if !jobs.isEmpty {
            let limit = jobs.map(\.memoryLimit).max() ?? 0
            var evidence: [String: String] = [
                "killed_jobs": String(jobs.count), "job_ids": jobs.map(\.jobID).joined(separator: ","),
                "project_ids": FailingJobsRule.unique(jobs.map(\.projectID)).joined(separator: ","),
                "job_types": FailingJobsRule.unique(jobs.map(\.type)).joined(separator: ","),
                "containers": jobs.prefix(10).map(\.container).joined(separator: ","), "window_seconds": String(Int(oomRecent)),
            ]
            if limit > 0 { evidence["memory_limit_bytes"] = String(limit) }
            if let last = jobs.compactMap(\.finishedAt).max() { evidence["last_killed_at"] = WireDate.format(last) }
            findings.append(Finding(.processOOMKilled, severity: .critical, subject: "qgis_jobs",
                message: "\(jobs.count) QGIS job container(s) were killed for memory (exit 137, OOMKilled) in the last \(DurationText.human(oomRecent))"
                    + (limit > 0 ? " at a limit of \(RelativeTime.bytes(UInt64(limit)))" : "")
                    + " (jobs \(jobs.prefix(3).map { "\($0.type) \($0.jobID.prefix(8))" }.joined(separator: ", ")))"
                    + ": the jobs failed as DOCKER_ENGINE_SIGKILL; WORKER_QGIS_MEMORY_LIMIT (Django admin → Constance) is the operator's decision",
                evidence: evidence))
        }
        return findings + cannotStart(observation)
    }

    static func cannotStart(_ observation: Observation) -> [Finding] {
        var problems: [String] = []
        var evidence: [String: String] = ["worker": observation.worker, "qgis_images": observation.qgisImages.joined(separator: ",")]
        if let environment = observation.environment { evidence["environment"] = environment }
        if let network = observation.network { evidence["network"] = network }
        if !observation.missingImages.isEmpty {
            evidence["missing_images"] = observation.missingImages.joined(separator: ",")
            problems.append("QGIS image \(observation.missingImages.joined(separator: ", ")) missing (`docker image inspect` fails; jobs fail with \"pull access denied\"): rebuild with `docker compose build qgis3 qgis4` and never prune it (QFieldCloud #671)")
        }
        if observation.networkMissing, let network = observation.network {
            evidence["network_missing"] = "true"
            problems.append("job network \(network) missing (QFIELDCLOUD_DEFAULT_NETWORK): `docker network ls`; set it to the project's network (default <project>_default) in .env and `docker compose up -d`")
        }
        if !observation.skew.isEmpty {
            evidence["version_skew"] = observation.skew.joined(separator: "; ")
            if let created = observation.workerImageCreated { evidence["worker_image_created"] = WireDate.format(created) }
            problems.append("worker and QGIS images differ in version: " + observation.skew.joined(separator: "; ")
                + " — update them together: `docker compose build` (or `pull`) then `docker compose up -d` (QFieldCloud #1524)")
        }
        if !observation.sharedLabelProjects.isEmpty, let environment = observation.environment {
            evidence["shared_label_projects"] = observation.sharedLabelProjects.joined(separator: ",")
            evidence["job_label"] = "app=\(environment)_worker"
            if !observation.sigkilledJobs.isEmpty {
                // What the shared label did: our jobs killed without a memory kill.
                evidence["sigkilled_jobs"] = observation.sigkilledJobs.prefix(10).map(\.jobID).joined(separator: ",")
            }
            problems.append("compose project \(observation.sharedLabelProjects.joined(separator: ", ")) runs a worker with the same ENVIRONMENT=\(environment): both label their jobs app=\(environment)_worker and each stack's cleanup kills the other's jobs; give each stack its own ENVIRONMENT in .env and `docker compose up -d` (QFieldCloud #1822)")
        }
        guard !problems.isEmpty else { return [] }
        return [Finding(.workerCannotStart, severity: .critical, subject: "worker_wrapper",
                        message: "the worker cannot run QGIS jobs as configured: " + problems.joined(separator: "; "), evidence: evidence)]
    }
}
