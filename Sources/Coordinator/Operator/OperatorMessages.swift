import Foundation
import Shared

/// Bodies of the local operator API (loopback, bearer token), shared by server and CLI.
struct AddAgentRequest: Codable, Sendable { var name: String }

/// Carries the join token's text to the operator's terminal; never prints it.
struct AddAgentResponse: Codable, Sendable, RedactedReflection {
    var name: String
    var token: String
    var tokenId: String
    var expiresAt: Date

    var redactedSummary: String { "name: \(name), token id: \(tokenId)" }
}

struct RevokeResponse: Codable, Sendable {
    var agent: String
    var revokedCertificates: Int
}

struct AgentSummary: Codable, Sendable, Equatable {
    var name: String
    var state: AgentState
    var online: Bool
    var enrolledAt: Date?
    var lastReportAt: Date?
    var lastSequence: Int64?
    var reportCount: Int64
    var certificateSerial: String?
    var certificateNotAfter: Date?

    init(_ record: AgentRecord, now: Date, offlineAfter: TimeInterval) {
        name = record.name
        state = record.state
        online = record.state == .active && (record.lastReportAt.map { now.timeIntervalSince($0) <= offlineAfter } ?? false)
        enrolledAt = record.enrolledAt
        lastReportAt = record.lastReportAt
        lastSequence = record.lastSequence
        reportCount = record.reportCount
        certificateSerial = record.certificateSerial
        certificateNotAfter = record.certificateNotAfter
    }
}

struct HostView: Codable, Sendable {
    var agent: AgentSummary
    var latestReport: HealthReport?
    /// Filled in by `hosts show --json` from /operator/agents/NAME/trends.
    var trends: HostTrends?
}

struct QueueCommandRequest: Codable, Sendable {
    var kind: String
    var params: [String: String]
    var dryRun: Bool
}

struct OperatorStatus: Codable, Sendable {
    var version: String
    var agents: Int
    var caFingerprint: String
}
