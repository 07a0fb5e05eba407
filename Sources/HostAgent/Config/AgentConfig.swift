import Foundation
import Shared

/// `agent.toml`: how this agent works. Who it is and where its coordinator is comes from
/// enrollment (`state.dir/enrollment.json`), unless the file sets `name` and `coordinator.url`.
struct AgentConfig: Sendable {
    var path: String
    var identity: AgentIdentity?
    var reportInterval: TimeInterval
    var stateDir: String
    var spoolMaxAge: TimeInterval
    var diskMounts: [String]
    var thresholds: Thresholds
    var dockerSocket: String
    /// How often the engine's disk use (`GET /system/df`) is asked; 0 = every report.
    var dockerDiskUsageInterval: TimeInterval
    var compose: Compose
    var queue: Queue
    var status: Status?
    var tlsURL: String?
    /// `[tls] certificate_file`: the host path of the certificate nginx serves; nil = derived
    /// from the nginx container (QFIELDCLOUD_TLS_CERT through its mounts).
    var tlsCertificateFile: String?
    /// The object storage's public address, checked as a phone reaches it (`[storage] public_url`).
    var storagePublicURL: String?
    /// The compose service whose log holds nginx's access log; nil = not read.
    var proxyService: String?
    var actions: ActionPolicy

    struct Compose: Sendable {
        var project: String = "qfieldcloud"
        /// The install directory holding docker-compose.yml and `.env`; nil when unknown.
        var directory: String?
        /// Services that must have a running container; others are judged when present.
        var requiredServices: [String] = ["app", "nginx", "worker_wrapper"]
        /// How often `.env` is looked at (and read again only when it changed).
        var envCheckInterval: TimeInterval = 5 * 60
        /// How often `compose config -q` runs (and at once when .env or a compose file changed).
        var configCheckInterval: TimeInterval = 86_400
    }

    struct Queue: Sendable {
        enum Mode: String, Sendable { case dockerExec = "docker-exec", dsn, off }
        var mode: Mode
        var dsn: String?
    }

    struct Status: Sendable {
        var url: String
        var host: String?
    }

    static let defaultPath = "/etc/fieldmedic/agent.toml"
    static let defaultStateDir = "/var/lib/fieldmedic"

    struct Thresholds: Sendable {
        var diskPercent: Double = 90
        var inodesPercent: Double = 90
        var memoryPercent: Double = 95
        var stuckJobAfter: TimeInterval = 20 * 60
        var queueBacklog: Int = 50
        var oldestPending: TimeInterval = 30 * 60
        var tlsDays: Double = 14
        var oomRecent: TimeInterval = DockerProbe.defaultOOMRecent
        /// nginx's 413/444/499/5xx per endpoint family over this window of its log.
        var proxyWindow: TimeInterval = 15 * 60
        var proxyErrorPercent: Double = 5
        var proxyErrorMinimum: Int = 3
        var failingJobs = FailingJobsRule()
    }

