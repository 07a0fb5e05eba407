import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A GitHub REST API for one repository, in memory, on 127.0.0.1 and a free port: issues,
/// comments, labels, close/reopen, collaborator permissions. Answers have the shapes of the
/// spec's examples (fixtures/github/rest), with `Link` pagination, `ETag`/304 on the issue
/// list and `x-ratelimit-*` headers. Every request is recorded; faults (500, 429, secondary
/// rate limit) can be queued.
///
/// ```swift
/// try await FakeGitHub.with(token: "t0k") { github in
///     let number = github.createIssue(title: "sync fails", author: "alice")
///     let client = GitHubClient(apiURL: github.baseURL, repository: github.repository, token: "t0k")
/// }
/// ```
final class FakeGitHub: @unchecked Sendable {
    // @unchecked: all mutable state is read and written while holding `lock`.

    let owner = "octo-org"
    let name = "qfc-ops"
    var repository: String { "\(owner)/\(name)" }
    /// The login of whoever holds the token: issues and comments created through the API are theirs.
    let botLogin = "fieldmedic-bot"
    /// When set, requests without `Authorization: Bearer <token>` answer 401.
    let token: String?

    private let lock = NSLock()
    private var port = 0
    private var server: LoopbackHTTPServer?
    private var issues: [Int: Issue] = [:]
    private var commentList: [Comment] = []
    private var nextCommentID: Int64 = 1_000_000
    private var permissions: [String: String] = [:]
    private var recorded: [Recorded] = []
    private var faults: [Fault] = []
    private var time = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
    private var remaining = 5000
    private var resetAt = Date().addingTimeInterval(3600)

    struct Issue {
        var number: Int
        var title: String
        var body: String?
        var state = "open"
        var stateReason: String?
        var labels: [String]
        var author: String
        var createdAt: Date
        var updatedAt: Date
        var closedAt: Date?
        var isPullRequest = false
    }

    struct Comment {
        var id: Int64
        var issue: Int
        var body: String
        var author: String
        var association: String
        var createdAt: Date
        var updatedAt: Date
    }

    struct Recorded: Sendable {
        var method: String
        /// Percent-decoded path, e.g. `/repos/o/r/issues/1/labels/fieldmedic:awaiting approval`.
        var path: String
        /// The path as it travelled, still percent-encoded.
        var rawPath: String
        var query: [String: String]
        var headers: [(String, String)]
        var body: Data

