import Crypto
import Foundation
import Testing
@testable import Shared

/// The real coordinator and agent at trace level through enroll → report → ticket → GitHub
/// report → webhook → revoke: no key, token or secret appears in any log line.
/// Under the serialized parent: its waits block a thread of the cooperative pool (two on this
/// machine), and beside another such suite the in-process fake GitHub got none and timed out.
extension SharedTestbed {
@Suite(.serialized) struct SecretLogEndToEndTests {
    static let githubToken = "ghp_LOGTESTTOKEN0123456789abcdefghijklmn"
    static let webhookSecret = "webhook-secret-that-must-not-be-logged"

    /// The base64 lines of a PKCS#8 PEM that hold the private scalar (the last line holds the
    /// public key, which certificates carry anyway).
    static func privateLines(_ path: String) throws -> [String] {
        let pem = try String(contentsOfFile: path, encoding: .utf8)
        return pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.dropLast().map(String.init)
    }

    @Test func noSecretReachesALogAtTraceLevel() async throws {
        try await FakeGitHub.with(token: Self.githubToken) { github in
            let h = try Harness()
            try h.initCoordinator()
            let webhookPort = try Harness.freePort()
            try SecretFile.write(Self.githubToken + "\n", to: h.root + "/github.token")
            try SecretFile.write(Self.webhookSecret + "\n", to: h.root + "/webhook.secret")
            var text = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
            text = text.replacingOccurrences(of: "# webhook = \"127.0.0.1:8091\"", with: "webhook = \"127.0.0.1:\(webhookPort)\"")
            text += """

                [github]
                repo = "\(github.repository)"
                api_url = "\(github.baseURL)"
                token_file = "\(h.root)/github.token"
                poll_interval = "1s"
                webhook_secret_file = "\(h.root)/webhook.secret"

                [predict]
                enabled = false
                """
            try text.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
            let trace = ["FIELDMEDIC_LOG_LEVEL": "trace"]
            try h.start("coordinator", Harness.coordinatorBinary, ["serve", "--config", h.coordinatorConfig], environment: trace)
            try h.waitUntil("the operator API answers", timeout: 30) { (try? h.operatorGET("/operator/status"))?.status == 200 }

            let token = try h.addAgent("vps-1")
            try h.enroll("vps-1", token: token).expectSuccess("enroll")
            var agentText = try String(contentsOfFile: h.agentConfig("vps-1"), encoding: .utf8)
            agentText = agentText.replacingOccurrences(of: "interval = \"60s\"", with: "interval = \"500ms\"")
            try agentText.write(toFile: h.agentConfig("vps-1"), atomically: true, encoding: .utf8)
            try h.startAgent("vps-1", environment: trace)
            try h.waitUntil("reports arrive", timeout: 30) { try h.storedSequences("vps-1").count >= 2 }

            let number = github.createIssue(title: "Please check qfield status on vps-1", author: "fieldcrew")
            try h.waitUntil("a report is posted to the issue", timeout: 90) {
                github.comments(number).contains { $0.body.contains("<!-- fieldmedic:report") }
            }
            // A signed delivery, so the webhook secret is used while tracing.
            let body = Data(#"{"zen":"Keep it logically awesome.","hook_id":1}"#.utf8)
            let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(Self.webhookSecret.utf8)))
            _ = try CurlHTTPClient().perform(HTTPRequest(
                method: "POST", url: "http://127.0.0.1:\(webhookPort)/github/webhook",
                headers: [("Content-Type", "application/json"), ("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", UUID().uuidString),
                          ("X-Hub-Signature-256", "sha256=" + Hex.encode(Array(mac)))],
                body: body, timeout: 30))
            try h.coordinator(["agents", "revoke", "vps-1"]).expectSuccess("revoke")
            try h.stopAgent("vps-1")
            try h.stopCoordinator()

            let joinSecret = try JoinToken.parse(token).secret.revealed
            var secrets = [h.operatorToken, joinSecret, Self.githubToken, Self.webhookSecret, "PRIVATE KEY"]
            for key in [h.dataDir + "/pki/ca.key", h.dataDir + "/pki/server.key", h.agentState("vps-1") + "/agent.key"] {
                secrets += try Self.privateLines(key)
            }
            let logs = ["coordinator": h.log("coordinator"), "agent": h.log("agent-vps-1")]
            #expect(logs["coordinator"]!.contains("trace") || logs["coordinator"]!.split(separator: "\n").count > 20, "the coordinator did not log")
            for (name, log) in logs {
                for secret in secrets where !secret.isEmpty {
                    let lines = log.split(separator: "\n").filter { $0.contains(secret) }
                    #expect(lines.isEmpty, "\(name) log leaks a secret: \(lines.first.map { String($0.prefix(200)) } ?? "")")
                }
            }
        }
    }
}
}
