import Crypto
import Foundation
import Testing
@testable import HostAgent
@testable import Shared

/// The TLS probe against a real TLS server (openssl s_server) with a certificate we issue.
@Suite(.serialized) struct TLSProbeTests {
    @Test func anExpiringCertificateAndAnUntrustedChainAreFound() throws {
        let h = try Harness()
        let ca = try CertificateAuthority.create()
        let key = P256.Signing.PrivateKey()
        let certificate = try ca.issueServerCertificate(names: ["127.0.0.1", "localhost"], key: key, validity: 5 * 86_400)
        try AtomicFile.write(Data(try PEMFile.pem(certificate).utf8), to: h.root + "/site.pem")
        try SecretFile.write(key.pemRepresentation + "\n", to: h.root + "/site.key")
        try AtomicFile.write(Data(try PEMFile.pem(ca.certificate).utf8), to: h.root + "/ca.pem")
        let port = try Harness.freePort()
        try h.start("s_server", "/usr/bin/openssl", [
            "s_server", "-quiet", "-accept", "127.0.0.1:\(port)", "-cert", h.root + "/site.pem", "-key", h.root + "/site.key", "-www",
        ])
        defer { try? h.stop("s_server", signal: SIGKILL) }
        let url = "https://127.0.0.1:\(port)/"
        try h.waitUntil("openssl s_server accepts", timeout: 20) {
            (try? CurlHTTPClient(tls: CurlTLSOptions(verifyPeer: false)).perform(HTTPRequest(url: url, timeout: 2))) != nil
        }

        let trusted = TLSProbe(url: url, warnDays: 14, caFile: h.root + "/ca.pem")
        let status = trusted.check()
        #expect(status.verificationError == nil, "\(status)")
        let days = try #require(status.daysLeft)
        #expect(days > 4.9 && days <= 5.01, "\(days)")
        #expect(trusted.findings(status).map(\.code) == ["tls.expiring"])
        #expect(TLSProbe(url: url, warnDays: 3, caFile: h.root + "/ca.pem").findings(status).isEmpty)

        // QField verifies against the system CAs: our private CA is not there.
        let public_ = TLSProbe(url: url, warnDays: 3)
        let untrusted = public_.check()
        #expect(untrusted.verificationError != nil)
        #expect(untrusted.daysLeft != nil, "the expiry is still read without verification")
        #expect(public_.findings(untrusted).map(\.code) == ["tls.invalid"])
        // The chain stops at a certificate whose issuer it does not carry: named, for #956.
        let served = ServedChain.fetch(url: url, caFile: nil)
        let caName = try CertificateFacts(ca.certificate).subject
        #expect(served.certificates.count == 1 && served.certificates.first?.issuer == caName)
        let invalid = try #require(public_.findings(public_.status(served), chain: served.certificates).first)
        #expect(invalid.evidence["unserved_issuer"] == caName, "\(invalid.evidence)")
        #expect(invalid.message.contains("fullchain.pem"))
    }
}
