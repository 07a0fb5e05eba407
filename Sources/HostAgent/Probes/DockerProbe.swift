import Foundation
import Shared

/// The compose project's containers through the Docker Engine API: state, health, restarts,
/// exit codes, OOM kills (of a container, and of a process inside one that keeps running);
/// plus what the engine's disk use could give back.
struct DockerProbe: Probe {
    let name = "docker"
    var engine: any DockerEngine
    var project: String
    var requiredServices: [String]
    /// `GET /system/df` is asked at most this often (see `DiskUsageCache`).
    var diskUsage = DiskUsageCache(interval: DiskUsageCache.defaultInterval)
    /// An OOM kill stays a finding this long after it, also once the container runs again
    /// (`thresholds.oom_recent`).
    var oomRecent: TimeInterval = DockerProbe.defaultOOMRecent
    var now: @Sendable () -> Date = { Date() }

    static let defaultOOMRecent: TimeInterval = 3600

    /// Exit 0 by design: never "down".
    static let oneShotServices: Set<String> = ["qgis3", "qgis4", "mkcert", "createbuckets", "mirror_transformation_grids"]

    func collect() async -> ProbeResult {
        let observed: Observation
        do {
            observed = try observe()
        } catch {
            return ProbeResult(error: error.description)
        }
        let disk = diskUsage.summary { [engine] () throws(DockerError) -> DockerDiskSummary in try engine.diskUsage().summary }
        return ProbeResult(
            section: .docker(observed.statuses, disk),
            findings: Self.findings(
                observed.statuses, required: requiredServices, project: project, oomEvents: observed.oomEvents, oomRecent: oomRecent,
                processOOMs: observed.processOOMs, now: now()))
    }

    /// The project's services, and the engine's `oom` events behind exits it did not flag.
    struct Observation {
        var statuses: [ServiceStatus]
        /// Container ID (12 characters) → when the engine recorded the `oom` event.
        var oomEvents: [String: Date]
        /// Container ID (12 characters) of a running container → the `oom` events of its
        /// current run within `oomRecent`: the kernel killed a process inside it, and the
        /// container lived on (QFieldCloud #1238: a gunicorn worker of `app`).
        var processOOMs: [String: [Date]] = [:]
    }

    func services() throws(DockerError) -> [ServiceStatus] {
        try observe().statuses
    }

    func observe() throws(DockerError) -> Observation {
        var out: [ServiceStatus] = []
        var oomEvents: [String: Date] = [:]
        for container in try engine.containers(project: project) {
            guard let service = container.service, container.labels["com.docker.compose.oneoff"] != "True" else { continue }
            let state = try engine.inspect(container.id)
            var status = ServiceStatus(
                service: service, container: container.name, containerID: String(container.id.prefix(12)), state: state.status,
                health: state.health, restartCount: state.restartCount, exitCode: state.exitCode, oomKilled: state.oomKilled,
                startedAt: state.startedAt, finishedAt: state.finishedAt, image: state.image,
                oneShot: Self.oneShotServices.contains(service))
            status.memoryLimit = state.memoryLimit
            // SIGKILL (137) is the OOM killer, a `docker kill`, a stop that timed out or a
            // `kill -9` on the host. Some engines do not set OOMKilled when the OOM killer
            // was at work; its `oom` event during the run that ended tells them apart.
            if !state.oomKilled, state.status != "running", state.exitCode == 137, let finished = state.finishedAt,
               let event = try? engine.oomEvents(
                   container.id, since: Self.runStart(state.startedAt, finished: finished),
                   until: min(finished.addingTimeInterval(5), now())).last {
                status.oomKilled = true
                oomEvents[status.containerID] = event
            }
            // The engine also sets OOMKilled when the kernel killed a process inside a container
            // that lived on, and keeps it across a restart: a recent exit that was not a kill
            // (its `die` event's exit code) is not an OOM kill of the container.
            if state.oomKilled, state.status == "running", let finished = state.finishedAt, now().timeIntervalSince(finished) <= oomRecent,
               let codes = try? engine.dieExitCodes(container.id, since: finished.addingTimeInterval(-5), until: min(finished.addingTimeInterval(5), now())),
               !codes.isEmpty, !codes.contains(137) {
                status.oomKilled = false
            }
            out.append(status)
        }
        // One replay of the project's `oom` events per cycle. The engine keeps its last
        // events in memory only (a restarted engine forgets them): a kill it forgot is missed.
        var processOOMs: [String: [Date]] = [:]
        let time = now()
        if out.contains(where: { $0.state == "running" }),
           let events = try? engine.oomEvents(label: "com.docker.compose.project=\(project)", since: time.addingTimeInterval(-oomRecent), until: time) {
            for status in out where status.state == "running" {
                let mine = events.filter { $0.containerID.hasPrefix(status.containerID) && $0.time >= (status.startedAt ?? .distantPast) }
                if !mine.isEmpty { processOOMs[status.containerID] = mine.map(\.time) }
            }
        }
        return Observation(statuses: out.sorted { ($0.service, $0.container) < ($1.service, $1.container) }, oomEvents: oomEvents, processOOMs: processOOMs)
    }

    /// Where the run that ended at `finished` began: its start, or 30 s before the end when
    /// the engine gives no earlier start (an oom event of an earlier run is not about this exit).
    static func runStart(_ started: Date?, finished: Date) -> Date {
        guard let started, started < finished else { return finished.addingTimeInterval(-30) }
        return started
    }

