import Foundation
import GRDB
import Testing
@testable import Coordinator
@testable import Shared

/// A coordinator's fleet logic over a real SQLite file and a clock the test moves.
final class FleetFixture {
    let directory: String
    let store: SQLiteCoordinatorStore
    let clock = ManualClock()
    let fleet: FleetService

    init(certificateLifetime: TimeInterval = 30 * 86_400, tokenLifetime: TimeInterval = 3600) throws {
        directory = NSTemporaryDirectory() + "fieldmedic-fleet-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try SQLiteCoordinatorStore(path: directory + "/coordinator.sqlite3")
        fleet = try FleetService(
            store: store, authority: try CertificateAuthority.create(now: clock.now()), certificateLifetime: certificateLifetime,
            tokenLifetime: tokenLifetime, clock: clock)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func enroll(_ name: String) async throws -> (CertificateGrant, AgentKey) {
        let (token, _) = try await fleet.createJoinToken(name: name, actor: "operator:test")
        let key = AgentKey()
        let grant = try await fleet.enroll(EnrollRequest(token: token.text, name: name, csrPEM: try key.certificateSigningRequest(name: name)), peer: "127.0.0.1")
        return (grant, key)
    }

    /// Who the holder of `grant`'s certificate is, as the authenticator would find it.
    static func principal(_ grant: CertificateGrant) throws -> AgentPrincipal {
        let certificate = try PEMFile.certificate(fromPEM: grant.certificatePEM, what: "grant")
        return AgentPrincipal(name: grant.agent, serial: grant.serial, keySHA256: certificate.publicKey.sha256Fingerprint)
    }

    func authorize(_ grant: CertificateGrant, as agent: String? = nil) async throws -> AuthorizationDecision {
        let principal = try Self.principal(grant)
        return try await store.authorize(agent: agent ?? principal.name, serial: principal.serial, keySHA256: principal.keySHA256)
    }
}

@Suite struct EnrollmentTests {
    @Test func enrollsWithAFreshToken() async throws {
        let f = try FleetFixture()
        let (grant, key) = try await f.enroll("vps-1")
        let certificate = try PEMFile.certificate(fromPEM: grant.certificatePEM, what: "grant")
        #expect(certificate.agentName == "vps-1")
        #expect(certificate.publicKey == .init(key.key.publicKey))
        #expect(grant.caPEM == f.fleet.caPEM)
        #expect(try await f.authorize(grant) == .allowed)
        let agent = try #require(try await f.store.agent(named: "vps-1"))
        #expect(agent.state == .active)
        #expect(agent.certificateSerial == grant.serial)
    }

    @Test func aTokenWorksOnce() async throws {
        let f = try FleetFixture()
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        let request = EnrollRequest(token: token.text, name: "vps-1", csrPEM: try AgentKey().certificateSigningRequest(name: "vps-1"))
        _ = try await f.fleet.enroll(request, peer: "p")
        await #expect(throws: FleetError.tokenUsed(id: token.id)) { try await f.fleet.enroll(request, peer: "p") }
    }

    @Test func anExpiredTokenIsRefused() async throws {
        let f = try FleetFixture(tokenLifetime: 3600)
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        f.clock.advance(3601)
        let request = EnrollRequest(token: token.text, name: "vps-1", csrPEM: try AgentKey().certificateSigningRequest(name: "vps-1"))
        await #expect(throws: FleetError.tokenExpired(id: token.id)) { try await f.fleet.enroll(request, peer: "p") }
    }

    @Test func aTokenIsBoundToItsName() async throws {
        let f = try FleetFixture()
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        let request = EnrollRequest(token: token.text, name: "vps-2", csrPEM: try AgentKey().certificateSigningRequest(name: "vps-2"))
        await #expect(throws: FleetError.tokenWrongName(id: token.id, boundTo: "vps-1", asked: "vps-2")) { try await f.fleet.enroll(request, peer: "p") }
        // The refused attempt did not use the token up.
        _ = try await f.fleet.enroll(EnrollRequest(token: token.text, name: "vps-1", csrPEM: try AgentKey().certificateSigningRequest(name: "vps-1")), peer: "p")
    }

