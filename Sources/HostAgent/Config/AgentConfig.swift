import Foundation
import Shared

/// `agent.toml`: who this agent is, where its coordinator is, how often it reports.
struct AgentConfig: Sendable {
    var path: String
    var name: String
    var coordinatorURL: String
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
        guard let name = try reader.string("name") else {
            throw ConfigError(file: path, line: nil, message: "name is missing; add a line such as name = \"vps-1\" (the name given to `agents add`)")
        }
        do { try AgentName.validate(name) } catch { throw reader.fail("name", error.description) }
        guard let url = try reader.string("coordinator.url") else {
            throw ConfigError(file: path, line: nil, message: "coordinator.url is missing; add [coordinator] url = \"https://ops.example.org:8443\"")
        }
        guard url.hasPrefix("https://"), URL(string: url)?.host != nil else {
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
        let config = AgentConfig(
            path: path,
            name: name,
            coordinatorURL: url.hasSuffix("/") ? String(url.dropLast()) : url,
            reportInterval: try reader.duration("report.interval", default: 60, minimum: 0.2),
            stateDir: stateDir,
            spoolMaxAge: try reader.duration("spool.max_age", default: 7 * 86_400, minimum: 60),
            diskMounts: mounts,
            thresholds: thresholds)
        try reader.finish()
        return config
    }

    var paths: AgentPaths { AgentPaths(stateDir: stateDir) }
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
    static func render(name: String, url: String, stateDir: String) -> String {
        """
        # FieldMedic agent configuration. Durations are strings: "90s", "5m", "1h", "7d".
        # Unknown keys are errors: run `fieldmedic-agent check-config` after editing.

        # This host's name at the coordinator (as given to `agents add NAME`).
        name = "\(name)"

        [coordinator]
        # The coordinator's agent listener. The agent dials out; this host opens no port.
        url = "\(url)"

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
