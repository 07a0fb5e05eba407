import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// An alert's way to a person survives a crash: the real coordinator binary stores an
/// Alertmanager alert and answers 200, is SIGKILLed before the alert became a ticket (the
/// test-only failpoint `ingest.hold-after-store` holds it there, so no sleep decides "before"),
/// and after the restart the alert becomes exactly one ticket and exactly one message reaches
/// the webhook. The agent is the real `fieldmedic-agent` without Docker: its probes cannot
/// see the worker, so nothing explains the alert and the ticket escalates (the notified event).
/// No testbed needed; serialized with the other suites that block threads while they wait.
extension SharedTestbed {
@Suite(.serialized) struct AlertNotifyEndToEndTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/alerts")

    /// The captured Alertmanager 0.25 body (fixtures/alerts/alertmanager-webhook-firing.json)
    /// with this test's labels, fingerprint and start.
    static func alertmanagerBody(name: String, host: String, service: String, fingerprint: String) throws -> Data {
        var body = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("alertmanager-webhook-firing.json"))) as! [String: Any]
        body = body.filter { !$0.key.hasPrefix("_") }
        let labels = ["alertname": name, "instance": "\(host):9100", "job": "node", "service": service, "severity": "critical"]
        var alert = (body["alerts"] as! [[String: Any]])[0]
        alert["labels"] = labels
        alert["annotations"] = ["summary": "\(service) is down"]
        alert["fingerprint"] = fingerprint
        alert["startsAt"] = AlertIngestEndToEndTests.rfc3339(Date().addingTimeInterval(-5))
        body["alerts"] = [alert]
        body["groupLabels"] = ["alertname": name]
        body["commonLabels"] = labels
        body["commonAnnotations"] = ["summary": "\(service) is down"]
        body["groupKey"] = "{}:{alertname=\"\(name)\"}"
        return try JSONSerialization.data(withJSONObject: body)
    }

    func post(_ port: Int, token: String, _ body: Data) throws -> HTTPResponse {
        try CurlHTTPClient().perform(HTTPRequest(
            method: "POST", url: "http://127.0.0.1:\(port)/v1/ingest/alertmanager",
            headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("User-Agent", "Alertmanager/0.25.0")],
            body: body, timeout: 10))
    }

    func counts(_ h: Harness) throws -> [String: Int] {
        (try h.operatorJSON("/operator/ingest?limit=0") as? [String: Any])?["counts"] as? [String: Int] ?? [:]
    }

    func tickets(_ h: Harness) throws -> [[String: Any]] {
        try h.operatorJSON("/operator/tickets?all=1") as? [[String: Any]] ?? []
    }

    @Test func anAlertStoredBeforeAKillBecomesOneTicketAndOneMessageAfterTheRestart() async throws {
        let chat = try await FakeChatServer.start()
        defer { Task { await chat.stop() } }
        let h = try Harness()
        try h.initCoordinator()
        let ingestPort = try Harness.freePort()
        let token = "am-token-\(UUID().uuidString)"
        try SecretFile.write(token + "\n", to: h.root + "/alertmanager.token")
        try SecretFile.write(chat.webhookSecret + "\n", to: h.root + "/webhook.secret")
        var config = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        config = config.replacingOccurrences(of: "# ingest = \"127.0.0.1:8092\"", with: "ingest = \"127.0.0.1:\(ingestPort)\"")
        config += """

            [predict]
            enabled = false

            [ingest]
            alertmanager_token_file = "\(h.root)/alertmanager.token"

            [ingest.alertmanager.findings]
            QFieldCloudWorkerDown = "service.down"
            QFieldCloudAppDown = "service.down"

            [[notify]]
            name = "bridge"
            kind = "webhook"
            url = "\(chat.baseURL)/hook"
            secret_file = "\(h.root)/webhook.secret"
            events = ["escalated", "resolved"]
            group_window = "0s"

            """
        try config.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        try h.coordinator(["check-config"]).expectSuccess("check-config")

        // A misspelt failpoint is a startup error that names the known ones, never ignored.
        let misspelt = try h.run(Harness.coordinatorBinary, ["serve", "--config", h.coordinatorConfig],
                                 environment: [TestFailpoints.variable: "ingest.hold-after-stor"])
        #expect(misspelt.status == 2, "\(misspelt.stderr)")
        #expect(misspelt.stderr.contains("unknown failpoint \"ingest.hold-after-stor\"") && misspelt.stderr.contains("ingest.hold-after-store"), "\(misspelt.stderr)")

        try h.startCoordinator(environment: [TestFailpoints.variable: "ingest.hold-after-store"])
        try h.enrollAgent("vps-1", interval: "1s")
        try h.startAgent("vps-1")
        try h.waitUntil("the agent's first report arrives", timeout: 30) { try h.storedSequences("vps-1").count >= 1 }

        // Stored and answered 200, then held: the coordinator dies before it made a ticket.
        let first = try Self.alertmanagerBody(name: "QFieldCloudWorkerDown", host: "vps-1", service: "worker_wrapper", fingerprint: "0a1b2c3d4e5f6071")
        let answer = try post(ingestPort, token: token, first)
        #expect(answer.status == 200, "\(answer.bodyText)")
        try h.waitUntil("the alert is stored and pending", timeout: 30) { try counts(h)["pending"] == 1 }
        #expect(try tickets(h).isEmpty, "held after the store: no ticket yet")
        #expect(h.log("coordinator").contains("test failpoint ingest.hold-after-store is set"))
        try h.stop("coordinator", signal: SIGKILL)
        #expect(chat.requests.isEmpty)

        // Restarted normally: the stored alert → one ticket → escalated → one message.
        try h.startCoordinator()
        try h.waitUntil("the webhook gets the escalation", timeout: 90) { chat.delivered(.webhook).count >= 1 }
        try h.waitUntil("notify status shows it sent", timeout: 30) {
            (try? h.coordinator(["notify", "status"]))?.stdout.contains("bridge: 0 pending, 1 sent, 0 failed") == true
        }
        let all = try tickets(h)
        #expect(all.count == 1, "\(all)")
        let ticket = try #require(all.first)
        #expect(ticket["source"] as? String == "alert" && ticket["state"] as? String == "escalated" && ticket["host"] as? String == "vps-1", "\(ticket)")
        let after = try counts(h)
        #expect(after["pending"] == 0 && after["applied"] == 1 && after["failed"] == 0 && after["tickets"] == 1, "\(after)")
        let event = try #require((chat.delivered(.webhook).first?.json["events"] as? [[String: Any]])?.first)
        #expect(event["kind"] as? String == "escalated")
        #expect(event["ticket"] as? Int == ticket["id"] as? Int)
        #expect((event["title"] as? String)?.contains("QFieldCloudWorkerDown on vps-1") == true, "\(event)")

        // A second alert after the restart: its message is the second one, and the first
        // was not sent again on the way (the outbox moved past it exactly once).
        let second = try Self.alertmanagerBody(name: "QFieldCloudAppDown", host: "vps-1", service: "app", fingerprint: "1a2b3c4d5e6f7081")
        #expect(try post(ingestPort, token: token, second).status == 200)
        try h.waitUntil("the second alert's escalation arrives", timeout: 90) { chat.delivered(.webhook).count >= 2 }
        let titles = chat.delivered(.webhook).flatMap { ($0.json["events"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String } }
        #expect(titles.count == 2, "\(titles)")
        #expect(titles.filter { $0.contains("QFieldCloudWorkerDown") }.count == 1 && titles.filter { $0.contains("QFieldCloudAppDown") }.count == 1, "\(titles)")
        #expect(chat.requests.count == 2, "no retries, no repeats")
        #expect(try tickets(h).count == 2)

        // The operator's view: `ingest status`; nothing failed, so `ingest retry --all-failed` says so.
        let status = try h.coordinator(["ingest", "status"])
        try status.expectSuccess("ingest status")
        #expect(status.stdout.contains("pending 0, applied 2,") && status.stdout.contains("failed 0; tickets 2"), "\(status.stdout)")
        let retry = try h.coordinator(["ingest", "retry", "--all-failed"])
        #expect(retry.status == 1 && retry.stderr.contains("nothing to retry"), "\(retry.stderr)")
        #expect(try h.coordinator(["ingest", "retry"]).status == 2, "neither rows nor --all-failed")

        try h.stopAgent("vps-1")
        try h.stopCoordinator()
        let audit = try h.auditActions()
        #expect(audit.filter { $0 == "ingest.received" }.count == 2, "\(audit)")
        #expect(!h.log("coordinator").contains(token), "the token never reaches the log")
    }
}
}