    @Test func unknownAndForeignTokensAreRefused() async throws {
        let f = try FleetFixture()
        let csr = try AgentKey().certificateSigningRequest(name: "vps-1")
        let unknown = JoinToken.generate(caFingerprint: f.fleet.caFingerprint)
        await #expect(throws: FleetError.tokenUnknown) { try await f.fleet.enroll(EnrollRequest(token: unknown.text, name: "vps-1", csrPEM: csr), peer: "p") }
        let (real, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        let foreign = JoinToken(secret: real.secret.revealed, caFingerprint: String(repeating: "0", count: 64))
        await #expect(throws: FleetError.tokenForOtherCA) { try await f.fleet.enroll(EnrollRequest(token: foreign.text, name: "vps-1", csrPEM: csr), peer: "p") }
        await #expect(throws: FleetError.self) { try await f.fleet.enroll(EnrollRequest(token: "fmj1.garbage", name: "vps-1", csrPEM: csr), peer: "p") }
    }

    @Test func refusalsAreAuditedWithoutTheSecret() async throws {
        let f = try FleetFixture()
        let (token, _) = try await f.fleet.createJoinToken(name: "vps-1", actor: "t")
        let request = EnrollRequest(token: token.text, name: "vps-1", csrPEM: try AgentKey().certificateSigningRequest(name: "vps-1"))
        _ = try await f.fleet.enroll(request, peer: "10.0.0.9")
        _ = try? await f.fleet.enroll(request, peer: "10.0.0.9")
        let rows = try await f.store.auditRows(since: nil)
        #expect(rows.map(\.action) == ["token.created", "agent.enrolled", "token.rejected"])
        #expect(rows[2].actor == "peer:10.0.0.9")
        #expect(rows[2].details.contains("token_used"))
        for row in rows { #expect(!row.details.contains(token.secret.revealed)) }
    }

    @Test func anActiveAgentNeedsRevokingBeforeANewToken() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        await #expect(throws: FleetError.agentExists("vps-1")) { try await f.fleet.createJoinToken(name: "vps-1", actor: "t") }
        _ = try await f.fleet.revoke(name: "vps-1", actor: "t")
        _ = try await f.enroll("vps-1")
        #expect(try await f.store.agent(named: "vps-1")?.state == .active)
    }

    @Test func revocationIsCheckedOnEveryRequest() async throws {
        let f = try FleetFixture()
        let (grant, key) = try await f.enroll("vps-1")
        let renewed = try await f.fleet.renew(agent: try FleetFixture.principal(grant), request: RenewRequest(csrPEM: try key.certificateSigningRequest(name: "vps-1")))
        #expect(renewed.serial != grant.serial)
        #expect(try await f.fleet.revoke(name: "vps-1", actor: "t") == 2)
        #expect(try await f.authorize(grant) == .revoked)
        #expect(try await f.authorize(renewed) == .revoked)
        #expect(try await f.authorize(grant, as: "ghost") == .unknownAgent)
        await #expect(throws: FleetError.unknownAgent("ghost")) { try await f.fleet.revoke(name: "ghost", actor: "t") }
    }

    @Test func renewalKeepsTheIdentityAndExtendsTheLife() async throws {
        let f = try FleetFixture(certificateLifetime: 600)
        let (grant, key) = try await f.enroll("vps-1")
        f.clock.advance(400)
        let renewed = try await f.fleet.renew(agent: try FleetFixture.principal(grant), request: RenewRequest(csrPEM: try key.certificateSigningRequest(name: "other")))
        let certificate = try PEMFile.certificate(fromPEM: renewed.certificatePEM, what: "renewed")
        #expect(certificate.agentName == "vps-1")
        #expect(renewed.notAfter.timeIntervalSince(grant.notAfter) >= 399)
        #expect(try await f.store.agent(named: "vps-1")?.certificateSerial == renewed.serial)
    }
}

@Suite struct ReportAndCommandTests {
    func report(_ agent: String, _ sequence: Int64, id: String? = nil) -> HealthReport {
        HealthReport(id: id ?? "r\(sequence)", sequence: sequence, agent: agent, createdAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(sequence)))
    }

    @Test func eachReportIsStoredOnce() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        let batch = HealthBatch(reports: (1...5).map { report("vps-1", $0) })
        #expect(try await f.fleet.receive(batch, from: "vps-1") == HealthReceipt(accepted: 5, duplicates: 0))
        let replay = HealthBatch(reports: (4...7).map { report("vps-1", $0) })
        #expect(try await f.fleet.receive(replay, from: "vps-1") == HealthReceipt(accepted: 2, duplicates: 2))
        let listing = try await f.store.reportSequences(agent: "vps-1", limit: 100)
        #expect(listing.map(\.sequence) == Array(1...7))
        let agent = try #require(try await f.store.agent(named: "vps-1"))
        #expect(agent.reportCount == 7)
        #expect(agent.lastSequence == 7)
        #expect(try await f.store.latestReport(agent: "vps-1")?.id == "r7")
    }

