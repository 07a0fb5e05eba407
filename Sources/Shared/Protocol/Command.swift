import Foundation

/// An instruction from the coordinator to one agent, run at most once.
public struct Command: VersionedBody, Equatable {
    public var version: Int
    public var id: String
    /// A catalog entry on the agent (`diagnose`, `restart_service`, …): never a command line.
    public var kind: String
    public var params: [String: String]
    public var dryRun: Bool
    public var issuedAt: Date

    public init(id: String, kind: String, params: [String: String] = [:], dryRun: Bool = false, issuedAt: Date) {
        self.version = WireCodec.version
        self.id = id
        self.kind = kind
        self.params = params
        self.dryRun = dryRun
        self.issuedAt = issuedAt
    }
}

/// How a command ended on the agent.
public enum CommandStatus: String, Codable, Sendable, CaseIterable {
    case succeeded
    case failed
    /// The agent found it journaled but unfinished after a restart; it was not run again.
    case interrupted
    /// The agent would not run it (unknown kind, bad parameters, local policy, budget).
    case refused
}

/// `POST /v1/commands/{id}/result`.
public struct CommandResult: VersionedBody, Equatable {
    public var version: Int
    public var commandId: String
    public var status: CommandStatus
    public var message: String
    public var startedAt: Date?
    public var finishedAt: Date
    /// For `diagnose`: everything the probes saw.
    public var diagnosis: HealthReport?
    /// For every other catalog action: plan, before/after, verification.
    public var action: ActionOutcome?

    public init(
        commandId: String, status: CommandStatus, message: String, startedAt: Date?, finishedAt: Date, diagnosis: HealthReport? = nil,
        action: ActionOutcome? = nil
    ) {
        self.version = WireCodec.version
        self.commandId = commandId
        self.status = status
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.diagnosis = diagnosis
        self.action = action
    }
}
