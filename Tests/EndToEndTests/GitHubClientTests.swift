import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// The real GitHubClient (libcurl) against FakeGitHub over loopback HTTP.
@Suite(.serialized) struct GitHubClientTests {
    static let token = "ghp_FakeTokenFakeTokenFakeToken0123456789"

    /// A client of `fake` whose retries do not wait: the delays asked for are collected.
    final class Setup: Sendable {
        let fake: FakeGitHub
        let client: GitHubClient
        let clock: ManualClock
        let sleeps: LockedValue<[TimeInterval]>

        init(_ fake: FakeGitHub, token: String? = GitHubClientTests.token) {
            let clock = ManualClock(Date())
            let sleeps = LockedValue<[TimeInterval]>([])
            self.fake = fake
            self.clock = clock
            self.sleeps = sleeps
            client = GitHubClient(
                apiURL: fake.baseURL + "/", repository: fake.repository, token: token, clock: clock,
                sleeper: { delay in sleeps.withLock { $0.append(delay) } }, timeout: 10)
        }

        func call<T: Sendable>(_ body: @escaping @Sendable (GitHubClient) throws -> T) async -> Result<T, GitHubError> {
            await offThread(client, body)
        }

        func issueRequests() -> [FakeGitHub.Recorded] {
            fake.requests.filter { $0.method == "GET" && $0.path == "/repos/\(fake.repository)/issues" }
        }
    }