    static func findings(
        _ statuses: [ServiceStatus], required: [String], project: String,
        oomEvents: [String: Date] = [:], oomRecent: TimeInterval = defaultOOMRecent, processOOMs: [String: [Date]] = [:], now: Date = Date()
    ) -> [Finding] {
        var findings: [Finding] = []
        let present = Set(statuses.map(\.service))
        for service in required where !present.contains(service) {
            findings.append(Finding(.serviceDown, severity: .critical, subject: service,
                message: "\(service) has no container in compose project \(project)",
                evidence: ["state": "missing", "project": project]))
        }
        for status in statuses {
            var evidence = [
                "container": status.container, "state": status.state, "exit_code": String(status.exitCode),
                "restart_count": String(status.restartCount), "image": status.image,
            ]
            if let finished = status.finishedAt { evidence["finished_at"] = WireDate.format(finished) }
            if let started = status.startedAt { evidence["started_at"] = WireDate.format(started) }
            if let health = status.health { evidence["health"] = health }
            // The engine keeps OOMKilled after the restart policy started the container again
            // (exit code 0 by then): an OOM kill counts while its exit is recent.
            let running = status.state == "running"
            let ago = status.finishedAt.map { now.timeIntervalSince($0) }
            if status.oomKilled, !running || (ago.map { $0 <= oomRecent } ?? false) {
                if let event = oomEvents[status.containerID] {
                    evidence["oom_killed"] = "not set by the engine; its oom event at \(WireDate.format(event))"
                } else {
                    evidence["oom_killed"] = "true"
                }
                if status.memoryLimit > 0 { evidence["memory_limit_bytes"] = String(status.memoryLimit) }
                let limit = status.memoryLimit > 0 ? "limit \(RelativeTime.bytes(UInt64(status.memoryLimit)))" : nil
                let message = running
                    ? "\(status.container) was killed for using too much memory \(RelativeTime.describe(status.finishedAt, now: now))"
                        + (limit.map { " (\($0))" } ?? "") + "; it runs again"
                    : "\(status.container) was killed for using too much memory (exit \(status.exitCode)" + (limit.map { ", \($0)" } ?? "") + ")"
                findings.append(Finding(.serviceOOMKilled, severity: .critical, subject: status.service, message: message,
                    evidence: evidence))
            }
            if status.state == "running", let kills = processOOMs[status.containerID], let last = kills.max() {
                var details = evidence
                details["oom_kills"] = String(kills.count)
                details["last_oom_at"] = WireDate.format(last)
                details["window_seconds"] = String(Int(oomRecent))
                if status.memoryLimit > 0 { details["memory_limit_bytes"] = String(status.memoryLimit) }
                let limit = status.memoryLimit > 0 ? "its limit is \(RelativeTime.bytes(UInt64(status.memoryLimit)))" : "it has no memory limit: the host ran out"
                findings.append(Finding(.processOOMKilled, severity: .critical, subject: status.service,
                    message: "the kernel killed a process inside \(status.container) for memory \(kills.count) time(s) in the last \(DurationText.human(oomRecent))"
                        + " (the last one \(RelativeTime.describe(last, now: now))); the container keeps running, \(limit)",
                    evidence: details))
            }
            if status.oneShot {
                if status.state == "exited" && status.exitCode != 0 {
                    findings.append(Finding(.serviceFailed, severity: .warning, subject: status.service,
                        message: "one-shot \(status.container) exited with \(status.exitCode)", evidence: evidence))
                }
                continue
            }
            switch status.state {
            case "running":
                if status.health == "unhealthy" {
                    findings.append(Finding(.serviceUnhealthy, severity: .critical, subject: status.service,
                        message: "\(status.container) is running but its healthcheck fails", evidence: evidence))
                }
            case "restarting":
                findings.append(Finding(.serviceRestarting, severity: .critical, subject: status.service,
                    message: "\(status.container) keeps restarting (\(status.restartCount) restarts, last exit \(status.exitCode))", evidence: evidence))
            default:
                findings.append(Finding(.serviceDown, severity: .critical, subject: status.service,
                    message: "\(status.container) is \(status.state) (exit \(status.exitCode))", evidence: evidence))
            }
        }
        return findings
    }
}

/// The engine's disk use, asked at most once per interval. `GET /system/df` walks every
/// image, container and volume: 56 ms of dockerd's CPU per call on the testbed, 4× the
/// agent's own work per cycle, and seconds of I/O on a host with large volumes. Reports in
/// between carry the last answer with its `measuredAt`; a failed call is asked again at the
/// next report. `prune_docker` always asks afresh.
final class DiskUsageCache: @unchecked Sendable {
    /// `docker.disk_usage_interval` when agent.toml does not say.
    static let defaultInterval: TimeInterval = 15 * 60
    let interval: TimeInterval
    private let now: @Sendable () -> Date
    private let lock = NSLock()
    private var last: DockerDiskSummary?

    init(interval: TimeInterval, now: @escaping @Sendable () -> Date = { Date() }) {
        self.interval = interval
        self.now = now
    }

    func summary(_ fetch: () throws(DockerError) -> DockerDiskSummary) -> DockerDiskSummary? {
        lock.lock()
        defer { lock.unlock() }
        let time = now()
        if let last, let at = last.measuredAt, time.timeIntervalSince(at) < interval, time >= at { return last }
        guard var fresh = try? fetch() else { return nil }
        fresh.measuredAt = time
        last = fresh
        return fresh
    }
}