    @Test func concurrentBatchesAreCommittedTogetherAndEachAnsweredRightly() async throws {
        let f = try FleetFixture()
        let names = (0..<12).map { "vps-\($0)" }
        for name in names { _ = try await f.enroll(name) }
        let fleet = f.fleet
        let receipts = try await withThrowingTaskGroup(of: HealthReceipt.self) { group in
            for (index, name) in names.enumerated() {
                let batch = HealthBatch(reports: (1...Int64(index % 3 + 1)).map { report(name, $0, id: "\(name)-\($0)") })
                group.addTask { try await fleet.receive(batch, from: name) }
            }
            return try await group.reduce(into: [HealthReceipt]()) { $0.append($1) }
        }
        let accepted = receipts.map(\.accepted).reduce(0, +)
        let sent = names.indices.map { $0 % 3 + 1 }.reduce(0, +)
        #expect(accepted == sent)
        for (index, name) in names.enumerated() {
            #expect(try await f.store.agent(named: name)?.reportCount == Int64(index % 3 + 1))
        }
    }

    @Test func aReportForAnotherAgentIsRefused() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        await #expect(throws: FleetError.self) { try await f.fleet.receive(HealthBatch(reports: [report("vps-2", 1)]), from: "vps-1") }
        #expect(try await f.store.reportSequences(agent: "vps-2", limit: 10).isEmpty)
    }

    @Test func aCommandIsHandedOutOnceAndCompletedOnce() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        let queued = try await f.fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "operator:t")
        let first = try await f.fleet.nextCommand(agent: "vps-1", wait: 0)
        #expect(first?.id == queued.id)
        #expect(try await f.fleet.nextCommand(agent: "vps-1", wait: 0) == nil)
        let result = CommandResult(commandId: queued.id, status: .succeeded, message: "ok", startedAt: f.clock.now(), finishedAt: f.clock.now())
        let record = try await f.fleet.complete(agent: "vps-1", commandID: queued.id, result: result)
        #expect(record.state == .succeeded)
        let again = try await f.fleet.complete(
            agent: "vps-1", commandID: queued.id,
            result: CommandResult(commandId: queued.id, status: .failed, message: "late", startedAt: nil, finishedAt: f.clock.now()))
        #expect(again.state == .succeeded)
        await #expect(throws: FleetError.self) { try await f.fleet.complete(agent: "vps-2", commandID: queued.id, result: result) }
    }

    @Test func aLongPollGetsACommandQueuedWhileItWaits() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        let fleet = f.fleet
        let poll = Task { try await fleet.nextCommand(agent: "vps-1", wait: 20) }
        let deadline = Date().addingTimeInterval(10)
        while await fleet.notifier.waiting(FleetService.queueKey("vps-1")) == 0 && Date() < deadline { await Task.yield() }
        _ = try await fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "t")
        #expect(try await poll.value?.kind == "diagnose")
    }

    @Test func aLongPollWhoseAgentLeftDoesNotTakeTheCommand() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        let connected = LockedValue(true)
        async let stale = f.fleet.nextCommand(agent: "vps-1", wait: 20, stillConnected: { connected.value })
        connected.value = false
        _ = try await f.fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "t")
        #expect(try await stale == nil)
        // The command waits for the agent's next (live) poll.
        #expect(try await f.fleet.nextCommand(agent: "vps-1", wait: 0)?.kind == "diagnose")
    }

    @Test func aNewerPollRetiresTheOlderOne() async throws {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        let fleet = f.fleet
        let older = Task { try await fleet.nextCommand(agent: "vps-1", wait: 30) }
        let deadline = Date().addingTimeInterval(10)
        while await fleet.polls.latest("vps-1") == nil && Date() < deadline { await Task.yield() }
        let newer = Task { try await fleet.nextCommand(agent: "vps-1", wait: 30) }
        #expect(try await older.value == nil)
        _ = try await fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "t")
        #expect(try await newer.value?.kind == "diagnose")
    }

    @Test func commandsForUnknownOrRevokedAgentsAreRefused() async throws {
        let f = try FleetFixture()
        await #expect(throws: FleetError.unknownAgent("ghost")) { try await f.fleet.queueCommand(agent: "ghost", kind: "diagnose", params: [:], dryRun: false, actor: "t") }
        _ = try await f.enroll("vps-1")
        _ = try await f.fleet.revoke(name: "vps-1", actor: "t")
        await #expect(throws: FleetError.revoked("vps-1")) { try await f.fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "t") }
        await #expect(throws: FleetError.self) { try await f.fleet.queueCommand(agent: "vps-1", kind: "rm -rf /", params: [:], dryRun: false, actor: "t") }
    }
}

