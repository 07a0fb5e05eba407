import Foundation
import Logging
import Shared
import X509

/// The coordinator's side of the channel, free of HTTP: tokens, enrollment, renewal, reports
/// and commands. The HTTP layers only translate.
struct FleetService: Sendable {
    let store: any CoordinatorStore
    let authority: CertificateAuthority
    let caPEM: String
    let caFingerprint: String
    let certificateLifetime: TimeInterval
    let tokenLifetime: TimeInterval
    let clock: any WallClock
    let notifier: Notifier
    let polls = PollRegistry()
    let authorizations = AuthorizationCache()
    /// Refused peers, folded and throttled; shared by enrollment and the authenticators.
    let rejections: RejectionLog

    init(
        store: any CoordinatorStore, authority: CertificateAuthority, certificateLifetime: TimeInterval,
        tokenLifetime: TimeInterval, clock: any WallClock = SystemClock(), notifier: Notifier = Notifier(),
        logger: Logger = Logger(label: "fieldmedic.coordinator")
    ) throws {
        self.rejections = RejectionLog(store: store, clock: clock, logger: logger)
        self.store = store
        self.authority = authority
        self.caPEM = try PEMFile.pem(authority.certificate)
        self.caFingerprint = try authority.fingerprint()
        self.certificateLifetime = certificateLifetime
        self.tokenLifetime = tokenLifetime
        self.clock = clock
        self.notifier = notifier
    }

    // MARK: Tokens and enrollment

    /// A new one-time join token bound to `name`.
    func createJoinToken(name: String, actor: String) async throws -> (JoinToken, Date) {
        do { try AgentName.validate(name) } catch { throw FleetError.badRequest(error.description) }
        if let existing = try await store.agent(named: name), existing.state == .active {
            throw FleetError.agentExists(name)
        }
        let now = clock.now()
        let token = JoinToken.generate(caFingerprint: caFingerprint)
        let expires = now.addingTimeInterval(tokenLifetime)
        try await store.createJoinToken(
            JoinTokenRecord(id: token.id, secretHash: token.secretHash, agent: name, createdAt: now, expiresAt: expires),
            audit: AuditEntry(at: now, actor: actor, action: "token.created", subject: name,
                              details: ["token": token.id, "expires_at": WireDate.format(expires)]))
        return (token, expires)
    }

    func enroll(_ request: EnrollRequest, peer: String) async throws -> CertificateGrant {
        let now = clock.now()
        // Through the rejection log: folded per peer and reason, the unchecked name cut short,
        // so refusals cannot grow the database (D3).
        func reject(_ error: FleetError, tokenID: String?) async throws -> Never {
            await rejections.record(
                peer: peer, reason: error.code, action: "token.rejected",
                details: ["token": tokenID ?? "-", "name": String(request.name.prefix(64))])
            throw error
        }
        let token: JoinToken
        do { token = try JoinToken.parse(request.token) } catch { try await reject(.badRequest(error.description), tokenID: nil) }
        guard ConstantTime.equals(token.caFingerprint, caFingerprint) else { try await reject(.tokenForOtherCA, tokenID: token.id) }
        do { try AgentName.validate(request.name) } catch { try await reject(.badRequest(error.description), tokenID: token.id) }
        // A malformed CSR is refused before the token is spent on it (D12).
        do { _ = try CertificateAuthority.checkedRequest(request.csrPEM) } catch { try await reject(.badRequest("\(error)"), tokenID: token.id) }

        switch try await store.consumeJoinToken(secretHash: token.secretHash, name: request.name, now: now) {
        case .unknown: try await reject(.tokenUnknown, tokenID: token.id)
        case .alreadyUsed(let id): try await reject(.tokenUsed(id: id), tokenID: id)
        case .expired(let id): try await reject(.tokenExpired(id: id), tokenID: id)
        case .wrongName(let id, let boundTo): try await reject(.tokenWrongName(id: id, boundTo: boundTo, asked: request.name), tokenID: id)
        case .invalidated(let id): try await reject(.tokenInvalidated(id: id), tokenID: id)
        case .accepted(let id):
            let certificate: Certificate
            do {
                certificate = try authority.signAgentCertificate(csrPEM: request.csrPEM, agentName: request.name, validity: certificateLifetime, now: now)
            } catch {
                try await reject(.badRequest("\(error)"), tokenID: id)
            }
            let grant = try makeGrant(certificate, agent: request.name)
            try await store.recordCertificate(
                CertificateRecord(
                    serial: grant.serial, agent: request.name, kind: .enrolled, issuedAt: now, notAfter: grant.notAfter,
                    keySHA256: certificate.publicKey.sha256Fingerprint),
                audit: AuditEntry(at: now, actor: "peer:\(peer)", action: "agent.enrolled", subject: request.name,
                                  details: ["token": id, "serial": grant.serial, "not_after": WireDate.format(grant.notAfter)]))
            return grant
        }
    }