    @Test func pollFollowsEveryPageAndDropsPullRequests() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            for i in 1...250 { fake.createIssue(title: "issue \(i)") }
            for i in 1...3 { fake.createPullRequest(title: "pr \(i)") }
            guard case .issues(let issues, let etag) = try await s.call({ try $0.pollIssues(since: nil, label: nil, etag: nil) }).get() else {
                Issue.record("expected issues")
                return
            }
            #expect(issues.count == 250)
            #expect(Set(issues.map(\.number)) == Set(1...250))
            #expect(issues.allSatisfy { !$0.isPullRequest })
            #expect(issues.map(\.updatedAt) == issues.map(\.updatedAt).sorted())
            #expect(etag == nil)  // several pages: the next poll must not be a conditional one
            let pages = s.issueRequests()
            #expect(pages.count == 3)
            let first = try #require(pages.first)
            #expect(first.query["state"] == "all")
            #expect(first.query["sort"] == "updated")
            #expect(first.query["direction"] == "asc")
            #expect(first.query["per_page"] == "100")
            #expect(first.query["since"] == nil && first.query["labels"] == nil)
            #expect(pages.map { $0.query["page"] } == [nil, "2", "3"])
        }
    }

    @Test func pollFiltersByLabelAndSince() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            fake.createIssue(title: "old", labels: ["fieldmedic"])
            let cut = fake.now.addingTimeInterval(1)
            fake.createIssue(title: "new", labels: ["fieldmedic", "bug"])
            fake.createIssue(title: "other", labels: ["bug"])
            let result = try await s.call { try $0.pollIssues(since: cut, label: "fieldmedic", etag: nil) }.get()
            guard case .issues(let issues, _) = result else { Issue.record("expected issues"); return }
            #expect(issues.map(\.title) == ["new"])
            #expect(issues.first?.labels == ["fieldmedic", "bug"])
            let sent = try #require(s.issueRequests().last)
            #expect(sent.query["labels"] == "fieldmedic")
            #expect(sent.query["since"] == GitHubDate.format(cut))
        }
    }

    @Test func anUnchangedListAnswersNotModified() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "sync fails", labels: ["fieldmedic"])
            guard case .issues(_, let etag?) = try await s.call({ try $0.pollIssues(since: nil, label: "fieldmedic", etag: nil) }).get() else {
                Issue.record("expected issues with an ETag")
                return
            }
            let before = s.client.rateLimit.remaining
            let again = try await s.call { try $0.pollIssues(since: nil, label: "fieldmedic", etag: etag) }.get()
            guard case .notModified = again else { Issue.record("expected .notModified, got \(again)"); return }
            #expect(s.issueRequests().last?.header("If-None-Match") == etag)
            #expect(s.client.rateLimit.remaining == before)

            fake.addComment(issue: number, body: "any news?")
            let changed = try await s.call { try $0.pollIssues(since: nil, label: "fieldmedic", etag: etag) }.get()
            guard case .issues(let issues, let newTag) = changed else { Issue.record("expected a changed list"); return }
            #expect(issues.map(\.number) == [number])
            #expect(newTag != etag)
        }
    }

    @Test func readsOneIssueAndItsComments() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "disk full", body: "worker stops", labels: ["bug"], author: "alice")
            for i in 1...120 { fake.addComment(issue: number, body: "comment \(i)", author: "bob") }
            let issue = try await s.call { try $0.issue(number) }.get()
            #expect(issue.title == "disk full" && issue.body == "worker stops" && issue.author == "alice")
            #expect(issue.state == "open" && issue.stateReason == nil && !issue.isPullRequest)
            #expect(issue.htmlURL.hasSuffix("/issues/\(number)"))

            let comments = try await s.call { try $0.comments(issue: number, since: nil) }.get()
            #expect(comments.map(\.body) == (1...120).map { "comment \($0)" })
            #expect(comments.allSatisfy { $0.author == "bob" && $0.authorAssociation == "NONE" && !$0.wasEdited })
            let pages = fake.requests.filter { $0.path.hasSuffix("/issues/\(number)/comments") }
            #expect(pages.count == 2)
            #expect(pages.first?.query["per_page"] == "100")

            let cut = comments[99].updatedAt
            let recent = try await s.call { try $0.comments(issue: number, since: cut) }.get()
            #expect(recent.map(\.body) == (100...120).map { "comment \($0)" })

            let missing = await s.call { try $0.issue(9999) }
            #expect(missing.failure?.kind == .notFound)
            #expect(missing.failure?.status == 404)
        }
    }

    @Test func createsAndUpdatesAComment() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            let created = try await s.call { try $0.createComment(issue: number, body: "## FieldMedic report\n\ndiagnosing…") }.get()
            #expect(created.author == fake.botLogin)
            #expect(fake.comments(number).map(\.body) == ["## FieldMedic report\n\ndiagnosing…"])
            let post = try #require(fake.requests.last)
            #expect(post.method == "POST" && post.header("Content-Type") == "application/json")
            #expect(try JSONSerialization.jsonObject(with: post.body) as? [String: String] == ["body": "## FieldMedic report\n\ndiagnosing…"])

            let updated = try await s.call { try $0.updateComment(id: created.id, body: "resolved") }.get()
            #expect(updated.id == created.id && updated.body == "resolved")
            #expect(updated.updatedAt > created.updatedAt)
            #expect(fake.requests.last?.method == "PATCH")
            #expect(fake.requests.last?.path == "/repos/\(fake.repository)/issues/comments/\(created.id)")
            #expect(fake.comments(number).map(\.body) == ["resolved"])
        }
    }

    @Test func addsAndRemovesLabelsWithSpacesAndColons() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t", labels: ["bug"])
            let label = "fieldmedic:awaiting approval"
            try await s.call { try $0.addLabels(issue: number, labels: [label, "fieldmedic"]) }.get()
            #expect(fake.issue(number)?.labels == ["bug", label, "fieldmedic"])
            let add = try #require(fake.requests.last)
            #expect(try JSONSerialization.jsonObject(with: add.body) as? [String: [String]] == ["labels": [label, "fieldmedic"]])

            try await s.call { try $0.removeLabel(issue: number, label: label) }.get()
            #expect(fake.issue(number)?.labels == ["bug", "fieldmedic"])
            let delete = try #require(fake.requests.last)
            #expect(delete.method == "DELETE")
            #expect(delete.rawPath == "/repos/\(fake.repository)/issues/\(number)/labels/fieldmedic%3Aawaiting%20approval")

            // Removing a label that is not there is what we wanted anyway.
            try await s.call { try $0.removeLabel(issue: number, label: label) }.get()
            #expect(fake.requests.last?.method == "DELETE")
        }
    }

    @Test func closesWithAReasonAndCreatesIssues() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            try await s.call { try $0.close(issue: number, reason: "not_planned") }.get()
            #expect(fake.issue(number)?.state == "closed")
            #expect(fake.issue(number)?.stateReason == "not_planned")
            #expect(try JSONSerialization.jsonObject(with: fake.requests.last!.body) as? [String: String] == ["state": "closed", "state_reason": "not_planned"])
            let closed = try await s.call { try $0.issue(number) }.get()
            #expect(closed.state == "closed" && closed.stateReason == "not_planned")

            let created = try await s.call { try $0.createIssue(title: "vps-1: disk full in 20 h", body: "predicted", labels: ["fieldmedic"]) }.get()
            #expect(created.number == number + 1)
            #expect(created.author == fake.botLogin && created.labels == ["fieldmedic"] && created.body == "predicted")
            #expect(fake.issue(created.number)?.title == "vps-1: disk full in 20 h")

            let invalid = await s.call { try $0.createIssue(title: "", body: "", labels: []) }
            #expect(invalid.failure?.kind == .rejected)
            #expect(invalid.failure?.status == 422)
            #expect(invalid.failure?.message.contains("Validation Failed") == true)
        }
    }

    @Test func readsCollaboratorPermissions() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            fake.setPermission("alice", "admin")
            fake.setPermission("bob", "maintain")
            fake.setPermission("carol", "triage")
            for (login, role) in [("alice", "admin"), ("bob", "maintain"), ("carol", "triage"), ("mallory", "none")] {
                let answer = try await s.call { try $0.permission(of: login) }.get()
                #expect(answer == role, "\(login)")
            }
            #expect(fake.requests.last?.path == "/repos/\(fake.repository)/collaborators/mallory/permission")
        }
    }

    @Test func retriesServerErrorsThenSucceeds() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            fake.injectFault(.serverError(500), count: 2)
            let issue = try await s.call { try $0.issue(number) }.get()
            #expect(issue.number == number)
            #expect(fake.requests.count == 3)
            #expect(s.sleeps.value == [0.5, 1.0])
        }
    }

    @Test func givesUpOnPersistentServerErrors() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            fake.injectFault(.serverError(502), count: 100)
            let result = await s.call { try $0.issue(number) }
            let error = try #require(result.failure)
            #expect(error.kind == .transient && error.isRetryable && error.status == 502)
            #expect(fake.requests.count == 4)
            #expect(s.sleeps.value.reduce(0, +) <= 4)
        }
    }

    @Test func aPostThatWouldDoSomethingTwiceIsNotRetriedOnAServerError() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            // GitHub may have stored the comment or the issue before answering 502: one try each,
            // the error goes to the ticket's publisher (which looks for it before posting again).
            fake.injectFault(.serverError(502), count: 2, method: "POST")
            let comment = try #require(await s.call { try $0.createComment(issue: number, body: "x") }.failure)
            #expect(comment.kind == .transient && comment.status == 502)
            let issue = try #require(await s.call { try $0.createIssue(title: "new", body: "", labels: []) }.failure)
            #expect(issue.kind == .transient && issue.status == 502)
            #expect(fake.requests.count == 2)
            #expect(s.sleeps.value.isEmpty)
            // Adding labels twice is harmless: retried.
            fake.injectFault(.serverError(500), count: 2, method: "POST")
            let labels = await s.call { try $0.addLabels(issue: number, labels: ["fieldmedic:resolved"]) }
            #expect(labels.failure == nil)
            #expect(fake.requests.count == 5)
        }
    }

    @Test func tooManyRequestsIsRateLimitedUntilRetryAfter() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            fake.injectFault(.tooManyRequests(retryAfter: 30))
            let error = try #require(await s.call { try $0.issue(number) }.failure)
            #expect(error.kind == .rateLimited && error.status == 429 && error.isRetryable)
            #expect(error.retryAt == s.clock.now().addingTimeInterval(30))
            #expect(s.sleeps.value.isEmpty)

            // Until then nothing is sent.
            let held = try #require(await s.call { try $0.issue(number) }.failure)
            #expect(held.kind == .rateLimited && held.status == 0 && held.retryAt == error.retryAt)
            #expect(fake.requests.count == 1)

            s.clock.advance(31)
            #expect(try await s.call { try $0.issue(number) }.get().number == number)
            #expect(fake.requests.count == 2)
        }
    }

    @Test func secondaryRateLimitIsRateLimited() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            fake.injectFault(.secondaryRateLimit(retryAfter: nil), method: "POST")
            let error = try #require(await s.call { try $0.createIssue(title: "a", body: "b", labels: []) }.failure)
            #expect(error.kind == .rateLimited && error.status == 403)
            #expect(error.message.contains("secondary rate limit"))
            #expect(error.retryAt == s.clock.now().addingTimeInterval(60))

            s.clock.advance(61)
            fake.injectFault(.secondaryRateLimit(retryAfter: 120), method: "POST")
            let again = try #require(await s.call { try $0.createIssue(title: "a", body: "b", labels: []) }.failure)
            #expect(again.kind == .rateLimited && again.retryAt == s.clock.now().addingTimeInterval(120))
        }
    }

    @Test func aUsedUpRateLimitHoldsCallsUntilReset() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            let reset = Date(timeIntervalSince1970: (s.clock.now().timeIntervalSince1970 + 600).rounded(.down))
            fake.setRateLimit(remaining: 1, reset: reset)
            _ = try await s.call { try $0.issue(number) }.get()
            #expect(s.client.rateLimit.remaining == 0)
            #expect(s.client.rateLimit.reset == reset)

            let held = try #require(await s.call { try $0.comments(issue: number, since: nil) }.failure)
            #expect(held.kind == .rateLimited && held.retryAt == reset)
            #expect(!held.description.contains(Self.token))
            #expect(fake.requests.count == 1)

            fake.setRateLimit(remaining: 5000, reset: reset.addingTimeInterval(3600))
            s.clock.advance(601)
            #expect(try await s.call { try $0.comments(issue: number, since: nil) }.get().isEmpty)
            #expect(fake.requests.count == 2)
            #expect(s.client.rateLimit.remaining == 4999)
        }
    }

    @Test func everyRequestCarriesTheHeadersAndTheTokenStaysOutOfErrors() async throws {
        try await FakeGitHub.with(token: Self.token) { fake in
            let s = Setup(fake)
            let number = fake.createIssue(title: "t")
            var errors: [GitHubError] = []
            _ = await s.call { try $0.pollIssues(since: nil, label: "x", etag: nil) }
            _ = await s.call { try $0.addLabels(issue: number, labels: ["a"]) }
            _ = await s.call { try $0.close(issue: number, reason: "completed") }
            errors += [await s.call { try $0.issue(4242) }.failure].compactMap { $0 }
            errors += [await s.call { try $0.createIssue(title: "", body: "", labels: []) }.failure].compactMap { $0 }
            fake.injectFault(.serverError(500), count: 4)  // the first attempt and its 3 retries
            errors += [await s.call { try $0.issue(number) }.failure].compactMap { $0 }

            let wrong = Setup(fake, token: "ghp_WrongWrongWrongWrongWrong0123456789")
            let unauthorized = try #require(await wrong.call { try $0.issue(number) }.failure)
            #expect(unauthorized.kind == .unauthorized && unauthorized.status == 401)
            errors.append(unauthorized)

            #expect(errors.count == 4)
            for error in errors {
                #expect(!error.description.contains(Self.token))
                #expect(!error.message.contains("ghp_"))
            }
            let requests = fake.requests
            #expect(requests.count >= 10)
            for request in requests {
                #expect(request.header("Accept") == "application/vnd.github+json")
                #expect(request.header("X-GitHub-Api-Version") == "2022-11-28")
                #expect(request.header("User-Agent") == "fieldmedic/\(FieldMedicVersion.current)")
                #expect(request.header("Authorization")?.hasPrefix("Bearer ghp_") == true)
            }
            #expect(requests.filter { $0.header("Authorization") == "Bearer \(Self.token)" }.count == requests.count - 1)
        }
    }

    @Test func anUnreachableServerIsANetworkError() async throws {
        let port = try await FakeGitHub.with { $0.baseURL }  // stopped: nothing listens there now
        let client = GitHubClient(apiURL: port, repository: "o/r", token: Self.token, sleeper: { _ in }, timeout: 5)
        let result = await offThread(client) { try $0.issue(1) }
        let error = try #require(result.failure)
        #expect(error.kind == .network && error.status == 0 && error.isRetryable)
        #expect(!error.description.contains(Self.token))
    }
}

/// Runs a blocking client call on a thread of its own: the fake's handlers need the cooperative
/// pool, which a blocked libcurl call must not hold.
func offThread<T: Sendable>(_ client: GitHubClient, _ body: @escaping @Sendable (GitHubClient) throws -> T) async -> Result<T, GitHubError> {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            do {
                continuation.resume(returning: .success(try body(client)))
            } catch let error as GitHubError {
                continuation.resume(returning: .failure(error))
            } catch {
                continuation.resume(returning: .failure(GitHubError(kind: .rejected, status: -1, message: "not a GitHubError: \(error)")))
            }
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
