import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import Coordinator
@testable import Shared

/// A certificate is only good with the key it was issued for (the serial is public), and
/// renewal cannot move an identity to another key.
@Suite struct IdentityTests {
    /// What an attacker holding the CA key (D1) could make: agent1's serial and name, another key.
    static func forge(_ grant: CertificateGrant, authority: CertificateAuthority) throws -> Certificate {
        let caKey = try P256.Signing.PrivateKey(pemRepresentation: authority.keyPEM.revealed)
        let other = P256.Signing.PrivateKey()
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: Hex.decode(grant.serial)!),
            publicKey: .init(other.publicKey), notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3600),
            issuer: authority.certificate.subject, subject: try DistinguishedName { CommonName(grant.agent) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.uniformResourceIdentifier(AgentName.uri(for: grant.agent))])
            },
            issuerPrivateKey: .init(caKey))
    }

    @Test func aCertificateWithTheRightSerialButAnotherKeyIsRefused() async throws {
        let f = try FleetFixture()
        let (grant, _) = try await f.enroll("vps-1")
        let forged = try Self.forge(grant, authority: f.fleet.authority)
        #expect(forged.serialHex == grant.serial && forged.agentName == "vps-1")
        #expect(try await f.store.authorize(agent: "vps-1", serial: forged.serialHex, keySHA256: forged.publicKey.sha256Fingerprint) == .wrongKey)
        #expect(try await f.authorize(grant) == .allowed)
    }

    @Test func theFingerprintIsStableAndDiffersPerKey() throws {
        let key = P256.Signing.PrivateKey()
        let a = Certificate.PublicKey(key.publicKey).sha256Fingerprint
        #expect(a == Certificate.PublicKey(key.publicKey).sha256Fingerprint)
        #expect(a.count == 64)
        #expect(a != Certificate.PublicKey(P256.Signing.PrivateKey().publicKey).sha256Fingerprint)
    }

    @Test func renewalForAnotherKeyIsRefused() async throws {
        let f = try FleetFixture()
        let (grant, _) = try await f.enroll("vps-1")
        let stranger = AgentKey()
        await #expect(throws: FleetError.renewalKeyChanged("vps-1")) {
            try await f.fleet.renew(agent: try FleetFixture.principal(grant), request: RenewRequest(csrPEM: try stranger.certificateSigningRequest(name: "vps-1")))
        }
    }

    @Test func renewalKeepsAtMostTheCurrentAndTheNewCertificate() async throws {
        let f = try FleetFixture()
        let (first, key) = try await f.enroll("vps-1")
        let csr = RenewRequest(csrPEM: try key.certificateSigningRequest(name: "vps-1"))
        let second = try await f.fleet.renew(agent: try FleetFixture.principal(first), request: csr)
        // The answer may be lost: the presenting certificate still works beside the new one.
        #expect(try await f.authorize(first) == .allowed)
        #expect(try await f.authorize(second) == .allowed)
        let third = try await f.fleet.renew(agent: try FleetFixture.principal(second), request: csr)
        #expect(try await f.authorize(first) == .revoked)
        #expect(try await f.authorize(second) == .allowed)
        #expect(try await f.authorize(third) == .allowed)
        #expect(try await f.store.auditRows(since: nil).contains { $0.action == "certificate.retired" && $0.details.contains(first.serial) })
    }

    @Test func certificatesFromBeforeTheKeyWasRecordedAreCheckedBySerial() async throws {
        let f = try FleetFixture()
        let (grant, _) = try await f.enroll("vps-1")
        try await f.store.pool.write { db in try db.execute(sql: "UPDATE certificates SET key_sha256 = NULL") }
        #expect(try await f.store.authorize(agent: "vps-1", serial: grant.serial, keySHA256: String(repeating: "0", count: 64)) == .allowed)
    }
}
