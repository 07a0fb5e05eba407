import Foundation
import Shared

/// The coordinator's parsers the outside world feeds: GitHub webhook deliveries (anyone can
/// POST to the webhook listener; the signature is checked first, but the parser must not
/// crash on what a signed sender or a replay holds), GitHub's API answers, and the issue and
/// comment texts people write. Replayed from Fuzz/corpus/TARGET by CoordinatorTests' corpus
/// test; fuzzed by scripts/fuzz.sh.
extension ParserEntryPoint {
    public static let coordinator: [ParserEntryPoint] = [
        ParserEntryPoint(name: "webhook") { data in
            for event in ["issues", "issue_comment", "ping", "push"] {
                if case .issue(_, let issue, _) = try? WebhookEvent.decode(event: event, body: data) {
                    _ = IntentClassifier.classify(title: issue.title, body: issue.body ?? "")
                    _ = IntentClassifier.mentionsAccountQuota(title: issue.title, body: issue.body ?? "")
                    _ = HostResolver.resolve(labels: issue.labels, body: issue.body ?? "", hosts: ["vps-1", "vps-2"])
                }
                if case .comment(_, _, let comment, _) = try? WebhookEvent.decode(event: event, body: data) {
                    _ = ChatCommand.parse(comment.body)
                }
            }
            _ = WebhookEvent.repositoryFullName(body: data)
            _ = try? JSONDecoder().decode([GitHubIssue].self, from: data)
            _ = try? JSONDecoder().decode([GitHubComment].self, from: data)
            let text = String(decoding: data, as: UTF8.self)
            _ = GitHubLink.parse(text)
            _ = GitHubDate.parse(text)
        },
    ]
}
