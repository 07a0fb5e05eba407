import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import Shared

@Suite struct PKITests {
    @Test func signsAnAgentCertificateWithItsIdentity() throws {
        let ca = try CertificateAuthority.create()
        let key = AgentKey()
        let csr = try key.certificateSigningRequest(name: "vps-1")
        let now = Date()
        let certificate = try ca.signAgentCertificate(csrPEM: csr, agentName: "vps-1", validity: 30 * 86_400, now: now)
        #expect(certificate.agentName == "vps-1")
        #expect(certificate.issuer == ca.certificate.subject)
        #expect(certificate.publicKey == Certificate.PublicKey(key.key.publicKey))
        #expect(abs(certificate.notValidAfter.timeIntervalSince(now) - 30 * 86_400) < 2)
        #expect(ca.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        let eku = try #require(try certificate.extensions.extendedKeyUsage)
        #expect(eku.contains(.clientAuth))
    }

    @Test func identityComesFromTheCallerNotTheCSR() throws {
        let ca = try CertificateAuthority.create()
        let csr = try AgentKey().certificateSigningRequest(name: "someone-else")
        let certificate = try ca.signAgentCertificate(csrPEM: csr, agentName: "vps-1", validity: 60)
        #expect(certificate.agentName == "vps-1")
    }

    @Test func refusesATamperedCSR() throws {
        let ca = try CertificateAuthority.create()
        let good = try CertificateSigningRequest(pemEncoded: try AgentKey().certificateSigningRequest(name: "a"))
        // Same request info, signature from another key.
        let other = try CertificateSigningRequest(
            version: .v1, subject: good.subject, privateKey: Certificate.PrivateKey(P256.Signing.PrivateKey()),
            attributes: good.attributes, signatureAlgorithm: .ecdsaWithSHA256)
        let forged = try CertificateSigningRequest(
            version: good.version, subject: good.subject, publicKey: good.publicKey, attributes: good.attributes,
            signatureAlgorithm: .ecdsaWithSHA256, signature: other.signature)
        let pem = try forged.serializeAsPEM().pemString
        #expect(throws: PKIError.badCSRSignature) { try ca.signAgentCertificate(csrPEM: pem, agentName: "a", validity: 60) }
        #expect(throws: PKIError.self) { try ca.signAgentCertificate(csrPEM: "garbage", agentName: "a", validity: 60) }
    }

    @Test func refusesBadAgentNames() throws {
        for name in ["", "UPPER", "-dash", "has space", "ünïcode", String(repeating: "a", count: 64), "a/b"] {
            #expect(throws: PKIError.self, "\(name)") { try AgentName.validate(name) }
        }
        for name in ["a", "vps-1", "field.crew_2", String(repeating: "a", count: 63)] {
            try AgentName.validate(name)
        }
        #expect(AgentName.name(fromURI: "fieldmedic://agent/vps-1") == "vps-1")
        #expect(AgentName.name(fromURI: "https://agent/vps-1") == nil)
        #expect(AgentName.name(fromURI: "fieldmedic://agent/BAD NAME") == nil)
    }

    @Test func serverCertificateCarriesDNSAndIPNames() throws {
        let ca = try CertificateAuthority.create()
        let certificate = try ca.issueServerCertificate(names: ["ops.example.org", "127.0.0.1", "::1"], key: P256.Signing.PrivateKey())
        let sans = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(sans.contains(.dnsName("ops.example.org")))
        #expect(sans.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        #expect(sans.count == 3)
        #expect(throws: PKIError.invalidServerName("not a name!")) {
            try ca.issueServerCertificate(names: ["not a name!"], key: P256.Signing.PrivateKey())
        }
    }

    @Test func fingerprintIsTheSHA256OfTheDER() throws {
        let ca = try CertificateAuthority.create()
        let der = try PEMFile.der(ca.certificate)
        #expect(try ca.fingerprint() == Hex.encode(SHA256.hash(data: der)))
        let reparsed = try PEMFile.certificate(fromPEM: try PEMFile.pem(ca.certificate), what: "ca")
        #expect(try PEMFile.fingerprint(reparsed) == (try ca.fingerprint()))
    }

    @Test func aChainFileYieldsItsLeaf() throws {
        let ca = try CertificateAuthority.create()
        let leaf = try ca.issueServerCertificate(names: ["localhost"], key: P256.Signing.PrivateKey())
        let chain = try PEMFile.pem(leaf) + PEMFile.pem(ca.certificate)
        #expect(try PEMFile.certificate(fromPEM: chain, what: "chain") == leaf)
    }

    @Test func pemLinesAreAtMost64Characters() throws {
        let ca = try CertificateAuthority.create()
        let pem = try PEMFile.pem(ca.certificate) + ca.keyPEM.revealed
        for line in pem.split(separator: "\n") where !line.hasPrefix("-----") {
            #expect(line.count <= 64)
        }
    }

    @Test func caSurvivesAFileRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let ca = try CertificateAuthority.create()
        try AtomicFile.write(Data(try PEMFile.pem(ca.certificate).utf8), to: dir.path + "/ca.pem")
        try SecretFile.write(ca.keyPEM.revealed, to: dir.path + "/ca.key")
        let loaded = try CertificateAuthority(certificatePath: dir.path + "/ca.pem", keyPath: dir.path + "/ca.key")
        let certificate = try loaded.signAgentCertificate(csrPEM: try AgentKey().certificateSigningRequest(name: "x"), agentName: "x", validity: 60)
        #expect(ca.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
    }
}

@Suite struct JoinTokenTests {
    @Test func roundTrips() throws {
        let token = JoinToken.generate(caFingerprint: String(repeating: "ab", count: 32))
        let parsed = try JoinToken.parse(token.text)
        #expect(parsed == token)
        #expect(token.text.hasPrefix("fmj1."))
        #expect(try JoinToken.parse(" \(token.text)\n") == token)
    }

    @Test func neverPrintsItsSecret() {
        let token = JoinToken.generate(caFingerprint: String(repeating: "0", count: 64))
        #expect(!"\(token)".contains(token.secret.revealed))
        #expect(!token.secretHash.contains(token.secret.revealed))
        #expect(token.id.count == 12)
    }

    @Test(arguments: [
        "", "fmj1", "fmj2.\(String(repeating: "a", count: 43)).\(String(repeating: "0", count: 64))",
        "fmj1.short.\(String(repeating: "0", count: 64))",
        "fmj1.\(String(repeating: "a", count: 43)).\(String(repeating: "0", count: 63))",
        "fmj1.\(String(repeating: "a", count: 43)).\(String(repeating: "g", count: 64))",
        "fmj1.\(String(repeating: "a", count: 43)).\(String(repeating: "0", count: 64)).extra",
    ])
    func refusesMalformedTokens(text: String) {
        #expect(throws: JoinTokenError.self) { try JoinToken.parse(text) }
    }

    @Test func tokensAreUnique() {
        let a = JoinToken.generate(caFingerprint: String(repeating: "0", count: 64))
        let b = JoinToken.generate(caFingerprint: String(repeating: "0", count: 64))
        #expect(a.secret != b.secret)
    }
}