    static func load(path: String) throws(ConfigError) -> AgentConfig {
        let reader = try ConfigReader(path: path)
        let name = try reader.string("name")
        if let name {
            do { try AgentName.validate(name) } catch { throw reader.fail("name", error.description) }
        }
        let url = try reader.string("coordinator.url")
        if let url, !(url.hasPrefix("https://") && URL(string: url)?.host != nil) {
            throw reader.fail("coordinator.url", "coordinator.url must start with https:// and name a host, e.g. url = \"https://ops.example.org:8443\"")
        }
        let stateDir = try reader.string("state.dir", default: defaultStateDir)
        guard stateDir.hasPrefix("/") else { throw reader.fail("state.dir", "state.dir must be an absolute path, e.g. dir = \"/var/lib/fieldmedic\"") }
        let mounts = try reader.stringArray("disks.mounts", default: ["/"])
        for mount in mounts where !mount.hasPrefix("/") {
            throw reader.fail("disks.mounts", "disks.mounts entries must be absolute paths, not \"\(mount)\"")
        }
        var thresholds = Thresholds()
        thresholds.diskPercent = try reader.double("thresholds.disk_percent", default: thresholds.diskPercent, range: 1...100)
        thresholds.inodesPercent = try reader.double("thresholds.inodes_percent", default: thresholds.inodesPercent, range: 1...100)
        thresholds.memoryPercent = try reader.double("thresholds.memory_percent", default: thresholds.memoryPercent, range: 1...100)
        thresholds.stuckJobAfter = try reader.duration("thresholds.stuck_job_after", default: thresholds.stuckJobAfter, minimum: 60)
        thresholds.queueBacklog = try reader.int("thresholds.queue_backlog", default: thresholds.queueBacklog, range: 1...1_000_000)
        thresholds.oldestPending = try reader.duration("thresholds.oldest_pending", default: thresholds.oldestPending, minimum: 60)
        thresholds.tlsDays = try reader.double("thresholds.tls_days", default: thresholds.tlsDays, range: 0...365)
        thresholds.oomRecent = try reader.duration("thresholds.oom_recent", default: thresholds.oomRecent, minimum: 60)
        thresholds.proxyWindow = try reader.duration("thresholds.proxy_window", default: thresholds.proxyWindow, minimum: 60)
        thresholds.proxyErrorPercent = try reader.double("thresholds.proxy_error_percent", default: thresholds.proxyErrorPercent, range: 0...100)
        thresholds.proxyErrorMinimum = try reader.int("thresholds.proxy_error_min", default: thresholds.proxyErrorMinimum, range: 1...1_000_000)
        thresholds.failingJobs.window = try reader.duration("thresholds.jobs_window", default: thresholds.failingJobs.window, minimum: 60)
        thresholds.failingJobs.minimumFailed = try reader.int("thresholds.jobs_failed", default: thresholds.failingJobs.minimumFailed, range: 1...1_000_000)
        thresholds.failingJobs.minimumPercent = try reader.double(
            "thresholds.jobs_failed_percent", default: thresholds.failingJobs.minimumPercent, range: 1...100)

        var compose = Compose()
        compose.project = try reader.string("compose.project", default: compose.project)
        compose.directory = try reader.string("compose.directory")
        if let directory = compose.directory, !directory.hasPrefix("/") {
            throw reader.fail("compose.directory", "compose.directory must be the absolute path of the QFieldCloud install (the folder with .env)")
        }
        compose.requiredServices = try reader.stringArray("compose.required_services", default: compose.requiredServices)
        compose.envCheckInterval = try reader.duration("compose.env_check_interval", default: compose.envCheckInterval)
        compose.configCheckInterval = try reader.duration("compose.config_check_interval", default: compose.configCheckInterval, minimum: 60)

        let modeText = try reader.string("queue.mode", default: compose.directory == nil ? "off" : "docker-exec")
        guard let mode = Queue.Mode(rawValue: modeText) else {
            throw reader.fail("queue.mode", "queue.mode must be \"docker-exec\", \"dsn\" or \"off\", not \"\(modeText)\"")
        }
        let queue = Queue(mode: mode, dsn: try reader.string("queue.dsn"))
        if mode == .dsn, queue.dsn == nil { throw reader.fail("queue.mode", "queue.mode = \"dsn\" needs queue.dsn = \"postgresql://user@host:5432/db\"") }
        if mode == .dockerExec, compose.directory == nil {
            throw reader.fail("queue.mode", "queue.mode = \"docker-exec\" needs compose.directory (where .env names POSTGRES_USER and POSTGRES_DB)")
        }

        var status: Status?
        if let url = try reader.string("status.url") {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw reader.fail("status.url", "status.url must be an http(s) URL, e.g. url = \"https://localhost/api/v1/status/\"")
            }
            status = Status(url: url, host: try reader.string("status.host"))
        }
        let tlsURL = try reader.string("tls.url")
        if let tlsURL, !tlsURL.hasPrefix("https://") {
            throw reader.fail("tls.url", "tls.url must start with https://, e.g. url = \"https://qfield.example.org\"")
        }
        let tlsCertificateFile = try reader.string("tls.certificate_file")
        if let tlsCertificateFile, !tlsCertificateFile.hasPrefix("/") {
            throw reader.fail("tls.certificate_file", "tls.certificate_file must be an absolute path, e.g. certificate_file = \"/opt/qfieldcloud/conf/nginx/certs/qfield.example.org.pem\"")
        }
        let storagePublicURL = try reader.string("storage.public_url")
        if let storagePublicURL, !(storagePublicURL.hasPrefix("http://") || storagePublicURL.hasPrefix("https://")) {
            throw reader.fail("storage.public_url", "storage.public_url must be an http(s) URL, e.g. public_url = \"https://storage.qfield.example.org\"")
        }
        let proxyService = try reader.string("proxy.service", default: "nginx")
        let actions = try ActionPolicy.load(reader)
        let enrolled = AgentIdentity.read(stateDir: stateDir)
        var identity: AgentIdentity?
        if let name = name ?? enrolled?.name, let url = url ?? enrolled?.coordinatorURL {
            identity = AgentIdentity(name: name, coordinatorURL: url.hasSuffix("/") ? String(url.dropLast()) : url)
        }
        let config = AgentConfig(
            path: path,
            identity: identity,
            reportInterval: try reader.duration("report.interval", default: 60, minimum: 0.2),
            stateDir: stateDir,
            spoolMaxAge: try reader.duration("spool.max_age", default: 7 * 86_400, minimum: 60),
            diskMounts: mounts,
            thresholds: thresholds,
            dockerSocket: try reader.string("docker.socket", default: "/var/run/docker.sock"),
            dockerDiskUsageInterval: try reader.duration("docker.disk_usage_interval", default: DiskUsageCache.defaultInterval),
            compose: compose,
            queue: queue,
            status: status,
            tlsURL: tlsURL,
            tlsCertificateFile: tlsCertificateFile,
            storagePublicURL: storagePublicURL,
            proxyService: proxyService.isEmpty ? nil : proxyService,
            actions: actions)
        try reader.finish()
        return config
    }

    var paths: AgentPaths { AgentPaths(stateDir: stateDir) }

    var dockerEngine: any DockerEngine { DockerEngineClient(socketPath: dockerSocket) }

    func composeProject(runner: any CommandRunner) -> ComposeProject {
        ComposeProject(project: compose.project, directory: compose.directory, dockerSocket: dockerSocket, runner: runner)
    }

    func queueDatabase(runner: any CommandRunner) -> QueueDatabase? {
        switch queue.mode {
        case .off: return nil
        case .dsn: return queue.dsn.map { QueueDatabase(target: .dsn($0), runner: runner, psql: PsqlLocator.locate()) }
        case .dockerExec: return QueueDatabase(target: .dockerExec(composeProject(runner: runner)), runner: runner)
        }
    }

    func actionContext(agent: String, runner: any CommandRunner = SubprocessRunner()) -> ActionContext {
        ActionContext(
            agent: agent, engine: dockerEngine, compose: composeProject(runner: runner), queue: queueDatabase(runner: runner),
            policy: actions, stuckJobAfter: thresholds.stuckJobAfter, commandID: "",
            tls: tlsURL.map { TLSTarget(url: $0, onDisk: certificateOnDisk) })
    }

    /// The certificate file nginx serves (tls.mismatch, reload_nginx).
    var certificateOnDisk: CertificateOnDisk {
        CertificateOnDisk(configuredPath: tlsCertificateFile, engine: dockerEngine, project: compose.project, service: proxyService ?? "nginx")
    }

    /// Who this agent is, or the error that says how to enroll.
    func requireIdentity() throws -> AgentIdentity {
        guard let identity else {
            throw OperationalError("this agent is not enrolled yet: run `fieldmedic-agent enroll --coordinator URL --name NAME --token TOKEN --config \(path)`")
        }
        return identity
    }
}

