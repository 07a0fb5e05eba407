import Foundation
import Testing
@testable import Coordinator
@testable import Shared

/// Revocation leaves nothing behind that the next host under the same name could use:
/// no queued or sent command, no unused join token.
@Suite struct RevocationTests {
    func request(_ token: JoinToken, _ name: String = "vps-1", csr: String? = nil) throws -> EnrollRequest {
        EnrollRequest(token: token.text, name: name, csrPEM: try csr ?? AgentKey().certificateSigningRequest(name: name))
    }

    @Test func aCommandQueuedBeforeRevocationNeverReachesTheReEnrolledHost() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        let queued = try await f.fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "operator:t")
        let sentFirst = try await f.fleet.queueCommand(agent: "vps-1", kind: "collect_logs", params: [:], dryRun: false, actor: "operator:t")
        // Claim the oldest one (it goes out), leaving the second queued.
        #expect(try await f.fleet.nextCommand(agent: "vps-1", wait: 0)?.id == queued.id)
        _ = try await f.fleet.revoke(name: "vps-1", actor: "operator:t")
        #expect(try await f.store.command(id: queued.id)?.state == .cancelled)
        #expect(try await f.store.command(id: sentFirst.id)?.state == .cancelled)
        _ = try await f.enroll("vps-1")
        #expect(try await f.fleet.nextCommand(agent: "vps-1", wait: 0) == nil)
        let cancelled = try await f.store.auditRows(since: nil).filter { $0.action == "command.cancelled" }
        #expect(cancelled.count == 2)
        #expect(cancelled.allSatisfy { $0.actor == "operator:t" })
    }

    @Test func aNewTokenVoidsTheUnusedOneBeforeIt() async throws {
        let f = try FleetFixture()
        let (first, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        let (second, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        await #expect(throws: FleetError.tokenInvalidated(id: first.id)) { try await f.fleet.enroll(try request(first), peer: "p") }
        _ = try await f.fleet.enroll(try request(second), peer: "p")
        #expect(try await f.store.auditRows(since: nil).contains { $0.action == "token.invalidated" && $0.details.contains(first.id) })
    }

    @Test func noTokenEnrollsASecondHostBesideAnActiveOne() async throws {
        let f = try FleetFixture()
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        // Made directly in the store (as a second coordinator or an old version might have).
        let stray = JoinToken.generate(caFingerprint: f.fleet.caFingerprint)
        _ = try await f.fleet.enroll(try request(token), peer: "p")
        let now = f.clock.now()
        try await f.store.pool.write { db in
            try db.execute(
                sql: "INSERT INTO join_tokens (id, secret_hash, agent, created_at, expires_at) VALUES (?, ?, 'vps-1', ?, ?)",
                arguments: [stray.id, stray.secretHash, WireDate.format(now), WireDate.format(now.addingTimeInterval(3600))])
        }
        await #expect(throws: FleetError.tokenInvalidated(id: stray.id)) { try await f.fleet.enroll(try request(stray), peer: "p") }
    }

    @Test func revocationVoidsEveryUnusedTokenOfTheName() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        _ = try await f.fleet.revoke(name: "vps-1", actor: "t")
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        _ = try await f.fleet.revoke(name: "vps-1", actor: "t")
        await #expect(throws: FleetError.tokenInvalidated(id: token.id)) { try await f.fleet.enroll(try request(token), peer: "p") }
    }

    @Test func aMalformedCSRDoesNotSpendTheToken() async throws {
        let f = try FleetFixture()
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        await #expect(throws: FleetError.self) { try await f.fleet.enroll(try request(token, csr: "-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----\n"), peer: "p") }
        let grant = try await f.fleet.enroll(try request(token), peer: "p")
        #expect(grant.agent == "vps-1")
    }
}
