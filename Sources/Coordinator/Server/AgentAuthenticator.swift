import Foundation
import Hummingbird
import NIOCore
import NIOSSL
import Shared
import X509

/// Who is calling, from the verified client certificate only, never from the body.
struct AgentPrincipal: Sendable, Equatable {
    var name: String
    var serial: String
    /// The presented certificate's key, checked against the one recorded at issue.
    var keySHA256: String
}

/// Turns the TLS peer certificate into an agent, or a 401/403 that is audited.
struct AgentAuthenticator: Sendable {
    let store: any CoordinatorStore
    let clock: any WallClock
    let rejections: RejectionLog
    var cache: AuthorizationCache?

    func authenticate(_ context: AgentRequestContext) async throws -> AgentPrincipal {
        let peer = context.remoteAddress
        let nioCertificate: NIOSSLCertificate?
        do {
            nioCertificate = try await context.channel.nioSSL_peerCertificate().get()
        } catch {
            nioCertificate = nil
        }
        guard let nioCertificate else {
            await rejections.record(peer: peer, reason: "no client certificate")
            throw APIError(.unauthorized, "client_certificate_required", "a client certificate is required: enroll this agent first")
        }
        let der: [UInt8]
        do {
            der = try nioCertificate.toDERBytes()
        } catch {
            await rejections.record(peer: peer, reason: "unparseable client certificate")
            throw APIError(.unauthorized, "bad_certificate", "the client certificate cannot be parsed")
        }
        let now = clock.now()
        let key = Data(der)
        if let cached = cache?.lookup(key, now: now) { return cached.principal }
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            await rejections.record(peer: peer, reason: "unparseable client certificate")
            throw APIError(.unauthorized, "bad_certificate", "the client certificate cannot be parsed")
        }
        guard let name = certificate.agentName else {
            await rejections.record(peer: peer, reason: "certificate without agent identity")
            throw APIError(.forbidden, "no_identity", PKIError.noAgentIdentity.description)
        }
        // The handshake checked validity, but a kept-alive connection can outlive the certificate.
        guard certificate.notValidAfter > now, certificate.notValidBefore <= now.addingTimeInterval(300) else {
            await rejections.record(peer: peer, reason: "expired certificate for \(name)")
            throw APIError(.forbidden, "certificate_expired", "the client certificate for \(name) has expired; re-enroll the agent")
        }
        let serial = certificate.serialHex
        let keySHA256 = certificate.publicKey.sha256Fingerprint
        switch try await store.authorize(agent: name, serial: serial, keySHA256: keySHA256) {
        case .allowed:
            let principal = AgentPrincipal(name: name, serial: serial, keySHA256: keySHA256)
            cache?.remember(key, AuthorizationCache.Entry(principal: principal, notAfter: certificate.notValidAfter, checkedAt: now))
            return principal
        case .revoked:
            await rejections.record(peer: peer, reason: "revoked certificate for \(name)")
            throw APIError(.forbidden, "revoked", "the certificate for agent \(name) is revoked")
        case .unknownAgent:
            await rejections.record(peer: peer, reason: "unknown agent \(name)")
            throw APIError(.forbidden, "unknown_agent", "agent \(name) is not enrolled with this coordinator")
        case .wrongKey:
            await rejections.record(peer: peer, reason: "certificate for \(name) with another key than the one issued")
            throw APIError(.forbidden, "wrong_key", "this certificate for \(name) carries another key than the one this coordinator signed")
        case .unknownCertificate:
            await rejections.record(peer: peer, reason: "unknown certificate for \(name)")
            throw APIError(.forbidden, "unknown_certificate", "this certificate for \(name) was not issued by this coordinator")
        }
    }
}