    /// A new certificate for the caller's own key (D11: a stolen certificate cannot be moved
    /// to another key). The presenting certificate stays valid beside the new one, in case
    /// the answer is lost; every older one is revoked, so an agent never holds more than two.
    func renew(agent principal: AgentPrincipal, request: RenewRequest) async throws -> CertificateGrant {
        let agent = principal.name
        let now = clock.now()
        let csr: CertificateSigningRequest
        do { csr = try CertificateAuthority.checkedRequest(request.csrPEM) } catch { throw FleetError.badRequest("\(error)") }
        guard ConstantTime.equals(csr.publicKey.sha256Fingerprint, principal.keySHA256) else { throw FleetError.renewalKeyChanged(agent) }
        let certificate: Certificate
        do {
            certificate = try authority.signAgentCertificate(csrPEM: request.csrPEM, agentName: agent, validity: certificateLifetime, now: now)
        } catch {
            throw FleetError.badRequest("\(error)")
        }
        let grant = try makeGrant(certificate, agent: agent)
        try await store.recordCertificate(
            CertificateRecord(
                serial: grant.serial, agent: agent, kind: .renewed, issuedAt: now, notAfter: grant.notAfter,
                keySHA256: certificate.publicKey.sha256Fingerprint),
            audit: AuditEntry(at: now, actor: "agent:\(agent)", action: "certificate.renewed", subject: agent,
                              details: ["serial": grant.serial, "not_after": WireDate.format(grant.notAfter)]))
        _ = try await store.retireCertificates(
            agent: agent, keeping: [principal.serial, grant.serial], now: now,
            audit: AuditEntry(at: now, actor: "agent:\(agent)", action: "certificate.retired", subject: agent,
                              details: ["reason": "renewed as \(grant.serial)"]))
        authorizations.clear()
        return grant
    }

    private func makeGrant(_ certificate: Certificate, agent: String) throws -> CertificateGrant {
        CertificateGrant(
            agent: agent, certificatePEM: try PEMFile.pem(certificate), caPEM: caPEM,
            serial: certificate.serialHex, notAfter: certificate.notValidAfter)
    }

    func revoke(name: String, actor: String) async throws -> Int {
        guard try await store.agent(named: name) != nil else { throw FleetError.unknownAgent(name) }
        let now = clock.now()
        let count = try await store.revokeAgent(
            named: name, now: now, audit: AuditEntry(at: now, actor: actor, action: "agent.revoked", subject: name))
        authorizations.clear()
        await notifier.notify(Self.queueKey(name))
        return count
    }

    // MARK: Reports

    func receive(_ batch: HealthBatch, from agent: String) async throws -> HealthReceipt {
        for report in batch.reports where report.agent != agent {
            throw FleetError.badRequest("report \(report.id) names agent \"\(report.agent)\" but the certificate says \"\(agent)\"")
        }
        return try await store.storeReports(agent: agent, reports: batch.reports, receivedAt: clock.now())
    }

