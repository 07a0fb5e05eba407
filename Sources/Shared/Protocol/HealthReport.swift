import Foundation

/// What an agent knows about its host at one moment: sent every `report.interval`,
/// spooled while the coordinator is unreachable, stored once per `id`.
public struct HealthReport: Codable, Sendable, Equatable {
    /// Unique per report; the coordinator stores each id once.
    public var id: String
    /// Monotonic per agent: replay order and gap detection.
    public var sequence: Int64
    public var agent: String
    public var createdAt: Date
    public var agentVersion: String
    public var host: HostFacts?
    public var disks: [DiskUsage]?
    public var services: [ServiceStatus]?
    public var docker: DockerDiskSummary?
    public var queue: QueueStats?
    public var app: AppStatus?
    public var tls: TLSStatus?
    public var probes: [ProbeSummary]
    public var findings: [Finding]
    /// Head of the agent's hash-chained action journal, so the coordinator notices a rewrite.
    public var journalHead: ChainHead?

    public init(
        id: String, sequence: Int64, agent: String, createdAt: Date, agentVersion: String = FieldMedicVersion.current,
        host: HostFacts? = nil, disks: [DiskUsage]? = nil, probes: [ProbeSummary] = [], findings: [Finding] = [],
        journalHead: ChainHead? = nil
    ) {
        self.id = id
        self.sequence = sequence
        self.agent = agent
        self.createdAt = createdAt
        self.agentVersion = agentVersion
        self.host = host
        self.disks = disks
        self.probes = probes
        self.findings = findings
        self.journalHead = journalHead
    }
}

public struct HostFacts: Codable, Sendable, Equatable {
    public var hostname: String
    public var uptimeSeconds: Double
    public var load1: Double
    public var load5: Double
    public var load15: Double
    public var memory: MemoryInfo

    public init(hostname: String, uptimeSeconds: Double, load1: Double, load5: Double, load15: Double, memory: MemoryInfo) {
        self.hostname = hostname
        self.uptimeSeconds = uptimeSeconds
        self.load1 = load1
        self.load5 = load5
        self.load15 = load15
        self.memory = memory
    }
}

public struct MemoryInfo: Codable, Sendable, Equatable {
    public var totalBytes: UInt64
    public var availableBytes: UInt64
    public var swapTotalBytes: UInt64
    public var swapFreeBytes: UInt64

    public init(totalBytes: UInt64, availableBytes: UInt64, swapTotalBytes: UInt64, swapFreeBytes: UInt64) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
        self.swapTotalBytes = swapTotalBytes
        self.swapFreeBytes = swapFreeBytes
    }

    public var usedPercent: Double {
        totalBytes == 0 ? 0 : Double(totalBytes - min(availableBytes, totalBytes)) * 100 / Double(totalBytes)
    }
}

public struct DiskUsage: Codable, Sendable, Equatable {
    public var mount: String
    public var totalBytes: UInt64
    public var freeBytes: UInt64
    public var availableBytes: UInt64
    public var totalInodes: UInt64
    public var freeInodes: UInt64

    public init(mount: String, totalBytes: UInt64, freeBytes: UInt64, availableBytes: UInt64, totalInodes: UInt64, freeInodes: UInt64) {
        self.mount = mount
        self.totalBytes = totalBytes
        self.freeBytes = freeBytes
        self.availableBytes = availableBytes
        self.totalInodes = totalInodes
        self.freeInodes = freeInodes
    }

    /// Used share as `df` computes it: used / (used + available), so root's reserve counts as full.
    public var usedPercent: Double {
        let used = totalBytes - min(freeBytes, totalBytes)
        let denominator = used + availableBytes
        return denominator == 0 ? 0 : Double(used) * 100 / Double(denominator)
    }

    public var inodesUsedPercent: Double {
        totalInodes == 0 ? 0 : Double(totalInodes - min(freeInodes, totalInodes)) * 100 / Double(totalInodes)
    }
}

/// How one probe went in one cycle. `error` set means the probe could not look: what it
/// looks at was *not checked* (no finding about it either way), and `fix` names the setting
/// or step that would let it look.
public struct ProbeSummary: Codable, Sendable, Equatable {
    public var name: String
    public var durationMs: Double
    public var error: String?
    /// What would let the probe look (a setting in agent.toml, a tool to install); nil when unknown.
    public var fix: String?

    public init(name: String, durationMs: Double, error: String? = nil, fix: String? = nil) {
        self.name = name
        self.durationMs = durationMs
        self.error = error
        self.fix = fix
    }

    /// "queue: psql cannot run in the db container (exit 127) — fix: …"
    public var notCheckedText: String {
        "\(name): \(error ?? "?")" + (fix.map { " — to fix: \($0)" } ?? "")
    }
}

extension HealthReport {
    /// The probes that could not look in this report: what it says nothing about.
    public var notChecked: [ProbeSummary] { probes.filter { $0.error != nil } }
}

/// Something worth acting on, with a stable code (`disk.high`, `service.down`, …) and the
/// evidence that raised it.
public struct Finding: Codable, Sendable, Equatable, Hashable {
    public enum Severity: String, Codable, Sendable, Comparable {
        case info, warning, critical
        public static func < (a: Severity, b: Severity) -> Bool {
            let order: [Severity] = [.info, .warning, .critical]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    public var code: String
    public var severity: Severity
    public var subject: String
    public var message: String
    public var evidence: [String: String]

    public init(code: String, severity: Severity, subject: String, message: String, evidence: [String: String] = [:]) {
        self.code = code
        self.severity = severity
        self.subject = subject
        self.message = message
        self.evidence = evidence
    }
}

/// The newest link of a hash chain: how many rows and the last hash.
public struct ChainHead: Codable, Sendable, Equatable {
    public var count: Int64
    public var hash: String

    public init(count: Int64, hash: String) {
        self.count = count
        self.hash = hash
    }
}

/// `POST /v1/health`: one report, or a batch when the agent replays its spool (oldest first).
public struct HealthBatch: VersionedBody, Equatable {
    public var version: Int
    public var reports: [HealthReport]

    public init(reports: [HealthReport]) {
        self.version = WireCodec.version
        self.reports = reports
    }
}

/// The coordinator's receipt for a batch: every id in it is now stored (new or already known).
public struct HealthReceipt: VersionedBody, Equatable {
    public var version: Int
    public var accepted: Int
    public var duplicates: Int

    public init(accepted: Int, duplicates: Int) {
        self.version = WireCodec.version
        self.accepted = accepted
        self.duplicates = duplicates
    }
}
