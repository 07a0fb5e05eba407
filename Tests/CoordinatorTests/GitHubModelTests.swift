import Foundation
import Testing
@testable import Coordinator

/// The real data under fixtures/github (outside the package: `../shared/fixtures` next to the
/// checkout, or FIELDMEDIC_FIXTURES_DIR).
enum GitHubFixtures {
    static let directory: String? = {
        if let dir = ProcessInfo.processInfo.environment["FIELDMEDIC_FIXTURES_DIR"] { return dir + "/github" }
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            for candidate in ["fixtures/github", "shared/fixtures/github"] {
                let path = url.appendingPathComponent(candidate).path
                if FileManager.default.fileExists(atPath: path + "/signature-test-vector.txt") { return path }
            }
            url.deleteLastPathComponent()
        }
        return nil
    }()

    static func data(_ relative: String) throws -> Data {
        guard let directory else {
            throw FixtureMissing("fixtures/github not found above \(#filePath); set FIELDMEDIC_FIXTURES_DIR to the fixtures directory")
        }
        return try Data(contentsOf: URL(fileURLWithPath: directory + "/" + relative))
    }

    static func webhookFiles() throws -> [String] {
        guard let directory else { throw FixtureMissing("fixtures/github not found; set FIELDMEDIC_FIXTURES_DIR") }
        return try FileManager.default.contentsOfDirectory(atPath: directory + "/webhooks").filter { $0.hasSuffix(".json") }.sorted()
    }

    /// One exchange of an octokit/fixtures recording.
    struct Recorded: Decodable {
        var method: String
        var path: String
        var status: Int
        var rawHeaders: [String]

        func header(_ name: String) -> String? {
            stride(from: 0, to: rawHeaders.count - 1, by: 2).reversed().first { rawHeaders[$0].caseInsensitiveCompare(name) == .orderedSame }
                .map { rawHeaders[$0 + 1] }
        }
    }

    struct FixtureMissing: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

private func utc(_ text: String) -> Date { GitHubDate.parse(text)! }

@Suite struct GitHubModelTests {
    @Test func decodesTheSpecIssueExample() throws {
        let issue = try JSONDecoder().decode(GitHubIssue.self, from: try GitHubFixtures.data("rest/issue.json"))
        #expect(issue.number == 1347)
        #expect(issue.title == "Found a bug")
        #expect(issue.body == "I'm having a problem with this.")
        #expect(issue.state == "open")
        #expect(issue.stateReason == "completed")
        #expect(issue.labels == ["bug"])
        #expect(issue.author == "octocat")
        #expect(issue.htmlURL == "https://github.com/octocat/Hello-World/issues/1347")
        #expect(issue.createdAt == utc("2011-04-22T13:33:48Z"))
        #expect(issue.updatedAt == Date(timeIntervalSince1970: 1_303_479_228))
        // The spec's example carries a `pull_request` object: it is a pull request.
        #expect(issue.isPullRequest)
    }

    @Test func anIssueWithoutPullRequestKeyIsAnIssue() throws {
        var json = try #require(try JSONSerialization.jsonObject(with: try GitHubFixtures.data("rest/issue.json")) as? [String: Any])
        json.removeValue(forKey: "pull_request")
        json["body"] = NSNull()
        json["state_reason"] = NSNull()
        json["labels"] = ["plain string label", ["name": "object label"]]
        let issue = try JSONDecoder().decode(GitHubIssue.self, from: try JSONSerialization.data(withJSONObject: json))
        #expect(!issue.isPullRequest)
        #expect(issue.body == nil && issue.stateReason == nil)
        #expect(issue.labels == ["plain string label", "object label"])

        json["pull_request"] = NSNull()
        #expect(try !JSONDecoder().decode(GitHubIssue.self, from: try JSONSerialization.data(withJSONObject: json)).isPullRequest)
    }

    @Test func decodesTheSpecCommentExample() throws {
        let comment = try JSONDecoder().decode(GitHubComment.self, from: try GitHubFixtures.data("rest/issue-comment.json"))
        #expect(comment.id == 1)
        #expect(comment.body == "Me too")
        #expect(comment.author == "octocat")
        #expect(comment.authorAssociation == "COLLABORATOR")
        #expect(comment.createdAt == utc("2011-04-14T16:00:49Z"))
        #expect(comment.updatedAt == comment.createdAt && !comment.wasEdited)
        #expect(comment.htmlURL == "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1")
    }

    @Test func decodesLabelLists() throws {
        let all = try JSONDecoder().decode([GitHubLabelName].self, from: try GitHubFixtures.data("rest/label-items.json"))
        #expect(all.map(\.name) == ["bug", "enhancement"])
        let remaining = try JSONDecoder().decode([GitHubLabelName].self, from: try GitHubFixtures.data("rest/label-items-2.json"))
        #expect(remaining.map(\.name) == ["bug"])
    }

