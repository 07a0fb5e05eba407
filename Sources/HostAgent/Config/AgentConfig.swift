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

    static let defaultPath = "/etc/fieldmedic/agent.toml"
    static let defaultStateDir = "/var/lib/fieldmedic"

    struct Thresholds: Sendable {
        var diskPercent: Double = 90
        var inodesPercent: Double = 90
        var memoryPercent: Double = 95
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
            thresholds: thresholds)
        try reader.finish()
        return config
    }

    var paths: AgentPaths { AgentPaths(stateDir: stateDir) }

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

        [thresholds]
        # Findings are raised at or above these percentages.
        disk_percent = 90
        inodes_percent = 90
        memory_percent = 95

        """
    }
}