/// Without a wake-up these waits would last an hour: the time limit fails them.
@Suite(.timeLimit(.minutes(1))) struct NotifierTests {
    @Test func aNotifyWakesAWaiter() async throws {
        let notifier = Notifier()
        let seen = await notifier.generation("k")
        let waiter = Task { await notifier.wait("k", since: seen, timeout: 3600) }
        while await notifier.waiting("k") == 0 { await Task.yield() }
        await notifier.notify("k")
        #expect(await waiter.value == true)
    }

    @Test func aNotifyBeforeTheWaitIsNotMissed() async throws {
        let notifier = Notifier()
        let seen = await notifier.generation("k")
        await notifier.notify("k")
        #expect(await notifier.wait("k", since: seen, timeout: 3600) == true)
    }

    @Test func closingReleasesEveryone() async throws {
        let notifier = Notifier()
        let waiter = Task { await notifier.wait("k", since: 0, timeout: 3600) }
        while await notifier.waiting("k") == 0 { await Task.yield() }
        await notifier.close()
        #expect(await waiter.value == false)
        #expect(await notifier.wait("other", since: 0, timeout: 3600) == false)
    }
}

@Suite struct AuditLogTests {
    func populated() async throws -> FleetFixture {
        let f = try FleetFixture()
        _ = try await f.enroll("vps-1")
        _ = try await f.enroll("vps-2")
        _ = try await f.fleet.queueCommand(agent: "vps-1", kind: "diagnose", params: [:], dryRun: false, actor: "t")
        return f
    }

    @Test func everyChangeIsChained() async throws {
        let f = try await populated()
        guard case .intact(let head) = try await f.store.verifyAudit() else { Issue.record("chain broken"); return }
        #expect(head.count == 5)
    }

    @Test func anEditedRowIsFound() async throws {
        let f = try await populated()
        try await f.store.pool.write { db in try db.execute(sql: "UPDATE audit_log SET subject = 'vps-9' WHERE id = 3") }
        guard case .broken(let failure) = try await f.store.verifyAudit() else { Issue.record("edit not caught"); return }
        #expect(failure.rowID == 3)
    }

    @Test func aDeletedRowIsFound() async throws {
        let f = try await populated()
        try await f.store.pool.write { db in try db.execute(sql: "DELETE FROM audit_log WHERE id = 2") }
        guard case .broken(let failure) = try await f.store.verifyAudit() else { Issue.record("deletion not caught"); return }
        #expect(failure.rowID == 3)
    }

    @Test func anInsertedRowIsFound() async throws {
        let f = try await populated()
        try await f.store.pool.write { db in
            try db.execute(sql: "UPDATE audit_log SET id = id + 100 WHERE id >= 3")
            try db.execute(sql: "UPDATE audit_log SET id = id - 99 WHERE id >= 103")
            try db.execute(sql: """
                INSERT INTO audit_log (id, at, actor, action, subject, details, previous_hash, hash)
                SELECT 3, at, 'operator:mallory', 'agent.revoked', 'vps-2', '{}', hash, hash FROM audit_log WHERE id = 2
                """)
        }
        guard case .broken(let failure) = try await f.store.verifyAudit() else { Issue.record("insertion not caught"); return }
        #expect(failure.rowID == 3)
    }
}

@Suite struct CoordinatorConfigTests {
    @Test func theShippedTemplateParses() throws {
        let dir = NSTemporaryDirectory() + "fm-cfg-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/coordinator.toml"
        try CoordinatorConfigTemplate.render(dataDir: "/var/lib/fieldmedic-coordinator").write(toFile: path, atomically: true, encoding: .utf8)
        let config = try CoordinatorConfig.load(path: path)
        #expect(config.agentsListen == ListenAddress(host: "0.0.0.0", port: 8443))
        #expect(config.operatorListen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(config.certificateLifetime == 30 * 86_400)
        #expect(config.tokenLifetime == 3600)
    }

    @Test func badValuesAreLocated() throws {
        let dir = NSTemporaryDirectory() + "fm-cfg-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/coordinator.toml"
        try "data_dir = \"/x\"\n[listen]\nagents = \"8443\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try CoordinatorConfig.load(path: path)
            Issue.record("a port without host must be refused")
        } catch {
            #expect(error.line == 3)
            #expect(error.description.contains("HOST:PORT"))
        }
        try "data_dir = \"/x\"\n[agents]\ncert_lifetime = \"30d\"\nbogus = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError(file: path, line: 4, message: "unknown key \"agents.bogus\"; keys in [agents] are: cert_lifetime, offline_after, public_url, token_lifetime")) {
            try CoordinatorConfig.load(path: path)
        }
    }

    @Test func listenAddressesParse() {
        #expect(ListenAddress("127.0.0.1:8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(ListenAddress("[::1]:8443") == ListenAddress(host: "::1", port: 8443))
        #expect(ListenAddress("[::1]:8443")?.description == "[::1]:8443")
        #expect(ListenAddress("8443") == nil)
        #expect(ListenAddress("host:99999") == nil)
        #expect(ListenAddress("0.0.0.0:8443")?.url(scheme: "https") == "https://127.0.0.1:8443")
    }
}
