import Foundation
import Shared

/// The GitHub REST API (version 2022-11-28) for one repository, over libcurl.
///
/// Calls block and run one at a time: GitHub asks integrations to send requests serially to
/// stay clear of its secondary rate limits, and a libcurl handle is not thread-safe anyway.
/// It honours the rate limits: once GitHub says none are left (or asks to wait), calls are
/// refused locally with `.rateLimited` until then instead of being sent.
final class GitHubClient: GitHubAPI, @unchecked Sendable {
    // @unchecked: `http` (a libcurl handle) is only touched while holding `callLock`; the
    // rate-limit state is a LockedValue; everything else is immutable.

    let apiURL: String
    let repository: String
    private let token: Secret?
    private let clock: any WallClock
    private let sleeper: @Sendable (TimeInterval) -> Void
    private let timeout: TimeInterval
    private let maxPages: Int
    private let serverErrorRetries: Int
    private let firstRetryDelay: TimeInterval
    private let callLock = NSLock()
    private let http: CurlHTTPClient
    private let limits = LockedValue(RateLimitState())

    private struct RateLimitState {
        var remaining: Int?
        var reset: Date?
        /// No request leaves before this time (primary limit used up, or GitHub asked to wait).
        var blockedUntil: Date?
    }

    /// - Parameters:
    ///   - apiURL: `https://api.github.com`, or a GitHub Enterprise `https://host/api/v3`.
    ///   - repository: `owner/name`.
    ///   - token: a fine-grained or classic token with Issues read/write; nil for anonymous calls.
    ///   - sleeper: waits between retries of a 5xx answer (tests pass one that does not sleep).
    ///   - serverErrorRetries: extra attempts after a 5xx, waiting `firstRetryDelay`, then twice
    ///     as long each time (0.5 + 1 + 2 s by default, so a call gives up within ~4 s); not for
    ///     POSTs that would do something twice (see `send`).
    init(
        apiURL: String = "https://api.github.com", repository: String, token: String?,
        userAgent: String = "fieldmedic/\(FieldMedicVersion.current)",
        clock: any WallClock = SystemClock(),
        sleeper: @escaping @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) },
        timeout: TimeInterval = 30, maxPages: Int = 50, serverErrorRetries: Int = 3, firstRetryDelay: TimeInterval = 0.5
    ) {
        var base = apiURL
        while base.hasSuffix("/") { base.removeLast() }
        self.apiURL = base
        self.repository = repository.trimmingCharacters(in: CharacterSet(charactersIn: "/ "))
        let trimmed = token?.trimmingCharacters(in: .whitespacesAndNewlines)
        self.token = trimmed?.isEmpty == false ? trimmed.map(Secret.init) : nil
        self.clock = clock
        self.sleeper = sleeper
        self.timeout = timeout
        self.maxPages = max(1, maxPages)
        self.serverErrorRetries = max(0, serverErrorRetries)
        self.firstRetryDelay = firstRetryDelay
        http = CurlHTTPClient()
        http.userAgent = userAgent
    }

    /// What GitHub last said about the rate limit, for logs and stats.
    var rateLimit: (remaining: Int?, reset: Date?) {
        let state = limits.value
        return (state.remaining, state.reset)
    }

    // MARK: GitHubAPI

    func pollIssues(since: Date?, label: String?, etag: String?) throws(GitHubError) -> GitHubPoll {
        var query = [("state", "all"), ("sort", "updated"), ("direction", "asc")]
        if let since { query.append(("since", GitHubDate.format(since))) }
        if let label, !label.isEmpty { query.append(("labels", label)) }
        query.append(("per_page", "100"))
        guard let result = try pages(url(repoPath("/issues"), query), etag: etag, as: GitHubIssue.self) else { return .notModified }
        return .issues(result.items.filter { !$0.isPullRequest }, etag: result.etag)
    }

    func issue(_ number: Int) throws(GitHubError) -> GitHubIssue {
        try decode(GitHubIssue.self, try send("GET", url(repoPath("/issues/\(number)"))), what: "issue #\(number)")
    }

    func comments(issue: Int, since: Date?) throws(GitHubError) -> [GitHubComment] {
        var query: [(String, String)] = []
        if let since { query.append(("since", GitHubDate.format(since))) }
        query.append(("per_page", "100"))
        return try pages(url(repoPath("/issues/\(issue)/comments"), query), etag: nil, as: GitHubComment.self)?.items ?? []
    }

    func createComment(issue: Int, body: String) throws(GitHubError) -> GitHubComment {
        let response = try send("POST", url(repoPath("/issues/\(issue)/comments")), json: ["body": body])
        return try decode(GitHubComment.self, response, what: "the new comment on #\(issue)")
    }

    func updateComment(id: Int64, body: String) throws(GitHubError) -> GitHubComment {
        let response = try send("PATCH", url(repoPath("/issues/comments/\(id)")), json: ["body": body])
        return try decode(GitHubComment.self, response, what: "comment \(id)")
    }

    func addLabels(issue: Int, labels: [String]) throws(GitHubError) {
        guard !labels.isEmpty else { return }
        // Adding labels twice is harmless: retried on a 5xx like a GET.
        _ = try send("POST", url(repoPath("/issues/\(issue)/labels")), json: ["labels": labels], retryServerErrors: true)
    }

    func removeLabel(issue: Int, label: String) throws(GitHubError) {
        // GitHub answers 404 when the label is not on the issue: already the state we want.
        _ = try send("DELETE", url(repoPath("/issues/\(issue)/labels/\(Self.escape(label))")), accept: [404])
    }

    func close(issue: Int, reason: String) throws(GitHubError) {
        _ = try send("PATCH", url(repoPath("/issues/\(issue)")), json: ["state": "closed", "state_reason": reason])
    }

    func reopen(issue: Int) throws(GitHubError) {
        _ = try send("PATCH", url(repoPath("/issues/\(issue)")), json: ["state": "open", "state_reason": "reopened"])
    }

    func createIssue(title: String, body: String, labels: [String]) throws(GitHubError) -> GitHubIssue {
        let payload = NewIssue(title: title, body: body, labels: labels)
        let response = try send("POST", url(repoPath("/issues")), json: payload)
        return try decode(GitHubIssue.self, response, what: "the new issue")
    }

    func permission(of login: String) throws(GitHubError) -> String {
        // 404: not a collaborator (or no such user). Fail closed.
        let response = try send("GET", url(repoPath("/collaborators/\(Self.escape(login))/permission")), accept: [404])
        if response.status == 404 { return "none" }
        let answer = try decode(PermissionAnswer.self, response, what: "the permission of \(login)")
        // `permission` folds maintain into write and triage into read; `role_name` keeps them
        // (or names a custom role, then the folded value is the one to trust).
        if let role = answer.roleName, Self.knownRoles.contains(role) { return role }
        return answer.permission
    }

    private static let knownRoles: Set<String> = ["admin", "maintain", "write", "triage", "read", "none"]

    // MARK: Transport

    private func repoPath(_ suffix: String) -> String { "/repos/\(repository)\(suffix)" }

    private func url(_ path: String, _ query: [(String, String)] = []) -> String {
        guard !query.isEmpty else { return apiURL + path }
        return apiURL + path + "?" + query.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters, so label names with
    /// spaces, `:`, `/` or `,` survive in a path segment or a query value.
    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Every page of a list, following `Link: rel="next"` up to `maxPages` pages (what is
    /// beyond is fetched by the next call, which starts after the last `updated_at` seen).
    /// Nil when the first page answered 304 to `etag`; the answer's ETag only when the list
    /// fitted on one page.
    private func pages<T: Decodable>(_ first: String, etag: String?, as type: T.Type) throws(GitHubError) -> (items: [T], etag: String?)? {
        var items: [T] = []
        var next: String? = first
        var firstTag: String?
        var page = 0
        while let current = next, page < maxPages {
            let response = try send("GET", current, ifNoneMatch: page == 0 ? etag : nil)
            if response.status == 304 {
                if page == 0 { return nil }
                break
            }
            items += try decode([T].self, response, what: "page \(page + 1) of \(Self.pathOf(first))")
            next = GitHubLink.next(response.header("link"))
            // The ETag covers the first page only. With several pages, a change that moves an
            // issue between later pages leaves the first one as it was: no ETag then, so the
            // next poll is a full one.
            if page == 0 && next == nil { firstTag = response.header("etag") }
            page += 1
            if let link = next, !sameOrigin(link) {
                // The token must not travel to another host, whatever a header says.
                throw GitHubError(kind: .rejected, status: response.status, message: "GET \(Self.pathOf(first)): the next-page link points outside \(apiURL): \(link)")
            }
        }
        return (items, firstTag)
    }

    private func sameOrigin(_ link: String) -> Bool {
        guard let base = URLComponents(string: apiURL), let other = URLComponents(string: link) else { return false }
        return base.scheme?.lowercased() == other.scheme?.lowercased() && base.host?.lowercased() == other.host?.lowercased()
            && base.port == other.port
    }

    private func send(_ method: String, _ url: String, json: some Encodable, retryServerErrors: Bool? = nil) throws(GitHubError) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let body: Data
        do { body = try encoder.encode(json) } catch {
            throw GitHubError(kind: .rejected, status: 0, message: "\(method) \(Self.pathOf(url)): cannot encode the request body: \(error)")
        }
        return try send(method, url, body: body, retryServerErrors: retryServerErrors)
    }

    /// One call, with the rate-limit gate in front and retries of 5xx answers. Answers with
    /// a 2xx status, 304, or a status in `accept`; everything else throws.
    ///
    /// A 5xx does not say whether GitHub carried a POST out, so POSTs (a comment, an issue)
    /// are not retried here unless `retryServerErrors` says they are harmless twice: the
    /// ticket's publisher retries later and finds what was stored by its marker first.
    private func send(
        _ method: String, _ url: String, body: Data? = nil, ifNoneMatch: String? = nil, accept: Set<Int> = [],
        retryServerErrors: Bool? = nil
    ) throws(GitHubError) -> HTTPResponse {
        let retryable = retryServerErrors ?? (method != "POST")
        let what = "\(method) \(Self.pathOf(url))"
        var headers = [("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")]
        if let token { headers.append(("Authorization", "Bearer \(token.revealed)")) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let ifNoneMatch { headers.append(("If-None-Match", ifNoneMatch)) }
        let request = HTTPRequest(method: method, url: url, headers: headers, body: body, timeout: timeout)

        callLock.lock()
        defer { callLock.unlock() }
        var retries = 0
        while true {
            try checkRateLimit(what)
            let response: HTTPResponse
            do {
                response = try http.perform(request)
            } catch {
                CoordinatorMetrics.shared.githubCall(status: 0, rateLimitRemaining: nil)
                throw GitHubError(kind: .network, status: 0, message: scrub("\(what): \(error.description)"))
            }
            CoordinatorMetrics.shared.githubCall(status: response.status, rateLimitRemaining: response.header("x-ratelimit-remaining").flatMap { Int($0) })
            record(response)
            if response.isSuccess || response.status == 304 || accept.contains(response.status) { return response }
            if response.status >= 500 && retryable && retries < serverErrorRetries {
                sleeper(firstRetryDelay * Double(1 << retries))
                retries += 1
                continue
            }
            var failure = error(for: response, what: what)
            if failure.kind == .transient && retries > 0 { failure.message += " (after \(retries + 1) attempts)" }
            throw failure
        }
    }

    private func checkRateLimit(_ what: String) throws(GitHubError) {
        let now = clock.now()
        guard let until = limits.value.blockedUntil, until > now else { return }
        throw GitHubError(
            kind: .rateLimited, status: 0,
            message: "\(what) not sent: GitHub's rate limit is used up until \(GitHubDate.format(until))", retryAt: until)
    }

    private func record(_ response: HTTPResponse) {
        let remaining = response.header("x-ratelimit-remaining").flatMap { Int($0) }
        let reset = response.header("x-ratelimit-reset").flatMap { TimeInterval($0) }.map { Date(timeIntervalSince1970: $0) }
        guard remaining != nil || reset != nil else { return }
        let now = clock.now()
        limits.withLock { state in
            if let remaining { state.remaining = remaining }
            if let reset { state.reset = reset }
            if remaining == 0, let reset, reset > now {
                state.blockedUntil = max(state.blockedUntil ?? reset, reset)
            }
        }
    }

    private func error(for response: HTTPResponse, what: String) -> GitHubError {
        let status = response.status
        let problem = try? JSONDecoder().decode(ErrorBody.self, from: response.body)
        var message = problem?.message ?? String(response.bodyText.prefix(200)).trimmingCharacters(in: .whitespacesAndNewlines)
        if message.isEmpty { message = "(no message)" }
        if let details = problem?.errors, !details.isEmpty {
            message += " (" + details.map(\.summary).joined(separator: "; ") + ")"
        }
        let text = scrub("\(what) answered \(status): \(message)")
        switch status {
        case 401:
            return GitHubError(kind: .unauthorized, status: status, message: text)
        case 403, 429:
            let now = clock.now()
            let retryAfter = response.header("retry-after").flatMap { TimeInterval($0.trimmingCharacters(in: .whitespaces)) }
            let usedUp = response.header("x-ratelimit-remaining") == "0"
            let reset = response.header("x-ratelimit-reset").flatMap { TimeInterval($0) }.map { Date(timeIntervalSince1970: $0) }
            guard status == 429 || retryAfter != nil || usedUp || message.lowercased().contains("rate limit") else {
                return GitHubError(kind: .rejected, status: status, message: text)
            }
            let retryAt: Date
            if let retryAfter {
                retryAt = now.addingTimeInterval(max(retryAfter, 1))
            } else if usedUp, let reset, reset > now {
                retryAt = reset
            } else {
                // GitHub's advice for a secondary limit without headers: wait at least a minute.
                retryAt = now.addingTimeInterval(60)
            }
            limits.withLock { $0.blockedUntil = max($0.blockedUntil ?? retryAt, retryAt) }
            return GitHubError(kind: .rateLimited, status: status, message: text, retryAt: retryAt)
        case 404:
            return GitHubError(kind: .notFound, status: status, message: text)
        case 500...:
            return GitHubError(kind: .transient, status: status, message: text)
        default:
            return GitHubError(kind: .rejected, status: status, message: text)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, what: String) throws(GitHubError) -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            // A 2xx that is not the JSON we expect usually comes from a proxy in between.
            throw GitHubError(
                kind: .transient, status: response.status,
                message: scrub("unexpected answer for \(what): \(GitHubDecoding.explain(error)); body starts: \(response.bodyText.prefix(120))"))
        }
    }

    /// The token must never reach a log line, an issue comment or the audit log.
    private func scrub(_ text: String) -> String {
        var text = text
        if let token { text = text.replacingOccurrences(of: token.revealed, with: Redactor.mask) }
        return Redactor.redact(text)
    }

    /// The path of a request URL, for messages (the host is always the configured API).
    private static func pathOf(_ url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        return components.percentEncodedPath
    }

    private struct NewIssue: Encodable {
        var title: String
        var body: String
        var labels: [String]
    }

    private struct PermissionAnswer: Decodable {
        var permission: String
        var roleName: String?
        enum CodingKeys: String, CodingKey {
            case permission
            case roleName = "role_name"
        }
    }

    /// `basic-error` and `validation-error` bodies.
    private struct ErrorBody: Decodable {
        var message: String?
        var errors: [Detail]?

        struct Detail: Decodable {
            var code: String?
            var field: String?
            var resource: String?
            var message: String?
            var summary: String {
                if let message { return message }
                return [resource, field, code].compactMap { $0 }.joined(separator: " ")
            }
        }
    }
}

/// Turns a DecodingError into a sentence that names the missing or wrong field.
enum GitHubDecoding {
    static func explain(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let all = keys + (last.map { [$0] } ?? [])
            let text = all.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
            return text.isEmpty ? "the top level" : "`\(text)`"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath, key)) is missing"
        case .valueNotFound(_, let context):
            return "\(path(context.codingPath)) is null"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) is not \(Self.name(of: type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "an integer"
        case is Bool.Type: return "a boolean"
        case is [Any].Type: return "an array"
        case is [String: Any].Type: return "an object"
        default: return "of the expected type (\(type))"
        }
    }
}
