import Foundation
import Testing
@testable import Shared

/// The ingest listener with `ingest.tls = true`: the coordinator's own certificate (verified
/// against its CA by the client), and Alertmanager authenticated either by the bearer token or
/// by an enrolled agent's client certificate; a revoked one is refused. It needs no testbed,
/// but it blocks threads while it waits, so it runs serialized with the suites that do.
extension SharedTestbed {
@Suite(.serialized) struct IngestTLSEndToEndTests {
    @Test func theTLSIngestListenerTakesTheTokenOrAnEnrolledAgentsCertificate() throws {
        let h = try Harness()
        try h.initCoordinator()
        let port = try Harness.freePort()
        try SecretFile.write("am-token-tls-\(UUID().uuidString)\n", to: h.root + "/am.token")
        var text = try String(contentsOfFile: h.coordinatorConfig, encoding: .utf8)
        text = text.replacingOccurrences(of: "# ingest = \"127.0.0.1:8092\"", with: "ingest = \"127.0.0.1:\(port)\"")
        text += "\n[ingest]\nalertmanager_token_file = \"\(h.root)/am.token\"\ntls = true\n\n[predict]\nenabled = false\n"
        try text.write(toFile: h.coordinatorConfig, atomically: true, encoding: .utf8)
        let check = try h.coordinator(["check-config"])
        try check.expectSuccess("check-config with ingest.tls")
        #expect(check.stdout.contains("ingest: https://127.0.0.1:\(port) for Alertmanager (bearer token), client certificates of enrolled agents"), "\(check.stdout)")
        try h.startCoordinator()
        try h.enrollAgent("vps-1")

        let base = "https://127.0.0.1:\(port)"
        let anonymous = h.client()
        try h.waitUntil("the TLS ingest listener answers", timeout: 30) {
            (try? anonymous.perform(HTTPRequest(url: base + "/healthz", timeout: 5)))?.status == 200
        }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/alerts/alertmanager-webhook-firing.json")
        let body = try String(contentsOf: fixture, encoding: .utf8).replacingOccurrences(of: "qfc-1.example.org:9100", with: "vps-1:9100")
        func post(_ client: CurlHTTPClient, token: String? = nil) throws -> HTTPResponse {
            try client.perform(HTTPRequest(
                method: "POST", url: base + "/v1/ingest/alertmanager",
                headers: [("Content-Type", "application/json")] + (token.map { [("Authorization", "Bearer \($0)")] } ?? []),
                body: Data(body.utf8), timeout: 30))
        }
        #expect(try post(anonymous).status == 401, "no token, no certificate")
        let token = try String(contentsOfFile: h.root + "/am.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let withToken = try post(anonymous, token: token)
        #expect(withToken.status == 200, "\(withToken.bodyText)")
        let agent = h.client(certificate: h.agentState("vps-1") + "/agent.pem", key: h.agentState("vps-1") + "/agent.key")
        let withCertificate = try post(agent)
        #expect(withCertificate.status == 200, "\(withCertificate.bodyText)")

        try h.coordinator(["agents", "revoke", "vps-1"]).expectSuccess("agents revoke")
        let revoked = try post(h.client(certificate: h.agentState("vps-1") + "/agent.pem", key: h.agentState("vps-1") + "/agent.key"))
        #expect(revoked.status == 403, "a revoked certificate is refused: \(revoked.status) \(revoked.bodyText)")

        let ingest = try h.operatorJSON("/operator/ingest") as? [String: Any] ?? [:]
        let recent = ingest["recent"] as? [[String: Any]] ?? []
        #expect(recent.count == 2, "two deliveries stored: \(recent)")
        try h.stopCoordinator()
        #expect(!h.log("coordinator").contains(token), "the token never reaches the log")
    }
}
}