    @Test func storedCopiesDecodeAgain() throws {
        let issue = try JSONDecoder().decode(GitHubIssue.self, from: try GitHubFixtures.data("rest/issue.json"))
        let comment = try JSONDecoder().decode(GitHubComment.self, from: try GitHubFixtures.data("rest/issue-comment.json"))
        for encoder in [JSONEncoder(), { let e = JSONEncoder(); e.dateEncodingStrategy = .secondsSince1970; return e }()] {
            #expect(try JSONDecoder().decode(GitHubIssue.self, from: encoder.encode(issue)) == issue)
            #expect(try JSONDecoder().decode(GitHubComment.self, from: encoder.encode(comment)) == comment)
        }
        var plain = issue
        plain.isPullRequest = false
        plain.body = nil
        #expect(try JSONDecoder().decode(GitHubIssue.self, from: JSONEncoder().encode(plain)) == plain)
    }

    @Test func aMissingFieldIsNamed() throws {
        var json = try #require(try JSONSerialization.jsonObject(with: try GitHubFixtures.data("rest/issue-comment.json")) as? [String: Any])
        json.removeValue(forKey: "user")
        do {
            _ = try JSONDecoder().decode(GitHubComment.self, from: try JSONSerialization.data(withJSONObject: json))
            Issue.record("decoded a comment without a user")
        } catch {
            #expect(GitHubDecoding.explain(error) == "`user` is missing")
        }
    }

    @Test func parsesTheRecordedPaginationLinks() throws {
        let exchanges = try JSONDecoder().decode(
            [GitHubFixtures.Recorded].self, from: try GitHubFixtures.data("rest/recorded/paginate-issues.raw-fixture.json"))
        let pages = exchanges.filter { $0.method == "get" && $0.path.contains("/issues") }
        #expect(pages.count == 5)

        let first = GitHubLink.parse(pages[0].header("Link"))
        #expect(first == [
            "next": "https://api.github.com/repositories/515435940/issues?per_page=3&page=2",
            "last": "https://api.github.com/repositories/515435940/issues?per_page=3&page=5",
        ])
        let middle = GitHubLink.parse(pages[2].header("link"))
        #expect(middle["prev"] == "https://api.github.com/repositories/515435940/issues?per_page=3&page=2")
        #expect(middle["next"] == "https://api.github.com/repositories/515435940/issues?per_page=3&page=4")
        #expect(middle["first"] == "https://api.github.com/repositories/515435940/issues?per_page=3&page=1")
        // Following `next` from the first page visits every recorded page, then stops.
        var visited: [String] = []
        var next = GitHubLink.next(pages[0].header("Link"))
        while let url = next {
            visited.append(url)
            next = GitHubLink.next(pages.first { "https://api.github.com" + $0.path == url }?.header("Link"))
        }
        #expect(visited.count == 4)
        #expect(GitHubLink.next(pages[4].header("Link")) == nil)
        #expect(GitHubLink.parse(nil).isEmpty && GitHubLink.parse("garbage").isEmpty)
        #expect(pages[0].header("X-RateLimit-Remaining").flatMap(Int.init) != nil)
    }

    @Test func decodesTheRecordedIssuePages() throws {
        // The `response` bodies of the recording are real api.github.com issue lists.
        let raw = try #require(try JSONSerialization.jsonObject(with: try GitHubFixtures.data("rest/recorded/paginate-issues.raw-fixture.json")) as? [[String: Any]])
        var issues: [GitHubIssue] = []
        for exchange in raw where (exchange["method"] as? String) == "get" {
            let body = try JSONSerialization.data(withJSONObject: try #require(exchange["response"]))
            issues += try JSONDecoder().decode([GitHubIssue].self, from: body)
        }
        #expect(issues.count == 13)
        #expect(Set(issues.map(\.number)) == Set(1...13))
        #expect(issues.allSatisfy { $0.state == "open" && !$0.isPullRequest && $0.title.hasPrefix("Test issue") })
        #expect(issues.allSatisfy { !$0.author.isEmpty && $0.htmlURL.hasPrefix("https://github.com/") })
    }

    @Test func readsGitHubTimes() {
        #expect(GitHubDate.parse("2011-04-14T16:00:49Z") == Date(timeIntervalSince1970: 1_302_796_849))
        #expect(GitHubDate.parse("2011-04-14T16:00:49.250Z") == Date(timeIntervalSince1970: 1_302_796_849.25))
        #expect(GitHubDate.parse("yesterday") == nil)
        #expect(GitHubDate.format(Date(timeIntervalSince1970: 1_302_796_849)) == "2011-04-14T16:00:49Z")
    }

    @Test func errorsSayWhetherToRetry() {
        #expect(GitHubError(kind: .rateLimited, status: 429, message: "x").isRetryable)
        #expect(GitHubError(kind: .transient, status: 502, message: "x").isRetryable)
        #expect(GitHubError(kind: .network, status: 0, message: "x").isRetryable)
        for kind in [GitHubError.Kind.unauthorized, .notFound, .rejected] {
            #expect(!GitHubError(kind: kind, status: 400, message: "x").isRetryable)
        }
        let limited = GitHubError(kind: .rateLimited, status: 403, message: "GET /x answered 403", retryAt: Date(timeIntervalSince1970: 1_302_796_849))
        #expect(limited.description.contains("2011-04-14T16:00:49Z"))
    }
}
