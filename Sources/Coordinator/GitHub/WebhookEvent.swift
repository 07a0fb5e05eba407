import Foundation

/// One GitHub webhook delivery, reduced to what the ticket loop reacts to.
enum WebhookEvent: Sendable {
    /// Sent once when the webhook is created.
    case ping(zen: String?, hookID: Int64?)
    /// `X-GitHub-Event: issues` (opened, edited, closed, reopened, labeled, …).
    case issue(action: String, issue: GitHubIssue, sender: String)
    /// `X-GitHub-Event: issue_comment` (created, edited, deleted); also fired for comments on
    /// pull requests, which `issue.isPullRequest` tells apart.
    case comment(action: String, issue: GitHubIssue, comment: GitHubComment, sender: String)
    /// Any other event the webhook was subscribed to.
    case ignored(event: String)

    /// Decodes a delivery from its `X-GitHub-Event` header and raw body.
    static func decode(event: String, body: Data) throws(WebhookError) -> WebhookEvent {
        let name = event.trimmingCharacters(in: .whitespaces).lowercased()
        switch name {
        case "ping":
            let ping = try parse(Ping.self, name, body)
            return .ping(zen: ping.zen, hookID: ping.hookID)
        case "issues":
            let delivery = try parse(IssueDelivery.self, name, body)
            return .issue(action: delivery.action, issue: delivery.issue, sender: delivery.sender.login)
        case "issue_comment":
            let delivery = try parse(CommentDelivery.self, name, body)
            return .comment(action: delivery.action, issue: delivery.issue, comment: delivery.comment, sender: delivery.sender.login)
        case "":
            throw WebhookError(event: event, reason: "the X-GitHub-Event header is missing or empty")
        default:
            return .ignored(event: name)
        }
    }

    /// `repository.full_name` of a delivery ("owner/name"), to drop deliveries for another
    /// repository than the configured one. Nil when the body has none.
    static func repositoryFullName(body: Data) -> String? {
        try? JSONDecoder().decode(RepositoryEnvelope.self, from: body).repository?.fullName
    }

    var action: String? {
        switch self {
        case .issue(let action, _, _), .comment(let action, _, _, _): return action
        case .ping, .ignored: return nil
        }
    }

    private static func parse<T: Decodable>(_ type: T.Type, _ event: String, _ body: Data) throws(WebhookError) -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw WebhookError(event: event, reason: GitHubDecoding.explain(error))
        }
    }

    private struct Ping: Decodable {
        var zen: String?
        var hookID: Int64?
        enum CodingKeys: String, CodingKey {
            case zen
            case hookID = "hook_id"
        }
    }

    private struct IssueDelivery: Decodable {
        var action: String
        var issue: GitHubIssue
        var sender: GitHubUserLogin
    }

    private struct CommentDelivery: Decodable {
        var action: String
        var issue: GitHubIssue
        var comment: GitHubComment
        var sender: GitHubUserLogin
    }

    private struct RepositoryEnvelope: Decodable {
        var repository: Repository?
        struct Repository: Decodable {
            var fullName: String
            enum CodingKeys: String, CodingKey { case fullName = "full_name" }
        }
    }
}

/// A webhook body that does not hold what its event promises.
struct WebhookError: Error, Sendable, CustomStringConvertible, Equatable {
    var event: String
    var reason: String

    var description: String { "webhook delivery `\(event)` cannot be read: \(reason)" }
}
