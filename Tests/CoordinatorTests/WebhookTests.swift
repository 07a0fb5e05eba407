import Crypto
import Foundation
import Testing
@testable import Coordinator

@Suite struct WebhookSignatureTests {
    /// secret, payload and header of GitHub's published example, read from the fixture.
    static func vector() throws -> (secret: String, payload: String, header: String) {
        let text = String(decoding: try GitHubFixtures.data("signature-test-vector.txt"), as: UTF8.self)
        func value(_ key: String) throws -> String {
            let pattern = try NSRegularExpression(pattern: "(?m)^\\s*\(key)\\s*=\\s(.+?)(\\s{2,}\\(.*)?$")
            guard let match = pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                  let range = Range(match.range(at: 1), in: text)
            else { throw GitHubFixtures.FixtureMissing("signature-test-vector.txt has no \(key) line") }
            return String(text[range]).trimmingCharacters(in: .whitespaces)
        }
        return (try value("secret"), try value("payload"), try value("header"))
    }

    @Test func thePublishedTestVectorPasses() throws {
        let v = try Self.vector()
        #expect(v.secret.utf8.count == 26 && v.payload.utf8.count == 13)
        #expect(v.header == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        let verifier = WebhookVerifier(secret: Array(v.secret.utf8))
        #expect(verifier.isValid(body: Data(v.payload.utf8), signatureHeader: v.header))
        #expect(verifier.isValid(body: Array(v.payload.utf8), signatureHeader: v.header))
        #expect(verifier.isValid(body: Array(v.payload.utf8)[...], signatureHeader: " \(v.header) "))
    }

    @Test func wrongSecretOrTamperedBodyFails() throws {
        let v = try Self.vector()
        #expect(!WebhookVerifier(secret: Array("It's a Secret to Everybody!".utf8)).isValid(body: Data(v.payload.utf8), signatureHeader: v.header))
        #expect(!WebhookVerifier(secret: []).isValid(body: Data(v.payload.utf8), signatureHeader: v.header))
        let verifier = WebhookVerifier(secret: Array(v.secret.utf8))
        #expect(!verifier.isValid(body: Data("Hello, World?".utf8), signatureHeader: v.header))
        #expect(!verifier.isValid(body: Data("Hello, World!\n".utf8), signatureHeader: v.header))
        #expect(!verifier.isValid(body: Data(), signatureHeader: v.header))
    }

    @Test func missingOrMalformedHeadersFail() throws {
        let v = try Self.vector()
        let verifier = WebhookVerifier(secret: Array(v.secret.utf8))
        let body = Data(v.payload.utf8)
        let hex = String(v.header.dropFirst("sha256=".count))
        for header in [
            nil, "", "sha256=", hex, "sha1=" + hex, "SHA256=" + hex, "sha256:" + hex, "sha256=" + hex.uppercased(),
            "sha256=" + hex.dropLast(), "sha256=" + hex + "0", "sha256=" + String(repeating: "z", count: 64),
            "sha256=\(hex),sha256=\(hex)",
        ] as [String?] {
            #expect(!verifier.isValid(body: body, signatureHeader: header), "accepted \(header ?? "nil")")
        }
    }

    @Test func aFixtureDeliverySignedWithTheSecretPasses() throws {
        let body = try GitHubFixtures.data("webhooks/issues.opened.json")
        let verifier = WebhookVerifier(secret: Array("s3cr3t".utf8))
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array("s3cr3t".utf8)))
        let header = "sha256=" + code.map { String(format: "%02x", $0) }.joined()
        #expect(verifier.isValid(body: body, signatureHeader: header))
        var tampered = body
        tampered[tampered.startIndex + 10] ^= 0x01
        #expect(!verifier.isValid(body: tampered, signatureHeader: header))
    }
}