    // MARK: Commands

    static func queueKey(_ agent: String) -> String { "queue:" + agent }
    static func resultKey(_ command: String) -> String { "result:" + command }

    func queueCommand(agent: String, kind: String, params: [String: String], dryRun: Bool, actor: String) async throws -> CommandRecord {
        guard let record = try await store.agent(named: agent), record.state != .pending || record.enrolledAt != nil else {
            throw FleetError.unknownAgent(agent)
        }
        if record.state == .revoked { throw FleetError.revoked(agent) }
        guard !kind.isEmpty, kind.allSatisfy({ $0.isLetter || $0 == "_" }) else {
            throw FleetError.badRequest("command kind must be a catalog name such as diagnose")
        }
        let now = clock.now()
        let command = CommandRecord(
            id: UUID().uuidString.lowercased(), agent: agent, kind: kind, params: params, dryRun: dryRun, state: .queued,
            requestedBy: actor, createdAt: now)
        try await store.enqueueCommand(
            command,
            audit: AuditEntry(at: now, actor: actor, action: "command.queued", subject: agent,
                              details: ["command": command.id, "kind": kind, "dry_run": String(dryRun)]
                                  .merging(params.mapValues { $0 }) { a, _ in a }))
        await notifier.notify(Self.queueKey(agent))
        return command
    }

    /// The next command for `agent`, waiting up to `wait` seconds for one to be queued.
    /// `stillConnected` is asked right before a command is claimed: a long-poll whose agent
    /// went away (restarted) must not take a command it can no longer deliver.
    func nextCommand(agent: String, wait: TimeInterval, stillConnected: @Sendable () -> Bool = { true }) async throws -> Command? {
        let deadline = Date().addingTimeInterval(wait)
        let poll = await polls.begin(agent)
        // Wake an older poll of this agent so that it sees it is stale and leaves.
        await notifier.notify(Self.queueKey(agent))
        let key = Self.queueKey(agent)
        while true {
            let seen = await notifier.generation(key)
            guard stillConnected(), await polls.isCurrent(agent, poll) else { return nil }
            if let record = try await store.claimNextCommand(agent: agent, now: clock.now()) {
                return record.wireCommand
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 || Task.isCancelled { return nil }
            // Re-check every 5 s even without a wake-up (another coordinator may have queued it).
            guard await notifier.wait(key, since: seen, timeout: min(remaining, 5)) else { return nil }
        }
    }

    func complete(agent: String, commandID: String, result: CommandResult) async throws -> CommandRecord {
        guard result.commandId == commandID else {
            throw FleetError.badRequest("commandId in the body (\(result.commandId)) differs from the URL (\(commandID))")
        }
        switch try await store.completeCommand(agent: agent, result: result, now: clock.now()) {
        case .unknown:
            throw FleetError.notFound("command \(commandID) for agent \(agent)")
        case .alreadyFinished(let record), .recorded(let record):
            await notifier.notify(Self.resultKey(commandID))
            if record.requestedBy.hasPrefix("ticket:") { await notifier.notify(TicketEngine.wakeKey) }
            return record
        }
    }

    /// The command, once finished or after `wait` seconds, whichever comes first.
    func awaitCommand(id: String, wait: TimeInterval) async throws -> CommandRecord {
        let deadline = Date().addingTimeInterval(wait)
        let key = Self.resultKey(id)
        while true {
            let seen = await notifier.generation(key)
            guard let record = try await store.command(id: id) else { throw FleetError.notFound("command \(id)") }
            let remaining = deadline.timeIntervalSinceNow
            if record.state.isFinished || remaining <= 0 || Task.isCancelled { return record }
            guard await notifier.wait(key, since: seen, timeout: min(remaining, 2)) else { return record }
        }
    }
}
