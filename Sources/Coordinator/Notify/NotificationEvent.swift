import Foundation
import Shared

/// Something people should be told about. Born where the state changes (the ticket store's
/// write, the breaker's control row) and stored in the same transaction, so an event is
/// never lost between "it happened" and "it was sent".
struct NotificationEvent: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable, CaseIterable {
        case escalated
        case awaitingApproval = "awaiting_approval"
        /// Sent only to channels that were told about the ticket before.
        case resolved
        case agentOffline = "agent_offline"
        case agentBack = "agent_back"
        case breakerOpened = "breaker_opened"
        case budgetSpent = "budget_spent"
        /// A channel gave up on a message (its attempts or age ran out).
        case notifyFailed = "notify_failed"
        /// An alert source's delivery could not be taken in (for the ingest listener).
        case ingestFailed = "ingest_failed"
        /// `notify test NAME`: never routed, sent directly.
        case test
    }

    var kind: Kind
    /// One message per key and channel, ever: `ticket:12:run:1:escalated`.
    var dedupeKey: String
    var ticketID: Int64?
    var host: String?
    /// The first line of the message.
    var title: String
    /// The rest, plain text (each channel escapes it for itself).
    var lines: [String]
    /// Where the whole story is (the GitHub issue), when there is one.
    var link: String?
    var at: Date

    /// Events without a ticket are about the fleet and route at this priority.
    static let fleetPriority: TicketPriority = .p1

    // MARK: From tickets

    /// What one ticket write means for people: nil `before` is a new ticket. Pure, so the
    /// store can call it inside its transaction.
    static func forTicket(before: TicketState?, after ticket: Ticket, at: Date) -> [NotificationEvent] {
        guard before != ticket.state else { return [] }
        let offline = ticket.findingKey?.contains("|\(FindingCode.agentOffline.rawValue)|") == true
        let prefix = "ticket:\(ticket.id):run:\(ticket.run)"
        let host = ticket.host
        let hostText = host.map { " on \($0)" } ?? ""
        func event(_ kind: Kind, _ suffix: String, _ title: String, _ lines: [String]) -> NotificationEvent {
            NotificationEvent(kind: kind, dedupeKey: "\(prefix):\(suffix)", ticketID: ticket.id, host: host, title: title,
                              lines: lines.map(Redactor.redact), link: ticket.issueURL, at: at)
        }
        switch ticket.state {
        case .escalated:
            if offline {
                return [event(.agentOffline, "agent_offline", "Agent \(host ?? "?") is offline",
                              [ticket.reason ?? "It stopped reporting.", "Ticket \(ticket.reference)."])]
            }
            let reason = ticket.reason ?? "A person should look."
            var events = [event(.escalated, "escalated", "Escalated: \(ticket.title)", [reason] + ticket.nextSteps.prefix(3).map { "Next: \($0)" } + ["Ticket \(ticket.reference)\(hostText)."])]
            if reason.hasPrefix("Budget spent") {
                events.append(event(.budgetSpent, "budget_spent", "Fix budget spent\(hostText)", [reason, "Ticket \(ticket.reference)."]))
            }
            return events
        case .awaitingApproval:
            guard let plan = ticket.plan else { return [] }
            let short = plan.shortHash
            var lines = ["Plan \(short) (sha256 \(plan.hash)):"]
            lines += plan.steps.enumerated().map { "\($0.offset + 1). \($0.element.summary)" }
            lines.append("Approve on the issue: /fieldmedic approve \(short)")
            lines.append("or here: fieldmedic-coordinator tickets do \(ticket.id) approve \(short)")
            // The plan hash is in the key: a changed plan asks again.
            return [NotificationEvent(kind: .awaitingApproval, dedupeKey: "\(prefix):awaiting_approval:\(short)", ticketID: ticket.id, host: host,
                                      title: "Waiting for approval: \(ticket.title)", lines: lines.map(Redactor.redact), link: ticket.issueURL, at: at)]
        case .resolved, .healthy:
            guard before != nil, ticket.state == .resolved || before == .escalated else { return [] }
            if offline {
                return [event(.agentBack, "agent_back", "Agent \(host ?? "?") is back", [ticket.verdict ?? "It reports again."])]
            }
            return [event(.resolved, "resolved", "Resolved: \(ticket.title)", [ticket.verdict ?? "Resolved.", "Ticket \(ticket.reference)\(hostText)."])]
        default:
            return []
        }
    }

    // MARK: Fleet and self

    static func breakerOpened(reason: String, at: Date) -> NotificationEvent {
        NotificationEvent(kind: .breakerOpened, dedupeKey: "breaker:\(WireDate.format(at))", ticketID: nil, host: nil,
                          title: "Circuit breaker opened: automatic fixes stopped fleet-wide",
                          lines: [reason, "Resume with: fieldmedic-coordinator resume"], link: nil, at: at)
    }

    /// For the alert listener: a delivery it could not take in (bad body, store full).
    /// `key` makes repeats of the same failure one message (e.g. the source and the hour).
    static func ingestFailed(source: String, error: String, key: String, at: Date) -> NotificationEvent {
        NotificationEvent(kind: .ingestFailed, dedupeKey: "ingest:\(source):\(key)", ticketID: nil, host: nil,
                          title: "Alerts from \(source) could not be taken in", lines: [Redactor.redact(error)], link: nil, at: at)
    }

    static func notifyFailed(channel: String, error: String, count: Int, at: Date) -> NotificationEvent {
        NotificationEvent(kind: .notifyFailed, dedupeKey: "notify_failed:\(channel):\(WireDate.format(at))", ticketID: nil, host: nil,
                          title: "Notifications to \(channel) failed",
                          lines: ["\(count) message(s) gave up: \(error)", "See: fieldmedic-coordinator notify status"], link: nil, at: at)
    }

    static func test(channel: String, at: Date) -> NotificationEvent {
        NotificationEvent(kind: .test, dedupeKey: "test:\(channel):\(WireDate.format(at))", ticketID: nil, host: nil,
                          title: "FieldMedic test message", lines: ["This is a test of the notification channel \"\(channel)\". It works."],
                          link: nil, at: at)
    }
}
