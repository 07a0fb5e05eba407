import Foundation

/// The part of GitHub the ticket loop uses, for one repository. `GitHubClient` speaks to the
/// real REST API; unit tests use an in-memory fake.
///
/// Calls block (the real client runs libcurl): call them off the event loops.
///
/// ```swift
/// switch try github.pollIssues(since: cursor, label: "fieldmedic", etag: etag) {
/// case .notModified: break
/// case .issues(let issues, let next): etag = next; issues.forEach(intake)
/// }
/// try github.addLabels(issue: 12, labels: ["fieldmedic:diagnosing"])
/// ```
protocol GitHubAPI: Sendable {
    /// GET /repos/{o}/{r}/issues?state=all&sort=updated&direction=asc&since=…&labels=…&per_page=100,
    /// following `Link: rel="next"`; sends `If-None-Match` when `etag` is given and answers
    /// `.notModified` on 304. Pull requests are filtered out. The ETag comes back only when the
    /// list fitted on one page (pass the latest `updated_at` seen as `since` to keep it so).
    func pollIssues(since: Date?, label: String?, etag: String?) throws(GitHubError) -> GitHubPoll
    func issue(_ number: Int) throws(GitHubError) -> GitHubIssue
    /// GET /repos/{o}/{r}/issues/{n}/comments?since=…&per_page=100, every page, oldest first.
    func comments(issue: Int, since: Date?) throws(GitHubError) -> [GitHubComment]
    func createComment(issue: Int, body: String) throws(GitHubError) -> GitHubComment
    /// PATCH /repos/{o}/{r}/issues/comments/{id}
    func updateComment(id: Int64, body: String) throws(GitHubError) -> GitHubComment
    /// POST /repos/{o}/{r}/issues/{n}/labels {"labels": […]}: adds to the labels already there.
    func addLabels(issue: Int, labels: [String]) throws(GitHubError)
    /// DELETE /repos/{o}/{r}/issues/{n}/labels/{name}; a label that is not there is success.
    func removeLabel(issue: Int, label: String) throws(GitHubError)
    /// PATCH {"state": "closed", "state_reason": reason}; reason "completed" or "not_planned".
    func close(issue: Int, reason: String) throws(GitHubError)
    /// PATCH {"state":"open","state_reason":"reopened"}: a finding came back soon after FieldMedic closed its issue.
    func reopen(issue: Int) throws(GitHubError)
    func createIssue(title: String, body: String, labels: [String]) throws(GitHubError) -> GitHubIssue
    /// GET /repos/{o}/{r}/collaborators/{login}/permission: "admin", "maintain", "write",
    /// "triage", "read" or "none". A login that is no collaborator answers "none".
    func permission(of login: String) throws(GitHubError) -> String
}

/// Why a GitHub call failed, sorted by what the caller should do about it.
struct GitHubError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// Primary or secondary rate limit; wait until `retryAt`.
        case rateLimited
        /// GitHub answered 5xx (after the client's own retries).
        case transient
        /// 401: the token is missing, wrong, expired or revoked.
        case unauthorized
        /// 404: no such issue or comment, or the token cannot see the repository.
        case notFound
        /// Any other 4xx (403 without a rate limit, 410, 422, …): retrying the same call will not help.
        case rejected
        /// No HTTP answer at all (DNS, connect, TLS, timeout).
        case network
    }

    var kind: Kind
    /// HTTP status, 0 when there was none.
    var status: Int
    var message: String
    /// When to try again, from `retry-after` or `x-ratelimit-reset`, when known.
    var retryAt: Date?

    init(kind: Kind, status: Int, message: String, retryAt: Date? = nil) {
        self.kind = kind
        self.status = status
        self.message = message
        self.retryAt = retryAt
    }

    var isRetryable: Bool { kind == .rateLimited || kind == .transient || kind == .network }

    var description: String {
        var text = "GitHub: \(message)"
        switch kind {
        case .rateLimited:
            if let retryAt { text += " (rate limited; retry after \(GitHubDate.format(retryAt)))" } else { text += " (rate limited)" }
        case .unauthorized:
            text += " (check the GitHub token in coordinator.toml: it needs the Issues read/write permission on the repository)"
        case .notFound:
            text += " (does the repository exist and can the token see it?)"
        case .transient, .network:
            text += " (will retry)"
        case .rejected:
            break
        }
        return text
    }
}