/// What enrollment established: this agent's name and its coordinator.
struct AgentIdentity: Codable, Sendable, Equatable {
    var name: String
    var coordinatorURL: String

    static func path(stateDir: String) -> String { stateDir + "/enrollment.json" }

    static func read(stateDir: String) -> AgentIdentity? {
        guard let data = FileManager.default.contents(atPath: path(stateDir: stateDir)) else { return nil }
        return try? JSONDecoder().decode(AgentIdentity.self, from: data)
    }

    func write(stateDir: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(self), to: Self.path(stateDir: stateDir))
    }
}

/// Files under `state.dir`.
struct AgentPaths: Sendable {
    var stateDir: String
    var key: String { stateDir + "/agent.key" }
    var certificate: String { stateDir + "/agent.pem" }
    var ca: String { stateDir + "/ca.pem" }
    var database: String { stateDir + "/agent.sqlite3" }

    var isEnrolled: Bool { FileManager.default.fileExists(atPath: certificate) && FileManager.default.fileExists(atPath: key) }

    /// The key is readable, parses and is private (mode 0600). Checked before the agent
    /// starts: renewal refuses an open key, and finding out only then would lock the agent out
    /// once its certificate expires (D10).
    func checkKey() throws {
        _ = try PEMFile.readPrivateKey(key, what: "agent private key")
    }
}