@Suite struct WebhookEventTests {
    /// `issues.opened.json` → ("issues", "opened"); `ping.json` → ("ping", nil).
    static func eventName(_ file: String) -> (event: String, action: String?) {
        let parts = file.replacingOccurrences(of: ".json", with: "").split(separator: ".").map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : nil)
    }

    @Test func everyFixtureDecodesToItsCase() throws {
        let files = try GitHubFixtures.webhookFiles()
        #expect(files.count >= 6)
        for file in files {
            let (name, action) = Self.eventName(file)
            let body = try GitHubFixtures.data("webhooks/" + file)
            let event = try WebhookEvent.decode(event: name, body: body)
            switch (name, event) {
            case ("ping", .ping(let zen, let hookID)):
                #expect(zen == "Anything added dilutes everything else.")
                #expect(hookID == 109_948_940)
            case ("issues", .issue(let decoded, let issue, let sender)):
                #expect(decoded == action, "\(file)")
                #expect(!issue.isPullRequest && !sender.isEmpty && issue.number > 0)
            case ("issue_comment", .comment(let decoded, let issue, let comment, let sender)):
                #expect(decoded == action)
                #expect(issue.number == 1 && comment.id == 492_700_400 && sender == "Codertocat")
            default:
                Issue.record("\(file) decoded to \(event)")
            }
            #expect(event.action == action)
            #expect(WebhookEvent.repositoryFullName(body: body)?.contains("/") == true)
        }
    }

    @Test func theOpenedIssueAndTheCommentCarryTheirFields() throws {
        guard case .issue("opened", let issue, let sender) = try WebhookEvent.decode(
            event: "issues", body: try GitHubFixtures.data("webhooks/issues.opened.json"))
        else { Issue.record("not an opened issue"); return }
        #expect(issue.title == "Spelling error in the README file")
        #expect(issue.labels == ["bug"] && issue.author == "Codertocat" && sender == "Codertocat")
        #expect(issue.state == "open" && issue.htmlURL == "https://github.com/Codertocat/Hello-World/issues/1")
        #expect(issue.createdAt == GitHubDate.parse("2019-05-15T15:20:18Z"))

        guard case .comment("created", _, let comment, _) = try WebhookEvent.decode(
            event: "issue_comment", body: try GitHubFixtures.data("webhooks/issue_comment.created.json"))
        else { Issue.record("not a created comment"); return }
        #expect(comment.body == "You are totally right! I'll get this fixed right away.")
        #expect(comment.author == "Codertocat" && comment.authorAssociation == "OWNER")
        #expect(comment.htmlURL == "https://github.com/Codertocat/Hello-World/issues/1#issuecomment-492700400")
    }

    @Test func theRecordedCloseCarriesItsReason() throws {
        let body = try GitHubFixtures.data("webhooks/issues.closed.json")
        guard case .issue("closed", let issue, let sender) = try WebhookEvent.decode(event: "issues", body: body) else {
            Issue.record("not a closed issue")
            return
        }
        #expect(issue.number == 2 && issue.state == "closed" && issue.stateReason == "completed")
        #expect(issue.labels == ["triage", "team"] && sender == "harshraj8843")
        #expect(WebhookEvent.repositoryFullName(body: body) == "codinasion/codinasion-bot")
    }

    @Test func otherEventsAreIgnored() throws {
        let body = try GitHubFixtures.data("webhooks/ping.json")
        guard case .ignored(let event) = try WebhookEvent.decode(event: "push", body: body) else {
            Issue.record("push was not ignored")
            return
        }
        #expect(event == "push")
        guard case .ping = try WebhookEvent.decode(event: " Ping ", body: body) else { Issue.record("ping"); return }
    }

    @Test func malformedBodiesThrowAClearError() throws {
        #expect(throws: WebhookError(event: "issues", reason: "not valid JSON")) {
            try WebhookEvent.decode(event: "issues", body: Data("{not json".utf8))
        }
        #expect(throws: WebhookError(event: "issues", reason: "`issue` is missing")) {
            try WebhookEvent.decode(event: "issues", body: Data(#"{"action":"opened","sender":{"login":"a"}}"#.utf8))
        }
        var json = try #require(try JSONSerialization.jsonObject(with: try GitHubFixtures.data("webhooks/issue_comment.created.json")) as? [String: Any])
        var comment = try #require(json["comment"] as? [String: Any])
        comment.removeValue(forKey: "user")
        json["comment"] = comment
        let noUser = try JSONSerialization.data(withJSONObject: json)
        do {
            _ = try WebhookEvent.decode(event: "issue_comment", body: noUser)
            Issue.record("decoded a comment without a user")
        } catch {
            #expect(error.reason == "`comment.user` is missing")
            #expect(error.description == "webhook delivery `issue_comment` cannot be read: `comment.user` is missing")
        }
        json["issue"] = ["number": "one"]
        let badNumber = try JSONSerialization.data(withJSONObject: json)
        do {
            _ = try WebhookEvent.decode(event: "issue_comment", body: badNumber)
            Issue.record("decoded an issue whose number is a string")
        } catch {
            #expect(error.reason == "`issue.number` is not an integer")
        }
        #expect(throws: WebhookError.self) { try WebhookEvent.decode(event: "", body: Data("{}".utf8)) }
        #expect(WebhookEvent.repositoryFullName(body: Data("[]".utf8)) == nil)
    }
}
