import Foundation
import Testing
@testable import Shared

/// Alerts in, end to end: a real Alertmanager (Debian's `prometheus-alertmanager`, configured
/// here, alerts posted with `amtool`) delivers to the coordinator's ingest listener with a
/// bearer token from a credentials file; the alert becomes a ticket that the real agent on
/// the testbed fixes and verifies; Alertmanager's resolution is noted. A GlitchTip body
/// becomes a ticket too. The coordinator talks to a fake GitHub over HTTP.
extension SharedTestbed {
@Suite(.serialized) struct AlertIngestEndToEndTests {
    let env: TestEnvironment

    static let alertmanager = "/usr/bin/prometheus-alertmanager"
    static let amtool = "/usr/bin/amtool"
    static let glitchtipToken = "gt-0123456789abcdefghijklmnopqrstuvwxyz"

    init() throws {
        env = try TestEnvironment.require()
        try env.restore()
        _ = try env.psql("DELETE FROM core_job")
        for binary in [Self.alertmanager, Self.amtool] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw HarnessError("\(binary) is missing: install Debian's prometheus-alertmanager (scripts/install-deps.sh does)")
        }
    }

    struct Setup {
        let h: Harness
        let ingestPort: Int
        let alertmanagerPort: Int
    }

    /// Coordinator with `[listen] ingest`, `[ingest]` and `[github]` on the fake; the testbed
    /// agent enrolled as vps-1 and reporting.
    func start(_ github: FakeGitHub) throws -> Setup {
        let h = try Harness()
        try h.initCoordinator()
        let ingestPort = try Harness.freePort()
        try SecretFile.write("ghp_TESTTOKEN0123456789abcdefghijklmnopqr\n", to: h.root + "/github.token")
        try SecretFile.write("am-token-\(UUID().uuidString)\n", to: h.root + "/alertmanager.token")
        try SecretFile.write(Self.glitchtipToken + "\n", to: h.root + "/glitchtip.token")
        var text = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        text = text.replacingOccurrences(of: "# ingest = \"127.0.0.1:8092\"", with: "ingest = \"127.0.0.1:\(ingestPort)\"")
        text += """

            [github]
            repo = "\(github.repository)"
            api_url = "\(github.baseURL)"
            token_file = "\(h.root)/github.token"
            poll_interval = "1h"
            approvers = ["alice"]

            [guardrails]
            command_timeout = "60s"

            [predict]
            enabled = false

            [ingest]
            alertmanager_token_file = "\(h.root)/alertmanager.token"
            glitchtip_token_file = "\(h.root)/glitchtip.token"

            [ingest.alertmanager.findings]
            QFieldCloudWorkerDown = "service.down"
            """
        try text.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        let check = try h.coordinator(["check-config"])
        try check.expectSuccess("check-config with [ingest]")
        #expect(check.stdout.contains("ingest: http://127.0.0.1:\(ingestPort) for Alertmanager (bearer token), GlitchTip (token in the path)"), "\(check.stdout)")
        try h.startCoordinator()
        try h.enrollAgent("vps-1")
        try h.writeAgentConfig("vps-1", env.agentConfig(interval: "30s"))
        try h.startAgent("vps-1")
        try h.waitUntil("the first report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }
        return Setup(h: h, ingestPort: ingestPort, alertmanagerPort: try Harness.freePort())
    }

    /// Alertmanager on loopback, its webhook receiver pointing at the ingest listener with the
    /// token in `http_config.authorization.credentials_file`; no cluster port.
    func startAlertmanager(_ s: Setup) throws {
        let dir = s.h.root + "/alertmanager"
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try """
            route:
              receiver: fieldmedic
              group_by: ['alertname', 'instance']
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: fieldmedic
                webhook_configs:
                  - url: http://127.0.0.1:\(s.ingestPort)/v1/ingest/alertmanager
                    send_resolved: true
                    http_config:
                      authorization:
                        credentials_file: \(s.h.root)/alertmanager.token
            """.write(toFile: dir + "/alertmanager.yml", atomically: true, encoding: .utf8)
        try s.h.start("alertmanager", Self.alertmanager, [
            "--config.file=\(dir)/alertmanager.yml", "--storage.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:\(s.alertmanagerPort)", "--cluster.listen-address=",
        ])
        try s.h.waitUntil("Alertmanager is ready", timeout: 30) {
            (try? CurlHTTPClient().perform(HTTPRequest(url: "http://127.0.0.1:\(s.alertmanagerPort)/-/ready", timeout: 5)))?.status == 200
        }
    }

    func amtool(_ s: Setup, _ arguments: [String]) throws {
        try s.h.run(Self.amtool, ["--alertmanager.url=http://127.0.0.1:\(s.alertmanagerPort)"] + arguments).expectSuccess("amtool \(arguments.joined(separator: " "))")
    }

    func ingest(_ h: Harness) throws -> [String: Any] {
        try h.operatorJSON("/operator/ingest?limit=100") as? [String: Any] ?? [:]
    }

    func tickets(_ h: Harness) throws -> [[String: Any]] {
        try h.operatorJSON("/operator/tickets?all=1") as? [[String: Any]] ?? []
    }

    func ticket(_ h: Harness, _ id: Int) throws -> [String: Any] {
        (try h.operatorJSON("/operator/tickets/\(id)") as? [String: Any])?["ticket"] as? [String: Any] ?? [:]
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    @Test func anAlertmanagerAlertForAKilledWorkerBecomesATicketThatIsFixedVerifiedAndResolved() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github)
            try startAlertmanager(s)
            defer { try? s.h.stop("alertmanager") }

            // Without the token the ingest listener refuses, and stores nothing.
            let refused = try CurlHTTPClient().perform(HTTPRequest(
                method: "POST", url: "http://127.0.0.1:\(s.ingestPort)/v1/ingest/alertmanager", headers: [("Content-Type", "application/json")],
                body: Data("{}".utf8), timeout: 10))
            #expect(refused.status == 401)

            try env.docker(["kill"] + env.containerIDs("worker_wrapper", all: false))
            let started = Date()
            let labels = ["alertname=QFieldCloudWorkerDown", "instance=vps-1:9100", "service=worker_wrapper", "severity=critical"]
            try amtool(s, ["alert", "add"] + labels + ["--annotation=summary=worker_wrapper is down", "--start=\(Self.rfc3339(started.addingTimeInterval(-5)))"])

            try s.h.waitUntil("the alert's ticket is resolved", timeout: 120) {
                try tickets(s.h).contains { $0["source"] as? String == "alert" && $0["state"] as? String == "resolved" }
            }
            print("alertmanager alert → ticket resolved in \(String(format: "%.1f", Date().timeIntervalSince(started)))s")
            let all = try tickets(s.h)
            #expect(all.count == 1, "\(all)")
            let summary = try #require(all.first)
            #expect(summary["priority"] as? String == "P1" && summary["host"] as? String == "vps-1")
            let id = try #require(summary["id"] as? Int)
            let detail = try ticket(s.h, id)
            let actions = (detail["actions"] as? [[String: Any]] ?? []).compactMap { $0["summary"] as? String }
            #expect(actions.contains { $0.hasPrefix("start_service(") && $0.contains("service=worker_wrapper") }, "\(actions)")
            #expect((detail["verdict"] as? String)?.contains("verified") == true, "\(detail["verdict"] ?? "")")
            #expect(try env.inspect(try env.containerIDs("worker_wrapper")[0], "{{.State.Status}}") == "running")
            // A GitHub issue was opened for it (GitHub is configured).
            try s.h.waitUntil("the ticket's issue is closed", timeout: 30) {
                (try ticket(s.h, id)["issueNumber"] as? Int).flatMap { github.issue($0)?.state } == "closed"
            }

            // Alertmanager's resolution arrives and is noted on the ticket; no second ticket.
            try amtool(s, ["alert", "add"] + labels + ["--annotation=summary=worker_wrapper is down",
                                                       "--start=\(Self.rfc3339(started.addingTimeInterval(-5)))", "--end=\(Self.rfc3339(Date()))"])
            try s.h.waitUntil("the resolution is applied", timeout: 60) {
                let recent = try ingest(s.h)["recent"] as? [[String: Any]] ?? []
                return recent.contains { $0["status"] as? String == "resolved" && $0["state"] as? String == "applied" }
            }
            let timeline = (try ticket(s.h, id)["timeline"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            #expect(timeline.contains { $0.contains("QFieldCloudWorkerDown resolved") }, "\(timeline)")
            let counts = try ingest(s.h)["counts"] as? [String: Int] ?? [:]
            #expect(counts["pending"] == 0 && counts["unknown_host"] == 0 && counts["failed"] == 0, "\(counts)")
            #expect(try tickets(s.h).count == 1)

            try s.h.stop("alertmanager")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            let audit = try s.h.auditActions()
            #expect(audit.contains("ingest.received") && audit.contains("ticket.alert") && audit.contains("ticket.resolved"))
            #expect(!s.h.log("coordinator").contains("am-token-"), "the token never reaches the log")
        }
    }

    @Test func aGlitchTipIssueBecomesATicketAndAWrongPathTokenIsRefused() async throws {
        try await FakeGitHub.with(token: "ghp_TESTTOKEN0123456789abcdefghijklmnopqr") { github in
            let s = try start(github)
            let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("fixtures/alerts/glitchtip-webhook.json")
            var body = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as! [String: Any]
            var attachment = (body["attachments"] as! [[String: Any]])[0]
            attachment["fields"] = (attachment["fields"] as! [[String: Any]]) + [["title": "Server Name", "value": "vps-1", "short": true]]
            body["attachments"] = [attachment]
            let data = try JSONSerialization.data(withJSONObject: body)
            func post(_ token: String) throws -> HTTPResponse {
                try CurlHTTPClient().perform(HTTPRequest(
                    method: "POST", url: "http://127.0.0.1:\(s.ingestPort)/v1/ingest/glitchtip/\(token)",
                    headers: [("Content-Type", "application/json")], body: data, timeout: 10))
            }
            #expect(try post("wrong-token").status == 401)
            let accepted = try post(Self.glitchtipToken)
            #expect(accepted.status == 200, "\(accepted.bodyText)")
            try s.h.waitUntil("the GlitchTip issue has a ticket", timeout: 30) {
                try tickets(s.h).contains { $0["source"] as? String == "alert" }
            }
            // Nothing on the host explains an application error: a person looks (P3).
            try s.h.waitUntil("the ticket is escalated", timeout: 60) {
                try tickets(s.h).first?["state"] as? String == "escalated"
            }
            let summary = try #require(try tickets(s.h).first)
            #expect(summary["priority"] as? String == "P3" && summary["host"] as? String == "vps-1", "\(summary)")
            #expect(try post(Self.glitchtipToken).status == 200)
            try s.h.waitUntil("the repeat is applied", timeout: 30) { (try ingest(s.h)["counts"] as? [String: Int])?["applied"] == 2 }
            #expect(try tickets(s.h).count == 1, "deduplicated by the issue link")
            try s.h.stopAgent("vps-1")
            try s.h.stopCoordinator()
            #expect(!s.h.log("coordinator").contains(Self.glitchtipToken), "the path token never reaches the log")
        }
    }
}
}