enum AgentConfigTemplate {
    static func render(stateDir: String) -> String {
        """
        # FieldMedic agent configuration. Durations are strings: "90s", "5m", "1h", "7d".
        # Unknown keys are errors: run `fieldmedic-agent check-config` after editing.

        # This host's name and its coordinator come from `fieldmedic-agent enroll`, which
        # records them in the state directory. Set them here only to override that.
        # name = "vps-1"
        # [coordinator]
        # url = "https://ops.example.org:8443"

        [report]
        # How often a health report is sent.
        interval = "60s"

        [state]
        # Key, certificates, report spool and action journal (mode 0700).
        dir = "\(stateDir)"

        [spool]
        # Reports kept while the coordinator is unreachable; older ones are dropped (and counted).
        max_age = "7d"

        [disks]
        # Mount points whose space and inodes are watched.
        mounts = ["/"]

        [docker]
        # The Docker engine's API socket. Access to it is root-equivalent.
        socket = "/var/run/docker.sock"
        # How often to ask the engine for its disk use (images, build cache, volumes): that
        # walks every layer and volume, so not on every report. "0s" = every report.
        disk_usage_interval = "15m"

        [compose]
        # The compose project (COMPOSE_PROJECT_NAME) and the install directory with its .env.
        project = "qfieldcloud"
        # directory = "/opt/qfieldcloud"
        # Services that must always have a running container.
        required_services = ["app", "nginx", "worker_wrapper"]
        # How often .env is linted (config.invalid); it is read again only when it changed.
        env_check_interval = "5m"
        # `compose config -q` checks that compose accepts the project (compose.invalid) when
        # the agent starts and when .env, a compose file or the compose program changed; and
        # at the latest after this long (compose v1 costs ~0.85 s of CPU a check).
        config_check_interval = "1d"

        [queue]
        # How to read the job queue: "docker-exec" (psql inside the running db container,
        # through the Docker API, with the credentials from .env; needs compose.directory),
        # "dsn" (psql to queue.dsn; the password may come from ~/.pgpass), or "off".
        # Default: docker-exec when compose.directory is set, else off.
        # mode = "docker-exec"
        # dsn = "postgresql://qfieldcloud_db_admin@127.0.0.1:5432/qfieldcloud_db"

        # [status]
        # QFieldCloud's status endpoint; nginx answers only when Host is QFIELDCLOUD_HOST.
        # url = "https://localhost/api/v1/status/"
        # host = "qfield.example.org"

        # [tls]
        # The public address whose certificate (and chain) QField clients check.
        # url = "https://qfield.example.org"
        # The certificate file nginx serves, compared with what the address serves
        # (tls.mismatch: a renewed certificate nginx has not loaded, or a shorter chain).
        # Default: QFIELDCLOUD_TLS_CERT of the nginx container, through its mounts, e.g.
        # <install>/conf/nginx/certs/<host>.pem or
        # <install>/conf/certbot/conf/live/<host>/fullchain.pem. With neither, no comparison.
        # certificate_file = "/opt/qfieldcloud/conf/nginx/certs/qfield.example.org.pem"

        # [storage]
        # The object storage named in .env (STORAGES) is checked from inside the app container,
        # as QFieldCloud reaches it. Its public address, if phones download from it directly,
        # is also checked from this host:
        # public_url = "https://storage.qfield.example.org"

        [proxy]
        # The compose service whose log holds nginx's access log (QFieldCloud's nginx writes
        # it to stdout); read from where the last cycle stopped. "" = do not read it (an
        # external reverse proxy instead of the bundled nginx).
        service = "nginx"

        [thresholds]
        # Findings are raised at or above these.
        disk_percent = 90
        inodes_percent = 90
        memory_percent = 95
        stuck_job_after = "20m"
        queue_backlog = 50
        oldest_pending = "30m"
        tls_days = 14
        # An OOM kill stays a finding this long, also after the container runs again.
        oom_recent = "1h"
        # nginx's 413/444/499/5xx answers per endpoint family (files, packages, deltas,
        # status, other), read from the nginx container's log over this window: a finding
        # when at least proxy_error_min of them make proxy_error_percent of the family's requests.
        proxy_window = "15m"
        proxy_error_percent = 5
        proxy_error_min = 3
        # Jobs failing: at least jobs_failed failed, and at least jobs_failed_percent of the
        # jobs that ended (finished or failed), within the last jobs_window.
        jobs_window = "30m"
        jobs_failed = 3
        jobs_failed_percent = 50

        [actions]
        # This host's own kill switch: false refuses every action the coordinator asks for.
        enabled = true
        # How long a restarted service must stay up to count as fixed.
        settle = "5s"
        # Budgets per action and subject; the local policy can only narrow what the
        # coordinator may ask. Per action: [actions.restart_service] enabled, budget_per_hour,
        # budget_per_day (defaults 3 and 7).
        # [actions.recreate_service]
        # enabled = false

        """
    }
}
