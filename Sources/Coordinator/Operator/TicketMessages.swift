import Foundation
import Shared

struct OpenTicketRequest: Codable, Sendable {
    var host: String?
    var title: String
    var body: String
}

struct TicketCommandRequest: Codable, Sendable {
    var verb: String
    var argument: String?
}

struct TicketCommandResponse: Codable, Sendable {
    var ticket: TicketSummary
    var reply: String?
}

struct PauseRequest: Codable, Sendable {
    var host: String?
    var reason: String?
}

struct PauseState: Codable, Sendable {
    /// `pause` (fleet), `pause:HOST`, `breaker` → why.
    var controls: [String: String]
}

struct TicketSummary: Codable, Sendable, Equatable {
    var id: Int64
    var issue: Int?
    var source: String
    var host: String?
    var state: String
    var intent: String
    var title: String
    var verdict: String?
    var plan: String?
    /// P0 … P3 (nil from older coordinators).
    var priority: String?
    var updatedAt: Date
    var createdAt: Date

    init(_ t: Ticket, playbook: Playbook = .builtIn) {
        priority = t.priority(playbook).rawValue
        id = t.id
        issue = t.issueNumber
        source = t.source.rawValue
        host = t.host
        state = t.state.rawValue
        intent = t.intent.rawValue
        title = t.title
        verdict = t.verdict ?? t.waitNote
        plan = t.plan?.shortHash
        updatedAt = t.updatedAt
        createdAt = t.createdAt
    }
}

struct TicketDetail: Codable, Sendable {
    var ticket: Ticket
    var report: String
}
