import Foundation
import Shared

/// Everything the coordinator keeps, behind one protocol: SQLite is the embedded default, a
/// second implementation (PostgreSQL) can take its place without touching the callers.
///
/// Methods that change state take the audit entry that records the change, and write both
/// in one transaction: nothing happens that the audit log does not show.
protocol CoordinatorStore: Sendable {
    // Join tokens
    func createJoinToken(_ token: JoinTokenRecord, audit: AuditEntry) async throws
    func consumeJoinToken(secretHash: String, name: String, now: Date) async throws -> TokenCheck

    // Agents and certificates
    func agent(named name: String) async throws -> AgentRecord?
    func agents() async throws -> [AgentRecord]
    func recordCertificate(_ certificate: CertificateRecord, audit: AuditEntry) async throws
    /// Revokes every certificate of `name`, voids its unused join tokens and cancels its
    /// queued and sent commands (each cancellation audited); returns the certificates revoked.
    func revokeAgent(named name: String, now: Date, audit: AuditEntry) async throws -> Int
    /// Whether the certificate `serial`, presented with the key `keySHA256`, may act as `agent`.
    func authorize(agent: String, serial: String, keySHA256: String) async throws -> AuthorizationDecision
    /// Revokes `agent`'s certificates other than `keeping` (audited); returns how many.
    func retireCertificates(agent: String, keeping: Set<String>, now: Date, audit: AuditEntry) async throws -> Int

    // Health reports
    func storeReports(agent: String, reports: [HealthReport], receivedAt: Date) async throws -> HealthReceipt
    func latestReport(agent: String) async throws -> HealthReport?
    func reportSequences(agent: String, limit: Int) async throws -> [ReportListing]

    // Commands
    func enqueueCommand(_ command: CommandRecord, audit: AuditEntry) async throws
    func claimNextCommand(agent: String, now: Date) async throws -> CommandRecord?
    func completeCommand(agent: String, result: CommandResult, now: Date) async throws -> CommandCompletion
    func command(id: String) async throws -> CommandRecord?

    // Audit
    func appendAudit(_ entry: AuditEntry) async throws
    func auditRows(since: Date?) async throws -> [AuditRecord]
    func verifyAudit() async throws -> ChainVerdict
    /// The newest audit row as an anchor (nil for an empty log).
    func auditHead() throws -> AuditAnchor?
}

struct JoinTokenRecord: Sendable, Equatable {
    var id: String
    var secretHash: String
    var agent: String
    var createdAt: Date
    var expiresAt: Date
    var usedAt: Date?
}

enum TokenCheck: Sendable, Equatable {
    case accepted(tokenID: String)
    case unknown
    case alreadyUsed(tokenID: String)
    case expired(tokenID: String)
    case wrongName(tokenID: String, boundTo: String)
    /// Replaced by a newer token for the same name, or voided by an enrollment or revocation.
    case invalidated(tokenID: String)
}

enum AgentState: String, Sendable, Codable {
    /// A join token exists; the agent has not enrolled yet.
    case pending
    case active
    case revoked
}

struct AgentRecord: Sendable, Equatable, Codable {
    var name: String
    var state: AgentState
    var createdAt: Date
    var enrolledAt: Date?
    var certificateSerial: String?
    var certificateNotAfter: Date?
    var lastReportAt: Date?
    var lastSequence: Int64?
    var reportCount: Int64
}

struct CertificateRecord: Sendable, Equatable {
    enum Kind: String, Sendable { case enrolled, renewed }
    var serial: String
    var agent: String
    var kind: Kind
    var issuedAt: Date
    var notAfter: Date
    /// `Certificate.PublicKey.sha256Fingerprint` of the key it was issued for.
    var keySHA256: String
}

enum AuthorizationDecision: Sendable, Equatable {
    case allowed
    case unknownAgent
    case revoked
    case unknownCertificate
    /// The serial is ours but the certificate carries another key than the one we signed.
    case wrongKey
}

struct ReportListing: Sendable, Equatable, Codable {
    var id: String
    var sequence: Int64
    var createdAt: Date
    var receivedAt: Date
}

enum CommandState: String, Sendable, Codable {
    case queued, sent, succeeded, failed, interrupted, refused
    /// Never delivered or never answered: its agent was revoked.
    case cancelled

    var isFinished: Bool { ![.queued, .sent].contains(self) }
}

struct CommandRecord: Sendable, Equatable, Codable {
    var id: String
    var agent: String
    var kind: String
    var params: [String: String]
    var dryRun: Bool
    var state: CommandState
    var requestedBy: String
    var createdAt: Date
    var sentAt: Date?
    var finishedAt: Date?
    var result: CommandResult?

    var wireCommand: Command {
        Command(id: id, kind: kind, params: params, dryRun: dryRun, issuedAt: createdAt)
    }
}

enum CommandCompletion: Sendable, Equatable {
    case recorded(CommandRecord)
    case unknown
    case alreadyFinished(CommandRecord)
}

/// One audit event before it is chained.
struct AuditEntry: Sendable, Equatable {
    var at: Date
    var actor: String
    var action: String
    var subject: String
    var details: [String: String]

    init(at: Date = Date(), actor: String, action: String, subject: String, details: [String: String] = [:]) {
        self.at = at
        self.actor = actor
        self.action = action
        self.subject = subject
        self.details = details
    }
}

/// One stored, chained audit row.
struct AuditRecord: Sendable, Equatable, Codable {
    var id: Int64
    var at: String
    var actor: String
    var action: String
    var subject: String
    var details: String
    var previousHash: String
    var hash: String

    /// What the hash covers: every column but the hash itself.
    var canonical: Data {
        HashChain.canonical(CanonicalAuditRow(id: id, at: at, actor: actor, action: action, subject: subject, details: details, previous: previousHash))
    }

    var chainRow: ChainRow { ChainRow(id: id, canonical: canonical, previousHash: previousHash, hash: hash) }
}

struct CanonicalAuditRow: Encodable {
    var id: Int64
    var at: String
    var actor: String
    var action: String
    var subject: String
    var details: String
    var previous: String
}
