import Foundation
import Testing
@testable import HostAgent
@testable import Shared

@Suite struct TLSMismatchTests {
    static let root = CertificateFacts(
        sha256: "r0", serial: "01", notBefore: Date(timeIntervalSince1970: 1_700_000_000), notAfter: Date(timeIntervalSince1970: 2_000_000_000),
        subject: "CN=Root", issuer: "CN=Root")
    static let intermediate = CertificateFacts(
        sha256: "i1", serial: "02", notBefore: Date(timeIntervalSince1970: 1_700_000_000), notAfter: Date(timeIntervalSince1970: 1_900_000_000),
        subject: "CN=R11", issuer: "CN=Root")
    static func leaf(_ sha: String, until: TimeInterval) -> CertificateFacts {
        CertificateFacts(
            sha256: sha, serial: "aa" + sha, notBefore: Date(timeIntervalSince1970: 1_790_000_000), notAfter: Date(timeIntervalSince1970: until),
            subject: "CN=qfield.example.org", issuer: "CN=R11")
    }
    let now = Date(timeIntervalSince1970: 1_796_000_000)
    let old = leaf("01d", until: 1_797_000_000)
    let renewed = leaf("9e3", until: 1_804_000_000)

    func disk(_ chain: [CertificateFacts]) -> CertificateOnDisk.Located {
        CertificateOnDisk.Located(path: "/opt/qfieldcloud/conf/certbot/conf/live/qfield.example.org/fullchain.pem", chain: chain)
    }

    @Test func aRenewedFileNginxHasNotLoadedIsAMismatchWithBothSidesAsEvidence() throws {
        let rule = TLSMismatchRule(url: "https://qfield.example.org", now: now)
        let finding = try #require(rule.findings(served: [old, Self.intermediate], disk: disk([renewed, Self.intermediate])).first)
        #expect(finding.code == "tls.mismatch" && finding.subject == "nginx:certificate" && finding.severity == .warning)
        #expect(finding.evidence["served_serial"] == old.serial && finding.evidence["disk_serial"] == renewed.serial)
        #expect(finding.evidence["served_sha256"] == "01d" && finding.evidence["disk_sha256"] == "9e3")
        #expect(finding.evidence["newer_on_disk"] == "true")
        #expect(finding.message.contains("docker compose exec nginx nginx -t && docker compose exec nginx nginx -s reload"))
    }

    @Test func anExpiredCertificateStillServedBesideARenewedOneIsCritical() throws {
        let expired = TLSMismatchRule(url: "https://q", now: Date(timeIntervalSince1970: 1_798_000_000))
        let finding = try #require(expired.findings(served: [old], disk: disk([renewed])).first)
        #expect(finding.severity == .critical && finding.message.contains("has expired"))
    }

    @Test func aFileOlderThanWhatIsServedIsNotToBeReloaded() throws {
        #expect(TLSMismatchRule.verdict(served: [renewed], disk: [old]) == .otherCertificate(newerOnDisk: false))
        let finding = try #require(TLSMismatchRule(url: "https://q", now: now).findings(served: [renewed], disk: disk([old])).first)
        #expect(finding.message.contains("QFIELDCLOUD_TLS_CERT") && finding.message.contains("Reloading now would serve the older file"))
    }

    @Test func aServedChainWithoutTheFilesIntermediateIsAChainMismatch() throws {
        #expect(TLSMismatchRule.verdict(served: [renewed], disk: [renewed, Self.intermediate]) == .shorterChain)
        let finding = try #require(TLSMismatchRule(url: "https://q", now: now).findings(served: [renewed], disk: disk([renewed, Self.intermediate])).first)
        #expect(finding.subject == "nginx:chain" && finding.severity == .critical)
        #expect(finding.evidence["missing_issuer"] == "CN=R11" && finding.evidence["served_chain"] == "1" && finding.evidence["disk_chain"] == "2")
    }

