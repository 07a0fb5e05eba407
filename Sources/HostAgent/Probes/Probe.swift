import Foundation
import Shared

/// One source of facts about this host. Adding a probe is one new file and one line in
/// `ProbeSet.standard`.
///
/// ```swift
/// struct UptimeProbe: Probe {
///     let name = "uptime"
///     func collect() async -> ProbeResult {
///         ProbeResult(findings: [])
///     }
/// }
/// ```
protocol Probe: Sendable {
    var name: String { get }
    func collect() async -> ProbeResult
}

/// What a probe contributes to a report: a section of raw numbers and the findings they raise.
struct ProbeResult: Sendable {
    var section: ReportSection?
    var findings: [Finding]
    /// Set when the probe could not look (the report still goes out, saying so). A probe
    /// that could not look raises no finding about its subject: its own failure is not a
    /// fault of what it looks at.
    var error: String?
    /// What would let it look (shown with the error).
    var fix: String?

    init(section: ReportSection? = nil, findings: [Finding] = [], error: String? = nil, fix: String? = nil) {
        self.section = section
        self.findings = findings
        self.error = error
        self.fix = fix
    }
}

/// The parts of a `HealthReport` probes fill in.
enum ReportSection: Sendable {
    case host(HostFacts)
    case disks([DiskUsage])
    case docker([ServiceStatus], DockerDiskSummary?)
    case queue(QueueStats)
    case app(AppStatus)
    case tls(TLSStatus)

    func apply(to report: inout HealthReport) {
        switch self {
        case .host(let facts): report.host = facts
        case .disks(let disks): report.disks = (report.disks ?? []) + disks
        case .docker(let services, let disk):
            report.services = services
            report.docker = disk
        case .queue(let stats): report.queue = stats
        case .app(let status): report.app = status
        case .tls(let status): report.tls = status
        }
    }
}

/// The probes this agent runs, in order.
struct ProbeSet: Sendable {
    var probes: [any Probe]

    static func standard(_ config: AgentConfig, runner: any CommandRunner = SubprocessRunner()) -> ProbeSet {
        let thresholds = config.thresholds
        var probes: [any Probe] = [
            HostProbe(memoryThreshold: thresholds.memoryPercent),
            DiskProbe(mounts: config.diskMounts, bytesThreshold: thresholds.diskPercent, inodesThreshold: thresholds.inodesPercent),
            DockerProbe(
                engine: config.dockerEngine, project: config.compose.project, requiredServices: config.compose.requiredServices,
                diskUsage: DiskUsageCache(interval: config.dockerDiskUsageInterval), oomRecent: thresholds.oomRecent),
        ]
        let compose = config.composeProject(runner: runner)
        probes.append(WorkerProbe(
            engine: config.dockerEngine, project: config.compose.project, environmentFile: { compose.environmentFile() },
            oomRecent: thresholds.oomRecent))
        if let database = config.queueDatabase(runner: runner) {
            probes.append(QueueProbe(
                database: database, stuckAfter: thresholds.stuckJobAfter, backlogThreshold: thresholds.queueBacklog,
                oldestPendingThreshold: thresholds.oldestPending, failing: thresholds.failingJobs))
            probes.append(MigrationsProbe(engine: config.dockerEngine, project: config.compose.project, database: database))
        }
        if let status = config.status { probes.append(StatusProbe(url: status.url, host: status.host)) }
        if config.compose.directory != nil || config.storagePublicURL != nil {
            probes.append(StorageProbe(compose: config.composeProject(runner: runner), engine: config.dockerEngine, publicURL: config.storagePublicURL))
        }
        if let url = config.tlsURL {
            // With an external proxy (`[proxy] service = ""`) only a configured file is compared.
            let compare = config.proxyService != nil || config.tlsCertificateFile != nil
            probes.append(TLSProbe(
                url: url, warnDays: thresholds.tlsDays, onDisk: compare ? config.certificateOnDisk : nil, service: config.proxyService ?? "nginx"))
        }
        if let directory = config.compose.directory {
            probes.append(ConfigProbe(directory: directory, interval: config.compose.envCheckInterval))
            probes.append(ComposeProbe(compose: config.composeProject(runner: runner), interval: config.compose.configCheckInterval))
        }
        if let service = config.proxyService {
            probes.append(ProxyErrorsProbe(
                engine: config.dockerEngine, project: config.compose.project, service: service, host: config.status?.host,
                window: thresholds.proxyWindow, errorPercent: thresholds.proxyErrorPercent, minimumErrors: thresholds.proxyErrorMinimum))
        }
        return ProbeSet(probes: probes)
    }

    /// Runs every probe and assembles a report (id and sequence are filled in by the spool).
    func collect(agent: String, now: Date = Date()) async -> HealthReport {
        var report = HealthReport(id: UUID().uuidString.lowercased(), sequence: 0, agent: agent, createdAt: now)
        for probe in probes {
            let started = ContinuousClock.now
            let result = await probe.collect()
            let elapsed = ContinuousClock.now - started
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            result.section?.apply(to: &report)
            report.findings += result.findings
            report.probes.append(ProbeSummary(name: probe.name, durationMs: ms, error: result.error, fix: result.fix))
        }
        return report
    }
}
