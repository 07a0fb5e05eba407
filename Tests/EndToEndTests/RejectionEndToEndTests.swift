import Crypto
import Foundation
import Shared
import Testing
import X509

/// Everything the coordinator must refuse, refused at the handshake or with 401/403/4xx, and
/// the coordinator still serving afterwards.
@Suite(.serialized) struct RejectionEndToEndTests {
    /// A refusal is a TLS failure or an HTTP status in 400..<500.
    func expectRefused(_ what: String, _ attempt: () throws -> HTTPResponse, status expected: Int? = nil) {
        do {
            let response = try attempt()
            if let expected {
                #expect(response.status == expected, "\(what): \(response.status) \(response.bodyText)")
            } else {
                #expect((400..<500).contains(response.status), "\(what): \(response.status) \(response.bodyText)")
            }
        } catch let error as HTTPClientError {
            // TLS 1.3 reports a refused client certificate as a read error after the handshake.
            #expect(
                [.tlsHandshake, .connectionLost, .tlsPeerVerification, .other].contains(error.kind),
                "\(what): \(error)")
        } catch {
            Issue.record("\(what): unexpected \(error)")
        }
    }

    func writeIdentity(_ dir: String, _ name: String, certificate: Certificate, key: P256.Signing.PrivateKey) throws -> (String, String) {
        let certPath = dir + "/\(name).pem"
        let keyPath = dir + "/\(name).key"
        try AtomicFile.write(Data(try PEMFile.pem(certificate).utf8), to: certPath)
        try SecretFile.write(key.pemRepresentation + "\n", to: keyPath)
        return (certPath, keyPath)
    }

    func healthBody(agent: String) throws -> Data {
        try WireCodec.encode(HealthBatch(reports: [HealthReport(id: UUID().uuidString, sequence: 1, agent: agent, createdAt: Date())]))
    }

    func postHealth(_ client: CurlHTTPClient, _ h: Harness, body: Data) throws -> HTTPResponse {
        try client.perform(HTTPRequest(method: "POST", url: h.coordinatorURL + "/v1/health", headers: [("Content-Type", "application/json")], body: body))
    }

    @Test func badCertificatesAreRefused() throws {
        let h = try Harness()
        try h.initCoordinator()
        try h.startCoordinator()
        try h.enrollAgent("vps-1")
        let agentCert = h.agentState("vps-1") + "/agent.pem"
        let agentKey = h.agentState("vps-1") + "/agent.key"
        let good = h.client(certificate: agentCert, key: agentKey)
        #expect(try postHealth(good, h, body: try healthBody(agent: "vps-1")).status == 200)

        // No client certificate at all.
        expectRefused("no client certificate", { try postHealth(h.client(), h, body: try healthBody(agent: "vps-1")) }, status: 401)

        // A certificate for vps-1 from another CA.
        let foreignCA = try CertificateAuthority.create()
        let foreignKey = P256.Signing.PrivateKey()
        let foreign = try foreignCA.signAgentCertificate(
            csrPEM: try AgentKey(key: foreignKey).certificateSigningRequest(name: "vps-1"), agentName: "vps-1", validity: 3600)
        let (foreignCert, foreignKeyPath) = try writeIdentity(h.root, "foreign", certificate: foreign, key: foreignKey)
        expectRefused("another CA") { try postHealth(h.client(certificate: foreignCert, key: foreignKeyPath), h, body: try healthBody(agent: "vps-1")) }

        // Our CA, but expired.
        let realCA = try CertificateAuthority(certificatePath: h.dataDir + "/pki/ca.pem", keyPath: h.dataDir + "/pki/ca.key")
        let expiredKey = P256.Signing.PrivateKey()
        let expired = try realCA.signAgentCertificate(
            csrPEM: try AgentKey(key: expiredKey).certificateSigningRequest(name: "vps-1"), agentName: "vps-1", validity: 60,
            now: Date().addingTimeInterval(-7200))
        let (expiredCert, expiredKeyPath) = try writeIdentity(h.root, "expired", certificate: expired, key: expiredKey)
        expectRefused("expired certificate") { try postHealth(h.client(certificate: expiredCert, key: expiredKeyPath), h, body: try healthBody(agent: "vps-1")) }

        // Our CA, valid, but for a name the coordinator never enrolled.
        let ghostKey = P256.Signing.PrivateKey()
        let ghost = try realCA.signAgentCertificate(
            csrPEM: try AgentKey(key: ghostKey).certificateSigningRequest(name: "ghost"), agentName: "ghost", validity: 3600)
        let (ghostCert, ghostKeyPath) = try writeIdentity(h.root, "ghost", certificate: ghost, key: ghostKey)
        expectRefused("unknown agent", { try postHealth(h.client(certificate: ghostCert, key: ghostKeyPath), h, body: try healthBody(agent: "ghost")) }, status: 403)

        // A report naming another agent than the certificate.
        expectRefused("body names another agent", { try postHealth(good, h, body: try healthBody(agent: "vps-2")) }, status: 400)

        // Malformed JSON, an unknown protocol version, an oversized body.
        expectRefused("malformed JSON", { try postHealth(good, h, body: Data("{\"version\":1,\"reports\":[{]}".utf8)) }, status: 400)
        expectRefused("unknown version", { try postHealth(good, h, body: Data(#"{"version":7,"reports":[]}"#.utf8)) }, status: 400)
        expectRefused("oversized body", { try postHealth(good, h, body: Data(repeating: 0x20, count: 2 << 20)) }, status: 413)

        // Revoked: the same certificate that worked above.
        let revoke = try h.coordinator(["agents", "revoke", "vps-1"])
        try revoke.expectSuccess("agents revoke")
        expectRefused("revoked certificate", { try postHealth(h.client(certificate: agentCert, key: agentKey), h, body: try healthBody(agent: "vps-1")) }, status: 403)

        // The coordinator is still up and audited what it refused.
        #expect(try h.operatorGET("/operator/status").status == 200)
        let actions = try h.auditActions()
        #expect(actions.contains("auth.rejected"))
        #expect(actions.contains("tls.rejected"))
        #expect(actions.contains("agent.revoked"))
        try h.stopCoordinator()
    }

    @Test func badTokensAreRefusedOnBothSides() throws {
        let h = try Harness()
        try h.initCoordinator(agentsSettings: ["token_lifetime": "\"1s\""])
        try h.startCoordinator()

        // Reused: the second enrollment with the same token fails.
        let token = try h.addAgent("vps-1")
        try h.enroll("vps-1", token: token).expectSuccess("first enrollment")
        let reused = try h.enroll("vps-2", token: token)
        #expect(reused.status == 1)
        #expect(reused.stderr.contains("already used") || reused.stderr.contains("is for agent"), "\(reused.stderr)")

        // Bound to another name.
        let other = try h.addAgent("vps-3")
        let wrongName = try h.enroll("vps-4", token: other)
        #expect(wrongName.status == 1)
        #expect(wrongName.stderr.contains("is for agent \"vps-3\""), "\(wrongName.stderr)")

        // Expired (token_lifetime is 1 s).
        let stale = try h.addAgent("vps-5")
        let made = Date()
        try h.waitUntil("the token's lifetime has passed", timeout: 10) { Date().timeIntervalSince(made) > 1.5 }
        let expired = try h.enroll("vps-5", token: stale)
        #expect(expired.status == 1)
        #expect(expired.stderr.contains("expired"), "\(expired.stderr)")

        // Right CA hash, secret the coordinator never made.
        let caHash = String(token.split(separator: ".")[2])
        let forged = JoinToken.generate(caFingerprint: caHash)
        let unknown = try h.enroll("vps-6", token: forged.text)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("not recognised"), "\(unknown.stderr)")

        // Tampered CA hash: the agent refuses before sending the token anywhere.
        let fresh = try h.addAgent("vps-7")
        let parts = fresh.split(separator: ".")
        let tampered = "\(parts[0]).\(parts[1]).\(String(repeating: "0", count: 64))"
        let pinned = try h.enroll("vps-7", token: tampered)
        #expect(pinned.status == 1)
        #expect(pinned.stderr.contains("Nothing was sent"), "\(pinned.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.agentState("vps-7") + "/agent.pem"))
        // …and the untampered token still works, so nothing reached the coordinator.
        try h.enroll("vps-7", token: fresh).expectSuccess("enrollment with the real token")

        // Garbage is a usage error (exit 2) with a hint.
        let garbage = try h.enroll("vps-8", token: "not-a-token")
        #expect(garbage.status == 2)
        #expect(garbage.stderr.contains("agents add"), "\(garbage.stderr)")

        #expect(try h.operatorGET("/operator/status").status == 200)
        let rejected = try h.auditActions().filter { $0 == "token.rejected" }.count
        #expect(rejected == 4)
        try h.stopCoordinator()
    }

    @Test func theOperatorAPINeedsItsToken() throws {
        let h = try Harness()
        try h.initCoordinator()
        try h.startCoordinator()
        let response = try CurlHTTPClient().perform(HTTPRequest(
            url: "http://127.0.0.1:\(h.operatorPort)/operator/agents", headers: [("Authorization", "Bearer wrong")]))
        #expect(response.status == 401)
        let none = try CurlHTTPClient().perform(HTTPRequest(url: "http://127.0.0.1:\(h.operatorPort)/operator/agents"))
        #expect(none.status == 401)
        try h.stopCoordinator()
    }
}