    @Test func theSameCertificateAndChainIsNoFinding() {
        #expect(TLSMismatchRule.verdict(served: [renewed, Self.intermediate], disk: [renewed, Self.intermediate]) == .same)
        // A server that also sends the root is not short of anything.
        #expect(TLSMismatchRule.verdict(served: [renewed, Self.intermediate, Self.root], disk: [renewed, Self.intermediate]) == .same)
        #expect(TLSMismatchRule(url: "https://q", now: now).findings(served: [], disk: disk([renewed])).isEmpty, "nothing served: no comparison")
    }

    @Test func aChainEndingAtAnIntermediateNamesTheIssuerItLacks() {
        #expect(ServedChain.unservedIssuer([renewed]) == "CN=R11")
        #expect(ServedChain.unservedIssuer([renewed, Self.intermediate]) == "CN=Root", "a complete chain ends at the root's name, which the trust store holds")
        #expect(ServedChain.unservedIssuer([Self.root]) == nil)
    }

    @Test func theContainersPathIsMappedThroughItsMountsToTheHost() {
        let mounts = [
            DockerMount(source: "/opt/qfieldcloud/conf/certbot/conf", destination: "/etc/letsencrypt"),
            DockerMount(source: "/opt/qfieldcloud/conf/nginx/certs/", destination: "/etc/nginx/certs/"),
            DockerMount(source: "/var/lib/docker/volumes/qfieldcloud_certbot_www/_data", destination: "/var/www/certbot"),
        ]
        #expect(CertificateOnDisk.hostPath(of: "/etc/nginx/certs/localhost.pem", mounts: mounts) == "/opt/qfieldcloud/conf/nginx/certs/localhost.pem")
        #expect(CertificateOnDisk.hostPath(of: "/etc/letsencrypt/live/qfield.example.org/fullchain.pem", mounts: mounts)
            == "/opt/qfieldcloud/conf/certbot/conf/live/qfield.example.org/fullchain.pem")
        #expect(CertificateOnDisk.hostPath(of: "/etc/ssl/private/site.pem", mounts: mounts) == nil, "inside the image only")
        #expect(CertificateOnDisk.hostPath(of: "/etc/nginx/certsX/a.pem", mounts: mounts) == nil)
    }

    @Test func withoutQFieldCloudsVariableTheProbeSaysWhatToConfigure() {
        let engine = FakeDockerEngine()
        engine.add("nginx")
        let locator = CertificateOnDisk(configuredPath: nil, engine: engine, project: "qfieldcloud", service: "nginx")
        #expect(throws: CertificateOnDisk.LocateError.self) { try locator.hostPath() }
        do {
            _ = try locator.hostPath()
        } catch {
            #expect(error.description.contains("QFIELDCLOUD_TLS_CERT") && error.fix?.contains("certificate_file") == true)
        }
        #expect((try? CertificateOnDisk(configuredPath: "/etc/ssl/site.pem", engine: engine, project: "qfieldcloud", service: "nginx").hostPath()) == "/etc/ssl/site.pem")
    }

    @Test func anInstallThatDoesNotNameItsCertificateFileIsNotComparedButAnUnreadableFileIsSaid() {
        let engine = FakeDockerEngine()
        engine.add("nginx")
        let served = [renewed]
        let unnamed = TLSProbe(url: "https://q", warnDays: 14, onDisk: CertificateOnDisk(configuredPath: nil, engine: engine, project: "qfieldcloud", service: "nginx"))
        let quiet = unnamed.compare(served)
        #expect(quiet.findings.isEmpty && quiet.error == nil, "no QFIELDCLOUD_TLS_CERT: not compared, and no probe failure")
        let missing = TLSProbe(url: "https://q", warnDays: 14, onDisk: CertificateOnDisk(configuredPath: "/nonexistent/site.pem", engine: engine, project: "qfieldcloud", service: "nginx"))
        let said = missing.compare(served)
        #expect(said.error?.contains("/nonexistent/site.pem") == true && said.fix?.contains("certificate_file") == true, "\(said)")
        #expect(TLSProbe(url: "https://q", warnDays: 14).compare(served).error == nil, "no comparison asked for")
    }
}