        func header(_ name: String) -> String? {
            headers.last { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
        }

        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    enum FaultAnswer: Sendable {
        case serverError(Int)
        /// 429 with `retry-after`.
        case tooManyRequests(retryAfter: Int)
        /// 403 "You have exceeded a secondary rate limit", with `retry-after` when given.
        case secondaryRateLimit(retryAfter: Int?)
    }

    private struct Fault {
        var method: String?
        var pathPrefix: String?
        var count: Int
        var answer: FaultAnswer
    }

    init(token: String?) {
        self.token = token
    }

    var baseURL: String { "http://127.0.0.1:\(lock.withLock { port })" }

    // MARK: Lifecycle

    static func start(token: String? = nil) async throws -> FakeGitHub {
        let fake = FakeGitHub(token: token)
        try await fake.run()
        return fake
    }

    /// Starts a fake, runs `body`, and stops the fake whatever happened.
    static func with<T>(token: String? = nil, _ body: (FakeGitHub) async throws -> T) async throws -> T {
        let fake = try await start(token: token)
        do {
            let result = try await body(fake)
            await fake.stop()
            return result
        } catch {
            await fake.stop()
            throw error
        }
    }

    private func run() async throws {
        let server = try await LoopbackHTTPServer.start(name: "GitHub.com", maxBodyBytes: 8 << 20) { [self] request, body in
            self.respond(request, body: body)
        }
        lock.withLock {
            self.port = server.port
            self.server = server
        }
    }

    func stop() async {
        await lock.withLock { self.server }?.stop()
    }

    // MARK: What a user does on github.com

    /// Opens an issue as `author` would; returns its number.
    @discardableResult
    func createIssue(title: String, body: String? = nil, labels: [String] = [], author: String = "octocat") -> Int {
        lock.withLock { insertIssue(title: title, body: body, labels: labels, author: author, isPullRequest: false) }
    }

    /// Pull requests are issues too, as far as the issues endpoints go.
    @discardableResult
    func createPullRequest(title: String, labels: [String] = [], author: String = "octocat") -> Int {
        lock.withLock { insertIssue(title: title, body: nil, labels: labels, author: author, isPullRequest: true) }
    }

    @discardableResult
    func addComment(issue: Int, body: String, author: String = "octocat", association: String = "NONE") -> Int64 {
        lock.withLock { insertComment(issue: issue, body: body, author: author, association: association) }
    }

    func editComment(id: Int64, body: String) {
        lock.withLock {
            guard let index = commentList.firstIndex(where: { $0.id == id }) else { return }
            commentList[index].body = body
            commentList[index].updatedAt = tick()
        }
    }

    func reopen(_ number: Int) {
        lock.withLock {
            issues[number]?.state = "open"
            issues[number]?.stateReason = "reopened"
            issues[number]?.closedAt = nil
            issues[number]?.updatedAt = tick()
        }
    }

    func editIssue(_ number: Int, title: String? = nil, body: String? = nil) {
        lock.withLock {
            if let title { issues[number]?.title = title }
            if let body { issues[number]?.body = body }
            issues[number]?.updatedAt = tick()
        }
    }

    /// The collaborator permission `login` has ("admin", "maintain", "write", "triage", "read");
    /// logins never set answer 404, as for a user who is no collaborator.
    func setPermission(_ login: String, _ role: String) {
        lock.withLock { permissions[login] = role }
    }

    /// What the next answers say about the rate limit; at 0 requests answer 403 as GitHub does.
    func setRateLimit(remaining: Int, reset: Date) {
        lock.withLock {
            self.remaining = remaining
            self.resetAt = reset
        }
    }

    /// The next `count` requests (matching `method` and a path prefix such as
    /// "/repos/o/r/issues", when given) get `answer` instead of being served.
    func injectFault(_ answer: FaultAnswer, count: Int = 1, method: String? = nil, pathPrefix: String? = nil) {
        lock.withLock { faults.append(Fault(method: method, pathPrefix: pathPrefix, count: count, answer: answer)) }
    }

    func issue(_ number: Int) -> Issue? { lock.withLock { issues[number] } }
    /// Every issue, by number (issues FieldMedic opened itself included).
    func issuesSnapshot() -> [Issue] { lock.withLock { issues.values.sorted { $0.number < $1.number } } }
    func comments(_ issue: Int) -> [Comment] { lock.withLock { commentList.filter { $0.issue == issue } } }
    var requests: [Recorded] { lock.withLock { recorded } }
    func clearRequests() { lock.withLock { recorded.removeAll() } }
    /// The fake's own clock: it moves one second on every change, so `updated_at` orders changes.
    var now: Date { lock.withLock { time } }

    // MARK: Mutations (lock held)

    private func tick() -> Date {
        time = time.addingTimeInterval(1)
        return time
    }

    private func insertIssue(title: String, body: String?, labels: [String], author: String, isPullRequest: Bool) -> Int {
        let number = (issues.keys.max() ?? 0) + 1
        let at = tick()
        issues[number] = Issue(
            number: number, title: title, body: body, labels: labels, author: author, createdAt: at, updatedAt: at,
            isPullRequest: isPullRequest)
        return number
    }

    private func insertComment(issue: Int, body: String, author: String, association: String) -> Int64 {
        nextCommentID += 1
        let at = tick()
        commentList.append(Comment(id: nextCommentID, issue: issue, body: body, author: author, association: association, createdAt: at, updatedAt: at))
        issues[issue]?.updatedAt = at
        return nextCommentID
    }

    // MARK: Serving

    private struct Answer {
        var status: Int
        var json: Any?
        var headers: [(String, String)] = []
    }

    private func respond(_ request: Request, body: Data) -> Response {
        let raw = request.uri.string
        let components = URLComponents(string: raw)
        let rawPath = components?.percentEncodedPath ?? raw
        let path = rawPath.removingPercentEncoding ?? rawPath
        var query: [String: String] = [:]
        for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let headers = request.headers.map { ($0.name.rawName, $0.value) }
        let method = request.method.rawValue
        let entry = Recorded(method: method, path: path, rawPath: rawPath, query: query, headers: headers, body: body)

        let answer: Answer = lock.withLock {
            recorded.append(entry)
            return serve(entry)
        }
        var fields = HTTPFields()
        func set(_ name: String, _ value: String) {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        set("Content-Type", "application/json; charset=utf-8")
        set("X-GitHub-Media-Type", "github.v3; format=json")
        for (name, value) in answer.headers { set(name, value) }
        var buffer = ByteBuffer()
        if let json = answer.json, let data = try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]) {
            buffer.writeBytes(data)
        }
        return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: buffer))
    }

    private func rateHeaders(counting: Bool) -> [(String, String)] {
        if counting && remaining > 0 { remaining -= 1 }
        return [
            ("X-RateLimit-Limit", "5000"), ("X-RateLimit-Remaining", "\(remaining)"),
            ("X-RateLimit-Reset", "\(Int(resetAt.timeIntervalSince1970))"), ("X-RateLimit-Used", "\(5000 - remaining)"),
            ("X-RateLimit-Resource", "core"),
        ]
    }

    private func message(_ status: Int, _ text: String, _ extra: [(String, String)] = []) -> Answer {
        var answer = Answer(status: status, json: ["message": text, "documentation_url": "https://docs.github.com/rest", "status": "\(status)"])
        answer.headers = extra
        return answer
    }

    private func serve(_ request: Recorded) -> Answer {
        if let index = faults.firstIndex(where: { fault in
            (fault.method == nil || fault.method == request.method) && (fault.pathPrefix.map { request.path.hasPrefix($0) } ?? true)
        }) {
            let fault = faults[index]
            faults[index].count -= 1
            if faults[index].count <= 0 { faults.remove(at: index) }
            let limits = rateHeaders(counting: true)
            switch fault.answer {
            case .serverError(let status):
                return Answer(status: status, json: ["message": "Server Error"], headers: limits)
            case .tooManyRequests(let retryAfter):
                return message(429, "Too many requests", limits + [("Retry-After", "\(retryAfter)")])
            case .secondaryRateLimit(let retryAfter):
                return message(
                    403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    limits + (retryAfter.map { [("Retry-After", "\($0)")] } ?? []))
            }
        }
        if let token, request.header("Authorization") != "Bearer \(token)" {
            return message(401, "Bad credentials")
        }
        if remaining <= 0 {
            return message(403, "API rate limit exceeded for user ID 1.", rateHeaders(counting: false))
        }
        var answer = route(request)
        // A 304 costs nothing against the rate limit.
        answer.headers = rateHeaders(counting: answer.status != 304) + answer.headers
        return answer
    }

    private func route(_ request: Recorded) -> Answer {
        let prefix = "/repos/\(owner)/\(name)"
        guard request.path.hasPrefix(prefix + "/") else { return message(404, "Not Found") }
        let parts = request.path.dropFirst(prefix.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let json = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any]
        switch (request.method, parts.count) {
        case ("GET", 1) where parts[0] == "issues":
            return listIssues(request)
        case ("POST", 1) where parts[0] == "issues":
            guard let title = json?["title"] as? String, !title.isEmpty else {
                return Answer(status: 422, json: [
                    "message": "Validation Failed", "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
                    "errors": [["resource": "Issue", "code": "missing_field", "field": "title"]],
                ])
            }
            let number = insertIssue(title: title, body: json?["body"] as? String, labels: json?["labels"] as? [String] ?? [], author: botLogin, isPullRequest: false)
            return Answer(status: 201, json: issueJSON(issues[number]!), headers: [("Location", "\(baseURLLocked)\(prefix)/issues/\(number)")])
        case ("PATCH", 3) where parts[0] == "issues" && parts[1] == "comments":
            guard let id = Int64(parts[2]), let index = commentList.firstIndex(where: { $0.id == id }) else { return message(404, "Not Found") }
            guard let body = json?["body"] as? String else { return message(422, "Invalid request.\n\nNo body given.") }
            commentList[index].body = body
            commentList[index].updatedAt = tick()
            return Answer(status: 200, json: commentJSON(commentList[index]))
        case (_, _) where parts[0] == "issues" && parts.count >= 2:
            guard let number = Int(parts[1]), issues[number] != nil else { return message(404, "Not Found") }
            return issueRoute(request, number: number, rest: Array(parts.dropFirst(2)), json: json)
        case ("GET", 3) where parts[0] == "collaborators" && parts[2] == "permission":
            guard let role = permissions[parts[1]] else { return message(404, "Not Found") }
            let legacy = ["maintain": "write", "triage": "read"][role] ?? role
            return Answer(status: 200, json: ["permission": legacy, "role_name": role, "user": userJSON(parts[1])])
        default:
            return message(404, "Not Found")
        }
    }

    private func issueRoute(_ request: Recorded, number: Int, rest: [String], json: [String: Any]?) -> Answer {
        switch (request.method, rest.count) {
        case ("GET", 0):
            return Answer(status: 200, json: issueJSON(issues[number]!))
        case ("PATCH", 0):
            var issue = issues[number]!
            if let title = json?["title"] as? String { issue.title = title }
            if let body = json?["body"] as? String { issue.body = body }
            if let labels = json?["labels"] as? [String] { issue.labels = labels }
            if let state = json?["state"] as? String, state != issue.state {
                guard state == "open" || state == "closed" else { return message(422, "Validation Failed") }
                issue.state = state
                issue.closedAt = state == "closed" ? time : nil
                let reason = json?["state_reason"] as? String
                if let reason, !["completed", "not_planned", "duplicate", "reopened"].contains(reason) {
                    return message(422, "Validation Failed")
                }
                issue.stateReason = reason ?? (state == "closed" ? "completed" : "reopened")
            }
            issue.updatedAt = tick()
            issues[number] = issue
            return Answer(status: 200, json: issueJSON(issue))
        case ("GET", 1) where rest[0] == "comments":
            let since = request.query["since"].flatMap(parseDate)
            let all = commentList.filter { $0.issue == number && (since == nil || $0.updatedAt >= since!) }
            return page(all.map(commentJSON), request: request, etag: false)
        case ("POST", 1) where rest[0] == "comments":
            guard let body = json?["body"] as? String else { return message(422, "Invalid request.\n\n\"body\" wasn't supplied.") }
            let id = insertComment(issue: number, body: body, author: botLogin, association: "MEMBER")
            return Answer(status: 201, json: commentJSON(commentList.last { $0.id == id }!))
        case ("POST", 1) where rest[0] == "labels":
            let any = (try? JSONSerialization.jsonObject(with: request.body))
            let names = ((any as? [String: Any])?["labels"] as? [String]) ?? (any as? [String]) ?? []
            guard !names.isEmpty else { return message(422, "Invalid request.\n\nNo labels given.") }
            for label in names where !issues[number]!.labels.contains(label) { issues[number]!.labels.append(label) }
            issues[number]!.updatedAt = tick()
            return Answer(status: 200, json: issues[number]!.labels.map(labelJSON))
        case ("DELETE", 2) where rest[0] == "labels":
            guard let index = issues[number]!.labels.firstIndex(of: rest[1]) else { return message(404, "Label does not exist") }
            issues[number]!.labels.remove(at: index)
            issues[number]!.updatedAt = tick()
            return Answer(status: 200, json: issues[number]!.labels.map(labelJSON))
        default:
            return message(404, "Not Found")
        }
    }

    private func listIssues(_ request: Recorded) -> Answer {
        let q = request.query
        let state = q["state"] ?? "open"
        let wanted = (q["labels"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let since = q["since"].flatMap(parseDate)
        var list = issues.values.filter { issue in
            (state == "all" || issue.state == state) && wanted.allSatisfy { issue.labels.contains($0) }
                && (since == nil || issue.updatedAt >= since!)
        }
        let byUpdated = q["sort"] == "updated"
        let ascending = q["direction"] == "asc"
        list.sort { a, b in
            let (x, y) = byUpdated ? (a.updatedAt, b.updatedAt) : (a.createdAt, b.createdAt)
            if x != y { return ascending ? x < y : x > y }
            return ascending ? a.number < b.number : a.number > b.number
        }
        return page(list.map(issueJSON), request: request, etag: true)
    }

    /// One page of `items` as GitHub cuts it: `per_page` (default 30, at most 100), `page`
    /// from 1, `Link` with next/last/first/prev; the issue list also gets an `ETag`.
    private func page(_ items: [[String: Any]], request: Recorded, etag: Bool) -> Answer {
        let perPage = min(max(Int(request.query["per_page"] ?? "") ?? 30, 1), 100)
        let pageNumber = max(Int(request.query["page"] ?? "") ?? 1, 1)
        let lastPage = max(1, (items.count + perPage - 1) / perPage)
        let slice = Array(items.dropFirst((pageNumber - 1) * perPage).prefix(perPage))
        var headers: [(String, String)] = []
        func link(_ page: Int, _ rel: String) -> String {
            var parts = request.query
            parts["page"] = "\(page)"
            let query = parts.sorted { $0.key < $1.key }.map { "\(escape($0.key))=\(escape($0.value))" }.joined(separator: "&")
            return "<\(baseURLLocked)\(request.rawPath)?\(query)>; rel=\"\(rel)\""
        }
        var links: [String] = []
        if pageNumber > 1 { links.append(link(pageNumber - 1, "prev")) }
        if pageNumber < lastPage { links += [link(pageNumber + 1, "next"), link(lastPage, "last")] }
        if pageNumber > 1 { links.append(link(1, "first")) }
        if !links.isEmpty { headers.append(("Link", links.joined(separator: ", "))) }
        if etag {
            let data = (try? JSONSerialization.data(withJSONObject: slice, options: [.sortedKeys])) ?? Data()
            let tag = "\"" + SHA256.hash(data: data + Data(request.rawPath.utf8)).map { String(format: "%02x", $0) }.joined() + "\""
            if request.header("If-None-Match") == tag { return Answer(status: 304, json: nil, headers: [("ETag", tag)]) }
            headers.append(("ETag", tag))
        }
        return Answer(status: 200, json: slice, headers: headers)
    }

    private var baseURLLocked: String { "http://127.0.0.1:\(port)" }

    private func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? text
    }

    private func parseDate(_ text: String) -> Date? { try? Date(text, strategy: .iso8601) }

    // MARK: JSON in the shapes of the REST spec's examples

    private func stamp(_ date: Date) -> String { date.formatted(.iso8601) }

    private var api: String { "https://api.github.com/repos/\(owner)/\(name)" }

    private func userJSON(_ login: String) -> [String: Any] {
        let id = abs(login.hashValue % 1_000_000) + 1
        return [
            "login": login, "id": id, "node_id": "MDQ6VXNlcj\(id)", "avatar_url": "https://github.com/images/error/\(login)_happy.gif",
            "gravatar_id": "", "url": "https://api.github.com/users/\(login)", "html_url": "https://github.com/\(login)",
            "followers_url": "https://api.github.com/users/\(login)/followers",
            "following_url": "https://api.github.com/users/\(login)/following{/other_user}",
            "gists_url": "https://api.github.com/users/\(login)/gists{/gist_id}",
            "starred_url": "https://api.github.com/users/\(login)/starred{/owner}{/repo}",
            "subscriptions_url": "https://api.github.com/users/\(login)/subscriptions",
            "organizations_url": "https://api.github.com/users/\(login)/orgs", "repos_url": "https://api.github.com/users/\(login)/repos",
            "events_url": "https://api.github.com/users/\(login)/events{/privacy}",
            "received_events_url": "https://api.github.com/users/\(login)/received_events", "type": login.hasSuffix("-bot") ? "Bot" : "User",
            "site_admin": false,
        ]
    }

    private func labelJSON(_ name: String) -> [String: Any] {
        let id = 208_045_946 + abs(name.hashValue % 100_000)
        return [
            "id": id, "node_id": "MDU6TGFiZWw\(id)", "url": "\(api)/labels/\(escape(name))", "name": name,
            "description": NSNull(), "color": "ededed", "default": false,
        ]
    }

    private func issueJSON(_ issue: Issue) -> [String: Any] {
        let url = "\(api)/issues/\(issue.number)"
        let kind = issue.isPullRequest ? "pull" : "issues"
        var json: [String: Any] = [
            "id": 1_000 + issue.number, "node_id": "MDU6SXNzdWU\(issue.number)", "url": url, "repository_url": api,
            "labels_url": "\(url)/labels{/name}", "comments_url": "\(url)/comments", "events_url": "\(url)/events",
            "html_url": "https://github.com/\(owner)/\(name)/\(kind)/\(issue.number)", "number": issue.number, "state": issue.state,
            "title": issue.title, "body": issue.body ?? NSNull(), "user": userJSON(issue.author), "labels": issue.labels.map(labelJSON),
            "assignee": NSNull(), "assignees": [Any](), "milestone": NSNull(), "locked": false, "active_lock_reason": NSNull(),
            "comments": commentList.filter { $0.issue == issue.number }.count,
            "closed_at": issue.closedAt.map(stamp) ?? NSNull(), "created_at": stamp(issue.createdAt), "updated_at": stamp(issue.updatedAt),
            "closed_by": issue.closedAt == nil ? NSNull() : userJSON(botLogin), "author_association": "NONE",
            "state_reason": issue.stateReason ?? NSNull(), "timeline_url": "\(url)/timeline", "performed_via_github_app": NSNull(),
        ]
        if issue.isPullRequest {
            json["pull_request"] = [
                "url": "\(api)/pulls/\(issue.number)", "html_url": "https://github.com/\(owner)/\(name)/pull/\(issue.number)",
                "diff_url": "https://github.com/\(owner)/\(name)/pull/\(issue.number).diff",
                "patch_url": "https://github.com/\(owner)/\(name)/pull/\(issue.number).patch", "merged_at": NSNull(),
            ]
        }
        return json
    }

    private func commentJSON(_ comment: Comment) -> [String: Any] {
        [
            "id": comment.id, "node_id": "MDEyOklzc3VlQ29tbWVudD\(comment.id)", "url": "\(api)/issues/comments/\(comment.id)",
            "html_url": "https://github.com/\(owner)/\(name)/issues/\(comment.issue)#issuecomment-\(comment.id)", "body": comment.body,
            "user": userJSON(comment.author), "created_at": stamp(comment.createdAt), "updated_at": stamp(comment.updatedAt),
            "issue_url": "\(api)/issues/\(comment.issue)", "author_association": comment.association, "performed_via_github_app": NSNull(),
        ]
    }
}
